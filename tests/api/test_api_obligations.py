"""Settling obligations by hand through the API and the incident page: met (with reasons when late), not required."""

from __future__ import annotations

from apisupport import PROBLEM, declare, problem_fields, sign_in_as


def _obligations(client, ref, headers) -> dict:
    body = client.get(f"/api/v1/incidents/{ref}/obligations", headers=headers).get_json()
    return {(o["regime"], o["stage"]): o for o in body["items"]}


def _events(client, ref, headers, kind=None) -> list:
    body = client.get(f"/api/v1/incidents/{ref}/timeline?per_page=500", headers=headers).get_json()
    return [e for e in body["items"] if kind is None or e["kind"] == kind]


def test_met_on_time_is_recorded_and_starts_the_customers_own_clock(client, incident, people, clock):
    lead = people.tokens["lead"]
    before = _obligations(client, incident, lead)
    to_bank, their_clock = before[("uk-gdpr", "processor-to-controller")], before[("uk-gdpr", "customer-notify-ico")]
    assert their_clock["anchor"]["at"] is None and their_clock["due_at"] is None  # waits for our notice
    clock.advance(hours=3)
    response = client.post(f"/api/v1/incidents/{incident}/obligations/{to_bank['id']}/met",
                           json={"met_at": "2026-03-01T10:30:00+01:00"}, headers=people.tokens["responder"])
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["status"], body["met_at"], body["late_by_seconds"]) == ("met", "2026-03-01T09:30:00Z", 0)
    assert body["decided_by"] == "responder@example.org (API)"
    after = _obligations(client, incident, lead)[("uk-gdpr", "customer-notify-ico")]
    assert after["anchor"]["at"] == "2026-03-01T09:30:00Z" and after["due_at"] == "2026-03-04T09:30:00Z"
    [event] = _events(client, incident, lead, "obligation.met")
    assert "recorded by hand" in event["summary"] and event["occurred_at"] == "2026-03-01T09:30:00Z"
    again = client.post(f"/api/v1/incidents/{incident}/obligations/{to_bank['id']}/met",
                        json={"met_at": "2026-03-01T11:00:00Z"}, headers=lead)
    assert again.status_code == 409 and again.mimetype == PROBLEM


def test_met_after_the_deadline_needs_the_reasons_for_the_delay(client, incident, people, clock):
    lead = people.tokens["lead"]
    sa = _obligations(client, incident, lead)[("gdpr-art33", "notify-sa")]
    assert sa["due_at"] == "2026-03-04T08:00:00Z"
    clock.advance(days=5)
    url = f"/api/v1/incidents/{incident}/obligations/{sa['id']}/met"
    events_before = len(_events(client, incident, lead))
    refused = client.post(url, json={"met_at": "2026-03-04T10:00:00Z"}, headers=lead)
    assert refused.status_code == 422 and refused.mimetype == PROBLEM
    assert problem_fields(refused) == ["delay_reasons"]
    assert "Art. 33(1)" in refused.get_json()["errors"][0]["message"]
    assert _obligations(client, incident, lead)[("gdpr-art33", "notify-sa")]["status"] == "open"
    assert len(_events(client, incident, lead)) == events_before  # nothing changed
    reasons = "Forensics needed two more hours to confirm which tables were copied."
    done = client.post(url, json={"met_at": "2026-03-04T10:00:00Z", "delay_reasons": reasons}, headers=lead)
    assert done.status_code == 200, done.get_json()
    body = done.get_json()
    assert (body["status"], body["late_by_seconds"], body["delay_reasons"]) == ("late", 7200, reasons)
    [event] = _events(client, incident, lead, "obligation.met")
    assert reasons in event["summary"] and event["details"]["delay_reasons"] == reasons


def test_bad_met_times_are_refused_naming_the_field(client, incident, people, clock):
    lead = people.tokens["lead"]
    sa = _obligations(client, incident, lead)[("gdpr-art33", "notify-sa")]
    url = f"/api/v1/incidents/{incident}/obligations/{sa['id']}/met"
    for body, field in [({"met_at": "2026-03-01T09:00:00"}, "met_at"),  # naive: which zone?
                        ({"met_at": 1772352000}, "met_at"),
                        ({"met_at": "2026-03-01T10:00:00Z"}, "met_at"),  # after the clock's now (09:00)
                        ({}, "met_at"),
                        ({"met_at": "2026-03-01T08:30:00Z", "colour": "red"}, "colour")]:
        response = client.post(url, json=body, headers=lead)
        assert response.status_code == 422, (body, response.get_json())
        assert field in problem_fields(response), (body, response.get_json())
    assert _obligations(client, incident, lead)[("gdpr-art33", "notify-sa")]["status"] == "open"


def test_not_required_is_a_leads_ruling_with_a_rationale(client, incident, people, clock):
    lead = people.tokens["lead"]
    dora = _obligations(client, incident, lead)[("dora-art19", "assist-financial-entity")]
    url = f"/api/v1/incidents/{incident}/obligations/{dora['id']}/not-required"
    responder = client.post(url, json={"rationale": "not a financial entity"}, headers=people.tokens["responder"])
    assert responder.status_code == 403 and responder.mimetype == PROBLEM
    for body in ({}, {"rationale": ""}, {"rationale": "   "}):
        response = client.post(url, json=body, headers=lead)
        assert response.status_code == 422 and problem_fields(response) == ["rationale"], response.get_json()
    rationale = "Bright Bank confirmed in writing that the billing data is not in its DORA register."
    ruled = client.post(url, json={"rationale": rationale}, headers=lead)
    assert ruled.status_code == 200, ruled.get_json()
    assert (ruled.get_json()["status"], ruled.get_json()["rationale"]) == ("not_required", rationale)
    [event] = _events(client, incident, lead, "obligation.not_required")
    assert rationale in event["summary"] and event["actor"] == "lead@example.org (API)"
    late = client.post(f"/api/v1/incidents/{incident}/obligations/{dora['id']}/met",
                       json={"met_at": "2026-03-01T08:30:00Z"}, headers=lead)
    assert late.status_code == 409


def test_obligations_of_other_and_hidden_incidents_are_not_found(client, incident, people, clock):
    lead, admin = people.tokens["lead"], people.tokens["admin"]
    hidden = declare(client, admin, title="Restricted one", restricted=True)
    hidden_ob = client.get(f"/api/v1/incidents/{hidden}/obligations", headers=admin).get_json()["items"][0]
    crossed = client.post(f"/api/v1/incidents/{incident}/obligations/{hidden_ob['id']}/met",
                          json={"met_at": "2026-03-01T08:30:00Z"}, headers=lead)
    assert crossed.status_code == 404
    unseen = client.post(f"/api/v1/incidents/{hidden}/obligations/{hidden_ob['id']}/not-required",
                         json={"rationale": "x"}, headers=lead)
    assert unseen.status_code == 404
    assert client.get(f"/api/v1/incidents/{hidden}/obligations", headers=admin).get_json()["items"][0]["status"] == "open"


def test_the_incident_page_settles_obligations_through_the_same_flow(app, client, incident, people, clock):
    sign_in_as(client, people.users["lead"])
    page = client.get(f"/incidents/{incident}").get_data(as_text=True)
    assert "Settle by hand" in page and "Rule not required" in page
    obs = _obligations(client, incident, people.tokens["lead"])
    sa, dora = obs[("gdpr-art33", "notify-sa")], obs[("dora-art19", "assist-financial-entity")]
    clock.advance(days=5)
    late = client.post(f"/incidents/{incident}/obligations/{sa['id']}/met",
                       data={"met_at": "2026-03-04T11:00", "timezone": "Europe/Berlin"})
    assert late.status_code == 422
    assert "delay_reasons" in late.get_data(as_text=True) and "Nothing was saved" in late.get_data(as_text=True)
    done = client.post(f"/incidents/{incident}/obligations/{sa['id']}/met",
                       data={"met_at": "2026-03-04T11:00", "timezone": "Europe/Berlin",
                             "delay_reasons": "Waited for the forensic report."})
    assert done.status_code == 302
    ruled = client.post(f"/incidents/{incident}/obligations/{dora['id']}/not-required",
                        data={"rationale": "No DORA-regulated service in scope."})
    assert ruled.status_code == 302
    after = _obligations(client, incident, people.tokens["lead"])
    assert after[("gdpr-art33", "notify-sa")]["status"] == "late"
    assert after[("gdpr-art33", "notify-sa")]["late_by_seconds"] == 7200  # 11:00 in Berlin is 10:00 UTC; due 08:00
    assert after[("dora-art19", "assist-financial-entity")]["rationale"] == "No DORA-regulated service in scope."
    assert {"obligation.met", "obligation.not_required"} <= {e["kind"] for e in _events(client, incident,
                                                                                         people.tokens["lead"])}
    page = client.get(f"/incidents/{incident}").get_data(as_text=True)
    assert "Waited for the forensic report." in page and "No DORA-regulated service in scope." in page
    sign_in_as(client, people.users["responder"])
    assert "Rule not required" not in client.get(f"/incidents/{incident}").get_data(as_text=True)
    refused = client.post(f"/incidents/{incident}/obligations/{sa['id']}/not-required", data={"rationale": "x"})
    assert refused.status_code == 403
