"""Incident-type playbooks: the shipped files load, and malformed files fail with file, line and field."""

import textwrap
import typing
from pathlib import Path

import pytest

from app.assessment.recommend import AssessmentInput, BreachType
from app.core.errors import InputError
from app.playbooks.incident_types import (AssessmentField, BreachTypeName, IncidentType,
                                          load_incident_type_file, load_incident_types)

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks" / "incident-types"
EXPECTED_IDS = {
    "ransomware", "web-app-exfiltration", "credential-stuffing", "misdirected-communication",
    "lost-stolen-device", "cloud-storage-misconfiguration", "insider-exfiltration", "subprocessor-breach",
}

VALID = """\
id: {id}
title: Example
description: An example incident type.
default_breach_types: [confidentiality]
assessment_hints:
  - field: exfiltration
    question: Did data leave?
tasks:
  - id: contain
    title: Contain
    description: Stop it.
    owner_role: responder
    due_offset_hours: 1
    evidence: [Change record]
  - id: review
    title: Review
    description: Learn from it.
    owner_role: lead
    due_offset_hours: 336
    evidence: [Review report]
"""


def write(tmp_path: Path, text: str, name: str = "example") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def only_problem(exc: pytest.ExceptionInfo) -> tuple:
    problems = exc.value.problems
    assert len(problems) == 1, problems
    p = problems[0]
    return p.file, p.line, p.field, p.message


def test_every_shipped_file_loads_and_the_eight_types_exist():
    types = load_incident_types(PLAYBOOKS)
    assert EXPECTED_IDS <= set(types)
    for type_id, item in types.items():
        assert item.id == type_id
        assert item.tasks and item.assessment_hints and item.sources, type_id
        assert any(h.field for h in item.assessment_hints), type_id
        assert all(t.evidence for t in item.tasks), type_id


def test_shipped_playbooks_cover_the_response_phases():
    # Containment, evidence preservation, scoping, notification prep and a review in every type.
    for item in load_incident_types(PLAYBOOKS).values():
        ids = " ".join(t.id for t in item.tasks)
        assert "preserve" in ids or "capture" in ids, item.id
        assert "notify-controllers" in ids and "risk-assessment" in ids, item.id
        assert item.tasks[-1].id == "post-incident-review", item.id
        offsets = {t.id: t.due_offset_hours for t in item.tasks}
        assert offsets["notify-controllers"] <= 24, item.id  # well inside any customer's 72 h


def test_hint_fields_and_breach_types_match_the_assessment_input():
    assert set(typing.get_args(AssessmentField)) == set(AssessmentInput.model_fields)
    assert set(typing.get_args(BreachTypeName)) == {b.value for b in BreachType}


def test_valid_file_loads(tmp_path):
    item = load_incident_type_file(write(tmp_path, VALID.format(id="example")))
    assert isinstance(item, IncidentType) and [t.id for t in item.tasks] == ["contain", "review"]


def test_id_must_match_file_name(tmp_path):
    path = write(tmp_path, VALID.format(id="other"))
    with pytest.raises(InputError) as exc:
        load_incident_type_file(path)
    assert only_problem(exc)[:3] == (str(path), 1, "id")


def test_duplicate_task_ids_are_rejected_at_the_second_one(tmp_path):
    path = write(tmp_path, VALID.format(id="example").replace("id: review", "id: contain"))
    with pytest.raises(InputError) as exc:
        load_incident_type_file(path)
    file, line, field, message = only_problem(exc)
    assert (file, line, field) == (str(path), 15, "tasks[1].id")
    assert "duplicate task id 'contain'" in message


def test_unknown_field_is_named_with_its_line(tmp_path):
    path = write(tmp_path, VALID.format(id="example").replace("    due_offset_hours: 336\n",
                                                              "    due_offset_hours: 336\n    severity: high\n"))
    with pytest.raises(InputError) as exc:
        load_incident_type_file(path)
    file, line, field, message = only_problem(exc)
    assert (file, line, field) == (str(path), 20, "tasks[1].severity")
    assert "Extra inputs are not permitted" in message


def test_bad_owner_role_is_named_with_its_line(tmp_path):
    path = write(tmp_path, VALID.format(id="example").replace("owner_role: lead", "owner_role: ciso"))
    with pytest.raises(InputError) as exc:
        load_incident_type_file(path)
    file, line, field, message = only_problem(exc)
    assert (file, line, field) == (str(path), 18, "tasks[1].owner_role")
    assert "viewer" in message and "admin" in message


@pytest.mark.parametrize("old, new, line, field", [
    ("field: exfiltration", "field: exfil", 6, "assessment_hints[0].field"),
    ("[confidentiality]", "[leak]", 4, "default_breach_types[0]"),
    ("due_offset_hours: 1\n", "due_offset_hours: -1\n", 13, "tasks[0].due_offset_hours"),
    ("evidence: [Change record]", "evidence: []", 14, "tasks[0].evidence"),
    ("id: contain", "id: Contain It", 9, "tasks[0].id"),
    ("title: Example\n", "", 1, "title"),
])
def test_invalid_values_are_located(tmp_path, old, new, line, field):
    text = VALID.format(id="example")
    assert old in text
    path = write(tmp_path, text.replace(old, new, 1))
    with pytest.raises(InputError) as exc:
        load_incident_type_file(path)
    assert only_problem(exc)[:3] == (str(path), line, field)


def test_malformed_yaml_names_file_and_line(tmp_path):
    path = write(tmp_path, VALID.format(id="example").replace("question: Did data leave?",
                                                              "question: Did data leave: yes?"))
    with pytest.raises(InputError) as exc:
        load_incident_type_file(path)
    file, line, _, message = only_problem(exc)
    assert (file, line) == (str(path), 7) and "malformed YAML" in message


def test_top_level_must_be_a_mapping(tmp_path):
    path = write(tmp_path, "- just\n- a list\n")
    with pytest.raises(InputError) as exc:
        load_incident_type_file(path)
    assert only_problem(exc)[0] == str(path)


def test_directory_load_reports_every_bad_file(tmp_path):
    write(tmp_path, VALID.format(id="good"), name="good")
    write(tmp_path, VALID.format(id="wrong"), name="bad-id")
    write(tmp_path, VALID.format(id="bad-role").replace("owner_role: lead", "owner_role: boss"), name="bad-role")
    (tmp_path / "stray.yml").write_text(VALID.format(id="stray"), encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_incident_types(tmp_path)
    files = sorted(Path(p.file).name for p in exc.value.problems)
    assert files == ["bad-id.yaml", "bad-role.yaml", "stray.yml"]
    assert "bad-id.yaml:1: id:" in str(exc.value)


def test_missing_directory_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_incident_types(tmp_path / "nope")
