"""API-test fixtures: the small data map, one user and token per role, an incident, and a settable clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from apisupport import AWARE, Clock, declare

ROLES = ("viewer", "responder", "lead", "admin")


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """Entry points read the time through app.core.time.now(); this makes it AWARE + 1 h, and movable."""
    fixed = Clock(AWARE + timedelta(hours=1))
    monkeypatch.setattr("app.core.time.now", fixed)
    return fixed


@dataclass
class People:
    """One user and one read-write token per role (and a second lead for four-eyes steps)."""

    users: dict
    tokens: dict


@pytest.fixture
def people(app, now, _password_hash) -> People:
    """viewer, responder, lead, lead2, admin, each with a read-write token."""
    from app.auth.models import Role, User
    from app.auth.service import create_token
    from app.db import session_scope

    users, tokens = {}, {}
    with app.app_context(), session_scope() as s:
        for name in (*ROLES, "lead2"):
            user = User(email=f"{name}@example.org", name=f"{name.title()} User", role=Role(name.rstrip("2")),
                        password_hash=_password_hash, created_at=now)
            s.add(user)
            s.flush()
            users[name] = user
            _, plaintext = create_token(session=s, user=user, now=now, scopes="read write")
            tokens[name] = {"Authorization": f"Bearer {plaintext}"}
    return People(users=users, tokens=tokens)


@pytest.fixture
def incident(client, mapped, people, clock) -> str:
    """An unrestricted incident declared by the lead one hour after awareness."""
    return declare(client, people.tokens["lead"])
