"""The notification review page's actions on the API: approve many drafts at once, the facts every notice shares."""

from __future__ import annotations

from app import runtime
from app.api import api_bp, body_as
from app.api.notifications import _summaries, settings
from app.api.schemas.notifications import BulkApproveOut, NoticeFactsOut
from app.api.spec import operation
from app.auth.permissions import Permission, declare
from app.core import time
from app.core.errors import InputError, Problem
from app.db import get_session
from app.flows import notifications as flows
from app.notifications.documents import facts_document
from app.notifications.models import BulkApproveIn, NoticeFactsIn


@api_bp.post("/incidents/<ref>/notifications/approve")
@declare(Permission.notification_approve)
@operation(tags=["notifications"], body=BulkApproveIn, responses={200: BulkApproveOut})
def approve_notifications(ref: str):
    """Approve and queue several drafts ({"ids"} or {"all_drafts": true}); each is approved or refused on its own."""
    db = get_session()
    incident = runtime.visible_incident(ref)
    data = body_as(BulkApproveIn)
    if bool(data.ids) == data.all_drafts:
        raise InputError(Problem("name the drafts to approve in ids, or set all_drafts (not both)",
                                 field="all_drafts" if data.all_drafts else "ids"))
    if data.all_drafts:
        selection = flows.draft_selection(session=db, incident=incident, channel=data.channel)
    else:
        selection = {i: data.versions.get(i) for i in dict.fromkeys(data.ids)}
    result = flows.approve_many(session=db, incident=incident, selection=selection,
                                reasons={i: data.reasons_for_delay for i in selection}, actor=runtime.actor(),
                                now=time.now(), settings=settings())
    db.commit()
    return {"approved": _summaries(db, result.approved),
            "refused": [{"id": i, "reason": why} for i, why in result.refused]}


@api_bp.get("/incidents/<ref>/notifications/facts")
@declare(Permission.incident_read)
@operation(tags=["notifications"], responses={200: NoticeFactsOut})
def get_notice_facts(ref: str):
    """The facts every notice of the incident shares: description, consequences, measures, contact point."""
    db = get_session()
    incident = runtime.visible_incident(ref)
    return facts_document(flows.facts_of(session=db, incident=incident))


@api_bp.put("/incidents/<ref>/notifications/facts")
@declare(Permission.notification_draft)
@operation(tags=["notifications"], body=NoticeFactsIn, responses={200: NoticeFactsOut}, errors=(409,))
def put_notice_facts(ref: str):
    """Replace the shared notice facts, naming the version you started from (stale: 409); draft again to use them."""
    db = get_session()
    incident = runtime.visible_incident(ref)
    facts = flows.save_facts(session=db, incident=incident, data=body_as(NoticeFactsIn),
                             actor=runtime.actor(), now=time.now())
    db.commit()
    return facts_document(facts)
