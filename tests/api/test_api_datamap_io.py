"""Data-map import and export through the API: the web page's formats, all or nothing, errors with file:line: field."""

from __future__ import annotations

import io
import json

import yaml

from apisupport import PROBLEM, problem_fields, sign_in_as
from mapdata import SMALL_MAP

TABLES = ["controller", "system", "processing_record", "contact", "controller_jurisdiction", "datamap_version"]
YAML = {"Content-Type": "application/yaml"}
CSV = ("controller,controller_name,country,jurisdictions,sector,locale,timezone,system,system_name,role,"
       "data_categories,subject_categories,est_subjects,est_records\n"
       "zeta-retail,Zeta Retail,FR,EU,retail,fr,Europe/Paris,billing,Billing,processor,user.contact.email,customer,40,40\n")


def _import(client, headers, body, content_type="application/yaml", query=""):
    return client.post(f"/api/v1/datamap/import{query}", data=body, headers={**headers, "Content-Type": content_type})


def test_import_answers_what_changed_and_the_new_version(client, people, clock):
    lead = people.tokens["lead"]
    first = _import(client, lead, SMALL_MAP)
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert (body["changed"], body["controllers"], body["systems"], body["records"]) == (True, 3, 2, 3)
    assert body["changes"]["controllers"] == {"added": 3, "changed": 0, "removed": 0, "unchanged": 0}
    version = body["version"]
    assert version["id"] == 1 and len(version["content_hash"]) == 64
    again = _import(client, lead, SMALL_MAP)
    assert again.status_code == 200 and again.get_json()["changed"] is False and again.get_json()["version"] is None
    renamed = SMALL_MAP.replace("name: Northwind Cloud", "name: Northwind Cloud Ltd")
    changed = _import(client, lead, renamed, query="?filename=northwind-rename.yaml").get_json()
    assert changed["changes"]["controllers"] == {"added": 0, "changed": 1, "removed": 0, "unchanged": 2}
    assert changed["changes"]["processing"]["unchanged"] == 3
    versions = client.get("/api/v1/datamap/versions", headers=people.tokens["viewer"]).get_json()
    assert [v["source"] for v in versions["items"]] == ["northwind-rename.yaml", "datamap.yaml"]
    assert versions["items"][0]["created_by"] == "lead@example.org (API)"


def test_csv_and_multipart_uploads_are_accepted_like_the_web_page(client, people, clock):
    lead = people.tokens["lead"]
    assert _import(client, lead, SMALL_MAP).status_code == 201
    by_csv = _import(client, lead, CSV, "text/csv")
    assert by_csv.status_code == 201, by_csv.get_json()
    assert by_csv.get_json()["changes"]["controllers"]["added"] == 1
    as_json = json.dumps(yaml.safe_load(SMALL_MAP.replace("Acme Health GmbH", "Acme Health AG")))
    uploaded = client.post("/api/v1/datamap/import", headers=lead, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(as_json.encode()), "customers.json")})
    assert uploaded.status_code == 201, uploaded.get_json()
    assert uploaded.get_json()["changes"]["controllers"]["changed"] == 1
    shown = client.get("/api/v1/controllers/acme-health", headers=people.tokens["viewer"]).get_json()
    assert shown["name"] == "Acme Health AG"


def test_a_bad_map_is_refused_with_file_line_and_field_and_nothing_changes(client, people, clock, count_rows):
    lead = people.tokens["lead"]
    assert _import(client, lead, SMALL_MAP).status_code == 201
    before = {t: count_rows(t) for t in TABLES}
    broken = SMALL_MAP.replace("[patient]", "[patients]").replace("name: Northwind Cloud", "name: Northwind Two")
    refused = _import(client, lead, broken, query="?filename=map.yaml")
    assert refused.status_code == 422 and refused.mimetype == PROBLEM
    [error] = refused.get_json()["errors"]
    assert (error["file"], error["line"], error["field"]) == ("map.yaml", 36, "processing[0].subject_categories[0]")
    assert "'patients'" in error["message"]
    assert {t: count_rows(t) for t in TABLES} == before
    assert client.get("/api/v1/controllers/northwind", headers=lead).get_json()["name"] == "Northwind Cloud"
    for body, content_type, query, field in [
            (SMALL_MAP, "text/plain", "", "body"),  # which format?
            ("", "application/yaml", "", "body"),
            (SMALL_MAP, "application/yaml", "?filename=map.txt", "filename"),
            (b"\xff\xfe not utf-8", "text/csv", "", None)]:
        response = _import(client, lead, body, content_type, query)
        assert response.status_code == 422, (content_type, query, response.get_json())
        if field:
            assert field in problem_fields(response), response.get_json()
        else:
            assert response.get_json()["errors"][0]["file"] == "datamap.csv"
    assert {t: count_rows(t) for t in TABLES} == before


def test_only_leads_import(client, people, clock, count_rows):
    for role in ("viewer", "responder"):
        response = _import(client, people.tokens[role], SMALL_MAP)
        assert response.status_code == 403 and response.mimetype == PROBLEM
    assert count_rows("datamap_version") == 0


def test_export_in_each_format_is_the_web_export_and_is_audited(app, client, people, clock):
    assert _import(client, people.tokens["lead"], SMALL_MAP).status_code == 201
    viewer = people.tokens["viewer"]
    as_yaml = client.get("/api/v1/datamap/export", headers=viewer)
    assert as_yaml.status_code == 200 and as_yaml.mimetype == "application/yaml"
    assert "datamap.yaml" in as_yaml.headers["Content-Disposition"]
    document = yaml.safe_load(as_yaml.get_data(as_text=True))
    assert [c["key"] for c in document["controllers"]] == ["acme-health", "brightbank", "northwind"]
    assert "secret" not in as_yaml.get_data(as_text=True)
    as_json = client.get("/api/v1/datamap/export?format=json", headers=viewer)
    assert as_json.mimetype == "application/json" and json.loads(as_json.get_data()) == document
    as_csv = client.get("/api/v1/datamap/export?format=csv", headers=viewer)
    assert as_csv.mimetype == "text/csv" and len(as_csv.get_data(as_text=True).splitlines()) == 4
    assert client.get("/api/v1/datamap/export?format=fides", headers=viewer).status_code == 422
    audit = client.get("/api/v1/audit?action=export.datamap", headers=people.tokens["admin"]).get_json()
    assert audit["total"] == 3 and {e["actor"] for e in audit["items"]} == {"viewer@example.org (API)"}
    web = app.test_client()
    sign_in_as(web, people.users["viewer"])
    for fmt, answer in (("yaml", as_yaml), ("csv", as_csv), ("json", as_json)):
        assert web.get(f"/datamap/export.{fmt}").get_data() == answer.get_data(), fmt  # the same export
    # Importing what was exported changes nothing: the round trip is lossless.
    again = _import(client, people.tokens["lead"], as_yaml.get_data(as_text=True))
    assert again.status_code == 200 and again.get_json()["changed"] is False


def test_the_taxonomy_lists_categories_with_their_flags(client, people, clock):
    body = client.get("/api/v1/datamap/taxonomy", headers=people.tokens["viewer"]).get_json()
    health = body["data_categories"]["user.health_and_medical"]
    assert health["art9"] is True and health["enisa_type"] == "sensitive"
    assert "patient" in body["subject_categories"]


def test_the_web_import_page_runs_the_same_import_and_says_what_changed(app, client, people, clock):
    web = app.test_client()
    sign_in_as(web, people.users["lead"])
    response = web.post("/datamap/import", content_type="multipart/form-data", follow_redirects=True,
                        data={"file": (io.BytesIO(SMALL_MAP.encode()), "customers.yaml")})
    assert response.status_code == 200
    assert "version 1 (controllers: 3 added; systems: 2 added; processing: 3 added)" in response.get_data(as_text=True)
    api = _import(client, people.tokens["lead"], SMALL_MAP)
    assert api.status_code == 200 and api.get_json()["changed"] is False  # the same content: no new version
    refused = web.post("/datamap/import", content_type="multipart/form-data",
                       data={"file": (io.BytesIO(b"\xff\xfe"), "broken.csv")})
    assert refused.status_code == 422 and "broken.csv: the file is not UTF-8 text" in refused.get_data(as_text=True)
