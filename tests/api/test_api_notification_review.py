"""Notifications on the API as on the review page: bulk approval, the shared notice facts, every attempt with proof."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest

from apisupport import PROBLEM, problem_fields

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notifications"))
from receivers import Mailbox, free_port  # noqa: E402


def _draft(client, ref, people) -> list[dict]:
    response = client.post(f"/api/v1/incidents/{ref}/notifications", json={}, headers=people.tokens["responder"])
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _listed(client, ref, headers, query="") -> dict:
    response = client.get(f"/api/v1/incidents/{ref}/notifications{query}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_bulk_approval_approves_each_draft_on_its_own(client, incident, people, clock):
    drafted = _draft(client, incident, people)
    drafts = [n for n in drafted if n["status"] == "draft" and not n["error"]]
    assert drafts, drafted
    url = f"/api/v1/incidents/{incident}/notifications/approve"
    assert client.post(url, json={"ids": [drafts[0]["id"]]}, headers=people.tokens["responder"]).status_code == 403
    for body, field in (({}, "ids"), ({"ids": [drafts[0]["id"]], "all_drafts": True}, "all_drafts"),
                        ({"ids": ["one"]}, "ids.0"), ({"ids": [1], "colour": "red"}, "colour")):
        refused = client.post(url, json=body, headers=people.tokens["lead"])
        assert refused.status_code == 422 and field in problem_fields(refused), (body, refused.get_json())
    assert {n["status"] for n in _listed(client, incident, people.tokens["lead"])["items"]} >= {"draft"}
    stale = {str(drafts[0]["id"]): drafts[0]["version"] + 1}
    response = client.post(url, json={"ids": [d["id"] for d in drafts] + [999999], "versions": stale},
                           headers=people.tokens["lead"])
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert {n["id"] for n in body["approved"]} == {d["id"] for d in drafts[1:]}
    assert all(n["status"] in ("queued", "approved") for n in body["approved"])
    refused = dict((r["id"], r["reason"]) for r in body["refused"])
    assert set(refused) == {drafts[0]["id"], 999999}
    assert "changed since you opened it" in refused[drafts[0]["id"]]
    assert "not a notification of this incident" in refused[999999]
    # "Select all", as the review page's checkbox: the one left is approved now.
    rest = client.post(url, json={"all_drafts": True}, headers=people.tokens["lead"]).get_json()
    assert [n["id"] for n in rest["approved"]] == [drafts[0]["id"]] and rest["refused"] == []
    timeline = client.get(f"/api/v1/incidents/{incident}/timeline?kind=notification.approved",
                          headers=people.tokens["lead"]).get_json()
    assert timeline["total"] == len(drafts)


def test_notice_facts_are_read_and_replaced_with_a_version_check(client, incident, people, clock):
    url = f"/api/v1/incidents/{incident}/notifications/facts"
    empty = client.get(url, headers=people.tokens["viewer"])
    assert empty.status_code == 200 and empty.get_json()["version"] == 0
    facts = {"likely_consequences": "Bank account numbers may be used for fraud.",
             "measures_taken": ["Rotated database credentials", "Blocked the attacker's IP range"],
             "contact_email": "dpo@ourco.example", "data_subjects_informed": "planned"}
    assert client.put(url, json=facts, headers=people.tokens["viewer"]).status_code == 403
    bad = client.put(url, json={**facts, "data_subjects_informed": "maybe"}, headers=people.tokens["responder"])
    assert bad.status_code == 422 and problem_fields(bad) == ["data_subjects_informed"]
    saved = client.put(url, json=facts, headers=people.tokens["responder"])
    assert saved.status_code == 200, saved.get_json()
    assert saved.get_json()["version"] == 1 and saved.get_json()["measures_taken"] == facts["measures_taken"]
    assert saved.get_json()["updated_by"] == "responder@example.org (API)"
    edited = client.put(url, json={**facts, "version": 1, "contact_name": "Dana"}, headers=people.tokens["lead"])
    assert edited.status_code == 200 and edited.get_json()["version"] == 2
    conflict = client.put(url, json={**facts, "version": 1, "contact_name": "Bo"}, headers=people.tokens["responder"])
    assert conflict.status_code == 409 and conflict.mimetype == PROBLEM
    assert client.get(url, headers=people.tokens["viewer"]).get_json()["contact_name"] == "Dana"
    kinds = client.get(f"/api/v1/incidents/{incident}/timeline?kind=notice_facts.updated",
                       headers=people.tokens["lead"]).get_json()
    assert kinds["total"] == 2


@pytest.fixture
def mailbox():
    box = Mailbox().start()
    yield box
    box.stop()


def test_a_notification_shows_every_attempt_with_its_number_and_proof(app, client, incident, people, clock, mailbox):
    from app.flows.dispatch import dispatch_outbox

    app.config.update({"MAIL_FROM": "Breachline PSIRT <psirt@breachline.example.org>", "SMTP_HOST": "127.0.0.1",
                       "SMTP_PORT": free_port(), "SMTP_TIMEOUT": 5})  # nobody listens there yet
    drafted = _draft(client, incident, people)
    bank = next(n for n in drafted if n["controller"] == "brightbank" and n["kind"] == "processor_to_controller")
    approved = client.post(f"/api/v1/notifications/{bank['id']}/approve", json={}, headers=people.tokens["lead"])
    assert approved.status_code == 200 and approved.get_json()["status"] == "queued", approved.get_json()
    dispatch_outbox(app, clock.at, "w1")
    first = client.get(f"/api/v1/notifications/{bank['id']}", headers=people.tokens["viewer"]).get_json()
    assert first["status"] == "queued"
    [failed] = first["attempts"]
    assert (failed["attempt"], failed["channel"], failed["outcome"], failed["ok"]) == (1, "email", "retry", False)
    assert failed["error"] and failed["proof"]["smtp_code"] is None
    app.config["SMTP_PORT"] = mailbox.port
    dispatch_outbox(app, clock.advance(hours=2), "w1")
    doc = client.get(f"/api/v1/notifications/{bank['id']}", headers=people.tokens["viewer"]).get_json()
    assert doc["status"] == "delivered"
    second = doc["attempts"][1]
    assert (second["attempt"], second["outbox_id"], second["outcome"]) == (2, failed["outbox_id"], "delivered")
    assert second["proof"]["smtp_code"] == 250 and second["proof"]["smtp_reply"].startswith("250")
    message_id = f"<notification-{doc['uid']}@breachline.example.org>"
    assert second["proof"]["message_id"] == message_id
    assert list(mailbox.ids()) == [message_id]  # the proof names the message the customer's server accepted
    assert doc["outbox"][0]["attempts"] == 2
