"""The breach register (Art. 33(5) GDPR): every breach with its facts, decision, rationale and notifications.

A read model like the dashboard: it joins incidents, impact, assessments and obligations, which
no single domain may import together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlmodel import Session, func, select

from app.assessment import service as assessment_service
from app.assessment.models import Assessment
from app.clock.models import Obligation, ObligationStatus
from app.core.errors import InputError, Problem
from app.core.time import UTC, UTCDateTime, iso
from app.incidents.access import visible_incidents_clause
from app.incidents.models import ImpactSnapshot, Incident, IncidentStatus

NOTIFIED = (ObligationStatus.met, ObligationStatus.late)


@dataclass
class Notice:
    """Where notifying one kind of recipient stands for an incident."""

    total: int = 0  # obligations of this kind (not informational)
    done: int = 0  # met or late
    open: int = 0
    not_required: int = 0
    first_at: datetime | None = None  # earliest delivery

    @property
    def state(self) -> str:
        """notified, partly notified, pending, not required, or none (no such obligation)."""
        if not self.total:
            return "none"
        if self.done:
            return "notified" if not self.open else "partly notified"
        return "pending" if self.open else "not required"


@dataclass
class RegisterEntry:
    """One incident in the register."""

    incident: Incident
    assessment: Assessment | None
    snapshot: ImpactSnapshot | None
    notices: dict[str, Notice] = field(default_factory=dict)  # recipient kind -> where it stands

    def notice(self, kind: str) -> Notice:
        """Where notifying this kind of recipient stands (empty Notice when there is none)."""
        return self.notices.get(kind, Notice())


@dataclass
class Register:
    """Breaches, and the incidents ruled not to be personal data breaches (their reasoning is kept too)."""

    start: date | None
    end: date | None
    breaches: list[RegisterEntry]
    not_breaches: list[RegisterEntry]


def parse_period(start: str | None, end: str | None) -> tuple[date | None, date | None]:
    """Parse the from/to ISO dates of a register filter; a bad value names its field."""
    problems, parsed = [], []
    for name, text in (("from", start), ("to", end)):
        text = (text or "").strip()
        try:
            parsed.append(date.fromisoformat(text) if text else None)
        except ValueError:
            problems.append(Problem(f"not an ISO date (YYYY-MM-DD): {text!r}", field=name))
            parsed.append(None)
    if not problems and parsed[0] and parsed[1] and parsed[1] < parsed[0]:
        problems.append(Problem("must not be before 'from'", field="to"))
    if problems:
        raise InputError(problems)
    return parsed[0], parsed[1]


def breach_register(*, session: Session, viewer, start: date | None = None, end: date | None = None,
                    include_drills: bool = False) -> Register:
    """Incidents the viewer may see whose awareness (or detection) falls in [start, end], oldest first."""
    # Drills are left out unless asked for: an exercise is not a breach a regulator may inspect.
    when = func.coalesce(Incident.aware_at, Incident.detected_at, type_=UTCDateTime())
    query = select(Incident).where(visible_incidents_clause(viewer))
    if start:
        query = query.where(when >= datetime.combine(start, time.min, UTC))
    if end:
        # Whole days in UTC: "to 2026-03-31" includes everything on the 31st.
        query = query.where(when < datetime.combine(end + timedelta(days=1), time.min, UTC))
    if not include_drills:
        query = query.where(Incident.drill.is_(False))
    incidents = list(session.exec(query.order_by(when, Incident.id)))
    ids = [i.id for i in incidents]
    assessments = assessment_service.latest_by_incident(session=session, incident_ids=ids)
    snapshots = _latest_snapshots(session, ids)
    notices = _notices(session, ids)
    entries = [RegisterEntry(i, assessments.get(i.id), snapshots.get(i.id), notices.get(i.id, {})) for i in incidents]
    return Register(start, end, [e for e in entries if e.incident.status != IncidentStatus.not_a_breach],
                    [e for e in entries if e.incident.status == IncidentStatus.not_a_breach])


def _latest_snapshots(session: Session, ids: list[int]) -> dict[int, ImpactSnapshot]:
    if not ids:
        return {}
    newest = (select(func.max(ImpactSnapshot.id)).where(ImpactSnapshot.incident_id.in_(ids))
              .group_by(ImpactSnapshot.incident_id))
    return {s.incident_id: s for s in session.exec(select(ImpactSnapshot).where(ImpactSnapshot.id.in_(newest)))}


def _notices(session: Session, ids: list[int]) -> dict[int, dict[str, Notice]]:
    if not ids:
        return {}
    rows = session.exec(select(Obligation.incident_id, Obligation.recipient_kind, Obligation.status, func.count(),
                               func.min(Obligation.met_at))
                        .where(Obligation.incident_id.in_(ids), Obligation.informational.is_(False))
                        .group_by(Obligation.incident_id, Obligation.recipient_kind, Obligation.status)).all()
    found: dict[int, dict[str, Notice]] = {}
    for incident_id, kind, status, count, first in rows:
        notice = found.setdefault(incident_id, {}).setdefault(str(kind), Notice())
        notice.total += count
        if status in NOTIFIED:
            notice.done += count
            notice.first_at = min(filter(None, (notice.first_at, first)), default=None)
        elif status == ObligationStatus.open:
            notice.open += count
        else:
            notice.not_required += count
    return found


def entry_document(entry: RegisterEntry) -> dict:
    """A register entry as the API shows it."""
    i, a, s = entry.incident, entry.assessment, entry.snapshot
    decision = None
    if a is not None:
        decision = {"assessment_seq": a.seq, "notify_supervisory_authority": a.decision_notify_sa,
                    "communicate_to_data_subjects": a.decision_communicate, "overridden": a.overridden,
                    "rationale": a.override_rationale or None, "recommendation": a.recommendation,
                    "reasons": a.result.get("reasons", []), "score": a.result.get("score"),
                    "band": a.result.get("band"), "assessor": a.assessor, "decided_at": iso(a.decided_at)}
    return {
        "ref": i.ref, "title": i.title, "status": str(i.status), "incident_type": i.incident_type,
        "breach_types": i.breach_types, "drill": i.drill, "detected_at": iso(i.detected_at),
        "aware_at": iso(i.aware_at), "contained_at": iso(i.contained_at), "closed_at": iso(i.closed_at),
        "status_rationale": i.status_rationale or None,
        "impact": None if s is None else {"controllers": s.controllers, "est_subjects": s.est_subjects,
                                          "est_records": s.est_records, "special_categories": s.special_categories,
                                          "vulnerable_subjects": s.vulnerable_subjects,
                                          "data_categories": sorted(s.totals.get("by_data_category", {}))},
        "decision": decision,
        "notified": {kind: {"state": n.state, "notified": n.done, "of": n.total, "first_at": iso(n.first_at)}
                     for kind, n in sorted(entry.notices.items())},
    }


def register_document(register: Register) -> dict:
    """The whole register as the API shows it."""
    return {"from": register.start.isoformat() if register.start else None,
            "to": register.end.isoformat() if register.end else None,
            "breaches": [entry_document(e) for e in register.breaches],
            "not_a_breach": [entry_document(e) for e in register.not_breaches],
            "total": len(register.breaches) + len(register.not_breaches)}
