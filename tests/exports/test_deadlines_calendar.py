"""The deadlines calendar: open obligations as iCalendar with alarms, behind a revocable calendar token."""

from datetime import timedelta, timezone

import pytest
from icalendar import Calendar

from export_support import customers, declare, import_map, lead_headers, settle_customer  # noqa: F401

ITEMS = customers(3)


@pytest.fixture
def incidents(app, client, runner, tmp_path, lead_headers):  # noqa: F811
    import_map(runner, tmp_path, ITEMS)
    real = declare(client, lead_headers)
    drill = declare(client, lead_headers, title="Tabletop exercise", drill=True)
    settle_customer(app, real, ITEMS[0]["key"], hours_after_aware=3, notify=False)
    return real, drill


@pytest.fixture
def calendar_token(runner, make_user):
    make_user("responder", email="oncall@example.org")
    result = runner.invoke(args=["tokens", "create", "--email", "oncall@example.org", "--calendar"])
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[0]


def _events(body: bytes):
    calendar = Calendar.from_ical(body)
    return calendar, list(calendar.walk("VEVENT"))


def test_feed_lists_open_deadlines_with_alarms_and_stable_uids(client, incidents, calendar_token):
    real, drill = incidents
    response = client.get(f"/calendar/{calendar_token}.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    assert b"DTSTART:20260302T100000Z" in response.data  # UTC with Z, never a floating or zoned time
    calendar, events = _events(response.data)
    assert calendar["X-WR-CALNAME"] == "Breachline deadlines"
    summaries = [str(e["SUMMARY"]) for e in events]
    # Two open customer notices in the real incident (the third was met), three in the drill.
    assert sum(s.startswith(f"{real}:") for s in summaries) == 2
    assert sum(s.startswith(f"[DRILL] {drill}:") for s in summaries) == 3
    assert not any(ITEMS[0]["name"] in s and s.startswith(real) for s in summaries)
    for event in events:
        start = event.decoded("DTSTART")
        assert start.utcoffset() == timedelta(0) and start == start.astimezone(timezone.utc)
        assert str(event["UID"]).startswith("obligation-") and str(event["UID"]).endswith("@breachline")
        triggers = [a.decoded("TRIGGER") for a in event.walk("VALARM")]
        assert timedelta(0) in triggers and all(t <= timedelta(0) for t in triggers) and len(triggers) >= 2
    again = _events(client.get(f"/calendar/{calendar_token}.ics").data)[1]
    assert sorted(str(e["UID"]) for e in again) == sorted(str(e["UID"]) for e in events)


def test_per_incident_feed_and_the_api_variant(client, incidents, calendar_token, lead_headers):
    real, drill = incidents
    _, events = _events(client.get(f"/calendar/{calendar_token}/{drill}.ics").data)
    assert len(events) == 3 and all(str(e["SUMMARY"]).startswith("[DRILL]") for e in events)
    assert "DRILL" in events[0]["CATEGORIES"].to_ical().decode()
    api = client.get("/api/v1/calendar.ics", headers=lead_headers)
    assert api.status_code == 200 and len(_events(api.data)[1]) == 5


def test_calendar_tokens_open_the_feed_only_and_can_be_revoked(client, runner, incidents, calendar_token,
                                                              make_user, token_for):
    # A calendar token is no API token, and an API token is no calendar token.
    refused = client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {calendar_token}"})
    assert refused.status_code == 403 and "read scope" in refused.get_json()["detail"]
    api_token = token_for(make_user("viewer", email="v@example.org"))["Authorization"].split()[1]
    assert client.get(f"/calendar/{api_token}.ics").status_code == 404
    assert client.get("/calendar/bl_not-a-token.ics").status_code == 404
    result = runner.invoke(args=["tokens", "revoke", "--email", "oncall@example.org", "--token", calendar_token])
    assert result.exit_code == 0, result.output
    assert client.get(f"/calendar/{calendar_token}.ics").status_code == 404


def test_calendar_page_creates_and_revokes_links(client, incidents, make_user, login):
    login(make_user("viewer", email="viewer@example.org"))
    assert client.get("/calendar").status_code == 200
    page = client.post("/calendar/tokens", data={"name": "Outlook"}).get_data(as_text=True)
    url = page.split("<code>http://localhost/calendar/")[1].split("</code>")[0]
    token = url.removesuffix(".ics")
    assert client.get(f"/calendar/{token}.ics").status_code == 200
    listing = client.get("/calendar").get_data(as_text=True)
    token_id = listing.split('name="token_id" value="')[1].split('"')[0]
    assert client.post("/calendar/tokens/revoke", data={"token_id": token_id}).status_code == 302
    assert client.get(f"/calendar/{token}.ics").status_code == 404
