"""The breach register (Art. 33(5)): every breach with decision and rationale, notified or not, by period."""

from datetime import datetime, timezone

import pytest
from sqlmodel import select

from mapdata import SMALL_MAP

PROBLEM = "application/problem+json"
BASE = {"incident_type": "web-app-exfiltration", "breach_types": ["confidentiality"], "scope": {"systems": ["billing"]}}
HIGH = {"breach_types": ["confidentiality"], "data_categories": "user.name\nuser.financial.bank_account",
        "subjects_count": "5300", "malicious": "on", "exfiltration": "yes", "encryption": "none", "backup": "full",
        "recipient": "unknown", "identifiability": "maximum", "dpc_adjustment": "0"}
NOT_NOTIFYING = "Only salted bcrypt hashes of staff passwords left; every password was reset within the hour."
NOT_A_BREACH = "The exposed bucket held only synthetic test data; no personal data was involved."


@pytest.fixture
def world(app, client, runner, tmp_path, make_user, token_for, login):
    """Five incidents across January to March 2026, assessed, notified or ruled out."""
    path = tmp_path / "map.yaml"
    path.write_text(SMALL_MAP)
    assert runner.invoke(args=["datamap", "import", str(path)]).exit_code == 0
    lead = make_user("lead")
    headers = token_for(lead)

    def declare(title, detected, aware=None, **extra):
        body = {**BASE, "title": title, "detected_at": detected, **({"aware_at": aware} if aware else {}), **extra}
        response = client.post("/api/v1/incidents", json=body, headers=headers)
        assert response.status_code == 201, response.get_json()
        return response.get_json()["ref"]

    refs = {
        "notified": declare("January exfiltration", "2026-01-10T08:00:00Z", "2026-01-10T12:00:00Z"),
        "not_notified": declare("February hash leak", "2026-02-03T08:00:00Z", "2026-02-03T09:00:00Z"),
        "not_a_breach": declare("March test bucket", "2026-03-15T08:00:00Z", "2026-03-15T10:00:00Z"),
        "detected_only": declare("February triage, awareness not yet set", "2026-02-20T08:00:00Z"),
        "drill": declare("February drill", "2026-02-11T08:00:00Z", "2026-02-11T09:00:00Z", drill=True),
    }
    login(lead)
    assert client.post(f"/incidents/{refs['notified']}/assessment", data=HIGH).status_code == 302
    decision = {"notify_supervisory_authority": "no", "communicate_to_data_subjects": "no", "rationale": NOT_NOTIFYING}
    assert client.post(f"/incidents/{refs['not_notified']}/assessment", data={**HIGH, **decision}).status_code == 302
    status = client.post(f"/api/v1/incidents/{refs['not_a_breach']}/status",
                         json={"status": "not_a_breach", "rationale": NOT_A_BREACH}, headers=headers)
    assert status.status_code == 200, status.get_json()
    _deliver_sa_notice(app, refs["notified"])
    return refs, headers


def _deliver_sa_notice(app, ref):
    """Record our Art. 33(1) notice as delivered, as the notifications outbox will on delivery."""
    from app.clock.settle import mark_met
    from app.clock.models import Obligation
    from app.db import session_scope
    from app.incidents.service import get_by_ref

    # Its own short app context and transaction: a test-wide one would be shared with the client's requests.
    with app.app_context(), session_scope() as session:
        incident = get_by_ref(session=session, ref=ref)
        ob = session.exec(select(Obligation).where(Obligation.incident_id == incident.id,
                                                   Obligation.regime_id == "gdpr-art33",
                                                   Obligation.stage_id == "notify-sa")).one()
        mark_met(session=session, obligation=ob, actor="lead@example.org",
                 met_at=datetime(2026, 1, 11, 9, 0, tzinfo=timezone.utc))


def _refs(body, section="breaches"):
    return [e["ref"] for e in body[section]]


def test_register_lists_notified_and_not_notified_breaches_with_decision_and_rationale(client, world):
    refs, headers = world
    body = client.get("/api/v1/register", headers=headers).get_json()
    # Oldest first by awareness (detection while awareness is unset); the drill is left out.
    assert _refs(body) == [refs["notified"], refs["not_notified"], refs["detected_only"]]
    assert _refs(body, "not_a_breach") == [refs["not_a_breach"]]
    notified, not_notified, pending = body["breaches"]
    assert notified["decision"]["notify_supervisory_authority"] is True and notified["decision"]["overridden"] is False
    assert notified["decision"]["reasons"] and notified["decision"]["rationale"] is None
    assert notified["notified"]["supervisory_authority"] == {"state": "notified", "notified": 1, "of": 1,
                                                             "first_at": "2026-01-11T09:00:00Z"}
    assert notified["aware_at"] == "2026-01-10T12:00:00Z" and notified["breach_types"] == ["confidentiality"]
    assert notified["impact"]["controllers"] == 2 and notified["impact"]["est_subjects"] == 5300
    assert not_notified["decision"]["notify_supervisory_authority"] is False
    assert not_notified["decision"]["overridden"] is True and not_notified["decision"]["rationale"] == NOT_NOTIFYING
    assert not_notified["notified"]["supervisory_authority"]["state"] == "not required"
    assert pending["decision"] is None and pending["aware_at"] is None
    assert body["not_a_breach"][0]["status_rationale"] == NOT_A_BREACH
    with_drills = client.get("/api/v1/register?drills=1", headers=headers).get_json()
    assert refs["drill"] in _refs(with_drills)


def test_register_filters_by_period(client, world):
    refs, headers = world

    def period(query):
        response = client.get(f"/api/v1/register?{query}", headers=headers)
        assert response.status_code == 200, response.get_json()
        return _refs(response.get_json()) + _refs(response.get_json(), "not_a_breach")

    assert period("from=2026-01-01&to=2026-01-31") == [refs["notified"]]
    # "to" is a whole day: an incident at 09:00 on the 3rd is inside "to=2026-02-03".
    assert period("from=2026-02-01&to=2026-02-03") == [refs["not_notified"]]
    assert period("from=2026-02-01&to=2026-02-28") == [refs["not_notified"], refs["detected_only"]]
    assert period("from=2026-03-01") == [refs["not_a_breach"]]
    assert period("to=2026-01-09") == []
    body = client.get("/api/v1/register?from=2026-02-01&to=2026-02-28", headers=headers).get_json()
    assert (body["from"], body["to"]) == ("2026-02-01", "2026-02-28")


@pytest.mark.parametrize("query, field", [("from=2026-13-01", "from"), ("to=yesterday", "to"),
                                          ("from=2026-03-01&to=2026-02-01", "to")])
def test_a_bad_period_names_the_field(client, world, query, field):
    _, headers = world
    response = client.get(f"/api/v1/register?{query}", headers=headers)
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert field in [e["field"] for e in response.get_json()["errors"]]
    page = client.get(f"/register?{query}")
    assert page.status_code == 422 and "The period is not valid" in page.get_data(as_text=True)


def test_register_page(client, world):
    refs, _ = world
    page = client.get("/register")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for key in ("notified", "not_notified", "not_a_breach", "detected_only"):
        assert refs[key] in html
    assert refs["drill"] not in html
    assert NOT_NOTIFYING in html and NOT_A_BREACH in html
    assert "overrides recommendation" in html and "not assessed yet" in html
    assert ">notified</span>" in html and ">not required</span>" in html
    head, tail = html.split("Not a personal data breach (1)")
    assert refs["not_a_breach"] in tail and refs["not_a_breach"] not in head
    february = client.get("/register?from=2026-02-01&to=2026-02-28").get_data(as_text=True)
    assert refs["not_notified"] in february and refs["notified"] not in february
    assert "Breach register" in html  # in the main navigation
