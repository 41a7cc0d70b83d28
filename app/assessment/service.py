"""Recorded assessments: prefill from the incident and its impact, record with a decision, history, advice."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from sqlmodel import Session, func, select

from app.assessment.enisa import Identifiability
from app.assessment.models import Assessment, DecisionIn
from app.assessment.recommend import (AssessmentInput, AssessmentResult, Backup, Encryption, Exfiltration,
                                      Recipient)
from app.core.errors import InputError, Problem
from app.core.time import iso
from app.incidents import impact as impact_service
from app.incidents.models import Incident

# Where nothing is known yet the form starts from the cautious answer, so that an unexamined fact
# can only make the recommendation stricter: the assessor relaxes it once the fact is established.
CAUTIOUS_DEFAULTS: dict = {
    "breach_types": [], "data_categories": [], "subjects_count": 0, "vulnerable_subjects": False,
    "malicious": False, "exfiltration": Exfiltration.unknown.value, "encryption": Encryption.none.value,
    "backup": Backup.none.value, "restored_within_hours": None, "recipient": Recipient.unknown.value,
    "recipients_count": None, "recovery_confirmed": False, "identifiability": Identifiability.maximum.value,
    "dpc_adjustment": 0,
}


def _number(value: Decimal) -> float | int:
    # JSON has numbers, not decimals; ENISA values are quarter steps, exact in binary floating point.
    return int(value) if value == value.to_integral_value() else float(value)


def enisa_document(result: AssessmentResult) -> dict:
    """The ENISA numbers of a result as JSON numbers."""
    e = result.enisa
    return {"dpc": _number(e.dpc), "ei": _number(e.ei), "cb": _number(e.cb), "score": _number(e.score),
            "band": str(e.band)}


def recommendation_document(result: AssessmentResult) -> dict:
    """What the stateless endpoint answers: ENISA numbers, the three recommendations and the reasons."""
    return {"enisa": enisa_document(result),
            "notify_supervisory_authority": result.notify_supervisory_authority,
            "communicate_to_data_subjects": result.communicate_to_data_subjects,
            "document_internally": True, "reasons": list(result.reasons)}


def result_document(result: AssessmentResult) -> dict:
    """What an assessment row stores as its result."""
    enisa = enisa_document(result)
    return {"score": enisa["score"], "band": enisa["band"], "enisa": enisa,
            "recommendation": {"notify_supervisory_authority": result.notify_supervisory_authority,
                               "communicate_to_data_subjects": result.communicate_to_data_subjects,
                               "document_internally": True},
            "reasons": list(result.reasons), "explanations": dict(result.enisa_explanations)}


def latest(*, session: Session, incident_id: int) -> Assessment | None:
    """The incident's most recent assessment, if any."""
    return session.exec(select(Assessment).where(Assessment.incident_id == incident_id)
                        .order_by(Assessment.seq.desc()).limit(1)).first()


def history(*, session: Session, incident_id: int) -> list[Assessment]:
    """Every assessment of the incident, newest first."""
    return list(session.exec(select(Assessment).where(Assessment.incident_id == incident_id)
                             .order_by(Assessment.seq.desc())))


def latest_by_incident(*, session: Session, incident_ids: Iterable[int]) -> dict[int, Assessment]:
    """The latest assessment of each of these incidents, in one query."""
    ids = list(incident_ids)
    if not ids:
        return {}
    newest = (select(Assessment.incident_id, func.max(Assessment.seq).label("seq"))
              .where(Assessment.incident_id.in_(ids)).group_by(Assessment.incident_id).subquery())
    rows = session.exec(select(Assessment).join(newest, (newest.c.incident_id == Assessment.incident_id)
                                                & (newest.c.seq == Assessment.seq))).all()
    return {a.incident_id: a for a in rows}


def prefill(*, session: Session, incident: Incident,
            default_breach_types: Iterable[str] = ()) -> tuple[dict, dict[str, str]]:
    """Form values for a new assessment and where each came from (impact, incident, last assessment, default)."""
    # Facts the data map knows (categories, counts, vulnerable people) come from the latest impact
    # snapshot, so a re-assessment sees the facts as they are now; facts only people can establish
    # (exfiltration, encryption, ...) carry over from the previous assessment.
    values, sources = dict(CAUTIOUS_DEFAULTS), {name: "cautious default" for name in CAUTIOUS_DEFAULTS}
    previous = latest(session=session, incident_id=incident.id)
    if previous is not None:
        values.update({k: v for k, v in previous.inputs.items() if k in values})
        sources.update({k: f"assessment #{previous.seq}" for k in previous.inputs if k in values})
    if incident.breach_types:
        values["breach_types"], sources["breach_types"] = list(incident.breach_types), "incident"
    elif not values["breach_types"] and default_breach_types:
        values["breach_types"] = list(default_breach_types)
        sources["breach_types"] = f"default of incident type {incident.incident_type}"
    snapshot = impact_service.latest_snapshot(session=session, incident_id=incident.id)
    if snapshot is not None:
        rows = impact_service.impact_rows(session=session, snapshot_id=snapshot.id)
        where = f"impact of {iso(snapshot.computed_at)}"
        values["data_categories"] = sorted({c for row in rows for c in row.data_categories})
        values["subjects_count"] = int(snapshot.totals.get("est_subjects", snapshot.est_subjects) or 0)
        sources["data_categories"] = sources["subjects_count"] = where
        if snapshot.vulnerable_subjects:
            values["vulnerable_subjects"], sources["vulnerable_subjects"] = True, where
    return values, sources


def decide(result: AssessmentResult, decision: DecisionIn | None, rationale: str) -> tuple[bool, bool, bool]:
    """The decision (notify SA, communicate, overridden); refuses an override without a rationale."""
    decision = decision or DecisionIn()
    notify = (result.notify_supervisory_authority if decision.notify_supervisory_authority is None
              else decision.notify_supervisory_authority)
    communicate = (result.communicate_to_data_subjects if decision.communicate_to_data_subjects is None
                   else decision.communicate_to_data_subjects)
    overridden = (notify, communicate) != (result.notify_supervisory_authority, result.communicate_to_data_subjects)
    problems = []
    if communicate and not notify:
        # Art. 34 needs a likely high risk, which is a risk, so Art. 33(1) cannot be waived at the same time.
        problems.append(Problem("communicating to the data subjects (Art. 34, high risk) means the breach is a risk, "
                                "so the supervisory authority must be notified too (Art. 33(1))",
                                field="decision.notify_supervisory_authority"))
    if overridden and not rationale.strip():
        problems.append(Problem("the decision differs from the recommendation: write the rationale that justifies "
                                "it (Art. 33(5) GDPR requires the reasoning to be documented)", field="rationale"))
    if problems:
        raise InputError(problems)
    return notify, communicate, overridden


def record(*, session: Session, incident_id: int, inputs: AssessmentInput, result: AssessmentResult,
           decision: DecisionIn | None, rationale: str, assessor: str, now: datetime) -> Assessment:
    """Store an assessment with its decision as the incident's next one in the history."""
    notify, communicate, overridden = decide(result, decision, rationale)
    # Two assessors saving at once would read the same max(seq) and one would hit the unique key (a 500):
    # the incident row lock serialises them on PostgreSQL (SQLite has a single writer anyway).
    session.exec(select(Incident.id).where(Incident.id == incident_id).with_for_update()).first()
    last = session.exec(select(func.max(Assessment.seq)).where(Assessment.incident_id == incident_id)).one() or 0
    row = Assessment(incident_id=incident_id, seq=last + 1, inputs=inputs.model_dump(mode="json"),
                     result=result_document(result), decision_notify_sa=notify, decision_communicate=communicate,
                     overridden=overridden, override_rationale=rationale.strip(), assessor=assessor,
                     assessed_at=now, decided_at=now)
    session.add(row)
    session.flush()
    return row


def risk_decision(assessment: Assessment) -> dict:
    """The decision in the shape the clock's obligation sync takes."""
    result = assessment.result
    basis = (f"Risk assessment #{assessment.seq} (ENISA {result.get('score')}, {result.get('band')})"
             + (", decision overridden: " if assessment.overridden else ", following the recommendation: "))
    # The first reason is the Art. 33(5) documentation duty, which every decision shares.
    why = assessment.override_rationale or " ".join(result.get("reasons", [])[1:])
    return {"notify_sa": assessment.decision_notify_sa, "communicate_subjects": assessment.decision_communicate,
            "rationale": (basis + why)[:5000], "decided_by": assessment.assessor}


def assessment_document(assessment: Assessment) -> dict:
    """An assessment as the API shows it."""
    return {"seq": assessment.seq, "inputs": assessment.inputs, "result": assessment.result,
            "decision": {"notify_supervisory_authority": assessment.decision_notify_sa,
                         "communicate_to_data_subjects": assessment.decision_communicate},
            "overridden": assessment.overridden, "rationale": assessment.override_rationale,
            "assessor": assessment.assessor, "assessed_at": iso(assessment.assessed_at),
            "decided_at": iso(assessment.decided_at)}


def advice_for_controllers(*, session: Session, incident_id: int) -> dict | None:
    """The latest recommendation as advice to customers, who decide for their own data (None if not assessed)."""
    # The engine's recommendation, not our decision: an override of ours concerns our own data only.
    # The reasons are incident-wide and may quote totals across customers; `inputs` lets a per-customer
    # notice re-run assess() on that customer's own slice instead.
    assessment = latest(session=session, incident_id=incident_id)
    if assessment is None:
        return None
    result = assessment.result
    return {"band": result.get("band"), "score": result.get("score"), "reasons": list(result.get("reasons", [])),
            "enisa": dict(result.get("enisa", {})), **dict(assessment.recommendation),
            "inputs": dict(assessment.inputs), "assessment_seq": assessment.seq,
            "assessed_at": iso(assessment.assessed_at)}
