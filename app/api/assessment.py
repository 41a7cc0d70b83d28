"""Risk assessment endpoints: the stateless recommendation, an incident's assessments, the breach register."""

from __future__ import annotations

import json

from flask import request

from app import runtime
from app.api import api_bp, json_body
from app.assessment import service
from app.assessment.models import AssessmentCreate
from app.assessment.recommend import AssessmentInput, assess
from app.auth.permissions import Permission, declare
from app.core import time
from app.db import get_session
from app.flows import assessment as flows
from app.flows import register as register_flow
from app.incidents import access


def _strict(model, body: dict):
    # Strict JSON validation: "12" is not a count and "yes" is not a boolean; a guess here would
    # silently change a notification decision.
    return model.model_validate_json(json.dumps(body), strict=True)


@api_bp.post("/assess")
@declare(Permission.incident_read)
def assess_facts():
    """Recommend notify / do-not-notify for a set of facts, with the ENISA score and the reasons; stores nothing."""
    return service.recommendation_document(assess(_strict(AssessmentInput, json_body())))


@api_bp.get("/incidents/<ref>/assessments")
@declare(Permission.incident_read)
def list_assessments(ref: str):
    """Every assessment of the incident, newest first, with the latest one's advice for controllers."""
    db = get_session()
    incident = access.get_visible_by_ref(session=db, ref=ref, viewer=runtime.viewer())
    items = service.history(session=db, incident_id=incident.id)
    return {"incident": incident.ref, "items": [service.assessment_document(a) for a in items], "total": len(items),
            "advice_for_controllers": service.advice_for_controllers(session=db, incident_id=incident.id)}


@api_bp.post("/incidents/<ref>/assessments")
@declare(Permission.assessment_decide)
def create_assessment(ref: str):
    """Assess the incident and record the decision: {"inputs", "decision" (optional), "rationale"}; 201."""
    db = get_session()
    incident = access.get_visible_by_ref(session=db, ref=ref, viewer=runtime.viewer())
    data = _strict(AssessmentCreate, json_body())
    row = flows.record(session=db, incident=incident, inputs=data.inputs, decision=data.decision,
                       rationale=data.rationale, actor=runtime.actor(), now=time.now(),
                       settings=runtime.clock_settings())
    db.commit()
    return service.assessment_document(row), 201


@api_bp.get("/register")
@declare(Permission.incident_read)
def get_register():
    """The breach register (Art. 33(5)), filtered by awareness date: ?from=YYYY-MM-DD&to=YYYY-MM-DD."""
    start, end = register_flow.parse_period(request.args.get("from"), request.args.get("to"))
    register = register_flow.breach_register(session=get_session(), start=start, end=end, viewer=runtime.viewer(),
                                             include_drills=request.args.get("drills") in {"1", "true"})
    return register_flow.register_document(register)
