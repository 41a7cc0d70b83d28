"""Imports every table module so SQLModel.metadata is complete for Alembic and tests."""

from sqlmodel import SQLModel

import app.auth.models  # noqa: F401
import app.datamap.models  # noqa: F401

metadata = SQLModel.metadata
