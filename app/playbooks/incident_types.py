"""Incident-type playbooks (playbooks/incident-types/*.yaml): response tasks and assessment hints.

A malformed file fails at load with its path, line and field, so it fails in CI and not at 3 a.m.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.errors import InputError, Problem, ProblemCollector
from app.core.yamlfile import LocatedDocument, load_yaml, validate_model

SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"

# The fields of app.assessment.recommend.AssessmentInput, spelled out rather than imported so the
# playbooks package does not depend on the assessment package; a test keeps the two in step.
AssessmentField = Literal[
    "breach_types", "data_categories", "subjects_count", "vulnerable_subjects", "malicious",
    "exfiltration", "encryption", "backup", "restored_within_hours", "recipient",
    "recipients_count", "recovery_confirmed", "identifiability", "dpc_adjustment",
]
BreachTypeName = Literal["confidentiality", "integrity", "availability"]


class OwnerRole(StrEnum):
    """The Breachline role expected to carry out a task."""

    viewer = "viewer"  # read-only stakeholder, e.g. legal or communications kept informed
    responder = "responder"  # hands-on incident responder
    lead = "lead"  # incident lead: decisions, approvals, external communication
    admin = "admin"  # platform administrator: accounts, keys, integrations


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AssessmentHint(_Strict):
    """A fact to establish early, and the assessment field it feeds (if any)."""

    field: AssessmentField | None = None
    question: str = Field(min_length=1)


class Task(_Strict):
    """One response task, due a number of hours after awareness."""

    id: str = Field(pattern=SLUG)
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    owner_role: OwnerRole
    due_offset_hours: float = Field(ge=0)
    evidence: list[str] = Field(min_length=1)  # what must be attached to close the task


class IncidentType(_Strict):
    """An incident type: what it is, what to find out first and what to do."""

    id: str = Field(pattern=SLUG)
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    default_breach_types: list[BreachTypeName] = Field(min_length=1)
    assessment_hints: list[AssessmentHint] = Field(min_length=1)
    tasks: list[Task] = Field(min_length=1)
    sources: list[str] = []  # guidance the playbook follows, e.g. "EDPB Guidelines 01/2021, case 7"


def _check(model: IncidentType, doc: LocatedDocument, path: Path) -> list[Problem]:
    """Rules that need the file: the id matches the file name, task ids are unique."""
    problems = []
    if model.id != path.stem:
        problems.append(doc.problem(f"id {model.id!r} must match the file name {path.stem!r}", ("id",)))
    seen: dict[str, int] = {}
    for i, task in enumerate(model.tasks):
        if task.id in seen:
            problems.append(doc.problem(f"duplicate task id {task.id!r} (first used by tasks[{seen[task.id]}])",
                                        ("tasks", i, "id")))
        seen.setdefault(task.id, i)
    return problems


def load_incident_type_file(path: Path | str) -> IncidentType:
    """Load and validate one incident-type file; raise InputError naming file, line and field."""
    path = Path(path)
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise InputError(doc.problem("expected a mapping with id, title, description, ... at the top level", ()))
    model = validate_model(IncidentType, doc.data, doc)
    problems = _check(model, doc, path)
    if problems:
        raise InputError(problems)
    return model


def load_incident_types(directory: Path | str) -> dict[str, IncidentType]:
    """Load every *.yaml in directory, keyed by id; report the problems of all files at once."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(Problem("incident-type directory not found", file=str(directory)))
    collector = ProblemCollector()
    types: dict[str, IncidentType] = {}
    for path in sorted(directory.glob("*.yml")):
        collector.add("incident-type files must end in .yaml; this one would be ignored", file=str(path))
    for path in sorted(directory.glob("*.yaml")):
        try:
            types[path.stem] = load_incident_type_file(path)
        except InputError as exc:
            collector.problems.extend(exc.problems)
    collector.raise_if_any()
    return types
