"""The numbers a PSIRT lead reports for a period of the breach register (Art. 33(5) GDPR).

Time to notify a controller runs from our awareness (Incident.aware_at) to the moment the
processor-to-controller obligation was met — the customer's own 72 hours start then (WP250).
Percentiles interpolate linearly between the closest ranks (like numpy's default), so a median
of two values is their mean.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime

from sqlmodel import Session, select

from app.clock.models import Obligation, ObligationStatus
from app.core.time import iso
from app.flows.register import Register

CONTROLLER = "controller"
SETTLED = (ObligationStatus.met, ObligationStatus.late)


def percentile(values: list[float], p: float) -> float | None:
    """The p-th percentile (0-100) by linear interpolation between closest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def controller_notices(*, session: Session, incident_ids: list[int]) -> list[Obligation]:
    """Our processor-to-controller obligations (not the customers' own clocks) of these incidents."""
    found: list[Obligation] = []
    for start in range(0, len(incident_ids), 500):
        found += session.exec(select(Obligation).where(
            Obligation.incident_id.in_(incident_ids[start:start + 500]), Obligation.recipient_kind == CONTROLLER,
            Obligation.informational.is_(False))).all()
    return found


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def register_metrics(*, session: Session, register: Register, now: datetime) -> dict:
    """Median and p90 hours to notify controllers, share within contract, overdue obligations, counts by type and category."""
    entries = register.breaches
    incidents = {e.incident.id: e.incident for e in entries}
    ids = list(incidents)
    hours, on_time, late, no_deadline = [], 0, 0, 0
    for ob in controller_notices(session=session, incident_ids=ids):
        if ob.status not in SETTLED or ob.met_at is None:
            continue
        aware = incidents[ob.incident_id].aware_at
        if aware is not None:
            hours.append(max((ob.met_at - aware).total_seconds(), 0.0) / 3600)
        if ob.due_at is None:
            no_deadline += 1  # no contractual hours: "without undue delay" has no line to be within
        elif ob.status == ObligationStatus.met:
            on_time += 1
        else:
            late += 1
    overdue = []
    for start in range(0, len(ids), 500):
        overdue += session.exec(select(Obligation).where(
            Obligation.incident_id.in_(ids[start:start + 500]), Obligation.status == ObligationStatus.open,
            Obligation.informational.is_(False), Obligation.due_at.is_not(None), Obligation.due_at < now)
            .order_by(Obligation.due_at)).all()
    by_type = Counter(e.incident.incident_type for e in entries)
    by_category: Counter = Counter()
    for e in entries:
        if e.snapshot is not None:
            by_category.update(set((e.snapshot.totals or {}).get("by_data_category", {})))
    judged = on_time + late
    return {
        "from": register.start.isoformat() if register.start else None,
        "to": register.end.isoformat() if register.end else None,
        "computed_at": iso(now),
        "breaches": len(entries), "not_a_breach": len(register.not_breaches),
        "hours_to_controller_notified": {"count": len(hours), "median": _round(percentile(hours, 50)),
                                         "p90": _round(percentile(hours, 90)),
                                         "method": "linear interpolation between closest ranks"},
        "controller_notifications_within_contract": {
            "on_time": on_time, "late": late, "share": _round(on_time / judged) if judged else None,
            "without_contract_deadline": no_deadline},
        "overdue_obligations": {
            "count": len(overdue),
            "items": [{"incident": incidents[o.incident_id].ref, "title": o.title, "recipient_kind": o.recipient_kind,
                       "recipient_key": o.recipient_key, "due_at": iso(o.due_at)} for o in overdue]},
        "incidents_by_type": dict(sorted(by_type.items())),
        "incidents_by_data_category": dict(sorted(by_category.items())),
    }
