"""The data-map browser and API: lists, filters, pages, pagination, and bounded queries at scale."""

import pytest
import sqlalchemy as sa

from mapdata import SMALL_MAP
from tests_support import counting


@pytest.fixture
def viewer(make_user, token_for):
    return token_for(make_user("viewer"))


def test_controllers_api_filters_and_paginates(client, mapped, viewer):
    body = client.get("/api/v1/controllers", headers=viewer).get_json()
    assert body["total"] == 3 and [c["key"] for c in body["items"]] == ["acme-health", "brightbank", "northwind"]
    uk = client.get("/api/v1/controllers?jurisdiction=uk", headers=viewer).get_json()
    assert [c["key"] for c in uk["items"]] == ["brightbank"]
    assert client.get("/api/v1/controllers?country=IE", headers=viewer).get_json()["items"][0]["key"] == "northwind"
    assert client.get("/api/v1/controllers?sector=healthcare", headers=viewer).get_json()["total"] == 1
    page2 = client.get("/api/v1/controllers?per_page=2&page=2", headers=viewer).get_json()
    assert page2["pages"] == 2 and [c["key"] for c in page2["items"]] == ["northwind"]


def test_controller_detail_hides_webhook_secret(client, mapped, viewer):
    body = client.get("/api/v1/controllers/acme-health", headers=viewer).get_json()
    assert body["contract"] == {"notify_within_hours": 24}
    assert body["contacts"][0]["email"] == "dpo@acme-health.example"
    assert body["channels"]["webhook"] == {"url": "https://hooks.acme-health.example/breachline"}
    assert "whsec_" not in str(body)
    assert body["processing"][0]["data_categories"] == ["user.contact.email", "user.health_and_medical"]
    missing = client.get("/api/v1/controllers/nope", headers=viewer)
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"


def test_systems_and_versions_api(client, mapped, viewer):
    systems = client.get("/api/v1/systems", headers=viewer).get_json()
    assert {s["key"]: s["controllers"] for s in systems["items"]} == {"billing": 2, "patient-portal": 1}
    billing = client.get("/api/v1/systems/billing", headers=viewer).get_json()
    assert {p["controller"] for p in billing["processing"]["items"]} == {"brightbank", "northwind"}
    versions = client.get("/api/v1/datamap/versions", headers=viewer).get_json()
    assert versions["total"] == 1 and len(versions["items"][0]["content_hash"]) == 64


def test_browser_pages_show_the_map(client, mapped, make_user, login):
    login(make_user("viewer"))
    listing = client.get("/datamap/controllers?q=acme").get_data(as_text=True)
    assert "Acme Health GmbH" in listing and "Bright Bank" not in listing
    detail = client.get("/datamap/controllers/acme-health").get_data(as_text=True)
    assert "24 hours" in detail and "Patient portal" in detail and "12,000" in detail
    assert "whsec_" not in detail
    system = client.get("/datamap/systems/billing").get_data(as_text=True)
    assert "Bright Bank Ltd" in system and "Northwind Cloud" in system
    assert "Art. 9" in client.get("/datamap/taxonomy").get_data(as_text=True)
    assert client.get("/datamap/versions").status_code == 200
    assert client.get("/datamap/controllers/nope").status_code == 404


def test_upload_form_imports_and_reports_errors(client, make_user, login, count_rows):
    import io

    login(make_user("lead"))
    bad = SMALL_MAP.replace("[patient]", "[patients]")
    response = client.post("/datamap/import", data={"file": (io.BytesIO(bad.encode()), "map.yaml")},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Nothing was imported" in page and "map.yaml:36: processing[0].subject_categories[0]" in page
    assert count_rows("controller") == 0
    ok = client.post("/datamap/import", data={"file": (io.BytesIO(SMALL_MAP.encode()), "map.yaml")},
                     content_type="multipart/form-data")
    assert ok.status_code == 302 and count_rows("controller") == 3


def _bulk_controllers(app, n):
    """Insert n controllers with one record each, straight into the tables (fast setup)."""
    engine = app.extensions["breachline.engine"]
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO system (key, name, description, owner, region) VALUES ('s', 'S', '', '', '')"))
        conn.execute(sa.text("INSERT INTO controller (key, name, country, sector, locale, timezone, notify_emails) "
                             "VALUES (:k, :n, 'DE', 'retail', 'en', 'UTC', '[]')"),
                     [{"k": f"c{i:05d}", "n": f"Customer {i:05d}"} for i in range(n)])
        conn.execute(sa.text("INSERT INTO controller_jurisdiction (controller_id, code) SELECT id, 'EU' FROM controller"))


def test_controllers_page_issues_a_bounded_number_of_queries(app, client, make_user, login):
    _bulk_controllers(app, 20_000)
    login(make_user("viewer"))
    with counting(app.extensions["breachline.engine"]) as statements:
        page = client.get("/datamap/controllers?page=40&jurisdiction=EU").get_data(as_text=True)
    assert "Customer 01950" in page and "Page 40 of 400" in page
    assert len(statements) <= 10, statements
