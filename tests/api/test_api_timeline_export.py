"""The timeline export on the API: the web export's formats, options and need-to-know, audited."""

from __future__ import annotations

import json

from apisupport import PROBLEM, declare, problem_fields, sign_in_as


def test_the_api_export_is_the_web_export(app, client, incident, people, clock):
    client.post(f"/api/v1/incidents/{incident}/timeline", json={"summary": "Called Bright Bank's DPO"},
                headers=people.tokens["responder"])
    api = client.get(f"/api/v1/incidents/{incident}/export", headers=people.tokens["viewer"])
    assert api.status_code == 200 and api.mimetype == "application/json"
    assert api.headers["Content-Disposition"] == f'attachment; filename="{incident}-timeline.json"'
    document = json.loads(api.get_data())
    assert any(e["summary"] == "Called Bright Bank's DPO" for e in document["events"])
    web = app.test_client()
    sign_in_as(web, people.users["viewer"])
    assert json.loads(web.get(f"/incidents/{incident}/export?format=json").get_data()) == document
    as_csv = client.get(f"/api/v1/incidents/{incident}/export?format=csv&tz=Europe/Berlin",
                        headers=people.tokens["viewer"])
    assert as_csv.mimetype == "text/csv" and "Called Bright Bank's DPO" in as_csv.get_data(as_text=True)
    as_html = client.get(f"/api/v1/incidents/{incident}/export?format=html", headers=people.tokens["viewer"])
    assert as_html.mimetype == "text/html" and incident in as_html.get_data(as_text=True)
    audit = client.get("/api/v1/audit?action=export.timeline", headers=people.tokens["admin"]).get_json()
    assert audit["total"] == 4  # three by the API, one by the web page


def test_a_customers_export_is_redacted_and_only_a_lead_may_turn_that_off(client, incident, people, clock):
    client.post(f"/api/v1/incidents/{incident}/timeline", json={"summary": "Reporter eve@reporter.example called"},
                headers=people.tokens["responder"])
    url = f"/api/v1/incidents/{incident}/export?format=json&controller=brightbank"
    redacted = client.get(url, headers=people.tokens["responder"]).get_data(as_text=True)
    assert "eve@reporter.example" not in redacted
    refused = client.get(url + "&redact=0", headers=people.tokens["responder"])
    assert refused.status_code == 403 and refused.mimetype == PROBLEM
    plain = client.get(url + "&redact=0", headers=people.tokens["lead"])
    assert plain.status_code == 200 and "eve@reporter.example" in plain.get_data(as_text=True)


def test_bad_options_name_the_field_and_hidden_incidents_are_not_found(client, incident, people, clock):
    viewer = people.tokens["viewer"]
    bad = client.get(f"/api/v1/incidents/{incident}/export?format=xml&tz=Mars/Olympus", headers=viewer)
    assert bad.status_code == 422 and {"format", "tz"} <= set(problem_fields(bad))
    hidden = declare(client, people.tokens["admin"], title="Restricted", restricted=True)
    assert client.get(f"/api/v1/incidents/{hidden}/export", headers=people.tokens["lead"]).status_code == 404
    assert client.get(f"/api/v1/incidents/{hidden}/export", headers=people.tokens["admin"]).status_code == 200
