"""The assessment form on the API: the web page's prefilled facts, hints and live advice, ready to record."""

from __future__ import annotations

from apisupport import declare, sign_in_as


def test_the_prefilled_form_matches_the_web_page_and_can_be_recorded(app, client, incident, people, clock):
    lead = people.tokens["lead"]
    response = client.get(f"/api/v1/incidents/{incident}/assessments/prefill", headers=people.tokens["viewer"])
    assert response.status_code == 200, response.get_json()
    form = response.get_json()
    assert set(form["values"]["data_categories"]) == {"user.financial.bank_account", "user.name", "user.contact.email"}
    assert form["sources"]["data_categories"].startswith("impact of")
    assert form["values"]["breach_types"] == ["confidentiality"] and form["sources"]["breach_types"] == "incident"
    assert form["hints"] and all(isinstance(q, str) for qs in form["hints"].values() for q in qs)
    assert form["recommendation"] is not None and form["incomplete"] == []
    # The web page shows the same questions.
    web = app.test_client()
    sign_in_as(web, people.users["viewer"])
    page = web.get(f"/incidents/{incident}/assessment").get_data(as_text=True)
    question = next(iter(form["hints"].values()))[0]
    assert question.replace("'", "&#39;").replace('"', "&#34;") in page or question in page
    recorded = client.post(f"/api/v1/incidents/{incident}/assessments", headers=lead,
                           json={"inputs": form["values"], "rationale": ""})
    assert recorded.status_code == 201, recorded.get_json()
    again = client.get(f"/api/v1/incidents/{incident}/assessments/prefill", headers=lead).get_json()
    assert again["sources"]["malicious"] == "assessment #1"


def test_a_hidden_incidents_form_is_not_found(client, mapped, people, clock):
    hidden = declare(client, people.tokens["admin"], restricted=True)
    assert client.get(f"/api/v1/incidents/{hidden}/assessments/prefill", headers=people.tokens["lead"]).status_code == 404
