"""Reading obligations: the incident's list, one by id, its API document and the customer's projected clock."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, select

from app.clock.models import Obligation, ObligationStatus
from app.clock.settle import SETTLED
from app.core.errors import NotFound
from app.core.time import iso

CUSTOMER_WINDOW_HOURS = 72  # GDPR Art. 33(1), the controller's own clock


def customer_clock(*, obligation_to_controller: Obligation, aware_at: datetime | None, now: datetime) -> dict:
    """The customer's own projected 72 h Art. 33(1) deadline and how much of it our delay used."""
    ob = obligation_to_controller
    notified = ob.met_at if ob.status in SETTLED else None
    anchor = notified or aware_at
    due = anchor + timedelta(hours=CUSTOMER_WINDOW_HOURS) if anchor else None
    used = ((notified or now) - aware_at).total_seconds() / 3600 if aware_at else None
    return {"controller_key": ob.recipient_key, "notified": notified is not None, "notified_at": iso(notified),
            "anchor_at": iso(anchor), "projected_due_at": iso(due), "window_hours": CUSTOMER_WINDOW_HOURS,
            "used_hours": None if used is None else round(max(used, 0.0), 2),
            "remaining_hours": None if due is None else round((due - now).total_seconds() / 3600, 2)}


def list_obligations(*, session: Session, incident_id: int) -> list[Obligation]:
    """The incident's obligations, soonest due first; no due time last."""
    return list(session.exec(select(Obligation).where(Obligation.incident_id == incident_id)
                             .order_by(Obligation.due_at.is_(None), Obligation.due_at,
                                       Obligation.internal_target_at.is_(None), Obligation.internal_target_at,
                                       Obligation.id)))


def get_obligation(*, session: Session, incident_id: int, obligation_id: int) -> Obligation:
    """The incident's obligation with this id, or NotFound (another incident's id is not found either)."""
    obligation = session.get(Obligation, obligation_id)
    if obligation is None or obligation.incident_id != incident_id:
        raise NotFound(f"no obligation {obligation_id} in this incident")
    return obligation


def obligation_document(obligation: Obligation, *, now: datetime) -> dict:
    """The API form of an obligation; overdue = open, ours (not informational) and past due_at."""
    ob = obligation
    overdue = (ob.status == ObligationStatus.open and not ob.informational and ob.due_at is not None
               and now > ob.due_at)
    return {"id": ob.id, "regime": ob.regime_id, "stage": ob.stage_id, "title": ob.title,
            "recipient": {"kind": ob.recipient_kind, "key": ob.recipient_key},
            "anchor": {"name": ob.anchor_name, "at": iso(ob.anchor_at)}, "due_at": iso(ob.due_at),
            "no_fixed_deadline": ob.no_fixed_deadline, "internal_target_at": iso(ob.internal_target_at),
            "deadline_rule": ob.deadline_rule, "status": str(ob.status), "overdue": overdue,
            "met_at": iso(ob.met_at), "late_by_seconds": ob.late_by_seconds, "source": ob.source,
            "verified": ob.verified, "informational": ob.informational,
            "delay_reasons": ob.delay_reasons or None, "rationale": ob.rationale or None,
            "decided_by": ob.decided_by or None, "decided_at": iso(ob.decided_at)}
