"""Site-wide pages: the home page and error pages."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from app.auth.permissions import Permission, declare, permissions_of
from app.core.display import format_duration, format_time, urgency
from app.core.nul import first_nul

bp = Blueprint("web", __name__)


@bp.get("/")
@declare(Permission.incident_read)
def index():
    """Home: the dashboard."""
    return redirect(url_for("incidents.dashboard_page"))


@bp.get("/healthz")
@declare(Permission.public)
def healthz():
    """Liveness probe for load balancers."""
    return {"status": "ok"}


@bp.before_app_request
def _refuse_nul_characters():
    """Refuse input holding a NUL character (PostgreSQL text cannot store one) before any view sees it."""
    fields = [*request.args.items(multi=True), *request.form.items(multi=True)]
    where = next((name for name, value in fields if "\x00" in f"{name}{value}"), None)
    if where is None and request.is_json:
        where = first_nul(request.get_json(silent=True))
    if where is None and request.mimetype.startswith(("text/", "application/yaml", "application/x-yaml")):
        where = "body" if b"\x00" in request.get_data(cache=True) else None
    if where is None:
        return None
    reason = "text may not contain NUL (\\u0000) characters"
    if request.path.startswith("/api/"):
        from app.core.errors import Problem
        from app.core.problems import problem

        return problem(422, "Unprocessable Content", "the request has invalid fields",
                       errors=[Problem(reason, field=where)])
    abort(400, description=f"{where}: {reason}; nothing was saved")


# Main navigation, in order; domain blueprints add their own entries when they register.
NAV_ITEMS: list[tuple[str, str]] = [
    ("incidents.dashboard_page", "Dashboard"),
    ("incidents.incident_list", "Incidents"),
    ("datamap.controllers", "Customers"),
    ("datamap.systems", "Systems"),
    ("datamap.taxonomy_page", "Taxonomy"),
    ("datamap.versions", "Map versions"),
    ("assessment.register_page", "Breach register"),
    ("auth.audit_log", "Audit log"),
]


@bp.app_context_processor
def _navigation() -> dict:
    # Only entries the signed-in user may open: a viewer is not shown the admins' audit log.
    from app.auth.security import view_permission

    if not current_user.is_authenticated:
        return {"nav_items": []}
    granted = permissions_of(current_user.role)
    return {"nav_items": [(endpoint, label) for endpoint, label in NAV_ITEMS if view_permission(endpoint) in granted]}


_MESSAGES = {
    404: "There is nothing at this address, or it is not visible to you.",
    405: "This address does not accept that kind of request.",
    500: "Something went wrong on our side and the error was logged for the administrators. If you were saving "
         "something, reload the page to see whether it was saved before trying again.",
}


def error_page(exc: HTTPException):
    """A friendly error page for the browser (the API answers problem+json instead); never shows internals."""
    code = exc.code or 500
    if code == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
        size = f"{limit / 1048576:g} MB" if limit >= 1048576 else f"{limit / 1024:g} KB"
        message = (f"What you sent is larger than the limit of {size}. Nothing was saved; "
                   "split the upload or ask an admin to raise MAX_CONTENT_LENGTH.")
    elif code >= 500 or code in _MESSAGES:
        message = _MESSAGES.get(code, _MESSAGES[500])
    else:
        message = exc.description or ""
    return render_template("errors/error.html", code=code, title=exc.name, message=message), code


@bp.app_template_filter("when")
def _when(value, tz: str = "UTC") -> str:
    return format_time(value, tz)


@bp.app_template_filter("utc")
def _utc(value) -> str:
    return format_time(value, "UTC")


@bp.app_template_global("countdown")
def _countdown(due, now) -> dict:
    """Text and urgency of a deadline relative to now, for server-rendered countdowns."""
    if due is None:
        return {"text": "no fixed deadline", "urgency": "none"}
    delta = due - now
    text = ("in " if delta.total_seconds() >= 0 else "overdue by ") + format_duration(delta)
    return {"text": text, "urgency": urgency(due, now)}


@bp.app_template_global("incident_chart")
def _incident_chart(incident, now):
    """The incident time chart (SVG) and how many customer rows it leaves out."""
    from app.core.svg import time_chart
    from app.db import get_session
    from app.flows.pictures import incident_chart

    data = incident_chart(session=get_session(), incident=incident, now=now)
    description = (f"{len(data.lanes)} rows: the incident's events, its deadlines by recipient"
                   + (f", and deliveries and acknowledgements for {data.customers_shown} customer(s)"
                      if data.customers_shown else "") + ". The tables below hold the same facts.")
    svg = time_chart(title=f"Timeline of {incident.ref}: events, deadlines, deliveries", description=description,
                     lanes=data.lanes, now=now)
    return {"svg": svg, "hidden": data.customers_hidden, "shown": data.customers_shown}


@bp.app_template_global("impact_charts")
def _impact_charts(impact):
    """Bar charts of affected customers by data category and by jurisdiction."""
    from app.flows.pictures import breakdown

    totals = (impact or {}).get("totals") or {}
    charts = []
    for key, title in (("by_data_category", "Customers by data category"),
                       ("by_jurisdiction", "Customers by jurisdiction")):
        rows = breakdown(totals, key)
        if rows:
            charts.append({"title": title, "svg": _bars(title, rows)})
    return charts


def _bars(title: str, rows):
    # The same chart code as the exported reports (issue 6), so the page and the PDF agree.
    from app.exports.charts import bar_chart

    return bar_chart(rows, title=title, unit=" customers")


@bp.app_template_global("deadline_strip")
def _deadline_strip(now, hours: int = 72, rows=None, open_total: int | None = None):
    """The dashboard strip: the open incidents due soonest and their open deadlines in the next `hours`.

    `rows` are pictures.upcoming_deadlines rows when the view has them; `open_total` the number of
    open incidents, so the caption can say how many more the table holds.
    """
    from datetime import timedelta

    from app.core.svg import Lane, time_chart

    if rows is None:
        from app.db import get_session
        from app.flows.pictures import upcoming_deadlines
        from app.runtime import viewer

        rows = upcoming_deadlines(session=get_session(), now=now, hours=hours, viewer=viewer())
    if not rows:
        return None
    # No links inside: a role="img" must not hold controls (axe nested-interactive); the table below links.
    lanes = [Lane(f"{r.incident.ref} {r.incident.title}", r.marks) for r in rows]
    due = sum(r.due or len(r.marks) for r in rows)
    overdue = sum(r.overdue for r in rows)
    svg = time_chart(title=f"Deadlines in the next {hours} hours", lanes=lanes, now=now, start=now,
                     end=now + timedelta(hours=hours), lane_height=28, css_class="chart strip-chart",
                     description=f"{due} open deadline(s) of the {len(rows)} incident(s) due soonest, within {hours} "
                                 "hours" + (f", {overdue} already overdue (drawn at now)" if overdue else "") + ".")
    hidden = max((open_total or 0) - len(rows), 0)
    return {"svg": svg, "incidents": len(rows), "due": due, "overdue": overdue, "hidden": hidden}
