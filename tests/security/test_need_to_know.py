"""Restricted incidents are visible only to their members and admins: lists, dashboard, pages, API, register,
exports, the calendar feed and counts — and a hidden incident answers 404, like a missing one."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from secsupport import declare_incident, sign_in_as

TITLE = "Kestrel insider exfiltration"  # appears only where the restricted incident is shown
APP = Path(__file__).resolve().parents[2] / "app"


@pytest.fixture
def hidden(app, client, world, quick_user, token_for):
    """A restricted incident declared by the lead, with one member responder; world's responder is not a member."""
    member = quick_user("responder", email="member@example.org", name="Mia Member")
    ref = declare_incident(client, world.tokens["lead"], title=TITLE, restricted=True)
    added = client.post(f"/api/v1/incidents/{ref}/members", json={"email": member.email},
                        headers=world.tokens["lead"])
    assert added.status_code == 201, added.get_json()
    world.users["member"], world.tokens["member"] = member, token_for(member)
    return ref


def _web(app, user, url: str):
    client = app.test_client()
    sign_in_as(client, user)
    return client.get(url)


def _sees(app, world, who: str, ref: str) -> dict:
    """What one person can see of the restricted incident, place by place (True: visible)."""
    user, headers = world.users[who], world.tokens[who]
    client = app.test_client()
    found = {
        "list page": TITLE in _web(app, user, "/incidents").get_data(as_text=True),
        "dashboard": TITLE in _web(app, user, "/dashboard").get_data(as_text=True),
        "incident page": _web(app, user, f"/incidents/{ref}").status_code == 200,
        "assessment page": _web(app, user, f"/incidents/{ref}/assessment").status_code == 200,
        "register page": TITLE in _web(app, user, "/register").get_data(as_text=True),
    }
    listed = client.get("/api/v1/incidents", headers=headers).get_json()
    found["api list"] = ref in [i["ref"] for i in listed["items"]]
    found["api count"] = listed["total"] == 2
    for part in ("", "/impact", "/obligations", "/timeline", "/tasks", "/assessments", "/members"):
        found[f"api{part or ' detail'}"] = client.get(f"/api/v1/incidents/{ref}{part}",
                                                      headers=headers).status_code == 200
    register = client.get("/api/v1/register", headers=headers).get_json()
    found["api register"] = ref in [e["ref"] for e in register["breaches"] + register["not_a_breach"]]
    if "exports.register_export" in app.view_functions:
        found["register export"] = TITLE in _web(app, user, "/register/export?format=csv").get_data(as_text=True)
    if "exports.incident_export" in app.view_functions:
        found["timeline export"] = _web(app, user, f"/incidents/{ref}/export?format=json").status_code == 200
    return found


def test_a_non_member_sees_it_nowhere(app, world, hidden):
    seen = _sees(app, world, "responder", hidden)
    assert not any(seen.values()), "a non-member responder sees the restricted incident in: " + ", ".join(
        place for place, visible in seen.items() if visible)


@pytest.mark.parametrize("who", ["member", "lead", "admin"])
def test_members_and_admins_see_it_everywhere(app, world, hidden, who):
    """The member responder, the lead (who declared it and so became a member) and an admin (not a member)."""
    seen = _sees(app, world, who, hidden)
    assert all(seen.values()), f"{who} cannot see the restricted incident in: " + ", ".join(
        place for place, visible in seen.items() if not visible)


def test_every_incident_route_hides_it_from_a_non_member(app, world, hidden):
    """Enumerate every route taking a `ref`: a non-member gets 404 (or the 403 their role gets for any ref)."""
    wrong = []
    for rule in app.url_map.iter_rules():
        if "ref" not in rule.arguments or rule.endpoint == "static":
            continue
        values = {arg: "x" for arg in rule.arguments}
        values.update(ref=hidden, fmt="json", token="made-up", task_id=1, obligation_id=1,
                      user_id=world.users["member"].id)
        url = app.url_map.bind("localhost").build(rule.endpoint, values)
        missing_url = url.replace(hidden, "INC-1999-9999")
        for method in sorted(set(rule.methods) - {"HEAD", "OPTIONS"}):
            api = url.startswith("/api/")
            answers = []
            for target in (url, missing_url):
                client = app.test_client()
                headers = world.tokens["responder"] if api else {}
                if not api:
                    sign_in_as(client, world.users["responder"])
                response = client.open(target, method=method, headers=headers, json={} if api else None)
                response.close()
                answers.append(response.status_code)
            hidden_status, missing_status = answers
            if rule.endpoint.startswith("exports.calendar") and hidden_status == 404:
                continue
            if hidden_status != missing_status or hidden_status not in (403, 404):
                wrong.append(f"{method} {url}: {hidden_status} for the hidden incident, {missing_status} for a "
                             "missing one")
    assert not wrong, "\n".join(wrong)


def test_calendar_feed_leaves_it_out_for_a_non_member(app, world, hidden, token_for):
    if "exports.calendar_all" not in app.view_functions:
        pytest.skip("no calendar feed in this build")
    outsider = token_for(world.users["responder"], scopes="calendar")["Authorization"].split()[1]
    insider = token_for(world.users["member"], scopes="calendar")["Authorization"].split()[1]
    client = app.test_client()
    assert hidden not in client.get(f"/calendar/{outsider}.ics").get_data(as_text=True)
    assert client.get(f"/calendar/{outsider}/{hidden}.ics").status_code == 404
    assert hidden in client.get(f"/calendar/{insider}.ics").get_data(as_text=True)


def test_members_are_managed_by_leads_on_the_incident_page_and_recorded(app, client, world, hidden, login,
                                                                         count_rows):
    responder = world.users["responder"]
    lead_client = app.test_client()
    sign_in_as(lead_client, world.users["lead"])
    page = lead_client.get(f"/incidents/{hidden}").get_data(as_text=True)
    assert "Need-to-know" in page and "Mia Member" in page and "Lift the restriction" in page
    unknown = lead_client.post(f"/incidents/{hidden}/members", data={"email": "nobody@example.org"})
    assert unknown.status_code == 422 and "no active user with email nobody@example.org" in unknown.get_data(True)
    assert lead_client.post(f"/incidents/{hidden}/members", data={"email": responder.email}).status_code == 302
    assert _web(app, responder, f"/incidents/{hidden}").status_code == 200
    again = lead_client.post(f"/incidents/{hidden}/members", data={"email": responder.email})
    assert again.status_code == 409
    removed = lead_client.post(f"/incidents/{hidden}/members/{responder.id}/remove")
    assert removed.status_code == 302
    assert _web(app, responder, f"/incidents/{hidden}").status_code == 404
    # A member responder may see it but not change who else may.
    member_client = app.test_client()
    sign_in_as(member_client, world.users["member"])
    assert member_client.post(f"/incidents/{hidden}/members", data={"email": responder.email}).status_code == 403
    events = client.get(f"/api/v1/incidents/{hidden}/timeline?per_page=500", headers=world.tokens["admin"]).get_json()
    kinds = [e["kind"] for e in events["items"]]
    assert kinds.count("access.member_added") == 3  # the declaring lead, Mia, then the responder
    assert kinds.count("access.member_removed") == 1 and events["verified"]


def test_restricting_and_lifting_from_the_page(app, world):
    lead = app.test_client()
    sign_in_as(lead, world.users["lead"])
    bad = lead.post(f"/incidents/{world.ref}/restriction", data={"restricted": "maybe"})
    assert bad.status_code == 422
    assert lead.post(f"/incidents/{world.ref}/restriction", data={"restricted": "on"}).status_code == 302
    assert _web(app, world.users["responder"], f"/incidents/{world.ref}").status_code == 404
    assert _web(app, world.users["lead"], f"/incidents/{world.ref}").status_code == 200  # became a member
    assert lead.post(f"/incidents/{world.ref}/restriction", data={"restricted": "off"}).status_code == 302
    assert _web(app, world.users["responder"], f"/incidents/{world.ref}").status_code == 200


def test_a_responder_may_declare_restricted_but_not_lift_it(app, client, world):
    headers = world.tokens["responder"]
    ref = declare_incident(client, headers, title="Responder's own secret", restricted=True)
    assert client.get(f"/api/v1/incidents/{ref}", headers=headers).status_code == 200  # the declarer is a member
    assert client.get(f"/api/v1/incidents/{ref}", headers=world.tokens["viewer"]).status_code == 404
    version = client.get(f"/api/v1/incidents/{ref}", headers=headers).get_json()["version"]
    lift = client.patch(f"/api/v1/incidents/{ref}", json={"version": version, "restricted": False}, headers=headers)
    assert lift.status_code == 403 and "incident:restrict" in lift.get_json()["detail"]
    lead_put = client.put(f"/api/v1/incidents/{ref}/restriction", json={"restricted": False},
                          headers=world.tokens["admin"])
    assert lead_put.status_code == 200 and lead_put.get_json()["restricted"] is False
    assert client.get(f"/api/v1/incidents/{ref}", headers=world.tokens["viewer"]).status_code == 200


def test_the_web_form_can_declare_a_restricted_incident(app, world):
    responder = app.test_client()
    sign_in_as(responder, world.users["responder"])
    response = responder.post("/incidents/new", data={
        "title": "Quiet one", "incident_type": "ransomware", "detected_at": "2026-03-01T07:00",
        "timezone": "UTC", "restricted": "on", "severity": "medium"})
    assert response.status_code == 302, response.get_data(as_text=True)
    ref = response.headers["Location"].rsplit("/", 1)[-1]
    assert _web(app, world.users["responder"], f"/incidents/{ref}").status_code == 200
    assert _web(app, world.users["viewer"], f"/incidents/{ref}").status_code == 404


def _calls(path: Path, names: set[str]) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in names:
                found.append(f"{path.relative_to(APP.parent)}:{node.lineno} calls {name}")
    return found


def test_entry_points_load_incidents_only_through_the_need_to_know_guard():
    """Views and API modules never use the unguarded loader: every per-incident route goes through
    access.get_visible_by_ref (or get_visible_by_id), so none can forget the membership check."""
    entry_points = [p for p in APP.rglob("*.py")
                    if p.parent.name == "api" or "views" in p.stem or p.name == "web.py"]
    assert len(entry_points) > 8
    wrong = [hit for path in entry_points for hit in _calls(path, {"get_by_ref"})]
    assert not wrong, "\n".join(wrong)


def test_a_restricted_incidents_tasks_go_only_to_members_and_admins(app, client, world, hidden):
    lead = world.tokens["lead"]
    tasks = client.get(f"/api/v1/incidents/{hidden}/tasks", headers=lead).get_json()["items"]
    assert tasks, "the playbook should have created tasks"
    url = f"/api/v1/incidents/{hidden}/tasks/{tasks[0]['id']}/assign"

    refused = client.post(url, json={"assignee": world.users["responder"].email}, headers=lead)
    assert refused.status_code == 422
    assert refused.get_json()["errors"][0]["field"] == "assignee"
    assert "not a member of this restricted incident" in refused.get_json()["errors"][0]["message"]
    after = client.get(f"/api/v1/incidents/{hidden}/tasks", headers=lead).get_json()["items"][0]
    assert after["assignee"] is None, "a refused assignment changed nothing"
    for who in ("member", "admin"):
        assert client.post(url, json={"assignee": world.users[who].email}, headers=lead).status_code == 200

    page = _web(app, world.users["lead"], f"/incidents/{hidden}").get_data(as_text=True)
    assert world.users["member"].email in page and world.users["responder"].email not in page
