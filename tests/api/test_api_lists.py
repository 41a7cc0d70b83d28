"""Lists on the API share one envelope (items, total, page, per_page, pages), filter, and refuse bad arguments."""

from __future__ import annotations

import pytest

from apisupport import PROBLEM, declare, problem_fields, sign_in_as

ENVELOPE = {"items", "total", "page", "per_page", "pages"}


def _get(client, url, headers) -> dict:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, (url, response.get_json())
    return response.get_json()


@pytest.fixture
def incidents(client, mapped, people, clock) -> dict:
    """Four incidents: the billing one, a drill, a closed-as-not-a-breach one, and one restricted to the admin."""
    lead, admin = people.tokens["lead"], people.tokens["admin"]
    refs = {"billing": declare(client, lead)}
    refs["drill"] = declare(client, lead, title="Tabletop: lost laptop", incident_type="lost-stolen-device", drill=True)
    refs["false alarm"] = declare(client, lead, title="Phishing report, nothing clicked", incident_type="credential-stuffing")
    moved = client.post(f"/api/v1/incidents/{refs['false alarm']}/status", headers=lead,
                        json={"status": "not_a_breach", "rationale": "No credentials were entered."})
    assert moved.status_code == 200, moved.get_json()
    refs["hidden"] = declare(client, admin, title="Insider case", restricted=True)
    return refs


def test_incidents_paginate_newest_first_and_hide_what_the_caller_may_not_see(client, incidents, people):
    lead = people.tokens["lead"]
    first = _get(client, "/api/v1/incidents?per_page=2", lead)
    assert set(first) == ENVELOPE and (first["total"], first["pages"], first["page"]) == (3, 2, 1)
    second = _get(client, "/api/v1/incidents?per_page=2&page=2", lead)
    shown = [i["ref"] for i in first["items"] + second["items"]]
    assert shown == [incidents["false alarm"], incidents["drill"], incidents["billing"]]
    assert _get(client, "/api/v1/incidents", people.tokens["admin"])["total"] == 4
    assert _get(client, "/api/v1/incidents?page=9", lead)["items"] == []


@pytest.mark.parametrize("query, expected", [
    ("status=not_a_breach", ["false alarm"]),
    ("open=1", ["drill", "billing"]),
    ("type=ransomware", ["billing"]),
    ("drill=1", ["drill"]),
    ("drill=0&open=true", ["billing"]),
    ("q=LAPTOP", ["drill"]),
    ("q=insider", []),  # restricted: not even found by its title
])
def test_incident_filters(client, incidents, people, query, expected):
    body = _get(client, f"/api/v1/incidents?{query}", people.tokens["lead"])
    assert [i["ref"] for i in body["items"]] == [incidents[name] for name in expected]
    assert body["total"] == len(expected)


LISTS = ["/api/v1/incidents", "/api/v1/controllers", "/api/v1/systems", "/api/v1/audit", "/api/v1/datamap/versions",
         "/api/v1/incidents/{ref}/timeline", "/api/v1/incidents/{ref}/notifications"]


def test_every_list_refuses_pages_out_of_range(client, incident, people):
    for url in LISTS:
        for query, field in [("per_page=0", "per_page"), ("per_page=501", "per_page"), ("page=0", "page"),
                             ("page=two", "page")]:
            response = client.get(f"{url.format(ref=incident)}?{query}", headers=people.tokens["admin"])
            assert response.status_code == 422 and response.mimetype == PROBLEM, (url, query, response.get_json())
            assert problem_fields(response) == [field], (url, query)
        assert set(_get(client, url.format(ref=incident), people.tokens["admin"])) >= ENVELOPE, url


def test_bad_filter_values_name_the_argument(client, incidents, people):
    lead = people.tokens["lead"]
    for url, field in [("/api/v1/incidents?status=closed-ish", "status"), ("/api/v1/incidents?open=yes", "open"),
                       ("/api/v1/incidents?severity=apocalyptic", "severity"),
                       (f"/api/v1/incidents/{incidents['billing']}/notifications?channel=pigeon", "channel"),
                       (f"/api/v1/incidents/{incidents['billing']}/notifications?status=sent", "status"),
                       (f"/api/v1/incidents/{incidents['billing']}/timeline?since=2026-03-01T08:00:00", "since")]:
        response = client.get(url, headers=lead)
        assert response.status_code == 422 and field in problem_fields(response), (url, response.get_json())


def test_the_timeline_pages_in_chain_order_and_filters_by_kind_and_time(client, incident, people, clock):
    lead = people.tokens["lead"]
    for i in range(3):
        client.post(f"/api/v1/incidents/{incident}/timeline", headers=lead,
                    json={"summary": f"Note {i}", "occurred_at": f"2026-03-01T0{6 + i}:30:00Z"})
    whole = _get(client, f"/api/v1/incidents/{incident}/timeline?per_page=500", lead)
    assert whole["verified"] is True and whole["total"] == len(whole["items"]) > 6
    page = _get(client, f"/api/v1/incidents/{incident}/timeline?per_page=3&page=2", lead)
    assert {"incident", "verified", "head_hash"} | ENVELOPE == set(page)
    assert [e["seq"] for e in page["items"]] == [4, 5, 6] and page["head_hash"] == whole["head_hash"]
    notes = _get(client, f"/api/v1/incidents/{incident}/timeline?kind=note", lead)
    assert [e["summary"] for e in notes["items"]] == ["Note 0", "Note 1", "Note 2"]
    obligations = _get(client, f"/api/v1/incidents/{incident}/timeline?kind=obligation.", lead)
    assert obligations["total"] > 0 and all(e["kind"].startswith("obligation.") for e in obligations["items"])
    window = _get(client, f"/api/v1/incidents/{incident}/timeline?kind=note&since=2026-03-01T07:00:00Z"
                          f"&until=2026-03-01T09:00:00%2B01:00", lead)
    assert [e["summary"] for e in window["items"]] == ["Note 1"]


def test_notifications_filter_by_status_channel_and_kind(client, incident, people, clock):
    drafted = client.post(f"/api/v1/incidents/{incident}/notifications", json={}, headers=people.tokens["responder"])
    assert drafted.status_code == 201
    lead = people.tokens["lead"]
    url = f"/api/v1/incidents/{incident}/notifications"
    every = _get(client, url, lead)
    assert set(every) == ENVELOPE and every["total"] == len(every["items"]) >= 2
    customers = _get(client, url + "?kind=processor_to_controller", lead)
    assert customers["total"] >= 1 and {n["kind"] for n in customers["items"]} == {"processor_to_controller"}
    by_email = _get(client, url + "?channel=email", lead)
    assert all("email" in n["channels"] for n in by_email["items"])
    manual = _get(client, url + "?channel=manual", lead)
    assert {n["kind"] for n in manual["items"]} <= {"authority_report", "data_subject"}
    assert by_email["total"] + manual["total"] <= every["total"]
    first = _get(client, url + "?per_page=1", lead)
    assert first["pages"] == every["total"] and first["items"][0]["id"] == every["items"][0]["id"]
    assert _get(client, url + "?status=delivered", lead)["total"] == 0


def test_subject_rows_page_and_filter(app, client, incident, people, clock):
    app.config.update({"SUBJECT_PSEUDONYM_KEY": "api-test-key-0123456789abcdefghij", "SUBJECT_PSEUDONYM_KEY_ID": "k1"})
    lead = people.tokens["lead"]
    rows = "identifier,email\n" + "".join(f"CUST-{i},c{i}@mail.example\n" for i in range(5)) + "CUST-9,\n"
    imported = client.post(f"/api/v1/incidents/{incident}/subjects/import/brightbank", data=rows,
                           headers={**lead, "Content-Type": "text/csv"})
    assert imported.status_code == 201, imported.get_json()
    url = f"/api/v1/incidents/{incident}/subjects"
    page = _get(client, url + "?per_page=4", lead)
    assert {"incident", "counts"} | ENVELOPE == set(page) and (page["total"], page["pages"]) == (6, 2)
    assert len(page["items"]) == 4 and all("CUST" not in str(s) for s in page["items"])
    assert _get(client, url + "?controller=brightbank", lead)["total"] == 6
    assert _get(client, url + "?controller=acme-health", lead)["total"] == 0
    statuses = {s["status"] for s in _get(client, url, lead)["items"]}
    for status in statuses:
        assert _get(client, f"{url}?status={status}", lead)["total"] >= 1
    assert client.get(url + "?status=lost", headers=lead).status_code == 422


def test_the_web_list_pages_and_filters_like_the_api(app, client, incidents, people):
    web = app.test_client()
    sign_in_as(web, people.users["lead"])
    page = web.get("/incidents?status=not_a_breach").get_data(as_text=True)
    assert incidents["false alarm"] in page and incidents["billing"] not in page
    assert incidents["hidden"] not in web.get("/incidents").get_data(as_text=True)
    first = web.get("/incidents?per_page=2").get_data(as_text=True)
    assert "Page 1 of 2" in first and incidents["billing"] not in first
    assert "No incident matches these filters." in web.get("/incidents?q=nothing-like-this").get_data(as_text=True)
    assert web.get("/incidents?status=bogus").status_code == 400
