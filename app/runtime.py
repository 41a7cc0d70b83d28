"""What entry points (views, API, CLI, jobs) derive from the running app: actor, settings, playbooks."""

from __future__ import annotations

from flask import current_app, g
from flask_login import current_user

from app.clock.settings import ClockSettings, load_default_regimes
from app.flows.incident import Actor
from app.playbooks.incident_types import load_incident_types
from app.timeline.models import NoteIn

PLAYBOOKS_KEY = "breachline.playbooks"


def actor() -> Actor:
    """The signed-in user or the API token's user, as a timeline actor."""
    user = g.get("api_user")
    if user is not None:
        return Actor(name=f"{user.email} (API)", role=str(user.role), user_id=user.id)
    if current_user.is_authenticated:
        return Actor(name=current_user.email, role=str(current_user.role), user_id=current_user.id)
    return Actor(name="anonymous", role="viewer")


def _playbooks() -> dict:
    # Loaded once per app: a malformed playbook fails loudly at first use (and in CI via the loader tests).
    cache = current_app.extensions.get(PLAYBOOKS_KEY)
    if cache is None:
        from app import PLAYBOOKS

        cache = {"regimes": load_default_regimes(),
                 "incident_types": load_incident_types(PLAYBOOKS / "incident-types")}
        current_app.extensions[PLAYBOOKS_KEY] = cache
    return cache


def regimes() -> dict:
    """All regimes by id."""
    return _playbooks()["regimes"]


def incident_types() -> dict:
    """All incident types by id."""
    return _playbooks()["incident_types"]


def incident_type_ids() -> set[str]:
    """Known incident type ids."""
    return set(incident_types())


def clock_settings() -> ClockSettings:
    """Clock settings from the app configuration."""
    return ClockSettings.from_config(current_app.config, regimes=regimes())


def viewer():
    """Who is asking, for need-to-know checks: the token's user on the API, the signed-in user otherwise."""
    from app.auth.security import current_actor

    return current_actor()


def parse_note(body: dict) -> NoteIn:
    """Validate a manual timeline entry."""
    return NoteIn.model_validate(body)


def visible_incident(ref: str):
    """The incident by reference if this user may see it; NotFound otherwise, so need-to-know hides existence."""
    from app.db import get_session
    from app.incidents import access

    return access.get_visible_by_ref(session=get_session(), ref=ref, viewer=viewer())


def visible_incident_or_404(ref: str):
    """visible_incident() for the web pages: a hidden or missing incident is the 404 page."""
    from flask import abort

    from app.core.errors import NotFound

    try:
        return visible_incident(ref)
    except NotFound:
        abort(404)
