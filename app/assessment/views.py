"""Assessment pages: the incident's risk assessment with decision and history, and the breach register."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from pydantic import ValidationError

from app import runtime
from app.assessment import service
from app.assessment.forms import FIELDS, assessment_fields, decision_fields
from app.assessment.models import DecisionIn
from app.assessment.recommend import AssessmentInput, assess
from app.auth.permissions import Permission, declare
from app.core import time
from app.core.errors import InputError, messages_of
from app.db import get_session
from app.flows import assessment as flows
from app.flows import register as register_flow
from app.incidents.forms import CsrfForm

bp = Blueprint("assessment", __name__)

_incident = runtime.visible_incident_or_404
_problems = messages_of






def _hints(incident) -> tuple[dict[str, list[str]], list[str], object]:
    """The incident type's assessment hints by form field, the general ones, and the type itself."""
    kind = runtime.incident_types().get(incident.incident_type)
    by_field, general = flows.hints_of(kind)
    return by_field, general, kind


def _page(incident, *, values: dict, sources: dict, decision: dict | None = None, rationale: str = "",
          problems: list[str] | None = None, status: int = 200):
    """Render the assessment page; the recommendation is computed live from the values shown."""
    result, incomplete = None, []
    try:
        result = assess(AssessmentInput.model_validate(values))
    except (ValidationError, ValueError) as exc:
        incomplete = _problems(exc)
    hints, general, kind = _hints(incident)
    db = get_session()
    return render_template("assessment/assessment.html", incident=incident, values=values, sources=sources,
                           fields=FIELDS, result=result, enisa=service.enisa_document(result) if result else None,
                           incomplete=incomplete, hints=hints, general_hints=general, incident_type=kind,
                           decision=decision or {}, rationale=rationale, problems=problems or [],
                           history=service.history(session=db, incident_id=incident.id), form=CsrfForm(),
                           now=time.now()), status


@bp.get("/incidents/<ref>/assessment")
@declare(Permission.incident_read)
def assessment_page(ref: str):
    """The assessment form prefilled from the incident and its impact, the live recommendation and the history."""
    incident = _incident(ref)
    form = flows.new_form(session=get_session(), incident=incident,
                          incident_type=runtime.incident_types().get(incident.incident_type))
    return _page(incident, values=form.values, sources=form.sources)


@bp.post("/incidents/<ref>/assessment/preview")
@declare(Permission.incident_read)
def preview_assessment(ref: str):
    """Recompute the recommendation for the facts in the form without recording anything."""
    incident = _incident(ref)
    decision, rationale = decision_fields(request.form)
    return _page(incident, values=assessment_fields(request.form), sources={}, decision=decision, rationale=rationale)


@bp.post("/incidents/<ref>/assessment")
@declare(Permission.assessment_decide)
def record_assessment(ref: str):
    """Record the assessment and the lead's decision; an override needs a written rationale."""
    incident = _incident(ref)
    values = assessment_fields(request.form)
    decision, rationale = decision_fields(request.form)
    if not CsrfForm().validate_on_submit():
        return _page(incident, values=values, sources={}, decision=decision, rationale=rationale,
                     problems=["The form expired; nothing was recorded. Submit it again."], status=400)
    db = get_session()
    try:
        row = flows.record(session=db, incident=incident, inputs=AssessmentInput.model_validate(values),
                           decision=DecisionIn.model_validate(decision), rationale=rationale,
                           actor=runtime.actor(), now=time.now(), settings=runtime.clock_settings())
        db.commit()
    except (InputError, ValidationError, ValueError) as exc:
        db.rollback()
        return _page(incident, values=values, sources={}, decision=decision, rationale=rationale,
                     problems=_problems(exc), status=422)
    flash(f"Assessment #{row.seq} recorded: notify SA {'yes' if row.decision_notify_sa else 'no'}, "
          f"tell data subjects {'yes' if row.decision_communicate else 'no'}. The GDPR obligations follow it.",
          "success")
    return redirect(url_for("assessment.assessment_page", ref=incident.ref))


@bp.get("/register")
@declare(Permission.incident_read)
def register_page():
    """The breach register (Art. 33(5)): every breach with its decision and rationale, by period."""
    problems: list[str] = []
    try:
        start, end = register_flow.parse_period(request.args.get("from"), request.args.get("to"))
    except InputError as exc:
        problems, start, end = _problems(exc), None, None
    include_drills = request.args.get("drills") in {"1", "on", "true"}
    # A bad filter shows no rows rather than the unfiltered register, which could pass for the period.
    register = None if problems else register_flow.breach_register(session=get_session(), start=start, end=end,
                                                                    include_drills=include_drills,
                                                                    viewer=runtime.viewer())
    return render_template("assessment/register.html", register=register, problems=problems,
                           include_drills=include_drills, args=request.args), 422 if problems else 200


@bp.app_template_global("latest_assessment")
def _latest_assessment(incident):
    """The incident's latest assessment, for the summary on the incident page."""
    return service.latest(session=get_session(), incident_id=incident.id)
