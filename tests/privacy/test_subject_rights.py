"""Access and portability, erasure and pseudonymisation of a subject, from the API and the Subjects page."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import select

from privacy_world import communicate, notified_world


def test_access_exports_everything_held_and_erasure_leaves_a_clean_timeline_event(keyed, now, mailbox, make_user,
                                                                                  token_for):
    from app.notifications.models import DeliveryAttempt, OutboxItem
    from app.subjects.models import AffectedSubject
    from app.timeline.models import TimelineEvent
    from app.timeline.service import verify_incident
    from notice_world import session_of

    world = notified_world(keyed, now, mailbox)
    communicate(keyed, world, world.customers[0].key, now + timedelta(hours=1))
    lead = token_for(make_user("lead"))
    client = keyed.test_client()

    found = client.post("/api/v1/subjects/access", json={"identifier": " cust-000117 "}, headers=lead)
    assert found.status_code == 200, found.get_json()
    document = found.get_json()
    assert document["found"] == 1
    record = document["records"][0]
    assert record["incident"] == world.ref and record["controller"] == world.customers[0].key
    assert record["contact"] == "anna.schmidt@mail.example" and record["status"] == "delivered"
    assert record["communication"]["attempts"][0]["outcome"] == "delivered"
    assert client.post("/api/v1/subjects/access", json={"identifier": "CUST-999"}, headers=lead).get_json()["found"] == 0

    erased = client.post("/api/v1/subjects/erase", json={"identifier": "CUST-000117", "reason": "ticket DSR-42"},
                         headers=lead)
    assert erased.status_code == 200 and erased.get_json()["rows"] == 1
    assert client.post("/api/v1/subjects/access", json={"identifier": "CUST-000117"},
                       headers=lead).get_json()["found"] == 0
    again = client.post("/api/v1/subjects/erase", json={"identifier": "CUST-000117"}, headers=lead)
    assert again.status_code == 404
    with session_of(keyed) as session:
        row = session.exec(select(AffectedSubject).where(AffectedSubject.status == "erased")).one()
        assert row.contact is None and row.pseudonym == f"erased:{row.id}"
        assert "anna" not in json.dumps(session.get(OutboxItem, row.outbox_id).addresses)
        assert all("anna" not in a.target for a in session.exec(select(DeliveryAttempt)
                                                                  .where(DeliveryAttempt.outbox_id == row.outbox_id)))
        event = session.exec(select(TimelineEvent).where(TimelineEvent.kind == "subjects.erased")).one()
        assert "DSR-42" in event.summary and f"#{row.id}" in event.summary
        text = " ".join(e.summary + json.dumps(e.details) for e in session.exec(select(TimelineEvent)))
        assert "CUST-000117" not in text and "anna.schmidt" not in text
        assert verify_incident(session=session, incident_id=world.incident_id).ok


def test_pseudonymise_removes_the_contact_but_keeps_the_subject_findable(keyed, now, make_user, token_for):
    from notice_world import build_world, configure

    configure(keyed)
    world = build_world(keyed, now, 1)
    lead = token_for(make_user("lead"))
    client = keyed.test_client()
    client.post(f"/api/v1/incidents/{world.ref}/subjects/import/{world.customers[0].key}",
                data="identifier,email\nCUST-7,seven@mail.example\n", headers={**lead, "Content-Type": "text/csv"})
    done = client.post("/api/v1/subjects/erase", json={"identifier": "CUST-7", "mode": "pseudonymise"}, headers=lead)
    assert done.status_code == 200
    record = client.post("/api/v1/subjects/access", json={"identifier": "CUST-7"}, headers=lead).get_json()["records"][0]
    assert record["contact"] is None and record["status"] == "no_contact" and record["pseudonym"]["key_id"] == "k1"
    bad = client.post("/api/v1/subjects/erase", json={"identifier": "CUST-7", "mode": "shred"}, headers=lead)
    assert bad.status_code == 422


def test_subjects_page_lookup_download_and_erase(keyed, now, make_user, client, login, count_rows):
    from notice_world import build_world, configure

    configure(keyed)
    world = build_world(keyed, now, 1)
    login(make_user("lead"))
    import io
    client.post(f"/incidents/{world.ref}/subjects/import", content_type="multipart/form-data",
                data={"controller": world.customers[0].key,
                      "file": (io.BytesIO(b"identifier,email\nCUST-8,eight@mail.example\n"), "s.csv")})
    shown = client.post(f"/incidents/{world.ref}/subjects/lookup", data={"identifier": "CUST-8"})
    assert shown.status_code == 200 and "eight@mail.example" in shown.get_data(as_text=True)
    download = client.post(f"/incidents/{world.ref}/subjects/lookup", data={"identifier": "CUST-8", "download": "1"})
    assert download.mimetype == "application/json" and json.loads(download.data)["found"] == 1
    assert "attachment" in download.headers["Content-Disposition"]
    erased = client.post(f"/incidents/{world.ref}/subjects/erase", data={"identifier": "CUST-8", "mode": "erase"})
    assert erased.status_code == 302
    missing = client.post(f"/incidents/{world.ref}/subjects/erase", data={"identifier": "CUST-8", "mode": "erase"})
    assert missing.status_code == 404 and "no subject with this identifier" in missing.get_data(as_text=True)
    assert count_rows("affected_subject") == 1
