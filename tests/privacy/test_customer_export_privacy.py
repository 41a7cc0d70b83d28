"""Per-customer exports: redaction on by default with its count shown, and retention marks honoured."""

from __future__ import annotations

import json
from datetime import timedelta

from privacy_world import add_note, close_incident, run_retention


def test_customer_export_redacts_and_counts_and_keeps_retention_marks(keyed, now, make_user, token_for):
    from notice_world import build_world, configure

    configure(keyed)
    world = build_world(keyed, now, 2)
    add_note(keyed, world.incident_id, "Reporter: eve@reporter.example, +44 20 7946 0958", now + timedelta(hours=1))
    lead = token_for(make_user("lead"))
    client = keyed.test_client()
    key = world.customers[0].key
    doc = json.loads(_fetch(client, f"/api/v1/incidents/{world.ref}/timeline?format=json&controller={key}", lead).data)
    assert doc["scope"]["redaction"] is True
    assert doc["summary"]["redactions"]["total"] >= 2
    assert doc["summary"]["redactions"]["by_kind"]["email"] >= 1
    assert "eve@reporter.example" not in json.dumps(doc["events"])
    html = _fetch(client, f"/api/v1/incidents/{world.ref}/timeline?format=html&controller={key}", lead)
    assert "Redactions" in html.get_data(as_text=True)

    close_incident(keyed, world.incident_id, now + timedelta(days=1))
    run_retention(keyed, now + timedelta(days=1 + 3 * 365 + 1))
    doc = json.loads(_fetch(client, f"/api/v1/incidents/{world.ref}/timeline?format=json&controller={key}", lead).data)
    note = next(e for e in doc["events"] if e["kind"] == "note")
    assert note["summary"] == "[redacted under retention policy]" and note["redacted"]
    full = json.loads(_fetch(client, f"/api/v1/incidents/{world.ref}/timeline?format=json", lead).data)
    assert full["chain"]["complete"] is False and full["summary"]["verification"]["ok"] is True


def _fetch(client, url, headers):
    """GET a streamed export, read it whole and close it (ends its request context and database session)."""
    with client.get(url, headers=headers) as response:
        response.data  # noqa: B018  read before closing
        return response
