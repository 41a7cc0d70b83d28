"""Notification pages: the bulk review page, one notification, the confirmation step, and the public ack page."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from pydantic import ValidationError

from app import runtime
from app.auth.permissions import Permission, declare
from app.core import time
from app.core.errors import Conflict, Forbidden, InputError, NotFound, Problem, messages_of
from app.db import get_session
from app.flows import notifications as flows
from app.incidents import access
from app.incidents.forms import CsrfForm, local_datetime
from app.incidents.models import Incident
from app.notifications import acks, approval
from app.notifications.documents import notification_document
from app.notifications.models import AckIn, NoticeFactsIn, NotificationEdit, NotificationStatus
from app.notifications.settings import NoticeSettings

bp = Blueprint("notifications", __name__)

_incident = runtime.visible_incident_or_404
def _problems(exc: Exception) -> str:
    return "; ".join(messages_of(exc))
PAGES = "notifications/pages/"


def _settings() -> NoticeSettings:
    return NoticeSettings.from_config(current_app.config, regimes=runtime.regimes())




def _notification(notification_id: int):
    try:
        notification = flows.get(session=get_session(), notification_id=notification_id)
        access.get_visible_by_id(session=get_session(), incident_id=notification.incident_id,
                                 viewer=runtime.viewer())
        return notification
    except NotFound:
        abort(404)




def _commit_or_flash(action, success: str) -> bool:
    """Run one change and commit; on a user error roll back, flash what was wrong, change nothing."""
    db = get_session()
    if not CsrfForm().validate_on_submit():
        flash("The form expired; nothing was saved. Submit it again.", "error")
        return False
    try:
        action(db)
        db.commit()
    except (InputError, ValidationError, Conflict, Forbidden) as exc:
        db.rollback()
        flash(f"Nothing was saved: {_problems(exc)}", "error")
        return False
    if success:
        flash(success, "success")
    return True


@bp.get("/incidents/<ref>/notifications")
@declare(Permission.incident_read)
def review(ref: str):
    """Every notification of the incident: filter, select all, approve selected; flags for failures and acks."""
    incident = _incident(ref)
    status, channel = request.args.get("status") or None, request.args.get("channel") or None
    page = flows.review_page(session=get_session(), incident=incident, status=status, channel=channel, now=time.now(),
                             settings=_settings())
    return render_template(PAGES + "review.html", incident=incident, page=page, items=page.items,
                           channels=page.channels, controllers=page.controllers, acked=page.acked, stale=page.stale,
                           flags=page.flags, counts=page.counts, facts=page.facts, status=status, channel=channel,
                           statuses=list(NotificationStatus), form=CsrfForm())


@bp.post("/incidents/<ref>/notifications/draft")
@declare(Permission.notification_draft)
def draft(ref: str):
    """Draft (or refresh) a notice for every affected customer and our own duties."""
    incident = _incident(ref)
    phase = "final" if request.form.get("phase") == "final" else None
    outcomes = []

    def _draft(db):
        outcomes.extend(flows.draft(session=db, incident=incident, actor=runtime.actor(), now=time.now(),
                                    settings=_settings(), phase=phase))

    if _commit_or_flash(_draft, ""):
        tally = {}
        for o in outcomes:
            tally[o.action] = tally.get(o.action, 0) + 1
        text = ", ".join(f"{n} {action.replace('_', ' ')}" for action, n in sorted(tally.items())) or "nothing to draft"
        flash(f"Drafting done: {text}.", "success")
    return redirect(url_for("notifications.review", ref=incident.ref))


@bp.post("/incidents/<ref>/notifications/facts")
@declare(Permission.notification_draft)
def save_facts(ref: str):
    """Save the facts every notice shares; draft again to put them into the drafts."""
    incident = _incident(ref)
    form = request.form
    _commit_or_flash(lambda db: flows.save_facts(
        session=db, incident=incident, actor=runtime.actor(), now=time.now(),
        data=NoticeFactsIn.model_validate({**{k: form.get(k, "") for k in NoticeFactsIn.model_fields if k != "version"},
                                           "version": form.get("version", type=int) or None})),
        "Notice facts saved. Draft again to bring them into the drafts.")
    return redirect(url_for("notifications.review", ref=incident.ref))


def _selection(incident) -> dict[int, int | None]:
    """The selected notifications (id -> version reviewed), or every draft in the filter for "select all"."""
    if request.form.get("scope") == "all":
        return flows.draft_selection(session=get_session(), incident=incident,
                                     channel=request.form.get("channel") or None)
    selection: dict[int, int | None] = {}
    for raw in request.form.getlist("ids"):
        head, _, version = raw.partition(":")
        if head.isdigit():
            selection[int(head)] = int(version) if version.isdigit() else None
    return selection


@bp.post("/incidents/<ref>/notifications/approve")
@declare(Permission.notification_approve)
def approve_selected(ref: str):
    """Step 1 shows "send to N customers" for confirmation; step 2 (confirm=yes) approves and queues them."""
    incident, db = _incident(ref), get_session()
    selection = _selection(incident)
    if not selection:
        flash("Select at least one draft to approve.", "error")
        return redirect(url_for("notifications.review", ref=incident.ref))
    if request.form.get("confirm") != "yes":
        step = flows.confirmation(session=db, incident=incident, selection=selection, now=time.now())
        return render_template(PAGES + "confirm.html", incident=incident, items=step.items, selection=selection,
                               controllers=step.controllers, late=step.late, customers=step.customers,
                               form=CsrfForm())
    result = []

    def _approve(db):
        reasons = request.form.get("reasons_for_delay", "")
        result.append(flows.approve_many(session=db, incident=incident, selection=selection,
                                         reasons={i: reasons for i in selection}, actor=runtime.actor(),
                                         now=time.now(), settings=_settings()))

    if _commit_or_flash(_approve, ""):
        done = result[0]
        if done.approved:
            flash(f"Approved {len(done.approved)} notification(s); the dispatcher delivers them.", "success")
        for notification_id, why in done.refused[:20]:
            flash(f"#{notification_id} not approved: {why}", "error")
    return redirect(url_for("notifications.review", ref=incident.ref))


@bp.get("/notifications/<int:notification_id>")
@declare(Permission.incident_read)
def detail(notification_id: int):
    """One notification: content, versions, outbox, attempts, acknowledgement, and its actions."""
    db = get_session()
    notification = _notification(notification_id)
    incident = db.get(Incident, notification.incident_id)
    return render_template(PAGES + "detail.html", n=notification, doc=notification_document(db, notification, mail_from=current_app.config.get("MAIL_FROM")),
                           incident=incident, who=flows.recipient_label(db, notification), form=CsrfForm(),
                           manual=notification.kind in approval.MANUAL_KINDS)


@bp.post("/notifications/<int:notification_id>/edit")
@declare(Permission.notification_draft)
def edit(notification_id: int):
    """Save an edit of a draft as a new version."""
    notification = _notification(notification_id)
    form = request.form
    _commit_or_flash(lambda db: flows.edit(
        session=db, notification=notification, actor=runtime.actor(), now=time.now(),
        data=NotificationEdit.model_validate({"version": form.get("version", type=int) or 0,
                                              "subject": form.get("subject") or None, "text": form.get("text") or None,
                                              "html": form.get("html") if "html" in form else None,
                                              "note": form.get("note", "")})), "Saved as a new version.")
    return redirect(url_for("notifications.detail", notification_id=notification.id))


@bp.post("/notifications/<int:notification_id>/cancel")
@declare(Permission.notification_draft)
def cancel_notification(notification_id: int):
    """Cancel before delivery, with a reason."""
    notification = _notification(notification_id)
    _commit_or_flash(lambda db: flows.cancel(session=db, notification=notification, actor=runtime.actor(),
                                             now=time.now(), settings=_settings(),
                                             reason=request.form.get("reason", "")), "Cancelled.")
    return redirect(url_for("notifications.detail", notification_id=notification.id))


@bp.post("/notifications/<int:notification_id>/filed")
@declare(Permission.notification_approve)
def filed(notification_id: int):
    """Record an approved authority report or data-subject letter as filed outside Breachline."""
    notification = _notification(notification_id)

    def _filed(db):
        problems: list[Problem] = []
        at = local_datetime(request.form, "filed_at", problems)
        if problems or at is None:
            raise InputError(problems or [Problem("give the time it was filed", field="filed_at")])
        flows.record_filed(session=db, notification=notification, filed_at=at, actor=runtime.actor(), now=time.now(),
                           reference=request.form.get("reference", ""))

    _commit_or_flash(_filed, "Recorded as filed; the obligation is met.")
    return redirect(url_for("notifications.detail", notification_id=notification.id))


def _ack_target(token: str):
    """(notification, problem text, HTTP status) for an acknowledgement token."""
    settings = _settings()
    try:
        uid = acks.read_ack_token(secret_key=settings.secret_key, token=token, now=time.now(),
                                  max_age_days=settings.ack_link_days)
    except acks.AckLinkProblem as exc:
        return None, str(exc), 410 if exc.expired else 400
    notification = acks.by_uid(session=get_session(), uid=uid)
    if notification is None or notification.status not in acks.ACKABLE:
        return None, "this acknowledgement link is not valid", 400
    return notification, "", 200


@bp.get("/ack/<token>")
@declare(Permission.public)
def ack_page(token: str):
    """The customer's minimal page to confirm receipt of a notice (no sign-in)."""
    notification, problem, status = _ack_target(token)
    if notification is None:
        return render_template(PAGES + "ack.html", problem=problem, form=CsrfForm()), status
    db = get_session()
    return render_template(PAGES + "ack.html", n=notification, who=flows.recipient_label(db, notification),
                           incident=db.get(Incident, notification.incident_id), token=token,
                           ack=acks.acknowledgement_of(session=db, notification_id=notification.id), form=CsrfForm())


@bp.post("/ack/<token>")
@declare(Permission.public)
def ack_confirm(token: str):
    """Record the confirmation of receipt (once), with an optional contact."""
    notification, problem, status = _ack_target(token)
    if notification is None:
        return render_template(PAGES + "ack.html", problem=problem, form=CsrfForm()), status
    db = get_session()
    try:
        data = AckIn.model_validate({"contact_name": request.form.get("contact_name", ""),
                                     "contact": request.form.get("contact", "")})
        flows.acknowledge(session=db, token=token, data=data, now=time.now(), settings=_settings())
        db.commit()
    except (ValidationError, Conflict, acks.AckLinkProblem) as exc:
        db.rollback()
        return render_template(PAGES + "ack.html", problem=_problems(exc), form=CsrfForm()), 400
    return redirect(url_for("notifications.ack_page", token=token))
