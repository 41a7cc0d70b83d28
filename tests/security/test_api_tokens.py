"""API tokens carry scopes (read, write) that are enforced, and expire (by default after API_TOKEN_DEFAULT_DAYS)."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlmodel import select

from app.auth.models import ApiToken, AuditEvent
from app.core import time
from secsupport import PROBLEM

TOKEN = re.compile(r"bl_[A-Za-z0-9_-]{40,}")


def _token_row(session, plaintext: str) -> ApiToken:
    session.rollback()  # a fresh snapshot: the CLI committed on its own connection
    return session.exec(select(ApiToken).where(ApiToken.prefix == plaintext[:10])).one()


def test_scopes_are_enforced(client, world, token_for):
    read_only = token_for(world.users["lead"], scopes="read")
    assert client.get(f"/api/v1/incidents/{world.ref}", headers=read_only).status_code == 200
    refused = client.post(f"/api/v1/incidents/{world.ref}/timeline", json={"summary": "x"}, headers=read_only)
    assert refused.status_code == 403 and refused.mimetype == PROBLEM
    assert "write scope" in refused.get_json()["detail"]
    both = client.post(f"/api/v1/incidents/{world.ref}/timeline", json={"summary": "x"},
                       headers=world.tokens["lead"])
    assert both.status_code == 201
    no_read = token_for(world.users["lead"], scopes="write")
    assert client.get(f"/api/v1/incidents/{world.ref}", headers=no_read).status_code == 403


def test_expired_and_revoked_tokens_are_refused(client, world, token_for, now):
    expired = token_for(world.users["viewer"], expires_at=now - timedelta(seconds=1))
    answer = client.get("/api/v1/incidents", headers=expired)
    assert answer.status_code == 401 and answer.mimetype == PROBLEM
    assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
    live = token_for(world.users["viewer"], expires_at=time.now() + timedelta(days=1))
    assert client.get("/api/v1/incidents", headers=live).status_code == 200


def test_cli_tokens_expire_by_default_and_print_expiry_to_stderr(runner, client, session, world):
    result = runner.invoke(args=["tokens", "create", "--email", "viewer@example.org", "--name", "siem"])
    assert result.exit_code == 0, result.output
    assert TOKEN.fullmatch(result.stdout.strip()), "stdout must hold the token and nothing else"
    plaintext = result.stdout.strip()
    assert plaintext not in result.stderr
    assert "expires" in result.stderr and "(90 days)" in result.stderr and "scopes read write" in result.stderr
    row = _token_row(session, plaintext)
    left = row.expires_at - time.now()
    assert timedelta(days=89, hours=23) < left <= timedelta(days=90)
    assert client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {plaintext}"}).status_code == 200

    week = runner.invoke(args=["tokens", "create", "--email", "viewer@example.org", "--days", "7", "--read-only"])
    row = _token_row(session, week.stdout.strip())
    assert timedelta(days=6, hours=23) < row.expires_at - time.now() <= timedelta(days=7)
    assert row.scopes == "read" and "(7 days)" in week.stderr and "scopes read;" in week.stderr
    session.rollback()
    audited = session.exec(select(AuditEvent).where(AuditEvent.action == "token.created")).all()
    assert [e.target for e in audited] == [plaintext[:10], week.stdout.strip()[:10]]
    assert all(plaintext not in str(e.details) for e in audited)


def test_default_expiry_is_configurable(app, runner, session, world):
    app.config["API_TOKEN_DEFAULT_DAYS"] = 0
    result = runner.invoke(args=["tokens", "create", "--email", "viewer@example.org"])
    assert _token_row(session, result.stdout.strip()).expires_at is None
    assert "never expires" in result.stderr
    app.config["API_TOKEN_DEFAULT_DAYS"] = 30
    result = runner.invoke(args=["tokens", "create", "--email", "viewer@example.org"])
    assert "(30 days)" in result.stderr


def test_revoking_is_audited(runner, session, world):
    token = runner.invoke(args=["tokens", "create", "--email", "viewer@example.org"]).stdout.strip()
    assert runner.invoke(args=["tokens", "revoke", "--email", "viewer@example.org", "--token", token]).exit_code == 0
    session.rollback()
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "token.revoked")).one()
    assert event.target == token[:10] and event.details["user"] == "viewer@example.org"
