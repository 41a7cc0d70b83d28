"""Assessing an incident through the web form: prefill, decision, override rationale, history, obligations."""

import pytest


# The billing system holds Bright Bank's data (we are its processor) and Northwind's (role controller:
# our own data), so Art. 33(1) to the SA applies to us and Art. 33(2) to Bright Bank.
INCIDENT = {"title": "Billing database exposed", "incident_type": "web-app-exfiltration",
            "detected_at": "2026-03-28T18:10:00+01:00", "aware_at": "2026-03-28T20:00:00+01:00",
            "breach_types": ["confidentiality"], "scope": {"systems": ["billing"]}}
# Taken by an unknown attacker, unencrypted bank details: notify the SA and the data subjects.
HIGH = {"breach_types": ["confidentiality"], "data_categories": "user.name\nuser.financial.bank_account",
        "subjects_count": "5300", "malicious": "on", "exfiltration": "yes", "encryption": "none", "backup": "full",
        "recipient": "unknown", "identifiability": "maximum", "dpc_adjustment": "0"}
# The same data, but encrypted with a safe key and never shown to have left: unlikely to result in a risk.
LOW = {**HIGH, "malicious": "", "exfiltration": "no", "recipient": "none", "encryption": "state_of_the_art_key_safe"}


@pytest.fixture
def lead(make_user):
    return make_user("lead")


@pytest.fixture
def lead_token(lead, token_for):
    return token_for(lead)


@pytest.fixture
def ref(client, mapped, lead_token):
    response = client.post("/api/v1/incidents", json=INCIDENT, headers=lead_token)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["ref"]


def obligation(client, headers, ref, regime, stage):
    items = client.get(f"/api/v1/incidents/{ref}/obligations", headers=headers).get_json()["items"]
    found = [o for o in items if (o["regime"], o["stage"]) == (regime, stage)]
    return found[0] if found else None


def events(client, headers, ref, kind):
    body = client.get(f"/api/v1/incidents/{ref}/timeline?per_page=500", headers=headers).get_json()
    assert body["verified"]
    return [e for e in body["items"] if e["kind"] == kind]


def assessments(client, headers, ref):
    return client.get(f"/api/v1/incidents/{ref}/assessments", headers=headers).get_json()["items"]


def test_page_is_prefilled_from_the_incident_and_impact_with_explanations_and_hints(app, client, ref, lead, login):
    login(lead)
    response = client.get(f"/incidents/{ref}/assessment")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    # Categories are the union over the impact rows; subjects the impact total (5,000 + 300).
    assert "user.contact.email\nuser.financial.bank_account\nuser.name</textarea>" in html
    assert 'name="subjects_count" inputmode="decimal" value="5300"' in html
    assert 'value="confidentiality" checked' in html and 'value="availability" checked' not in html
    # Each ENISA factor's explanation beside its input, the recommendation with reasons.
    assert "DPC 3: base 3 because financial data is the most severe type affected" in html
    assert "EI 1 (maximum)" in html and "CB 0.5: confidentiality +0.5 (disclosed to an unknown number" in html
    assert "Notify the supervisory authority without undue delay" in html
    # The incident type's hints sit beside the inputs they feed.
    with app.app_context():
        from app import runtime

        hint = next(h for h in runtime.incident_types()["web-app-exfiltration"].assessment_hints
                    if h.field == "exfiltration")
    assert hint.question.split()[0] in html and "Playbook" in html


def test_lead_records_the_assessment_and_it_goes_on_the_timeline(client, ref, lead, lead_token, login):
    login(lead)
    response = client.post(f"/incidents/{ref}/assessment", data=HIGH)
    assert response.status_code == 302, response.get_data(as_text=True)
    [row] = assessments(client, lead_token, ref)
    assert row["decision"] == {"notify_supervisory_authority": True, "communicate_to_data_subjects": True}
    assert row["overridden"] is False and row["assessor"] == lead.email
    assert row["result"]["band"] == "very_high" and row["result"]["score"] == 4
    [event] = events(client, lead_token, ref, "assessment.recorded")
    details = event["details"]
    assert details["inputs"]["exfiltration"] == "yes" and details["inputs"]["subjects_count"] == 5300
    assert (details["score"], details["band"]) == (4, "very_high")
    assert details["decision"] == row["decision"] and details["assessor"] == lead.email
    assert details["rationale"] == "" and event["actor"] == lead.email
    # High risk decided: the Art. 34 communication to our own data subjects is now an open obligation.
    assert obligation(client, lead_token, ref, "gdpr-art34", "notify-subjects")["status"] == "open"
    assert obligation(client, lead_token, ref, "gdpr-art33", "notify-sa")["status"] == "open"
    page = client.get(f"/incidents/{ref}").get_data(as_text=True)
    assert "Risk assessment" in page and f"/incidents/{ref}/assessment" in page


def test_override_without_rationale_is_refused_and_nothing_is_stored(client, ref, lead, lead_token, login, count_rows):
    login(lead)
    before = client.get(f"/api/v1/incidents/{ref}/obligations", headers=lead_token).get_json()
    response = client.post(f"/incidents/{ref}/assessment",
                           data={**HIGH, "communicate_to_data_subjects": "no", "rationale": "   "})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Nothing was recorded" in html and "rationale" in html
    assert 'value="no" selected' in html  # the lead's choice is kept in the form
    assert count_rows("assessment") == 0
    assert events(client, lead_token, ref, "assessment.recorded") == []
    assert client.get(f"/api/v1/incidents/{ref}/obligations", headers=lead_token).get_json() == before


def test_override_with_rationale_is_stored_and_on_the_timeline(client, ref, lead, lead_token, login):
    login(lead)
    why = "Bank details were tokenised by the card vault; the attacker saw only tokens, useless outside our system."
    response = client.post(f"/incidents/{ref}/assessment",
                           data={**HIGH, "communicate_to_data_subjects": "no", "rationale": why})
    assert response.status_code == 302
    [row] = assessments(client, lead_token, ref)
    assert row["overridden"] is True and row["rationale"] == why
    assert row["decision"] == {"notify_supervisory_authority": True, "communicate_to_data_subjects": False}
    assert row["result"]["recommendation"]["communicate_to_data_subjects"] is True
    [event] = events(client, lead_token, ref, "assessment.recorded")
    assert why in event["summary"] and "overrides the recommendation" in event["summary"]
    assert event["details"]["rationale"] == why and event["details"]["overridden"] is True
    # No high risk decided: Art. 34 is not required, with the lead's reasoning.
    art34 = obligation(client, lead_token, ref, "gdpr-art34", "notify-subjects")
    assert art34 is None or art34["status"] == "not_required"


def test_communicating_without_notifying_the_sa_is_refused(client, ref, lead, login, count_rows):
    login(lead)
    response = client.post(f"/incidents/{ref}/assessment",
                           data={**HIGH, "notify_supervisory_authority": "no", "rationale": "we disagree"})
    assert response.status_code == 422
    assert "decision.notify_supervisory_authority" in response.get_data(as_text=True)
    assert count_rows("assessment") == 0


def test_a_responder_cannot_decide(client, ref, make_user, login, count_rows):
    responder = make_user("responder")
    login(responder)
    page = client.get(f"/incidents/{ref}/assessment")
    assert page.status_code == 200 and "A lead records the decision" in page.get_data(as_text=True)
    preview = client.post(f"/incidents/{ref}/assessment/preview", data=LOW)
    assert preview.status_code == 200 and "Notification to the supervisory authority is not required" in \
        preview.get_data(as_text=True)
    assert client.post(f"/incidents/{ref}/assessment", data=HIGH).status_code == 403
    assert count_rows("assessment") == 0


def test_decision_drives_our_own_art33_obligation_and_history_is_kept(client, ref, lead, lead_token, login):
    login(lead)
    assert obligation(client, lead_token, ref, "gdpr-art33", "notify-sa")["status"] == "open"
    # 1st: encrypted with a safe key -> unlikely to result in a risk -> Art. 33(1) not required.
    assert client.post(f"/incidents/{ref}/assessment", data=LOW).status_code == 302
    sa = obligation(client, lead_token, ref, "gdpr-art33", "notify-sa")
    assert sa["status"] == "not_required"
    closed = events(client, lead_token, ref, "obligation.not_required")
    assert closed and closed[0]["details"]["regime"] == "gdpr-art33"
    assert "assessment #1" in closed[0]["details"]["rationale"] and closed[0]["details"]["decided_by"] == lead.email
    # The processor's duty to the customer is not ours to waive: Art. 33(2) to Bright Bank stays open.
    assert obligation(client, lead_token, ref, "uk-gdpr", "processor-to-controller")["status"] == "open"
    # 2nd: the key turned out to be compromised and data left -> notify; the obligation opens again.
    assert client.post(f"/incidents/{ref}/assessment", data=HIGH).status_code == 302
    assert obligation(client, lead_token, ref, "gdpr-art33", "notify-sa")["status"] == "open"
    assert events(client, lead_token, ref, "obligation.reopened")
    history = assessments(client, lead_token, ref)
    assert [a["seq"] for a in history] == [2, 1]
    assert [a["decision"]["notify_supervisory_authority"] for a in history] == [True, False]
    page = client.get(f"/incidents/{ref}/assessment").get_data(as_text=True)
    assert "History (2)" in page
    # Facts people established carry over to the re-assessment form.
    assert '<option value="yes" selected>yes</option>' in page


def test_api_records_assessments_with_the_same_rules(client, ref, lead_token, make_user, token_for, count_rows):
    from test_assess_api import EXFILTRATED

    url = f"/api/v1/incidents/{ref}/assessments"
    refused = client.post(url, json={"inputs": EXFILTRATED, "decision": {"communicate_to_data_subjects": False}},
                          headers=lead_token)
    assert refused.status_code == 422
    assert [e["field"] for e in refused.get_json()["errors"]] == ["rationale"]
    bad = client.post(url, json={"inputs": {**EXFILTRATED, "colour": "red"}}, headers=lead_token)
    assert bad.status_code == 422 and "inputs.colour" in [e["field"] for e in bad.get_json()["errors"]]
    responder = token_for(make_user("responder"))
    assert client.post(url, json={"inputs": EXFILTRATED}, headers=responder).status_code == 403
    assert count_rows("assessment") == 0
    created = client.post(url, json={"inputs": EXFILTRATED, "decision": {"communicate_to_data_subjects": False},
                                     "rationale": "Only tokens were exposed."}, headers=lead_token)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["overridden"] is True and created.get_json()["seq"] == 1
    listing = client.get(url, headers=responder).get_json()
    assert listing["total"] == 1
    # Customers get the recommendation as advice, not our override for our own data.
    advice = listing["advice_for_controllers"]
    assert advice["communicate_to_data_subjects"] is True and advice["band"] == "very_high"
    assert advice["reasons"] and advice["score"] == 4.5


def test_advice_for_controllers_service(app, client, ref, lead, login):
    from app.assessment.service import advice_for_controllers
    from app.db import session_scope
    from app.incidents.service import get_by_ref

    def advice():
        # A short app context and transaction of its own, as the notification drafting will have.
        with app.app_context(), session_scope() as session:
            return advice_for_controllers(session=session, incident_id=get_by_ref(session=session, ref=ref).id)

    assert advice() is None
    login(lead)
    assert client.post(f"/incidents/{ref}/assessment", data=LOW).status_code == 302
    found = advice()
    assert set(found) >= {"band", "score", "reasons"}
    # DPC 3 (financial) x EI 1 + CB 0 is a high ENISA score, yet encryption with a safe key makes the
    # disclosure unlikely to result in a risk: the advice carries both, and the reasons say why.
    assert found["notify_supervisory_authority"] is False and (found["score"], found["band"]) == (3, "high")
    assert any("state-of-the-art algorithm" in r for r in found["reasons"])
