"""Assessing an incident's risk: record the assessment and decision, then let the decision drive the GDPR clocks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from app.assessment import service
from app.assessment.models import Assessment, DecisionIn
from app.assessment.recommend import AssessmentInput, assess
from app.clock.settings import ClockSettings
from app.core.time import iso
from app.flows import incident as incident_flows
from app.flows.incident import Actor
from app.incidents.models import Incident
from app.timeline import service as timeline


@dataclass
class AssessmentForm:
    """What a new assessment starts from: prefilled values, where each came from, the incident type's hints."""

    values: dict
    sources: dict[str, str]
    hints: dict[str, list[str]]  # assessment field -> questions to settle it
    general_hints: list[str]  # questions that feed no single field


def hints_of(incident_type) -> tuple[dict[str, list[str]], list[str]]:
    """The incident type's assessment hints by field, and the general ones (none for an unknown type)."""
    by_field: dict[str, list[str]] = {}
    general: list[str] = []
    for hint in (incident_type.assessment_hints if incident_type else []):
        (by_field.setdefault(str(hint.field), []) if hint.field else general).append(hint.question)
    return by_field, general


def new_form(*, session: Session, incident: Incident, incident_type) -> AssessmentForm:
    """The assessment form for the incident: facts from its impact and the last assessment, cautious defaults."""
    values, sources = service.prefill(session=session, incident=incident, default_breach_types=(
        incident_type.default_breach_types if incident_type else ()))
    hints, general = hints_of(incident_type)
    return AssessmentForm(values=values, sources=sources, hints=hints, general_hints=general)


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def record(*, session: Session, incident: Incident, inputs: AssessmentInput, decision: DecisionIn | None,
           rationale: str, actor: Actor, now: datetime, settings: ClockSettings) -> Assessment:
    """Assess, store the assessment with the human decision, put it on the timeline and sync the obligations."""
    # The decision covers our own controller data only (Art. 33(1) to the SA, Art. 34 to our data
    # subjects); customers get the recommendation as advice and decide for their own data.
    result = assess(inputs)
    row = service.record(session=session, incident_id=incident.id, inputs=inputs, result=result, decision=decision,
                         rationale=rationale, assessor=actor.name, now=now)
    rec = row.recommendation
    summary = (f"Risk assessment #{row.seq}: ENISA {row.result['score']} ({row.result['band'].replace('_', ' ')}); "
               f"decision: notify SA {_yes(row.decision_notify_sa)}, tell data subjects {_yes(row.decision_communicate)}")
    if row.overridden:
        summary += (f" — overrides the recommendation (SA {_yes(rec['notify_supervisory_authority'])}, subjects "
                    f"{_yes(rec['communicate_to_data_subjects'])}): {row.override_rationale}")
    timeline.append(session=session, incident_id=incident.id, kind="assessment.recorded", summary=summary[:2000],
                    actor=actor.name, recorded_at=now,
                    details={"assessment_id": row.id, "seq": row.seq, "inputs": row.inputs,
                             "score": row.result["score"], "band": row.result["band"], "enisa": row.result["enisa"],
                             "recommendation": rec,
                             "decision": {"notify_supervisory_authority": row.decision_notify_sa,
                                          "communicate_to_data_subjects": row.decision_communicate},
                             "overridden": row.overridden, "rationale": row.override_rationale,
                             "assessor": row.assessor, "assessed_at": iso(row.assessed_at)})
    incident_flows.sync_obligations(session=session, incident=incident, actor=actor, now=now, settings=settings)
    return row
