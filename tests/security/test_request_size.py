"""Request size limit (MAX_CONTENT_LENGTH): 413 as problem+json on the API, a friendly page in the browser."""

from __future__ import annotations

import io

from secsupport import PROBLEM, sign_in_as

BIG = "x" * 4096


def test_the_api_answers_413_as_a_problem(app, client, world, count_rows):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    before = count_rows("incident")
    response = client.post("/api/v1/incidents", json={"title": BIG, "incident_type": "ransomware"},
                           headers=world.tokens["lead"])
    assert response.status_code == 413 and response.mimetype == PROBLEM
    assert response.get_json()["status"] == 413 and count_rows("incident") == before
    small = client.post(f"/api/v1/incidents/{world.ref}/timeline", json={"summary": "fits"},
                        headers=world.tokens["lead"])
    assert small.status_code == 201


def test_the_browser_gets_a_friendly_page(app, world, count_rows):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    for csrf in (False, True):
        app.config["WTF_CSRF_ENABLED"] = csrf  # with CSRF on, the size check fires while reading the token
        client = app.test_client()
        sign_in_as(client, world.users["lead"])
        before = count_rows("timeline_event")
        response = client.post(f"/incidents/{world.ref}/notes", data={"summary": BIG})
        page = response.get_data(as_text=True)
        assert response.status_code == 413 and response.mimetype == "text/html"
        assert "larger than the limit of 1 KB" in page and "Nothing was saved" in page and "<nav" in page
        assert count_rows("timeline_event") == before
    upload = client.post("/datamap/import", data={"file": (io.BytesIO(BIG.encode()), "map.yaml")},
                         content_type="multipart/form-data")
    assert upload.status_code == 413 and "larger than the limit" in upload.get_data(as_text=True)


def test_the_default_limit_allows_large_data_maps(app):
    assert app.config["MAX_CONTENT_LENGTH"] == 64 * 1024 * 1024
