"""Incident pages: dashboard, declare, the incident page, edits, status, scope, notes and obligations settled by hand."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from pydantic import ValidationError

from app import runtime
from app.auth.permissions import Permission, declare
from app.clock import obligation_documents
from app.core import time
from app.clock.models import ObligationMetIn, ObligationNotRequiredIn
from app.core.errors import Conflict, Forbidden, InputError, NotFound, Problem, messages_of
from app.core.pagination import PageRequest
from app.datamap.service import current_version
from app.db import get_session
from app.flows import dashboard
from app.flows import incident as flows
from app.flows import access as access_flows
from app.flows import obligations as obligation_flows
from app.incidents import access
from app.incidents import impact as impact_service
from app.incidents import service
from app.incidents.forms import CsrfForm, incident_fields, scope_fields
from app.incidents.models import (BreachType, IncidentCreate, IncidentStatus, IncidentUpdate, ScopeIn, Severity,
                                  StatusChange)
from app.timeline import service as timeline
from app.timeline.redaction import shown as shown_events  # issue 10: events redacted under retention

bp = Blueprint("incidents", __name__)

_incident = runtime.visible_incident_or_404
_problems = messages_of






@bp.get("/dashboard")
@declare(Permission.incident_read)
def dashboard_page():
    """Open incidents by nearest deadline, with live countdowns, a page at a time (issue 8: 10,000 open)."""
    from app.flows.pictures import STRIP_LANES, upcoming_deadlines

    try:
        page = PageRequest.parse(request.args, default_size=dashboard.PAGE_SIZE)
    except InputError as exc:
        abort(400, str(exc))
    now, db, viewer = time.now(), get_session(), runtime.viewer()
    found = dashboard.open_incidents(session=db, now=now, viewer=viewer, page=page)
    rows = found.items
    # The strip shows the incidents due soonest: on the first page those are the table's first rows.
    first = page.page == 1 and page.per_page >= STRIP_LANES
    nearest = {r.incident.id: (r.next_due, r.next_title) for r in rows if r.next_due} if first else None
    strip = upcoming_deadlines(session=db, now=now, viewer=viewer, nearest=nearest,
                               incidents={r.incident.id: r.incident for r in rows}) if found.total else []
    from app.notifications.acks import flags_for  # issue 4: failed / unacknowledged notices per incident
    notice_flags = flags_for(session=db, incident_ids=[r.incident.id for r in rows], now=now,
                             ack_after_hours=float(current_app.config.get("ACK_FLAG_AFTER_HOURS") or 24))
    return render_template("incidents/dashboard.html", rows=rows, page=found, strip_rows=strip, now=now,
                           notice_flags=notice_flags)


@bp.get("/incidents")
@declare(Permission.incident_read)
def incident_list():
    """Incidents newest first, a page at a time, filtered like the API list (status, type, open, text)."""
    args = request.args
    try:
        page = PageRequest.parse(args)
    except InputError as exc:
        abort(400, str(exc))
    status = args.get("status", "").strip()
    if status and status not in set(IncidentStatus):
        abort(400, f"status: unknown status {status!r}")
    filters = service.IncidentFilter(open_only=args.get("open") in {"1", "on", "true"}, status=status,
                                     incident_type=args.get("type", "").strip(), q=args.get("q", "").strip())
    found = service.search_incidents(session=get_session(), viewer=runtime.viewer(), filters=filters, page=page)
    return render_template("incidents/list.html", page=found, incidents=found.items, filters=filters,
                           statuses=list(IncidentStatus), types=sorted(runtime.incident_type_ids()),
                           filtered=any((filters.open_only, status, filters.incident_type, filters.q)))


@bp.route("/incidents/new", methods=["GET", "POST"])
@declare(Permission.incident_write)
def new_incident():
    """Declare an incident from the form."""
    form, problems = CsrfForm(), []
    if request.method == "POST" and form.validate_on_submit():
        db = get_session()
        try:
            data = IncidentCreate.model_validate({**incident_fields(request.form),
                                                  "scope": scope_fields(request.form)})
            incident = flows.declare(session=db, data=data, actor=runtime.actor(), now=time.now(),
                                     settings=runtime.clock_settings(), known_types=runtime.incident_type_ids(),
                                     incident_type_obj=runtime.incident_types().get(data.incident_type))
            db.commit()
        except (InputError, ValidationError) as exc:
            db.rollback()
            problems = _problems(exc)
        else:
            flash(f"{incident.ref} declared. Every applicable clock is running.", "success")
            return redirect(url_for("incidents.incident_page", ref=incident.ref))
    elif request.method == "POST":
        problems = ["The form expired; submit it again."]
    return render_template("incidents/new.html", form=form, problems=problems, values=request.form,
                           **_choices()), 422 if problems else 200


def _choices() -> dict:
    from app.datamap.models import System
    from sqlmodel import select

    db = get_session()
    return {"types": runtime.incident_types(), "breach_types": list(BreachType), "severities": list(Severity),
            "systems": db.exec(select(System).order_by(System.name)).all()}


@bp.get("/incidents/<ref>")
@declare(Permission.incident_read)
def incident_page(ref: str, problems: list[str] | None = None, submitted=None):
    """The incident: facts, scope, impact per controller, obligations with countdowns, timeline."""
    db, now = get_session(), time.now()
    incident = _incident(ref)
    snapshot = impact_service.latest_snapshot(session=db, incident_id=incident.id)
    impact = impact_service.impact_document(session=db, snapshot=snapshot) if snapshot else None
    obligations = obligation_documents.list_obligations(session=db, incident_id=incident.id)
    check = timeline.verify_incident(session=db, incident_id=incident.id)
    return render_template("incidents/incident.html", incident=incident, now=now, impact=impact,
                           obligations=obligations, scope=service.get_scope(session=db, incident_id=incident.id),
                           events=shown_events(session=db, incident_id=incident.id,  # issue 10: retention marks
                                               events=timeline.events(session=db, incident_id=incident.id)), chain=check,
                           form=CsrfForm(), statuses=service.TRANSITIONS[incident.status],
                           map_version=current_version(session=db), problems=problems or [],
                           submitted=submitted, members=access.members(session=db, incident_id=incident.id),
                           **_choices())


@bp.post("/incidents/<ref>/edit")
@declare(Permission.incident_write)
def edit_incident(ref: str):
    """Save an edit made from a known version; a stale one is refused with a clear message."""
    return _act(ref, lambda db, incident: flows.edit(
        session=db, incident=incident, now=time.now(), actor=runtime.actor(), settings=runtime.clock_settings(),
        data=IncidentUpdate.model_validate({**incident_fields(request.form, for_update=True),
                                            "version": request.form.get("version", type=int)})), "Saved.")


@bp.post("/incidents/<ref>/status")
@declare(Permission.incident_write)
def change_status(ref: str):
    """Move the incident in its workflow."""
    return _act(ref, lambda db, incident: flows.change_status(
        session=db, incident=incident, now=time.now(), actor=runtime.actor(), settings=runtime.clock_settings(),
        change=StatusChange(status=request.form.get("status", ""), rationale=request.form.get("rationale", ""),
                            version=request.form.get("version", type=int))), "Status changed.")


@bp.post("/incidents/<ref>/scope")
@declare(Permission.incident_write)
def set_scope(ref: str):
    """Replace the scope and recompute impact and obligations."""
    return _act(ref, lambda db, incident: flows.set_scope(
        session=db, incident=incident, now=time.now(), actor=runtime.actor(), settings=runtime.clock_settings(),
        scope=ScopeIn.model_validate(scope_fields(request.form)),
        expected_version=request.form.get("version", type=int)), "Scope saved; impact and deadlines recomputed.")


@bp.post("/incidents/<ref>/notes")
@declare(Permission.incident_write)
def add_note(ref: str):
    """Add a manual timeline entry."""
    from app.incidents.forms import local_datetime

    def _note(db, incident):
        problems: list[Problem] = []
        occurred = local_datetime(request.form, "occurred_at", problems)
        if problems:
            raise InputError(problems)
        note = runtime.parse_note({"summary": request.form.get("summary", ""),
                                   **({"occurred_at": occurred} if occurred else {})})
        flows.add_note(session=db, incident=incident, text=note.summary, occurred_at=note.occurred_at,
                       actor=runtime.actor(), now=time.now())

    return _act(ref, _note, "Added to the timeline.")


def _obligation(db, incident, obligation_id: int):
    try:
        return obligation_flows.get(session=db, incident=incident, obligation_id=obligation_id)
    except NotFound:
        abort(404)


@bp.post("/incidents/<ref>/obligations/<int:obligation_id>/met")
@declare(Permission.incident_write)
def obligation_met(ref: str, obligation_id: int):
    """Record an obligation met by a notice sent outside Breachline; after its deadline with the reasons for the delay."""
    from app.incidents.forms import local_datetime

    def _met(db, incident):
        problems: list[Problem] = []
        met_at = local_datetime(request.form, "met_at", problems)
        if problems or met_at is None:
            raise InputError(problems or [Problem("give the time the obligation was met", field="met_at")])
        data = ObligationMetIn.model_validate({"met_at": met_at, "delay_reasons": request.form.get("delay_reasons", "")})
        obligation_flows.mark_met(session=db, incident=incident, obligation=_obligation(db, incident, obligation_id),
                                  data=data, actor=runtime.actor(), now=time.now(), settings=runtime.clock_settings())

    return _act(ref, _met, "Obligation recorded as met.")


@bp.post("/incidents/<ref>/obligations/<int:obligation_id>/not-required")
@declare(Permission.obligation_decide)
def obligation_not_required(ref: str, obligation_id: int):
    """Rule an obligation not required, with the rationale (leads and admins)."""
    return _act(ref, lambda db, incident: obligation_flows.mark_not_required(
        session=db, incident=incident, obligation=_obligation(db, incident, obligation_id), actor=runtime.actor(),
        now=time.now(), data=ObligationNotRequiredIn.model_validate({"rationale": request.form.get("rationale", "")})),
        "Obligation ruled not required; its clock and reminders stopped.")


@bp.post("/incidents/<ref>/restriction")
@declare(Permission.incident_restrict)
def set_restriction(ref: str):
    """Make the incident need-to-know (members and admins only), or visible to all staff again."""
    wanted = request.form.get("restricted", "")

    def _set(db, incident):
        if wanted not in {"on", "off"}:
            raise InputError(Problem("choose on or off", field="restricted"))
        access_flows.set_restricted(session=db, incident=incident, restricted=wanted == "on", actor=runtime.actor(),
                                    now=time.now(), expected_version=request.form.get("version", type=int))

    return _act(ref, _set, "Restricted: only members and admins can see it." if wanted == "on"
                else "Every staff member can see this incident again.")


@bp.post("/incidents/<ref>/members")
@declare(Permission.incident_restrict)
def add_member(ref: str):
    """Let one more person see a restricted incident."""
    return _act(ref, lambda db, incident: access_flows.add_member(
        session=db, incident=incident, email=request.form.get("email", ""), actor=runtime.actor(), now=time.now()),
        "Member added.")


@bp.post("/incidents/<ref>/members/<int:user_id>/remove")
@declare(Permission.incident_restrict)
def remove_member(ref: str, user_id: int):
    """Take a person off the incident's members."""
    def _remove(db, incident):
        try:
            access_flows.remove_member(session=db, incident=incident, user_id=user_id, actor=runtime.actor(),
                                       now=time.now())
        except NotFound as exc:
            raise InputError(Problem(str(exc), field="user_id")) from None

    return _act(ref, _remove, "Member removed.")


def _act(ref: str, action, success: str):
    """Run one state change for the incident page: commit once, or show what was wrong and change nothing."""
    form = CsrfForm()
    if not form.validate_on_submit():
        flash("The form expired; nothing was saved. Submit it again.", "error")
        return redirect(url_for("incidents.incident_page", ref=ref))
    db = get_session()
    incident = _incident(ref)
    try:
        action(db, incident)
        db.commit()
    except (InputError, ValidationError, Conflict, Forbidden) as exc:
        # Show the page again with what the user typed, so a refused edit is not lost.
        db.rollback()
        db.expire_all()
        status = 409 if isinstance(exc, Conflict) else 403 if isinstance(exc, Forbidden) else 422
        return incident_page(ref, problems=_problems(exc), submitted=request.form), status
    flash(success, "success")
    return redirect(url_for("incidents.incident_page", ref=ref))
