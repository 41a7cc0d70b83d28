"""Importing subject lists from the web page, the API and the command line; only leads may."""

from __future__ import annotations

import io

from sqlmodel import select

from privacy_world import subject_csv


def _world(app, now):
    from notice_world import build_world, configure

    configure(app)
    return build_world(app, now, 2)


def test_api_import_stores_pseudonyms_and_writes_counts_only_to_the_timeline(keyed, now, make_user, token_for):
    from app.subjects.models import AffectedSubject
    from app.timeline.models import TimelineEvent
    from notice_world import session_of

    world = _world(keyed, now)
    client = keyed.test_client()
    lead = token_for(make_user("lead"))
    url = f"/api/v1/incidents/{world.ref}/subjects/import/{world.customers[0].key}"
    response = client.post(url, data=subject_csv(), headers={**lead, "Content-Type": "text/csv"})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["added"] == 3 and response.get_json()["without_contact"] == 1
    again = client.post(url, data=subject_csv(), headers={**lead, "Content-Type": "text/csv"})
    assert again.get_json()["added"] == 0 and again.get_json()["unchanged"] == 3
    listed = client.get(f"/api/v1/incidents/{world.ref}/subjects", headers=lead).get_json()
    assert len(listed["items"]) == 3 and listed["total"] == 3
    assert {s["contact"] for s in listed["items"]} == {"a…@mail.example", "b…@mail.example", ""}
    with session_of(keyed) as session:
        rows = session.exec(select(AffectedSubject)).all()
        assert all(r.pseudonym and "CUST" not in r.pseudonym for r in rows)
        event = session.exec(select(TimelineEvent).where(TimelineEvent.kind == "subjects.imported")).first()
        assert "3 added" in event.summary and "CUST" not in event.summary + str(event.details)


def test_bad_csv_is_refused_with_its_line_and_nothing_is_stored(keyed, now, make_user, token_for, count_rows):
    world = _world(keyed, now)
    lead = token_for(make_user("lead"))
    url = f"/api/v1/incidents/{world.ref}/subjects/import/{world.customers[0].key}"
    bad = "identifier,email\nCUST-1,a@x.example\n,b@x.example\nCUST-3,not-an-address\n"
    response = keyed.test_client().post(url, data=bad, headers={**lead, "Content-Type": "text/csv"})
    assert response.status_code == 422
    details = str(response.get_json()["errors"])
    assert "line 3" in details and "line 4" in details and "not-an-address" not in details
    assert count_rows("affected_subject") == 0
    header = keyed.test_client().post(url, data="name,email\nx,y@z.example\n",
                                      headers={**lead, "Content-Type": "text/csv"})
    assert header.status_code == 422 and "line 1" in str(header.get_json())


def test_responders_and_viewers_cannot_manage_subjects(keyed, now, make_user, token_for, client, login):
    world = _world(keyed, now)
    responder = make_user("responder")
    headers = token_for(responder)
    url = f"/api/v1/incidents/{world.ref}/subjects/import/{world.customers[0].key}"
    assert keyed.test_client().post(url, data=subject_csv(), headers={**headers, "Content-Type": "text/csv"}).status_code == 403
    assert keyed.test_client().post("/api/v1/subjects/access", json={"identifier": "CUST-000117"},
                                    headers=headers).status_code == 403
    login(responder)
    assert client.get(f"/incidents/{world.ref}/subjects").status_code == 403


def test_web_upload_imports_for_a_lead(keyed, now, make_user, client, login, count_rows):
    world = _world(keyed, now)
    login(make_user("lead"))
    page = client.get(f"/incidents/{world.ref}/subjects")
    assert page.status_code == 200 and world.customers[0].name in page.get_data(as_text=True)
    response = client.post(f"/incidents/{world.ref}/subjects/import",
                           data={"controller": world.customers[0].key,
                                 "file": (io.BytesIO(subject_csv().encode()), "subjects.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    assert count_rows("affected_subject") == 3
    shown = client.get(f"/incidents/{world.ref}/subjects").get_data(as_text=True)
    assert "a…@mail.example" in shown and "anna.schmidt@mail.example" not in shown and "CUST-000117" not in shown
    incident_page = client.get(f"/incidents/{world.ref}").get_data(as_text=True)
    assert f"/incidents/{world.ref}/subjects" in incident_page


def test_cli_import(keyed, now, runner, tmp_path, count_rows):
    world = _world(keyed, now)
    path = tmp_path / "subjects.csv"
    path.write_text(subject_csv())
    out = runner.invoke(args=["subjects", "import", world.ref, world.customers[1].key, str(path),
                              "--by", "lead@example.org"])
    assert out.exit_code == 0, out.output
    assert '"added": 3' in out.output and count_rows("affected_subject") == 3
    bad = tmp_path / "bad.csv"
    bad.write_text("identifier,email\nX,nope\n")
    out = runner.invoke(args=["subjects", "import", world.ref, world.customers[1].key, str(bad), "--by", "lead@x"])
    assert out.exit_code == 1 and "line 2" in out.output


def test_sending_needs_the_controller_notified_and_an_approved_communication(keyed, now, make_user, token_for):
    world = _world(keyed, now)
    lead = token_for(make_user("lead"))
    client = keyed.test_client()
    key = world.customers[0].key
    client.post(f"/api/v1/incidents/{world.ref}/subjects/import/{key}", data=subject_csv(),
                headers={**lead, "Content-Type": "text/csv"})
    drafted = client.post(f"/api/v1/incidents/{world.ref}/subjects/communication", json={"controller": key},
                          headers=lead)
    assert drafted.status_code == 409 and "notify the controller first" in drafted.get_json()["detail"]
    sent = client.post(f"/api/v1/incidents/{world.ref}/subjects/send", json={"controller": key}, headers=lead)
    assert sent.status_code == 409 and "no approved Art. 34 communication" in sent.get_json()["detail"]
