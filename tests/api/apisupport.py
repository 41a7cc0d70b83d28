"""Helpers shared by the API tests (imported by name; fixtures live in this folder's conftest.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

PROBLEM = "application/problem+json"
AWARE = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)


class Clock:
    """What app.core.time.now() answers during a test; move it with advance()."""

    def __init__(self, at: datetime):
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta) -> datetime:
        """Move the clock forward and return the new time."""
        self.at += timedelta(**delta)
        return self.at


def declare(client, headers, **extra) -> str:
    """Declare an incident through the API (aware at AWARE, billing in scope); returns its reference."""
    body = {"title": "Billing database exposed", "incident_type": "ransomware", "breach_types": ["confidentiality"],
            "detected_at": "2026-03-01T07:00:00Z", "aware_at": "2026-03-01T08:00:00Z",
            "scope": {"systems": ["billing"]}, **extra}
    response = client.post("/api/v1/incidents", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["ref"]


def sign_in_as(client, user) -> None:
    """Put the user's session in the client's cookie without the (argon2-slow, throttled) login form."""
    with client.session_transaction() as sess:
        sess["_user_id"] = user.get_id()
        sess["_fresh"] = True


def problem_fields(response) -> list:
    """The fields a 422 problem names."""
    return [e.get("field") for e in response.get_json().get("errors", [])]
