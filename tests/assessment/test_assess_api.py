"""POST /api/v1/assess: the stateless recommendation answers exactly its documented fields and validates strictly."""

import pytest

from app.assessment.recommend import AssessmentInput, assess

PROBLEM = "application/problem+json"

# EDPB Guidelines 01/2021 case 1 (see test_recommend.py): encrypted, no exfiltration, restored in hours.
CASE_1 = {
    "breach_types": ["availability", "confidentiality"], "data_categories": ["user.name", "user.contact", "user.workplace"],
    "subjects_count": 40, "vulnerable_subjects": False, "malicious": True, "exfiltration": "no",
    "encryption": "state_of_the_art_key_safe", "backup": "full", "restored_within_hours": 4, "recipient": "none",
    "recipients_count": None, "recovery_confirmed": False, "identifiability": "maximum", "dpc_adjustment": 0,
}
# EDPB Guidelines 01/2021 case 4 flavour: exfiltrated by an attacker, no backup.
EXFILTRATED = {**CASE_1, "encryption": "none", "backup": "none", "restored_within_hours": None, "exfiltration": "yes",
               "recipient": "unknown", "data_categories": ["user.name", "user.financial.bank_account"]}


@pytest.fixture
def headers(make_user, token_for):
    # incident:read is enough: a viewer may ask the engine, it stores nothing.
    return token_for(make_user("viewer"), scopes="read")


def _post(client, headers, body):
    return client.post("/api/v1/assess", json=body, headers=headers)


def _fields(response) -> list[str]:
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == PROBLEM
    return [e.get("field") for e in response.get_json()["errors"]]


def test_answers_exactly_the_documented_fields_with_json_numbers(client, headers):
    response = _post(client, headers, CASE_1)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == {"enisa", "notify_supervisory_authority", "communicate_to_data_subjects",
                         "document_internally", "reasons"}
    assert set(body["enisa"]) == {"dpc", "ei", "cb", "score", "band"}
    for name in ("dpc", "ei", "cb", "score"):
        assert isinstance(body["enisa"][name], (int, float)) and not isinstance(body["enisa"][name], bool), name
    assert body["enisa"] == {"dpc": 1, "ei": 1, "cb": 0.5, "score": 1.5, "band": "low"}
    assert body["notify_supervisory_authority"] is False
    assert body["communicate_to_data_subjects"] is False
    assert body["document_internally"] is True
    assert all(isinstance(r, str) for r in body["reasons"]) and any("Art. 33(5)" in r for r in body["reasons"])


def test_matches_the_engine_and_stores_nothing(client, headers, count_rows):
    response = _post(client, headers, EXFILTRATED)
    expected = assess(AssessmentInput.model_validate(EXFILTRATED))
    body = response.get_json()
    assert body["notify_supervisory_authority"] is expected.notify_supervisory_authority is True
    assert body["communicate_to_data_subjects"] is expected.communicate_to_data_subjects is True
    assert body["reasons"] == expected.reasons
    assert body["enisa"]["score"] == float(expected.enisa.score)
    assert count_rows("assessment") == 0


def test_optional_fields_may_be_left_out(client, headers):
    body = {k: v for k, v in CASE_1.items() if k not in {"restored_within_hours", "recipients_count", "dpc_adjustment"}}
    assert _post(client, headers, body).status_code == 200


@pytest.mark.parametrize("change, field", [
    ({"colour": "red"}, "colour"),  # unknown key
    ({"exfiltration": "maybe"}, "exfiltration"),  # unknown value
    ({"encryption": "aes"}, "encryption"),
    ({"identifiability": "high"}, "identifiability"),
    ({"breach_types": ["confidentiality", "secrecy"]}, "breach_types.1"),
    ({"breach_types": []}, "breach_types"),
    ({"data_categories": ["user.name", "user.shoe_size"]}, "data_categories"),
    ({"dpc_adjustment": 4}, "dpc_adjustment"),
    ({"subjects_count": -1}, "subjects_count"),
])
def test_unknown_keys_and_values_get_a_422_naming_the_field(client, headers, change, field):
    assert field in _fields(_post(client, headers, {**CASE_1, **change}))


@pytest.mark.parametrize("change, field", [
    ({"subjects_count": "40"}, "subjects_count"),  # a number in a string is not coerced
    ({"subjects_count": 40.5}, "subjects_count"),
    ({"malicious": "yes"}, "malicious"),  # naive truthiness is refused
    ({"vulnerable_subjects": 1}, "vulnerable_subjects"),
    ({"restored_within_hours": "4"}, "restored_within_hours"),
    ({"recipients_count": [2]}, "recipients_count"),
    ({"data_categories": "user.name"}, "data_categories"),
    ({"dpc_adjustment": "1"}, "dpc_adjustment"),
])
def test_naive_and_invalid_types_are_refused(client, headers, change, field):
    assert field in _fields(_post(client, headers, {**CASE_1, **change}))


def test_missing_field_and_non_object_bodies(client, headers):
    body = dict(CASE_1)
    del body["exfiltration"]
    assert "exfiltration" in _fields(_post(client, headers, body))
    assert "body" in _fields(client.post("/api/v1/assess", json=[CASE_1], headers=headers))
    assert "body" in _fields(client.post("/api/v1/assess", data="exfiltration=yes", headers=headers))


def test_needs_a_token(client):
    response = client.post("/api/v1/assess", json=CASE_1)
    assert response.status_code == 401 and response.mimetype == PROBLEM
