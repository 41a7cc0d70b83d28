"""The audit log records sign-ins, token use (first per hour), exports and permission denials; admins read it."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from app.auth import audit
from app.auth.models import ApiToken, AuditEvent
from secsupport import PROBLEM, sign_in_as


def _events(session, action: str) -> list[AuditEvent]:
    session.rollback()  # end the read snapshot: the requests committed on their own connections
    return list(session.exec(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def test_permission_denials_are_recorded_by_the_central_check(app, client, world, session):
    sign_in_as(client, world.users["viewer"])
    assert client.get("/datamap/import").status_code == 403
    api = client.post(f"/api/v1/incidents/{world.ref}/timeline", json={"summary": "x"},
                      headers=world.tokens["viewer"])
    assert api.status_code == 403 and api.mimetype == PROBLEM
    denied = _events(session, "permission.denied")
    assert [(e.actor, e.target, e.details["permission"]) for e in denied] == [
        ("viewer@example.org", "GET /datamap/import", "datamap:write"),
        ("viewer@example.org", f"POST /api/v1/incidents/{world.ref}/timeline", "incident:write")]
    assert denied[0].ip == "127.0.0.1" and denied[0].details["reason"] == "role viewer"


def test_token_use_is_recorded_once_per_token_per_hour(app, client, world, session):
    before = len(_events(session, "token.used"))
    for _ in range(3):
        assert client.get("/api/v1/incidents", headers=world.tokens["viewer"]).status_code == 200
    used = _events(session, "token.used")
    assert len(used) == before + 1  # the world fixture already used other roles' tokens
    assert used[-1].actor == "viewer@example.org" and used[-1].target.startswith("bl_")
    token = session.exec(select(ApiToken).where(ApiToken.prefix == used[-1].target)).one()
    token.last_used_at = token.last_used_at - timedelta(hours=1)  # as if the last call was an hour ago
    session.add(token)
    session.commit()
    client.get("/api/v1/incidents", headers=world.tokens["viewer"])
    assert len(_events(session, "token.used")) == before + 2


def test_sign_in_sign_out_and_exports_are_recorded(app, client, quick_user, login, session):
    user = quick_user("viewer", email="vera@example.org")
    login(user)
    assert client.get("/datamap/export.yaml").status_code == 200
    client.post("/logout")
    actions = [(e.action, e.actor) for e in session.exec(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions == [("signin.ok", user.email), ("export.datamap", user.email), ("signout", user.email)]


def test_admins_read_filter_and_page_the_log(app, client, world, session, now):
    for i in range(5):
        audit.record(session=session, action="signin.failed", now=now + timedelta(minutes=i), actor=f"u{i}@x.org",
                     target=f"u{i}@x.org", ip="192.0.2.1", details={"reason": "wrong email or password"})
    session.commit()
    sign_in_as(client, world.users["admin"])
    page = client.get("/admin/audit?action=signin.failed&per_page=2").get_data(as_text=True)
    assert "u4@x.org" in page and "u3@x.org" in page and "u2@x.org" not in page  # newest first, two a page
    assert "Page 1 of 3" in page and 'rel="next"' in page
    assert "u0@x.org" in client.get("/admin/audit?action=signin.failed&per_page=2&page=3").get_data(as_text=True)
    by_actor = client.get("/admin/audit?actor=U1@").get_data(as_text=True)
    assert "u1@x.org" in by_actor and "u2@x.org" not in by_actor
    assert client.get("/admin/audit?per_page=zero").status_code == 400
    assert 'href="/admin/audit"' in client.get("/dashboard").get_data(as_text=True)  # in the admin's nav

    body = client.get("/api/v1/audit?action=signin.&per_page=3", headers=world.tokens["admin"]).get_json()
    assert body["total"] == 5 and body["pages"] == 2 and len(body["items"]) == 3
    assert set(body["items"][0]) == {"id", "at", "actor", "action", "target", "ip", "details"}
    assert body["items"][0]["actor"] == "u4@x.org" and body["items"][0]["at"].endswith("Z")
    bad = client.get("/api/v1/audit?page=0", headers=world.tokens["admin"])
    assert bad.status_code == 422 and bad.mimetype == PROBLEM


def test_only_admins_read_the_log(app, world):
    for role in ("viewer", "responder", "lead"):
        client = app.test_client()
        sign_in_as(client, world.users[role])
        assert client.get("/admin/audit").status_code == 403
        assert 'href="/admin/audit"' not in client.get("/dashboard").get_data(as_text=True)
        assert client.get("/api/v1/audit", headers=world.tokens[role]).status_code == 403


def test_details_are_masked_before_they_are_stored(session, now):
    event = audit.record(session=session, action="export.test", now=now, actor="a@x.org",
                         target="Bearer bl_abcdefghijklmnopqrstuvwxyz",
                         details={"password": "hunter2", "note": "secret=whsec_c2VjcmV0"})
    assert "hunter2" not in str(event.details) and "whsec_c2VjcmV0" not in str(event.details)
    assert "bl_abcdefghijklmnopqrstuvwxyz" not in event.target
