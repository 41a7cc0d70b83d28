"""Settling obligations: met (on time or late, late_by frozen) or ruled not required by a lead."""

from __future__ import annotations

import math
from datetime import datetime

from sqlmodel import Session

from app.auth.models import Role
from app.clock.models import Obligation, ObligationStatus
from app.clock.obligation_reminders import cancel_pending_reminders
from app.core.errors import Conflict, Forbidden, InputError, Problem
from app.core.time import iso, require_aware

SETTLED = (ObligationStatus.met, ObligationStatus.late)


def set_not_required(ob: Obligation, rationale: str, by: str, now: datetime) -> None:
    """Write the not-required settlement onto ob: rationale, who decided and when."""
    ob.status, ob.rationale, ob.decided_by, ob.decided_at = ObligationStatus.not_required, rationale[:5000], by, now


def mark_met(*, session: Session, obligation: Obligation, met_at: datetime, actor: str, delay_reasons: str = "",
             now: datetime | None = None) -> Obligation:
    """Record the obligation as met at met_at (late after due_at, which needs delay_reasons); late_by is frozen."""
    return mark_met_many(session=session, settlements=[(obligation, met_at, delay_reasons)], actor=actor, now=now)[0]


def mark_met_many(*, session: Session, settlements: list[tuple[Obligation, datetime, str]], actor: str,
                  now: datetime | None = None) -> list[Obligation]:
    """mark_met for (obligation, met_at, delay_reasons) triples: one flush, one reminder cancellation."""
    # The dispatcher settles a batch of deliveries at once; a flush and an UPDATE per obligation
    # cost more than sending the notice.
    for obligation, met_at, delay_reasons in settlements:
        _set_met(obligation, met_at, actor, delay_reasons, now)
    session.add_all([obligation for obligation, _, _ in settlements])
    session.flush()
    cancel_pending_reminders(session, [obligation.id for obligation, _, _ in settlements])
    return [obligation for obligation, _, _ in settlements]


def _set_met(obligation: Obligation, met_at: datetime, actor: str, delay_reasons: str, now: datetime | None) -> None:
    met_at = require_aware(met_at, "met_at")
    if obligation.status in SETTLED:
        raise Conflict(f"already met at {iso(obligation.met_at)}; late_by is frozen at the first notice")
    if obligation.status != ObligationStatus.open:
        raise Conflict(f"obligation is {obligation.status}, not open")
    late = obligation.due_at is not None and met_at > obligation.due_at
    reasons = (delay_reasons or "").strip()
    if late and not reasons and not obligation.informational:  # the customer's own delay is its to explain
        raise InputError(Problem("met after the deadline: give the reasons for the delay (GDPR Art. 33(1))",
                                 field="delay_reasons"))
    obligation.status = ObligationStatus.late if late else ObligationStatus.met
    obligation.met_at = met_at
    # Rounded up: a notice one millisecond late is late by a second, never by zero.
    obligation.late_by_seconds = (math.ceil((met_at - obligation.due_at).total_seconds()) if late
                                  else 0 if obligation.due_at is not None else None)
    obligation.delay_reasons = reasons
    obligation.decided_by, obligation.decided_at = actor, now or met_at


def mark_not_required(*, session: Session, obligation: Obligation, actor_role: str, actor: str, rationale: str,
                      now: datetime) -> Obligation:
    """A lead or admin rules the obligation not required, with a rationale (Art. 33(5) documentation)."""
    if actor_role not in (Role.lead, Role.admin):
        raise Forbidden("only a lead or an admin may mark an obligation not required")
    if not (rationale or "").strip():
        raise InputError(Problem("say why the obligation is not required", field="rationale"))
    if obligation.status != ObligationStatus.open:
        raise Conflict(f"obligation is {obligation.status}, not open")
    set_not_required(obligation, rationale.strip(), actor, require_aware(now, "now"))
    session.add(obligation)
    session.flush()
    cancel_pending_reminders(session, [obligation.id])
    return obligation

