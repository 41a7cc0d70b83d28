"""Risk assessment endpoints: the stateless recommendation, an incident's assessments, the breach register."""

from __future__ import annotations

from flask import request
from pydantic import ValidationError

from app import runtime
from app.api import api_bp, body_as
from app.api.queries import TRUE, PeriodQuery, parse_query
from app.api.schemas.assessment import (AssessmentFormOut, AssessmentList, AssessmentOut, RecommendationOut,
                                        RegisterOut)
from app.api.spec import operation
from app.assessment import service
from app.assessment.models import AssessmentCreate
from app.assessment.recommend import AssessmentInput, assess
from app.auth.permissions import Permission, declare
from app.core import time
from app.core.errors import messages_of
from app.db import get_session
from app.flows import assessment as flows
from app.flows import register as register_flow


@api_bp.post("/assess")
@declare(Permission.incident_read)
@operation(tags=["assessment"], body=AssessmentInput, responses={200: RecommendationOut})
def assess_facts():
    """Recommend notify / do-not-notify for a set of facts, with the ENISA score and the reasons; stores nothing."""
    return service.recommendation_document(assess(body_as(AssessmentInput)))


@api_bp.get("/incidents/<ref>/assessments")
@declare(Permission.incident_read)
@operation(tags=["assessment"], responses={200: AssessmentList})
def list_assessments(ref: str):
    """Every assessment of the incident, newest first, with the latest one's advice for controllers."""
    db = get_session()
    incident = runtime.visible_incident(ref)
    items = service.history(session=db, incident_id=incident.id)
    return {"incident": incident.ref, "items": [service.assessment_document(a) for a in items], "total": len(items),
            "advice_for_controllers": service.advice_for_controllers(session=db, incident_id=incident.id)}


@api_bp.get("/incidents/<ref>/assessments/prefill")
@declare(Permission.incident_read)
@operation(tags=["assessment"], responses={200: AssessmentFormOut})
def assessment_prefill(ref: str):
    """The assessment form as the web shows it: values from the impact and the last assessment, hints, live advice."""
    db = get_session()
    incident = runtime.visible_incident(ref)
    form = flows.new_form(session=db, incident=incident, incident_type=runtime.incident_types().get(
        incident.incident_type))
    recommendation, incomplete = None, []
    try:
        recommendation = service.recommendation_document(assess(AssessmentInput.model_validate(form.values)))
    except (ValidationError, ValueError) as exc:
        incomplete = messages_of(exc)
    return {"incident": incident.ref, "values": form.values, "sources": form.sources, "hints": form.hints,
            "general_hints": form.general_hints, "recommendation": recommendation, "incomplete": incomplete}


@api_bp.post("/incidents/<ref>/assessments")
@declare(Permission.assessment_decide)
@operation(tags=["assessment"], body=AssessmentCreate, responses={201: AssessmentOut})
def create_assessment(ref: str):
    """Assess the incident and record the decision: {"inputs", "decision" (optional), "rationale"}; 201."""
    db = get_session()
    incident = runtime.visible_incident(ref)
    data = body_as(AssessmentCreate)
    row = flows.record(session=db, incident=incident, inputs=data.inputs, decision=data.decision,
                       rationale=data.rationale, actor=runtime.actor(), now=time.now(),
                       settings=runtime.clock_settings())
    db.commit()
    return service.assessment_document(row), 201


@api_bp.get("/register")
@declare(Permission.incident_read)
@operation(tags=["assessment"], query=PeriodQuery, responses={200: RegisterOut})
def get_register():
    """The breach register (Art. 33(5)), filtered by awareness date: ?from=YYYY-MM-DD&to=YYYY-MM-DD."""
    query = parse_query(PeriodQuery)
    start, end = register_flow.parse_period(request.args.get("from"), request.args.get("to"))
    register = register_flow.breach_register(session=get_session(), start=start, end=end, viewer=runtime.viewer(),
                                             include_drills=query.drills in TRUE)
    return register_flow.register_document(register)
