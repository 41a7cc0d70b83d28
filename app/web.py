"""Site-wide pages: the home page and error pages."""

from __future__ import annotations

from flask import Blueprint, redirect, url_for

from app.auth.permissions import Permission, declare
from app.core.display import format_duration, format_time, urgency

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


# Main navigation, in order; domain blueprints add their own entries when they register.
NAV_ITEMS: list[tuple[str, str]] = [
    ("incidents.dashboard_page", "Dashboard"),
    ("incidents.incident_list", "Incidents"),
    ("datamap.controllers", "Customers"),
    ("datamap.systems", "Systems"),
    ("datamap.taxonomy_page", "Taxonomy"),
    ("datamap.versions", "Map versions"),
    ("assessment.register_page", "Breach register"),
]


@bp.app_context_processor
def _navigation() -> dict:
    return {"nav_items": NAV_ITEMS}


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
