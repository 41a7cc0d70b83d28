"""The customer's own report behind its acknowledgement link, and the page where staff get a calendar link."""

from __future__ import annotations

from datetime import timedelta

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlmodel import select

from app.auth import audit
from app.auth.models import ApiToken, User
from app.auth.security import client_ip
from app.auth.permissions import Permission, declare
from app.core import time
from app.core.errors import InputError, NotFound
from app.datamap.models import Controller
from app.db import get_session
from app.exports.options import ExportOptions, parse_options
from app.exports.views import CALENDAR_SCOPE, bp, timeline_response
from app.incidents.forms import CsrfForm
from app.incidents.models import Incident
from app.notifications.acks import ACKABLE, AckLinkProblem, by_uid, read_ack_token
from app.notifications.settings import flag

CALENDAR_TOKEN_DAYS = 365  # a subscription outlives a session; a year, then it must be renewed


def customer_exports_enabled() -> bool:
    """CUSTOMER_EXPORT_ENABLED: whether customers may download their report from the acknowledgement page."""
    return flag(current_app.config.get("CUSTOMER_EXPORT_ENABLED"))


@bp.get("/ack/<token>/report")
@declare(Permission.public)  # authenticated by the signed acknowledgement token, like the ack page itself
def customer_report(token: str):
    """The customer's own report for the notice the signed link names: ?format=html|pdf|json|csv&tz=<IANA>."""
    if not customer_exports_enabled():
        abort(404)
    db, now = get_session(), time.now()
    try:
        uid = read_ack_token(secret_key=current_app.config["SECRET_KEY"], token=token, now=now,
                             max_age_days=int(current_app.config.get("ACK_LINK_DAYS") or 30))
    except AckLinkProblem as exc:
        return render_template("exports/problem.html", problems=[str(exc)], incident=None), 410 if exc.expired else 404
    notification = by_uid(session=db, uid=uid)
    if notification is None or notification.controller_id is None or notification.status not in ACKABLE:
        abort(404)
    incident = db.get(Incident, notification.incident_id)
    controller = db.get(Controller, notification.controller_id)
    try:
        asked = parse_options(request.args, default_format="html")
    except InputError as exc:
        return render_template("exports/problem.html", problems=[str(p) for p in exc.problems], incident=None), 422
    # The customer chooses format and time zone only: scope and redaction follow from the link.
    options = ExportOptions(fmt=asked.fmt, tz=asked.tz, controller_key=controller.key, redact=True)
    try:
        return timeline_response(incident, options, actor=f"customer:{controller.key} (acknowledgement link)")
    except (InputError, NotFound) as exc:
        problems = [str(p) for p in exc.problems] if isinstance(exc, InputError) else [str(exc)]
        return render_template("exports/problem.html", problems=problems, incident=None), 422


def report_link(token: str) -> str | None:
    """The customer's report URL for an acknowledgement token, when customer exports are enabled."""
    return url_for("exports.customer_report", token=token) if customer_exports_enabled() else None


bp.add_app_template_global(report_link, "customer_report_link")


def _calendar_tokens(user_id: int) -> list[ApiToken]:
    now = time.now()
    rows = get_session().exec(select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
                              .order_by(ApiToken.created_at.desc())).all()
    return [t for t in rows if CALENDAR_SCOPE in t.scopes.split() and (t.expires_at is None or t.expires_at > now)]


@bp.get("/calendar")
@declare(Permission.incident_read)
def calendar_page():
    """How to subscribe to the deadlines calendar, with the signed-in user's calendar links."""
    return render_template("exports/calendar.html", tokens=_calendar_tokens(current_user.id), form=CsrfForm(),
                           new_url=None)


@bp.post("/calendar/tokens")
@declare(Permission.incident_read)
def create_calendar_token():
    """Create a calendar token for the signed-in user and show its feed URL once."""
    from app.auth.service import create_token

    if not CsrfForm().validate_on_submit():
        flash("The form expired; nothing was created. Try again.", "error")
        return redirect(url_for("exports.calendar_page"))
    db, now = get_session(), time.now()
    user = db.get(User, current_user.id)
    token, plaintext = create_token(session=db, user=user, now=now,
                                    name=request.form.get("name", "")[:200] or "calendar",
                                    expires_at=now + timedelta(days=CALENDAR_TOKEN_DAYS), scopes=CALENDAR_SCOPE)
    audit.record(session=db, action=audit.TOKEN_CREATED, now=now, actor=user.email, target=token.prefix,
                 ip=client_ip(), details={"user": user.email, "name": token.name, "scopes": CALENDAR_SCOPE})
    db.commit()
    url = url_for("exports.calendar_all", token=plaintext, _external=True)
    return render_template("exports/calendar.html", tokens=_calendar_tokens(current_user.id), form=CsrfForm(),
                           new_url=url, new_token=plaintext)


@bp.post("/calendar/tokens/revoke")
@declare(Permission.incident_read)
def revoke_calendar_token():
    """Revoke one of the signed-in user's calendar tokens (by its id)."""
    if not CsrfForm().validate_on_submit():
        flash("The form expired; nothing was revoked. Try again.", "error")
        return redirect(url_for("exports.calendar_page"))
    db = get_session()
    row = db.get(ApiToken, request.form.get("token_id", type=int) or 0)
    if row is None or row.user_id != current_user.id or CALENDAR_SCOPE not in row.scopes.split():
        abort(404)
    row.revoked_at = time.now()
    audit.record(session=db, action=audit.TOKEN_REVOKED, now=row.revoked_at, actor=current_user.email,
                 target=row.prefix, ip=client_ip(), details={"name": row.name, "scopes": row.scopes})
    db.commit()
    flash("Calendar link revoked: calendars using it stop updating.", "success")
    return redirect(url_for("exports.calendar_page"))
