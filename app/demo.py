"""The demo: a migrated database with the shipped demo data map and demo users."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from sqlmodel import select

from app.auth.models import User
from app.auth.service import create_user
from app.core import time
from app.db import session_scope

DEMO_MAP = Path(__file__).resolve().parent / "datamap" / "demo" / "datamap.yaml"
DEMO_USERS = [
    {"email": "admin@breachline.example", "name": "Ada Admin", "role": "admin", "password": "breachline-demo"},
    {"email": "lead@breachline.example", "name": "Lea Lead", "role": "lead", "password": "breachline-demo"},
    {"email": "responder@breachline.example", "name": "Rui Responder", "role": "responder",
     "password": "breachline-demo"},
]


def prepare_demo(app: Flask) -> list[dict]:
    """Migrate, import the demo map (a no-op when unchanged) and create the demo users; returns them."""
    from app.cli import init_database
    from app.datamap.importer import import_map, parse_file

    init_database(app)
    now = time.now()
    parsed = parse_file(DEMO_MAP)
    with session_scope(app) as session:
        import_map(parsed, session=session, actor="demo", now=now, source=DEMO_MAP.name)
        for user in DEMO_USERS:
            if session.exec(select(User).where(User.email == user["email"])).first() is None:
                create_user(session=session, now=now, **user)
    return DEMO_USERS
