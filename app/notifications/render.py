"""Render notification messages (subject, text, HTML) from the templates in templates/notifications/.

Templates may be edited by users, so they render in an immutable Jinja sandbox with
StrictUndefined: a misspelt or missing variable fails loudly as a TemplateProblem that names the
template and line, instead of printing an empty string into a letter to a regulator. The facts
are validated first; facts not yet known print as "to follow" / "wird nachgereicht".
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import (BaseLoader, ChoiceLoader, DictLoader, FileSystemLoader, StrictUndefined, TemplateError,
                    TemplateNotFound, TemplateSyntaxError, pass_context, select_autoescape)
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from pydantic import Field, ValidationError, field_validator

from app.core.time import UTC, require_aware
from app.notifications.payload import (Advice, BreachContent, Change, ControllerRef, Phase, Text, UTCTime,
                                       controller_deadline, CONTROLLER_DEADLINE_HOURS)

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
LOCALES = ("en", "de")  # every kind has a template set per locale; others fall back to English
TO_FOLLOW = {"en": "to follow", "de": "wird nachgereicht"}
DATE_FORMATS = {"en": "%Y-%m-%d %H:%M", "de": "%d.%m.%Y, %H:%M"}
THOUSANDS = {"en": ",", "de": "."}
OVERRIDE_PREFIX = "override:"


class MessageKind(StrEnum):
    """Which message: who writes to whom."""

    processor_to_controller = "processor_to_controller"  # Art. 33(2), per customer
    authority_report = "authority_report"  # Art. 33(1), draft report to a supervisory authority
    data_subject = "data_subject"  # Art. 34, communication to affected people


class TemplateProblem(Exception):
    """A template could not be rendered; names the template, the line when known, and what was wrong."""

    def __init__(self, template: str, message: str, line: int | None = None):
        self.template, self.message, self.line = template, message, line
        super().__init__(f"{template}{f':{line}' if line else ''}: {message}")


@dataclass(frozen=True)
class RenderedMessage:
    """A rendered message; html is None when the kind has no HTML template."""

    subject: str
    text: str
    html: str | None


class MessageContext(BreachContent):
    """The facts every message template may use; a superset of NotificationFacts, all optional."""

    incident_ref: str = Field(min_length=1)
    drill: bool = False
    phase: Phase | None = None  # the phase argument of render_message wins; must agree if given
    notification_id: Text = None
    issued_at: UTCTime | None = None  # the date of the message
    aware_at: UTCTime | None = None  # when we became aware
    language: Text = None  # accepted for symmetry with NotificationFacts; the locale argument decides
    organisation_name: Text = None  # we, the sender
    recipient_name: Text = None  # for the salutation
    recipient_timezone: Text = None  # IANA zone: times are also shown in the recipient's local time
    controller: ControllerRef | None = None
    controller_aware_at: UTCTime | None = None
    controller_deadline_hours: int = Field(default=CONTROLLER_DEADLINE_HOURS, gt=0)
    previous_notification_id: Text = None
    previous_issued_at: UTCTime | None = None
    changes_since_last: list[Change] = Field(default_factory=list)
    advice: Advice | None = None
    acknowledgement_url: Text = Field(default=None, pattern=r"^https?://\S+$")
    authority_name: Text = None  # authority_report: the supervisory authority addressed
    authority_reference: Text = None  # authority_report: the authority's case number, for follow-ups
    due_at: UTCTime | None = None  # authority_report: our Art. 33(1) deadline
    reasons_for_delay: Text = None  # authority_report: required when reported after due_at
    member_states: list[str] = Field(default_factory=list)  # authority_report: where affected people live
    data_subjects_informed: Literal["yes", "planned", "no", "not_required"] | None = None
    data_subjects_informed_detail: Text = None

    @field_validator("recipient_timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file path
                raise ValueError(f"unknown time zone {value!r}: use an IANA name such as 'Europe/Berlin'") from None
        return value


def normalise_locale(locale: str | None) -> str:
    """Return the supported language for a locale ('de-AT' -> 'de'); English for anything else."""
    language = (locale or "").replace("_", "-").split("-", 1)[0].strip().lower()
    return language if language in LOCALES else "en"


def _locale_of(ctx) -> str:
    return ctx.get("locale", "en")


@pass_context
def _to_follow_filter(ctx, value: Any) -> Any:
    """Print value, or the locale's 'to follow' text when it is None or empty."""
    if value is None or value == "" or value == [] or value == ():
        return TO_FOLLOW[_locale_of(ctx)]
    return value


def _format_instant(value: datetime, locale: str, zone: ZoneInfo | None) -> str:
    """Format an aware datetime in UTC, or in zone, with its offset."""
    moment = require_aware(value)
    if zone is not None:
        local = moment.astimezone(zone)
        offset = local.strftime("%z")
        return f"{local.strftime(DATE_FORMATS[locale])} {zone.key} ({offset[:3]}:{offset[3:]})"
    return f"{moment.astimezone(UTC).strftime(DATE_FORMATS[locale])} UTC (+00:00)"


@pass_context
def _utc_filter(ctx, value: datetime | None) -> str:
    """Print a time in UTC with its offset; 'to follow' when None."""
    if value is None:
        return TO_FOLLOW[_locale_of(ctx)]
    return _format_instant(value, _locale_of(ctx), None)


@pass_context
def _when_filter(ctx, value: datetime | None, tz: str | None = None) -> str:
    """Print a time in UTC and, when the recipient's (or the given) zone is known, in local time too."""
    if value is None:
        return TO_FOLLOW[_locale_of(ctx)]
    text = _format_instant(value, _locale_of(ctx), None)
    zone_name = tz or ctx.get("recipient_timezone")
    if zone_name and zone_name not in ("UTC", "Etc/UTC"):
        text += " / " + _format_instant(value, _locale_of(ctx), ZoneInfo(zone_name))
    return text


@pass_context
def _number_filter(ctx, value: int | float | None) -> str:
    """Print a number with the locale's thousands separator; 'to follow' when None."""
    if value is None:
        return TO_FOLLOW[_locale_of(ctx)]
    if isinstance(value, float) and not value.is_integer():
        text = f"{value:,.2f}"
        return text.replace(",", "\0").replace(".", ",").replace("\0", ".") if _locale_of(ctx) == "de" else text
    return f"{int(value):,}".replace(",", THOUSANDS[_locale_of(ctx)])


FILTERS = {"tf": _to_follow_filter, "utc": _utc_filter, "when": _when_filter, "number": _number_filter}


class _OverrideLoader(DictLoader):
    """User-edited template sources by name; reports a recognisable file name in tracebacks."""

    def get_source(self, environment, template):
        source, _, uptodate = super().get_source(environment, template)
        return source, OVERRIDE_PREFIX + template, uptodate


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with a shortcut for `{{ fact.key }}` on the plain dicts templates are given."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        """A dict's key when the name is no dict attribute (the sandbox's answer too), else the sandbox's answer."""
        # The sandbox first tries (and fails) a Python attribute lookup for every such key; a letter
        # looks up ~150 of them, a bulk draft renders ten thousand letters.
        if type(obj) is dict and attribute in obj and not hasattr(dict, attribute):
            return obj[attribute]
        return super().getattr(obj, attribute)


def _environment(loader: BaseLoader) -> ImmutableSandboxedEnvironment:
    """A sandboxed environment with strict undefineds, autoescape for .html, and our filters."""
    env = _Sandbox(
        loader=loader, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False))
    env.filters.update(FILTERS)
    return env


@lru_cache(maxsize=1)
def _file_environment() -> ImmutableSandboxedEnvironment:
    return _environment(FileSystemLoader(TEMPLATES))


def template_names(kind: MessageKind | str, locale: str) -> dict[str, str]:
    """Return the subject, text and html template names of a kind in a supported locale."""
    base = f"notifications/{MessageKind(kind).value}/{normalise_locale(locale)}"
    return {"subject": f"{base}.subject.txt", "text": f"{base}.txt", "html": f"{base}.html"}


def _template_name_of(filename: str | None) -> str | None:
    """Map a traceback file name back to a template name, if it is one of ours."""
    if not filename:
        return None
    if filename.startswith(OVERRIDE_PREFIX):
        return filename[len(OVERRIDE_PREFIX):]
    try:
        return Path(filename).resolve().relative_to(TEMPLATES).as_posix()
    except ValueError:
        return None


def _problem(exc: Exception, rendering: str) -> TemplateProblem:
    """Build a TemplateProblem naming the innermost template frame of the error."""
    if isinstance(exc, TemplateSyntaxError):
        return TemplateProblem(exc.name or rendering, f"syntax error: {exc.message}", exc.lineno)
    if isinstance(exc, TemplateNotFound):
        return TemplateProblem(rendering, f"template not found: {exc.name}")
    template, line = rendering, None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        name = _template_name_of(frame.f_code.co_filename)
        if name:
            template, line = name, lineno
    if isinstance(exc, SecurityError):
        message = f"blocked by the template sandbox: {exc}"
    elif isinstance(exc, TemplateError):
        message = str(exc.message if getattr(exc, "message", None) else exc)
    else:
        message = f"{type(exc).__name__}: {exc}"
    return TemplateProblem(template, message, line)


def _template_context(kind: MessageKind, locale: str, phase: Phase, facts: MessageContext) -> dict[str, Any]:
    """The variables a template sees: the validated facts plus values derived from them."""
    deadline_from = facts.controller_aware_at or facts.issued_at
    late = bool(facts.due_at and facts.issued_at and facts.issued_at > facts.due_at)
    # Plain dicts and lists, not model objects: templates see data, never methods.
    values = facts.model_dump(mode="python")
    values.update(
        kind=kind.value, locale=locale, phase=phase.value, to_follow=TO_FOLLOW[locale],
        missing=[item.value for item in facts.missing_items()],
        controller_deadline_from=deadline_from,
        controller_deadline_at=controller_deadline(deadline_from, facts.controller_deadline_hours),
        late=late)
    return values


def template_values(kind: MessageKind | str, locale: str | None, phase: Phase | str | None,
                    context: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """The template names and the variables they see for a context, validated; TemplateProblem if it is not valid."""
    kind = MessageKind(kind)
    locale = normalise_locale(locale)
    phase = Phase(phase or Phase.initial)
    names = template_names(kind, locale)
    try:
        facts = MessageContext.model_validate(dict(context))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "context"
        raise TemplateProblem(names["text"], f"context field {where}: {first['msg']}") from exc
    if facts.phase is not None and facts.phase is not phase:
        raise TemplateProblem(names["text"], f"context says phase {facts.phase.value!r} but {phase.value!r} was asked for")
    return names, _template_context(kind, locale, phase, facts)


def render_message(kind: MessageKind | str, locale: str | None, phase: Phase | str | None,
                   context: Mapping[str, Any], *, overrides: Mapping[str, str] | None = None) -> RenderedMessage:
    """Render subject, text and HTML of a message; raise TemplateProblem naming template and cause."""
    # overrides maps template names (see template_names) to user-edited sources that replace the
    # shipped files; they render in the same sandbox with the same validated facts.
    names, values = template_values(kind, locale, phase, context)
    env = _file_environment() if not overrides else _environment(
        ChoiceLoader([_OverrideLoader(dict(overrides)), FileSystemLoader(TEMPLATES)]))
    rendered: dict[str, str | None] = {}
    for part, name in names.items():
        try:
            template = env.get_template(name)
        except TemplateNotFound as exc:
            if part == "html" and exc.name == name:
                rendered[part] = None  # a kind may be text-only
                continue
            raise _problem(exc, name) from exc
        except TemplateSyntaxError as exc:
            raise _problem(exc, name) from exc
        try:
            rendered[part] = template.render(values)
        except Exception as exc:  # user-edited templates can fail in any way; report, never half-send
            raise _problem(exc, name) from exc
    subject = " ".join((rendered["subject"] or "").split())  # one line: no header injection, no folding surprises
    return RenderedMessage(subject=subject, text=rendered["text"] or "", html=rendered["html"])
