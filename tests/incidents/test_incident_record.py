"""Declaring and editing incidents through the API and the web forms, with the timeline as proof."""

import pytest


PROBLEM = "application/problem+json"


@pytest.fixture
def responder(make_user, token_for):
    return token_for(make_user("responder"))


BODY = {"title": "Patient portal data exposed", "incident_type": "web-app-exfiltration",
        "detected_at": "2026-03-28T18:10:00+01:00", "aware_at": "2026-03-28T20:00:00+01:00",
        "breach_types": ["confidentiality"], "scope": {"systems": ["patient-portal"]}}


def _create(client, headers, **overrides):
    return client.post("/api/v1/incidents", json={**BODY, **overrides}, headers=headers)


def test_create_incident_via_api(client, mapped, responder):
    response = _create(client, responder)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["ref"].startswith("INC-") and body["ref"].endswith("-0001")
    assert body["aware_at"] == "2026-03-28T19:00:00Z"
    assert body["scope"]["systems"] == ["patient-portal"]
    assert response.headers["Location"].endswith(body["ref"])
    second = _create(client, responder, title="Second incident")
    assert second.get_json()["ref"].endswith("-0002")


def test_create_rejects_bad_input_naming_the_field(client, mapped, responder, count_rows):
    cases = [
        ({"detected_at": "2026-03-28T18:10:00"}, "detected_at"),
        ({"detected_at": 1711645800}, "detected_at"),
        ({"breach_types": ["confidentiality", "secrecy"]}, "breach_types.1"),
        ({"incident_type": "alien-invasion"}, "incident_type"),
        ({"scope": {"systems": ["no-such-system"]}}, "scope.systems"),
        ({"scope": {"systems": [], "colour": "red"}}, "scope.colour"),
        ({"aware_at": "2026-03-28T10:00:00+01:00"}, "aware_at"),
        ({"unexpected": 1}, "unexpected"),
    ]
    for change, field in cases:
        response = _create(client, responder, **change)
        assert response.status_code == 422, (change, response.get_json())
        assert response.mimetype == PROBLEM
        fields = [e.get("field") for e in response.get_json()["errors"]]
        assert field in fields, (change, fields)
    assert count_rows("incident") == 0
    assert count_rows("timeline_event") == 0


def test_viewer_cannot_create(client, mapped, make_user, token_for):
    response = _create(client, token_for(make_user("viewer")))
    assert response.status_code == 403 and response.mimetype == PROBLEM


def test_stale_edit_is_refused_and_nothing_is_lost(client, mapped, responder):
    ref = _create(client, responder).get_json()["ref"]
    first = client.patch(f"/api/v1/incidents/{ref}", json={"version": 1, "title": "Renamed by Ana"}, headers=responder)
    assert first.status_code == 200 and first.get_json()["version"] == 2
    stale = client.patch(f"/api/v1/incidents/{ref}", json={"version": 1, "title": "Renamed by Bo"}, headers=responder)
    assert stale.status_code == 409
    assert "changed by someone else" in stale.get_json()["detail"]
    assert client.get(f"/api/v1/incidents/{ref}", headers=responder).get_json()["title"] == "Renamed by Ana"


def test_status_workflow_and_not_a_breach_rationale(client, mapped, responder):
    ref = _create(client, responder).get_json()["ref"]
    bad = client.post(f"/api/v1/incidents/{ref}/status", json={"status": "not_a_breach"}, headers=responder)
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "rationale"
    skip = client.post(f"/api/v1/incidents/{ref}/status", json={"status": "closed"}, headers=responder)
    assert skip.status_code == 422 and "cannot go from triage to closed" in skip.get_json()["errors"][0]["message"]
    ok = client.post(f"/api/v1/incidents/{ref}/status",
                     json={"status": "not_a_breach", "rationale": "Only synthetic test accounts were exposed."},
                     headers=responder)
    assert ok.status_code == 200 and ok.get_json()["status"] == "not_a_breach"


def test_timeline_records_every_step_and_verifies(client, runner, mapped, responder):
    ref = _create(client, responder).get_json()["ref"]
    client.patch(f"/api/v1/incidents/{ref}", json={"version": 1, "summary": "Bucket listing enabled"},
                 headers=responder)
    client.post(f"/api/v1/incidents/{ref}/timeline", json={"summary": "Called the hosting provider",
                                                            "occurred_at": "2026-03-28T21:00:00+01:00"},
                headers=responder)
    timeline = client.get(f"/api/v1/incidents/{ref}/timeline?per_page=500", headers=responder).get_json()
    kinds = [e["kind"] for e in timeline["items"]]
    assert kinds[:3] == ["incident.created", "incident.aware", "scope.changed"]
    assert {"impact.changed", "obligation.created", "incident.edited"} <= set(kinds) and kinds[-1] == "note"
    assert timeline["items"][-1]["occurred_at"] == "2026-03-28T20:00:00Z"
    assert timeline["verified"] is True
    assert all(e["prev_hash"] == p["hash"] for p, e in zip(timeline["items"], timeline["items"][1:]))
    result = runner.invoke(args=["timeline", "verify", ref])
    assert result.exit_code == 0 and "chain intact" in result.output


def test_tampering_is_detected_naming_the_event(client, runner, app, mapped, responder):
    ref = _create(client, responder).get_json()["ref"]
    with app.extensions["breachline.engine"].begin() as conn:
        conn.exec_driver_sql("UPDATE timeline_event SET summary = 'nothing happened' WHERE seq = 2")
    result = runner.invoke(args=["timeline", "verify", ref])
    assert result.exit_code == 1
    assert "BROKEN at event 2" in result.output and "altered" in result.output


def test_declare_from_the_web_form_and_see_the_page(client, mapped, make_user, login):
    login(make_user("responder"))
    form = {"title": "Lost laptop", "incident_type": "lost-stolen-device", "breach_types": ["confidentiality"],
            "timezone": "Europe/Berlin", "detected_at": "2026-03-28T18:10", "aware_at": "2026-03-28T20:00",
            "severity": "high", "systems": ["billing"]}
    response = client.post("/incidents/new", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Lost laptop" in page and "Bright Bank Ltd" in page
    assert "2026-03-28 19:00 +00:00" in page  # aware_at 20:00 Berlin shown in UTC with its offset


def test_web_form_errors_keep_the_input(client, mapped, make_user, login):
    login(make_user("responder"))
    form = {"title": "Lost laptop", "incident_type": "lost-stolen-device", "timezone": "UTC",
            "detected_at": "", "systems": ["billing"]}
    response = client.post("/incidents/new", data=form)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Nothing was saved" in page and "detected_at" in page and 'value="Lost laptop"' in page


def test_stale_web_edit_shows_message_and_keeps_typed_values(client, mapped, make_user, login, responder):
    ref = _create(client, responder).get_json()["ref"]
    client.patch(f"/api/v1/incidents/{ref}", json={"version": 1, "title": "Saved first"}, headers=responder)
    login(make_user("responder", email="second@example.org"))
    response = client.post(f"/incidents/{ref}/edit", data={"version": "1", "title": "My careful rewrite",
                                                           "timezone": "UTC", "severity": "high"})
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "changed by someone else" in page and 'value="My careful rewrite"' in page
