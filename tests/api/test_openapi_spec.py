"""The OpenAPI document: every /api/v1 route is in it, it is valid OpenAPI 3.1, and it is served with a readable page."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from app.api.spec.build import PREFIX, api_rules, openapi_path
from app.auth.permissions import Permission

METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture
def spec(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def test_every_api_route_is_documented_and_nothing_else(app, spec):
    routes = {(method.lower(), openapi_path(rule)) for rule in api_rules(app) for method in rule.methods & METHODS}
    documented = {(method, path) for path, item in spec["paths"].items() for method in item}
    missing = sorted(f"{m.upper()} {PREFIX}{p}" for m, p in routes - documented)
    assert not missing, ("undocumented API routes (give each view an @operation(...) under its route, "
                         "see app/api/spec): " + ", ".join(missing))
    assert documented == routes


def test_the_document_is_valid_openapi_3_1(spec):
    assert spec["openapi"].startswith("3.1")
    validate(spec)


def test_every_operation_declares_the_statuses_it_can_answer(app, spec):
    views = {openapi_path(rule): app.view_functions[rule.endpoint] for rule in api_rules(app)}
    wrong = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            codes = set(op["responses"])
            public = views[path].permission == Permission.public
            expected = set() if public else {"401", "403"}
            expected |= {"404"} if "{" in path else set()
            expected |= {"413", "422"} if "requestBody" in op else set()
            expected |= {"422"} if any(p["in"] == "query" for p in op.get("parameters", [])) else set()
            if not expected <= codes or not any(c.startswith("2") for c in codes):
                wrong.append(f"{method.upper()} {path}: {sorted(codes)}, needs {sorted(expected)} and a 2xx")
            for code, response in op["responses"].items():
                if code >= "400" and "application/problem+json" not in response.get("content", {}):
                    wrong.append(f"{method.upper()} {path} {code}: errors are application/problem+json")
            if public != (op.get("security") == []):
                wrong.append(f"{method.upper()} {path}: security does not match permission {views[path].permission}")
    assert not wrong, "\n".join(wrong)


def test_aware_times_are_documented_as_the_api_checks_them(client, spec, people):
    """format date-time with a pattern requiring an offset; a number, a numeric string or a naive time is a 422."""
    detected = spec["components"]["schemas"]["IncidentCreate"]["properties"]["detected_at"]
    assert detected["format"] == "date-time" and re.search(detected["pattern"], "2026-03-01T07:00:00+01:00")
    body = {"title": "Lost laptop", "incident_type": "ransomware", "aware_at": "2026-03-01T08:00:00Z"}
    for value in (1772348400, "1772348400", "2026-03-01T07:00:00", "2026-03-01 07:00:00Z", "2026-03-01T07:00Z"):
        assert not re.search(detected["pattern"], str(value))
        response = client.post("/api/v1/incidents", json={**body, "detected_at": value}, headers=people.tokens["lead"])
        assert response.status_code == 422, (value, response.get_json())
        assert response.get_json()["errors"][0]["field"] == "detected_at"
    ok = client.post("/api/v1/incidents", json={**body, "detected_at": "2026-03-01T07:00:00+01:00"},
                     headers=people.tokens["lead"])
    assert ok.status_code == 201, ok.get_json()


def test_json_types_are_as_documented(client, people, incident):
    """Pydantic would read "2" or true as a version and 1 as true; the API refuses them, naming the field."""
    lead = people.tokens["lead"]
    for body, field in (({"version": True, "title": "New title"}, "version"), ({"version": "1"}, "version"),
                        ({"version": 1, "drill": 1}, "drill"), ({"version": 1, "anchors": {"x": 5}}, "anchors.x")):
        response = client.patch(f"/api/v1/incidents/{incident}", json=body, headers=lead)
        assert response.status_code == 422, (body, response.get_json())
        assert field in [e.get("field") for e in response.get_json()["errors"]]


def test_extra_fields_are_refused_exactly_where_the_document_says_so(app, spec, client, people, incident):
    """additionalProperties: false on every request body, and an unknown field is a 422."""
    bodies = [op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
              for item in spec["paths"].values() for op in item.values()
              if "application/json" in op.get("requestBody", {}).get("content", {})
              and "$ref" in op["requestBody"]["content"]["application/json"]["schema"]]
    schemas = spec["components"]["schemas"]
    assert bodies and all(schemas[name].get("additionalProperties") is False for name in bodies), bodies
    response = client.post(f"/api/v1/incidents/{incident}/timeline", json={"summary": "x", "sumary": "typo"},
                           headers=people.tokens["lead"])
    assert response.status_code == 422 and response.get_json()["errors"][0]["field"] == "sumary"


def test_the_document_and_its_page_are_public(app, spec):
    anonymous = app.test_client()
    assert anonymous.get("/api/v1/openapi.json").status_code == 200
    page = anonymous.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "<script>" not in html and " style=" not in html  # the CSP allows neither inline script nor style
    for path, item in spec["paths"].items():
        for op in item.values():
            assert f'id="op-{op["operationId"]}"' in html, path
    for name in spec["components"]["schemas"]:
        assert f'id="schema-{name}"' in html


def test_a_405_names_the_allowed_methods(client, people, incident):
    response = client.delete(f"/api/v1/incidents/{incident}/timeline", headers=people.tokens["lead"])
    assert response.status_code == 405 and response.mimetype == "application/problem+json"
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
