"""Security-test fixtures: a small world (data map, one user per role, an incident)."""

from __future__ import annotations

import pytest

from secsupport import ROLES, World, declare_incident


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
