"""Imports every domain's models module so SQLModel.metadata is complete for Alembic and tests."""

import importlib
import pkgutil

from sqlmodel import SQLModel

import app

for _module in pkgutil.iter_modules(app.__path__):
    if _module.ispkg:
        try:
            importlib.import_module(f"app.{_module.name}.models")
        except ModuleNotFoundError as exc:
            if exc.name != f"app.{_module.name}.models":
                raise

metadata = SQLModel.metadata
