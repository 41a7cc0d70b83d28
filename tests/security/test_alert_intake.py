"""Alert intake (issue 7 item 3): signed alerts open or join triage incidents; bad, stale and replayed ones don't."""

from __future__ import annotations

import hashlib
import hmac
import json
import time as pytime

import pytest
import sqlalchemy as sa

import app.incidents.intake  # noqa: F401  registers intake_receipt before the template database is made

PROBLEM = "application/problem+json"
SOURCE, SECRET = "siem-prod", "s3cret-intake-key"
URL = "/api/v1/intake/alerts"


@pytest.fixture
def intake_app(app, mapped):
    app.config["INTAKE_SOURCES"] = {SOURCE: SECRET}
    return app


def _alert(**extra) -> dict:
    return {"title": "Suspicious bulk export from billing", "incident_type": "ransomware",
            "summary": "SIEM rule 4711 fired", "detected_at": "2026-03-01T07:00:00+01:00", "systems": ["billing"],
            **extra}


def _post(client, body, *, secret: str = SECRET, source: str = SOURCE, timestamp: int | None = None,
          signature: str | None = None):
    raw = json.dumps(body).encode() if not isinstance(body, bytes) else body
    ts = str(int(pytime.time()) if timestamp is None else timestamp)
    if signature is None:
        signature = "sha256=" + hmac.new(secret.encode(), f"{ts}.".encode() + raw, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Breachline-Source": source,
               "X-Breachline-Timestamp": ts, "X-Breachline-Signature": signature}
    return client.post(URL, data=raw, headers=headers)


def _count(app, table: str) -> int:
    with app.extensions["breachline.engine"].connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


def _events(app, ref: str) -> list[tuple[str, str, str]]:
    with app.extensions["breachline.engine"].connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT e.kind, e.actor, e.summary FROM timeline_event e JOIN incident i ON i.id = e.incident_id "
            "WHERE i.ref = :ref ORDER BY e.seq"), {"ref": ref})]


def test_valid_alert_opens_a_triage_incident_recorded_with_its_source(intake_app, client):
    response = _post(client, _alert(dedup_key="rule-4711:billing"))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["created"] is True and body["ref"]
    with intake_app.extensions["breachline.engine"].connect() as conn:
        row = conn.execute(sa.text("SELECT status, aware_at, created_by FROM incident WHERE ref = :r"),
                           {"r": body["ref"]}).one()
    assert row.status == "triage" and row.aware_at is None and row.created_by == f"intake:{SOURCE}"
    events = _events(intake_app, body["ref"])
    assert any(kind == "incident.created" or kind.startswith("incident.") for kind, _, _ in events)
    assert all(actor == f"intake:{SOURCE}" for _, actor, _ in events)
    assert any(f"Alert received from {SOURCE}" in summary for _, _, summary in events)
    assert _count(intake_app, "intake_receipt") == 1


def test_same_dedup_key_joins_the_open_incident_with_a_note(intake_app, client):
    first = _post(client, _alert(dedup_key="rule-4711:billing"))
    assert first.status_code == 201
    ref = first.get_json()["ref"]
    again = _post(client, _alert(dedup_key="rule-4711:billing", title="Suspicious bulk export again"))
    assert again.status_code == 200, again.get_json()
    assert again.get_json() == {"ref": ref, "created": False}
    assert _count(intake_app, "incident") == 1
    assert any(summary.startswith(f"Alert received again from {SOURCE}") for _, _, summary in _events(intake_app, ref))
    other = _post(client, _alert(dedup_key="another-key"))
    assert other.status_code == 201 and other.get_json()["ref"] != ref


def test_bad_signature_is_401_and_writes_nothing(intake_app, client):
    incidents = _count(intake_app, "incident")
    for response in (_post(client, _alert(), secret="wrong-secret"),
                     _post(client, _alert(), source="unknown-siem"),
                     _post(client, _alert(), signature="sha256=" + "0" * 64),
                     client.post(URL, json=_alert())):
        assert response.status_code == 401 and response.mimetype == PROBLEM
        assert response.get_json()["detail"] == "signature invalid"
    assert _count(intake_app, "incident") == incidents
    assert _count(intake_app, "intake_receipt") == 0


def test_stale_or_future_timestamp_is_401(intake_app, client):
    for ts in (int(pytime.time()) - 301, int(pytime.time()) + 301):
        response = _post(client, _alert(), timestamp=ts)
        assert response.status_code == 401 and response.mimetype == PROBLEM
        assert response.get_json()["detail"] == "stale or future timestamp"
    assert _count(intake_app, "intake_receipt") == 0


def test_replayed_alert_is_409(intake_app, client):
    raw, ts = json.dumps(_alert()).encode(), int(pytime.time())
    assert _post(client, raw, timestamp=ts).status_code == 201
    replay = _post(client, raw, timestamp=ts)
    assert replay.status_code == 409 and replay.mimetype == PROBLEM
    assert _count(intake_app, "incident") == 1 and _count(intake_app, "intake_receipt") == 1


def test_unknown_incident_type_is_422_naming_the_field(intake_app, client):
    response = _post(client, _alert(incident_type="no-such-type"))
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert "incident_type" in [e.get("field") for e in response.get_json()["errors"]]
    assert _count(intake_app, "intake_receipt") == 0


def test_naive_detected_at_is_422(intake_app, client):
    response = _post(client, _alert(detected_at="2026-03-01T07:00:00"))
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert "detected_at" in [e.get("field") for e in response.get_json()["errors"]]
    assert _count(intake_app, "incident") == 0
