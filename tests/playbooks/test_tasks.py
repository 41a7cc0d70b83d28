"""Playbook tasks: created on declaration for every incident type, assigned, closed with a note, on the timeline."""

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from app.playbooks.incident_types import load_incident_types

PROBLEM = "application/problem+json"
TYPES = load_incident_types(Path(__file__).resolve().parents[2] / "playbooks" / "incident-types")
EIGHT = ["cloud-storage-misconfiguration", "credential-stuffing", "insider-exfiltration", "lost-stolen-device",
         "misdirected-communication", "ransomware", "subprocessor-breach", "web-app-exfiltration"]
# Far enough in the past that every task of every playbook is overdue whenever the suite runs.
AWARE = datetime(2025, 1, 6, 19, 0, tzinfo=timezone.utc)


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def responder(make_user):
    return make_user("responder", email="rita@example.org", name="Rita Responder")


@pytest.fixture
def headers(responder, token_for):
    return token_for(responder)


def declare(client, headers, incident_type="ransomware", **times):
    times = times or {"detected_at": "2025-01-06T18:00:00Z", "aware_at": AWARE.isoformat()}
    body = {"title": f"A {incident_type} incident", "incident_type": incident_type,
            "breach_types": TYPES[incident_type].default_breach_types, "scope": {"systems": ["billing"]}, **times}
    response = client.post("/api/v1/incidents", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["ref"]


def tasks(client, headers, ref):
    return client.get(f"/api/v1/incidents/{ref}/tasks", headers=headers).get_json()


def events(client, headers, ref, kind):
    body = client.get(f"/api/v1/incidents/{ref}/timeline?per_page=500", headers=headers).get_json()
    assert body["verified"]
    return [e for e in body["items"] if e["kind"] == kind]


@pytest.mark.parametrize("type_id", EIGHT)
def test_declaring_creates_the_playbook_tasks(client, mapped, headers, type_id):
    ref = declare(client, headers, type_id)
    playbook = TYPES[type_id].tasks
    body = tasks(client, headers, ref)
    assert body["total"] == len(playbook) and body["overdue"] == len(playbook)
    by_id = {t["playbook_task_id"]: t for t in body["items"]}
    assert set(by_id) == {t.id for t in playbook}
    for spec in playbook:
        task = by_id[spec.id]
        assert parse(task["due_at"]) == AWARE + timedelta(hours=spec.due_offset_hours), spec.id
        assert (task["title"], task["owner_role"], task["evidence_expected"]) == (spec.title, spec.owner_role,
                                                                                  spec.evidence)
        assert task["status"] == "open" and task["assignee"] is None and task["overdue"] is True
    # Due order, so the next thing to do comes first.
    assert [t["due_at"] for t in body["items"]] == sorted(t["due_at"] for t in body["items"])
    [created] = events(client, headers, ref, "task.created")
    assert created["details"]["count"] == len(playbook) and created["details"]["incident_type"] == type_id
    assert str(len(playbook)) in created["summary"]


def test_without_awareness_tasks_count_from_detection(client, mapped, headers):
    ref = declare(client, headers, "lost-stolen-device", detected_at="2025-01-06T18:00:00+01:00")
    first = TYPES["lost-stolen-device"].tasks[0]
    task = next(t for t in tasks(client, headers, ref)["items"] if t["playbook_task_id"] == first.id)
    assert parse(task["due_at"]) == datetime(2025, 1, 6, 17, tzinfo=timezone.utc) + timedelta(hours=first.due_offset_hours)
    assert "detection" in events(client, headers, ref, "task.created")[0]["summary"]


def test_completing_requires_a_note_and_every_change_goes_on_the_timeline(client, mapped, headers, make_user):
    ref = declare(client, headers)
    task = tasks(client, headers, ref)["items"][0]
    url = f"/api/v1/incidents/{ref}/tasks/{task['id']}"
    for body in ({}, {"note": ""}, {"note": "   "}):
        response = client.post(f"{url}/complete", json=body, headers=headers)
        assert response.status_code == 422 and response.mimetype == PROBLEM, body
        assert "note" in [e["field"] for e in response.get_json()["errors"]]
    assert tasks(client, headers, ref)["items"][0]["status"] == "open"
    assert events(client, headers, ref, "task.completed") == []

    lead = make_user("lead", email="lena@example.org", name="Lena Lead")
    assigned = client.post(f"{url}/assign", json={"assignee": "Lena@Example.org"}, headers=headers)
    assert assigned.status_code == 200 and assigned.get_json()["assignee"] == lead.email
    unknown = client.post(f"{url}/assign", json={"assignee": "nobody@example.org"}, headers=headers)
    assert unknown.status_code == 422 and unknown.get_json()["errors"][0]["field"] == "assignee"

    done = client.post(f"{url}/complete", json={"note": "Bridge opened on the phone line; roster in the wiki."},
                       headers=headers)
    assert done.status_code == 200
    assert done.get_json()["status"] == "done" and done.get_json()["completed_by"].startswith("rita@example.org")
    again = client.post(f"{url}/complete", json={"note": "twice"}, headers=headers)
    assert again.status_code == 409
    reopened = client.post(f"{url}/reopen", json={"reason": "Roster was missing the scribe."}, headers=headers)
    assert reopened.status_code == 200 and reopened.get_json()["status"] == "open"
    skipped = client.post(f"{url}/complete", json={"note": "Handled by the customer's own PSIRT.", "outcome": "skipped"},
                          headers=headers)
    assert skipped.get_json()["status"] == "skipped"

    [assign_event] = events(client, headers, ref, "task.assigned")
    assert assign_event["details"]["to"] == lead.email and task["title"] in assign_event["summary"]
    completed = events(client, headers, ref, "task.completed")
    assert [e["details"]["outcome"] for e in completed] == ["done", "skipped"]
    assert completed[0]["details"]["note"] == "Bridge opened on the phone line; roster in the wiki."
    assert completed[0]["details"]["late"] is True
    [reopen_event] = events(client, headers, ref, "task.reopened")
    assert "Roster was missing the scribe." in reopen_event["summary"]


def test_task_permissions_and_scoping(client, mapped, headers, make_user, token_for, login):
    ref = declare(client, headers)
    other = declare(client, headers, "credential-stuffing")
    task = tasks(client, headers, ref)["items"][0]
    viewer_user = make_user("viewer")
    viewer = token_for(viewer_user)
    login(viewer_user)
    page = client.get(f"/incidents/{ref}")
    assert page.status_code == 200 and task["title"] in page.get_data(as_text=True)
    assert "Complete</button>" not in page.get_data(as_text=True)  # read-only: no task forms
    assert client.post(f"/incidents/{ref}/tasks/{task['id']}/complete", data={"note": "x"}).status_code == 403
    assert client.get(f"/api/v1/incidents/{ref}/tasks", headers=viewer).status_code == 200
    response = client.post(f"/api/v1/incidents/{ref}/tasks/{task['id']}/complete", json={"note": "x"}, headers=viewer)
    assert response.status_code == 403
    # A task id of another incident is not found through this one.
    response = client.post(f"/api/v1/incidents/{other}/tasks/{task['id']}/complete", json={"note": "x"}, headers=headers)
    assert response.status_code == 404


def _row_class(html: str, task_id: int) -> str:
    match = re.search(rf'<tr id="task-{task_id}" class="([^"]*)"', html)
    assert match, f"task {task_id} not on the page"
    return match.group(1)


def test_incident_page_lists_tasks_and_highlights_overdue_ones(client, mapped, headers, responder, login):
    old = declare(client, headers, "credential-stuffing")
    # Detected a minute ago: tasks due an hour or more later are not overdue.
    fresh_at = datetime.now(timezone.utc) - timedelta(minutes=1)
    fresh = declare(client, headers, "credential-stuffing", detected_at=fresh_at.isoformat(), aware_at=fresh_at.isoformat())
    login(responder)
    html = client.get(f"/incidents/{old}").get_data(as_text=True)
    items = tasks(client, headers, old)["items"]
    assert f"Tasks ({len(items)}, " in html and f"{len(items)} overdue" in html
    for task in items:
        assert "row-overdue" in _row_class(html, task["id"]) and "task-overdue" in _row_class(html, task["id"])
    assert "overdue by" in html and 'class="u-overdue"' in html
    first = items[0]
    assert first["owner_role"] in html and first["evidence_expected"][0] in html
    assert "Rita Responder (responder)" in html  # the assign select
    later = [t for t in tasks(client, headers, fresh)["items"] if t["due_offset_hours"] >= 1]
    fresh_html = client.get(f"/incidents/{fresh}").get_data(as_text=True)
    assert later and all("overdue" not in _row_class(fresh_html, t["id"]) for t in later)


def test_web_forms_assign_complete_and_reopen(client, mapped, headers, responder, login):
    ref = declare(client, headers, "misdirected-communication")
    task = tasks(client, headers, ref)["items"][0]
    base = f"/incidents/{ref}/tasks/{task['id']}"
    login(responder)
    assert client.post(f"{base}/assign", data={"assignee": responder.email}).status_code == 302
    refused = client.post(f"{base}/complete", data={"note": "  ", "outcome": "done"})
    assert refused.status_code == 422
    assert "Nothing was saved" in refused.get_data(as_text=True) and "note" in refused.get_data(as_text=True)
    assert tasks(client, headers, ref)["items"][0]["status"] == "open"
    done = client.post(f"{base}/complete", data={"note": "Recipient confirmed deletion by phone at 10:12.",
                                                 "outcome": "done"})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/incidents/{ref}#tasks")
    page = client.get(f"/incidents/{ref}").get_data(as_text=True)
    assert "Recipient confirmed deletion by phone at 10:12." in page
    assert client.post(f"{base}/reopen", data={}).status_code == 302
    kinds = [e["kind"] for e in client.get(f"/api/v1/incidents/{ref}/timeline?kind=task.",
                                           headers=headers).get_json()["items"]
             if e["kind"].startswith("task.")]
    assert kinds == ["task.created", "task.assigned", "task.completed", "task.reopened"]
    assert client.post(f"{base}/complete", data={"note": "x"}, follow_redirects=False).status_code == 302
    assert client.post(f"{base}/complete", data={"note": "x"}).status_code == 409
