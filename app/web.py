"""Site-wide pages: the home page and error pages."""

from __future__ import annotations

from flask import Blueprint, redirect, url_for

from app.auth.permissions import Permission, declare

bp = Blueprint("web", __name__)


@bp.get("/")
@declare(Permission.datamap_read)
def index():
    """Home: the data map overview until incidents exist."""
    return redirect(url_for("datamap.controllers"))


@bp.get("/healthz")
@declare(Permission.public)
def healthz():
    """Liveness probe for load balancers."""
    return {"status": "ok"}


# Main navigation, in order; domain blueprints add their own entries when they register.
NAV_ITEMS: list[tuple[str, str]] = [
    ("datamap.controllers", "Customers"),
    ("datamap.systems", "Systems"),
    ("datamap.taxonomy_page", "Taxonomy"),
    ("datamap.versions", "Map versions"),
]


@bp.app_context_processor
def _navigation() -> dict:
    return {"nav_items": NAV_ITEMS}
