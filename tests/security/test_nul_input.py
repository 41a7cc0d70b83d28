"""Input holding a NUL character is refused before any view runs (PostgreSQL text cannot store one)."""

from __future__ import annotations


def test_api_refuses_nul_in_json_and_query_naming_the_field(client, world):
    lead = world.tokens["lead"]
    patched = client.patch(f"/api/v1/incidents/{world.ref}", json={"version": 1, "owner": "a\u0000b"}, headers=lead)
    assert patched.status_code == 422
    assert patched.get_json()["errors"] == [{"field": "owner", "message": "text may not contain NUL (\\u0000) characters"}]
    listed = client.get("/api/v1/incidents?type=%00", headers=lead)
    assert listed.status_code == 422 and listed.get_json()["errors"][0]["field"] == "type"
    nested = client.post(f"/api/v1/incidents/{world.ref}/members", json={"email": "x\u0000@example.org"}, headers=lead)
    assert nested.status_code == 422 and nested.get_json()["errors"][0]["field"] == "email"
    incident = client.get(f"/api/v1/incidents/{world.ref}", headers=lead).get_json()
    assert incident["version"] == 1 and incident["owner"] != "a\u0000b", "nothing changed"


def test_web_form_with_nul_gets_a_400_and_saves_nothing(app, client, world):
    from secsupport import sign_in_as

    sign_in_as(client, world.users["lead"])
    before = client.get(f"/api/v1/incidents/{world.ref}/timeline", headers=world.tokens["lead"]).get_json()["total"]
    answer = client.post(f"/incidents/{world.ref}/notes", data={"summary": "call\u0000ed"})
    assert answer.status_code == 400 and "NUL" in answer.get_data(as_text=True)
    after = client.get(f"/api/v1/incidents/{world.ref}/timeline", headers=world.tokens["lead"]).get_json()["total"]
    assert after == before


def test_a_manual_entry_longer_than_its_column_is_a_422(client, world):
    response = client.post(f"/api/v1/incidents/{world.ref}/timeline", json={"summary": "x" * 2001},
                           headers=world.tokens["lead"])
    assert response.status_code == 422 and response.get_json()["errors"][0]["field"] == "summary"
