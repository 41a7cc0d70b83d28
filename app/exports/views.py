"""Export routes: timelines and reports per incident, the register, the deadlines calendar, the customer's report.

Timelines stream (JSON, CSV, HTML) so memory does not grow with the number of events; the PDF is
rendered whole and is therefore capped at EXPORT_PDF_MAX_EVENTS events.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, abort, current_app, render_template, request, stream_with_context
from flask import stream_template

from app import runtime
from app.auth.models import Role
from app.auth.permissions import Permission, declare, permissions_of
from app.core import time
from app.core.errors import Forbidden, InputError, NotFound, Problem
from app.db import get_session
from app.exports import csv_export, json_export, metrics as metrics_service
from app.exports import register_export as register_doc
from app.exports.ics import calendar_feed, feed_incidents
from app.exports.options import COMMON_ZONES, ExportOptions, parse_options
from app.exports.pdf import html_to_pdf
from app.exports.report import count_events, report_context
from app.exports.scoping import build_scope
from app.flows import register as register_flow
from app.incidents import access

bp = Blueprint("exports", __name__)
MIMETYPES = {"json": "application/json", "csv": "text/csv; charset=utf-8", "html": "text/html; charset=utf-8",
             "pdf": "application/pdf"}
CALENDAR_SCOPE = "calendar"  # an API token with only this scope opens the calendar feed and nothing else


def redact_patterns() -> list[str]:
    """REDACT_PATTERNS from the configuration (a list, or JSON text from the environment), checked to compile."""
    raw = current_app.config.get("REDACT_PATTERNS") or []
    patterns = [raw] if isinstance(raw, str) else list(raw)
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"REDACT_PATTERNS: {pattern!r} is not a valid regular expression: {exc}") from None
    return patterns


def _filename(ref: str, options: ExportOptions, fmt: str) -> str:
    suffix = f"-{options.controller_key}" if options.controller_key else ""
    return re.sub(r"[^A-Za-z0-9._-]", "_", f"{ref}-timeline{suffix}.{fmt}")


def check_redaction_choice(options: ExportOptions, role: str) -> None:
    """Turning redaction off for a customer's export is a lead's decision."""
    if options.per_customer and options.redact is False and not Role(role).at_least(Role.lead):
        raise Forbidden("only a lead may turn redaction off for a customer's export (redact=0)")


def _audit(action: str, actor: str, target: str, details: dict) -> None:
    from app.auth import audit
    from app.auth.security import client_ip

    db = get_session()
    audit.record(session=db, action=audit.EXPORT_PREFIX + action, now=time.now(), actor=actor, target=target,
                 ip=client_ip(), details=details)
    db.commit()  # before streaming starts: the export is on record even if the download is cut


def timeline_response(incident, options: ExportOptions, *, actor: str, download: bool = True) -> Response:
    """The incident's timeline export in the requested format, streamed where the format allows."""
    db, now = get_session(), time.now()
    scope = build_scope(session=db, incident=incident, options=options, redact_patterns=redact_patterns())
    _audit("timeline", actor, incident.ref, {"format": options.fmt, "tz": options.tz,
                                             "controller": options.controller_key,
                                             "redacted": scope.redactor is not None})
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
    if download or options.fmt in ("json", "csv"):
        disposition = "attachment" if options.fmt in ("json", "csv") else "inline"
        headers["Content-Disposition"] = f'{disposition}; filename="{_filename(incident.ref, options, options.fmt)}"'
    if options.fmt == "json":
        body = json_export.generate(session=db, scope=scope, now=now)
    elif options.fmt == "csv":
        body = csv_export.generate(session=db, scope=scope, now=now)
    elif options.fmt == "html":
        # A report with no scripts or outside resources; the policy makes sure nothing injected could run.
        headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
        body = stream_template("exports/report.html", **report_context(session=db, scope=scope, now=now))
        return Response(body, mimetype="text/html", headers=headers)
    else:
        limit = int(current_app.config.get("EXPORT_PDF_MAX_EVENTS", 5000))
        events = count_events(session=db, scope=scope)
        if events > limit:
            raise InputError(Problem(f"the timeline has {events} events and a PDF holds at most {limit} "
                                     "(EXPORT_PDF_MAX_EVENTS): use format=html, csv or json", field="format"))
        html = render_template("exports/report.html", **report_context(session=db, scope=scope, now=now))
        return Response(html_to_pdf(html), mimetype="application/pdf", headers=headers)
    return Response(stream_with_context(body), mimetype=MIMETYPES[options.fmt].split(";")[0], headers=headers)


def _viewer_role() -> str:
    viewer = runtime.viewer()
    return str(viewer.role) if viewer is not None else str(Role.viewer)


@bp.get("/incidents/<ref>/export")
@declare(Permission.incident_read)
def incident_export(ref: str):
    """The incident's timeline or report: ?format=json|csv|html|pdf&tz=<IANA>&controller=<key>&redact=0|1."""
    incident = runtime.visible_incident_or_404(ref)
    try:
        options = parse_options(request.args, default_format="html")
        check_redaction_choice(options, _viewer_role())
        return timeline_response(incident, options, actor=runtime.actor().name,
                                 download=request.args.get("download") == "1")
    except InputError as exc:
        return render_template("exports/problem.html", problems=[str(p) for p in exc.problems], incident=incident), 422
    except Forbidden as exc:
        return render_template("exports/problem.html", problems=[str(exc)], incident=incident), 403
    except NotFound as exc:
        return render_template("exports/problem.html", problems=[str(exc)], incident=incident), 404


def register_for_request():
    """The register for ?from=&to=&drills= as the viewer may see it (InputError names a bad field)."""
    start, end = register_flow.parse_period(request.args.get("from"), request.args.get("to"))
    return register_flow.breach_register(session=get_session(), start=start, end=end, viewer=runtime.viewer(),
                                         include_drills=request.args.get("drills") in {"1", "on", "true"})


def register_response(fmt: str) -> Response:
    """The register for the request's period as CSV (streamed) or PDF."""
    db, now = get_session(), time.now()
    register = register_for_request()
    if fmt in ("csv", "pdf"):
        _audit("register", runtime.actor().name, "register", {"format": fmt, "from": request.args.get("from"),
                                                              "to": request.args.get("to")})
    name = f"breach-register-{register.start or 'start'}-{register.end or now.date()}"
    if fmt == "csv":
        return Response(stream_with_context(register_doc.generate_csv(session=db, register=register)),
                        mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    if fmt != "pdf":
        raise InputError(Problem(f"unknown format {fmt!r}: use csv or pdf", field="format"))
    metrics = metrics_service.register_metrics(session=db, register=register, now=now)
    html = render_template("exports/register.html", **register_doc.register_report_context(
        session=db, register=register, metrics=metrics, now=now))
    return Response(html_to_pdf(html), mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}.pdf"'})


@bp.get("/register/export")
@declare(Permission.incident_read)
def register_export():
    """The breach register as ?format=csv|pdf for ?from=&to=&drills=."""
    try:
        return register_response(request.args.get("format", "csv"))
    except InputError as exc:
        return render_template("exports/problem.html", problems=[str(p) for p in exc.problems], incident=None), 422


@bp.app_template_global("register_metrics")
def _register_metrics(register):
    """The period's key figures, for the register page."""
    return metrics_service.register_metrics(session=get_session(), register=register, now=time.now())


@bp.app_context_processor
def _export_choices() -> dict:
    return {"export_zones": COMMON_ZONES}


def calendar_user(token: str):
    """The active user behind a live calendar token, or None (unknown, revoked, expired, or not a calendar token)."""
    from app.auth.service import user_for_token

    db = get_session()
    found = user_for_token(session=db, token=token, now=time.now())
    if found is None:
        return None
    user, row = found
    if CALENDAR_SCOPE not in row.scopes.split() or Permission.incident_read not in permissions_of(user.role):
        return None
    db.commit()  # keep last_used_at: it tells which subscriptions are still polled
    return user


def ics_response(body: bytes) -> Response:
    """An iCalendar response that caches nowhere (the URL carries a credential)."""
    return Response(body, mimetype="text/calendar",
                    headers={"Content-Disposition": 'inline; filename="breachline-deadlines.ics"',
                             "Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"})


@bp.get("/calendar/<token>.ics")
@declare(Permission.public)  # authenticated by the calendar token in the URL: calendar apps send no headers
def calendar_all(token: str):
    """Open deadlines of every open incident the token's user may see, as iCalendar."""
    user = calendar_user(token)
    if user is None:
        abort(404)
    incidents = feed_incidents(session=get_session(), viewer=user)
    return ics_response(calendar_feed(session=get_session(), incidents=incidents, now=time.now(),
                              base_url=current_app.config.get("PUBLIC_BASE_URL") or request.host_url))


@bp.get("/calendar/<token>/<ref>.ics")
@declare(Permission.public)  # authenticated by the calendar token in the URL
def calendar_incident(token: str, ref: str):
    """Open deadlines of one incident, as iCalendar."""
    user = calendar_user(token)
    if user is None:
        abort(404)
    try:
        incident = access.get_visible_by_ref(session=get_session(), ref=ref, viewer=user)
    except NotFound:
        abort(404)
    return ics_response(calendar_feed(session=get_session(), incidents=[incident], now=time.now(),
                              base_url=current_app.config.get("PUBLIC_BASE_URL") or request.host_url,
                              name=f"Breachline deadlines {incident.ref}"))


from app.exports import customer_views  # noqa: E402,F401  (the customer's report and the calendar page)
