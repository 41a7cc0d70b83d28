"""Obligation endpoints: record one met by hand (with reasons for a delay), or rule it not required (a lead)."""

from __future__ import annotations

from app import runtime
from app.api import api_bp, body_as
from app.api.schemas.incidents import ObligationOut
from app.api.spec import operation
from app.auth.permissions import Permission, declare
from app.clock import obligation_documents
from app.clock.models import ObligationMetIn, ObligationNotRequiredIn
from app.core import time
from app.db import get_session
from app.flows import obligations as flows


@api_bp.post("/incidents/<ref>/obligations/<int:obligation_id>/met")
@declare(Permission.incident_write)
@operation(tags=["obligations"], body=ObligationMetIn, responses={200: ObligationOut}, errors=(409,))
def mark_obligation_met(ref: str, obligation_id: int):
    """Record an obligation met at met_at (ISO 8601 with offset); after its deadline, delay_reasons is required."""
    db, now = get_session(), time.now()
    incident = runtime.visible_incident(ref)  # need-to-know before input
    obligation = flows.get(session=db, incident=incident, obligation_id=obligation_id)
    data = body_as(ObligationMetIn)
    flows.mark_met(session=db, incident=incident, obligation=obligation, data=data, actor=runtime.actor(), now=now,
                   settings=runtime.clock_settings())
    db.commit()
    return obligation_documents.obligation_document(obligation, now=now)


@api_bp.post("/incidents/<ref>/obligations/<int:obligation_id>/not-required")
@declare(Permission.obligation_decide)
@operation(tags=["obligations"], body=ObligationNotRequiredIn, responses={200: ObligationOut},
           errors=(409,))
def mark_obligation_not_required(ref: str, obligation_id: int):
    """Rule an open obligation not required, with the rationale (leads and admins)."""
    db, now = get_session(), time.now()
    incident = runtime.visible_incident(ref)  # need-to-know before input
    obligation = flows.get(session=db, incident=incident, obligation_id=obligation_id)
    data = body_as(ObligationNotRequiredIn)
    flows.mark_not_required(session=db, incident=incident, obligation=obligation, data=data, actor=runtime.actor(),
                            now=now)
    db.commit()
    return obligation_documents.obligation_document(obligation, now=now)
