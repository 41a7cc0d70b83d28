"""Security-test fixtures: a small world (data map, one user per role, an incident)."""

from __future__ import annotations

import pytest

PASSWORD = "correct horse battery"  # the suite's test password (tests/conftest.py)

from mapdata import SMALL_MAP
from secsupport import ROLES, World, declare_incident


@pytest.fixture
def mapped(runner, tmp_path):
    """The small data map imported."""
    path = tmp_path / "map.yaml"
    path.write_text(SMALL_MAP)
    result = runner.invoke(args=["datamap", "import", str(path)])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="session")
def _password_hash() -> str:
    """The argon2 hash of the test password, computed once (hashing costs about a second here)."""
    from app.auth.service import hash_password

    return hash_password(PASSWORD)


@pytest.fixture
def quick_user(app, now, _password_hash):
    """Like make_user (same password), without paying for argon2 on every user."""
    from app.auth.models import Role, User
    from app.db import session_scope

    def _make(role: str = "responder", email: str | None = None, name: str | None = None) -> User:
        with app.app_context(), session_scope() as s:
            user = User(email=email or f"{role}@example.org", name=name or role.title(), role=Role(role),
                        password_hash=_password_hash, created_at=now)
            s.add(user)
            s.flush()
            return user

    return _make


@pytest.fixture
def world(app, client, mapped, quick_user, token_for) -> World:
    """One user and one token per role, and an unrestricted incident declared by the lead."""
    users = {role: quick_user(role, email=f"{role}@example.org", name=f"{role.title()} User") for role in ROLES}
    tokens = {role: token_for(users[role]) for role in ROLES}
    ref = declare_incident(client, tokens["lead"])
    if "api.draft_notifications" in app.view_functions:
        # Notification rows, so routes taking a notification_id can be built (drafted by the responder).
        drafted = client.post(f"/api/v1/incidents/{ref}/notifications", json={}, headers=tokens["responder"])
        assert drafted.status_code in (200, 201), drafted.get_json()
    return World(users=users, tokens=tokens, ref=ref)
