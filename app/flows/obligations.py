"""Settling an obligation by hand: met (outside a Breachline notice), or not required by a lead's ruling.

The web incident page and the API both call these, so the checks, the timeline entries and the
re-sync of dependent clocks are the same whichever way a responder works.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from app.clock import obligation_documents, settle
from app.clock.models import Obligation, ObligationMetIn, ObligationNotRequiredIn
from app.clock.settings import ClockSettings
from app.core.errors import InputError, Problem
from app.core.time import iso, require_aware
from app.flows import incident as incident_flows
from app.flows.incident import Actor
from app.incidents.models import Incident
from app.timeline import service as timeline


def get(*, session: Session, incident: Incident, obligation_id: int) -> Obligation:
    """The incident's obligation, or NotFound."""
    return obligation_documents.get_obligation(session=session, incident_id=incident.id, obligation_id=obligation_id)


def _details(ob: Obligation, **extra) -> dict:
    return {"obligation_id": ob.id, "regime": ob.regime_id, "stage": ob.stage_id, "status": str(ob.status),
            "due_at": iso(ob.due_at), "decided_by": ob.decided_by, "source": ob.source, **extra}


def mark_met(*, session: Session, incident: Incident, obligation: Obligation, data: ObligationMetIn, actor: Actor,
             now: datetime, settings: ClockSettings) -> Obligation:
    """Record the obligation met at data.met_at (late: reasons for the delay required), then re-sync its clocks."""
    now = require_aware(now, "now")
    if data.met_at > now:
        # A notice is recorded once it went out; a future time would start later clocks from a guess.
        raise InputError(Problem(f"{iso(data.met_at)} is in the future: record the time it was actually met",
                                 field="met_at"))
    settle.mark_met(session=session, obligation=obligation, met_at=data.met_at, actor=actor.name,
                    delay_reasons=data.delay_reasons, now=now)
    late = (f", {obligation.late_by_seconds} s late; reasons for the delay: {obligation.delay_reasons}"
            if obligation.status == "late" else "")
    timeline.append(session=session, incident_id=incident.id, kind="obligation.met", actor=actor.name,
                    recorded_at=now, occurred_at=obligation.met_at, controller_id=obligation.controller_id,
                    summary=f"{obligation.title}: met at {iso(obligation.met_at)}, recorded by hand{late}"[:2000],
                    details=_details(obligation, manual=True, met_at=iso(obligation.met_at),
                                     late_by_seconds=obligation.late_by_seconds,
                                     delay_reasons=obligation.delay_reasons))
    # Later stages and the customer's own clock may be anchored on this one being met.
    incident_flows.sync_obligations(session=session, incident=incident, actor=actor, now=now, settings=settings)
    return obligation


def mark_not_required(*, session: Session, incident: Incident, obligation: Obligation, data: ObligationNotRequiredIn,
                      actor: Actor, now: datetime) -> Obligation:
    """A lead or admin rules the obligation not required, with the rationale on the timeline."""
    settle.mark_not_required(session=session, obligation=obligation, actor_role=actor.role,
                             actor=actor.name, rationale=data.rationale, now=now)
    timeline.append(session=session, incident_id=incident.id, kind="obligation.not_required", actor=actor.name,
                    recorded_at=now, controller_id=obligation.controller_id,
                    summary=f"{obligation.title}: not required — {obligation.rationale}"[:2000],
                    details=_details(obligation, rationale=obligation.rationale))
    return obligation
