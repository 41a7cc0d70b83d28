"""Turning incident form posts into the same input models the API validates."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict

from app.core.errors import InputError, Problem

DATETIME_FIELDS = ("detected_at", "aware_at", "occurred_from", "occurred_to", "contained_at")


class CsrfForm(FlaskForm):
    """A form with only the CSRF token: fields are parsed by the pydantic input models."""


def local_datetime(form: MultiDict, name: str, problems: list[Problem]) -> datetime | None:
    """A datetime-local field read in the form's `timezone` field, as aware time."""
    raw = (form.get(name) or "").strip()
    if not raw:
        return None
    try:
        zone = ZoneInfo(form.get("timezone") or "UTC")
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file path
        problems.append(Problem(f"unknown time zone {form.get('timezone')!r}", field="timezone"))
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        problems.append(Problem(f"not a date and time: {raw!r}", field=name))
        return None
    return value.replace(tzinfo=zone) if value.tzinfo is None else value


def incident_fields(form: MultiDict, *, for_update: bool = False) -> dict:
    """The incident fields of a form post, ready for IncidentCreate / IncidentUpdate."""
    problems: list[Problem] = []
    data: dict = {}
    for name in ("title", "summary", "incident_type", "severity"):
        if name in form:
            data[name] = form.get(name, "").strip()
    data["breach_types"] = form.getlist("breach_types")
    for name in DATETIME_FIELDS:
        value = local_datetime(form, name, problems)
        if value is not None or (for_update and name in form):
            data[name] = value
    data["drill"] = form.get("drill") == "on"
    if not for_update:
        data["restricted"] = form.get("restricted") == "on"  # changed later only by a lead, on its own form
    if form.get("owner"):
        data["owner"] = form.get("owner")
    flags = [f.strip() for f in form.getlist("flags") if f.strip()]
    if flags or for_update:
        data["flags"] = flags
    if problems:
        raise InputError(problems)
    if for_update and data.get("detected_at") is None:
        data.pop("detected_at", None)
    return data


def scope_fields(form: MultiDict) -> dict:
    """The scope of a form post: keys from multi-selects or comma/line separated text."""

    def keys(name: str) -> list[str]:
        values = []
        for item in form.getlist(name):
            values += [k.strip() for k in item.replace(",", "\n").splitlines() if k.strip()]
        return values

    return {"systems": keys("systems"), "data_categories": keys("data_categories"), "controllers": keys("controllers")}
