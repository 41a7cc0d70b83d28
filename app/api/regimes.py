"""The regimes and a deadline calculator over them, for users and automation."""

from __future__ import annotations

from flask import request

from app import runtime
from app.api import api_bp
from app.auth.permissions import Permission, declare
from app.clock.deadlines import DeadlineKind, compute_due, earliest, resolve_contract, zone
from app.clock.regimes import Regime
from app.clock.settings import describe_rule
from app.core.errors import InputError, NotFound, Problem
from app.core.time import iso, parse_aware


def regime_document(regime: Regime) -> dict:
    """A regime with its stages, deadline rules and citations."""
    return {"id": regime.id, "title": regime.title, "verified": regime.verified,
            "jurisdiction": str(regime.jurisdiction), "notifier": str(regime.notifier),
            "recipient": str(regime.recipient), "per_recipient": str(regime.per_recipient),
            "stages": [{"id": s.id, "title": s.title, "anchor": str(s.anchor),
                        "deadline": describe_rule(s.deadline, contract=s.deadline.kind is DeadlineKind.CONTRACT),
                        "source": s.source, "informational": s.informational} for s in regime.stages],
            "sources": [s.model_dump(exclude_none=True) for s in regime.sources]}


@api_bp.get("/regimes")
@declare(Permission.incident_read)
def list_regimes():
    """Every regime in playbooks/regimes/."""
    regimes = runtime.regimes()
    return {"items": [regime_document(regimes[k]) for k in sorted(regimes)], "total": len(regimes)}


def _calculator_args() -> tuple:
    problems = []
    raw = request.args.get("anchor")
    anchor = None
    if not raw:
        problems.append(Problem("required: ISO 8601 date-time with a UTC offset", field="anchor"))
    else:
        try:
            anchor = parse_aware(raw, "anchor")
        except ValueError as exc:
            problems.append(Problem(str(exc), field="anchor"))
    tz = request.args.get("timezone")
    if tz:
        try:
            zone(tz)
        except ValueError as exc:
            problems.append(Problem(str(exc), field="timezone"))
    country = (request.args.get("country") or "").upper() or None
    subdivision = request.args.get("subdivision") or None
    if problems:
        raise InputError(problems)
    return anchor, tz, country, subdivision


@api_bp.get("/regimes/<regime_id>/deadlines")
@declare(Permission.incident_read)
def regime_deadlines(regime_id: str):
    """Every stage's due time for an anchor (?anchor=ISO with offset[&country=&subdivision=&timezone=])."""
    regime = runtime.regimes().get(regime_id)
    if regime is None:
        raise NotFound(f"no regime {regime_id!r}")
    anchor, tz, country, subdivision = _calculator_args()
    tz = tz or regime.recipient_timezone or "UTC"
    dues: dict[str, object] = {}
    stages = []
    for stage in regime.stages:
        # Without a customer's contract the contractual stage has no fixed number (Art. 33(2)).
        rule = resolve_contract(stage.deadline, None)
        start = anchor
        if str(stage.anchor).startswith("stage:"):
            # Projected: the earlier stage met exactly at its deadline.
            start = dues.get(str(stage.anchor).split(":", 1)[1])
        try:
            due = compute_due(start, rule, tz=tz, country=country, subdivision=subdivision) if start else None
            if stage.backstop is not None and due is not None:
                due = earliest(due, compute_due(anchor, stage.backstop.deadline, tz=tz, country=country,
                                                subdivision=subdivision))
        except ValueError as exc:
            raise InputError(Problem(f"stage {stage.id}: {exc}", field="country")) from None
        dues[stage.id] = due
        stages.append({"id": stage.id, "title": stage.title, "due_at": iso(due),
                       "no_fixed_deadline": rule.kind is DeadlineKind.NO_FIXED_DEADLINE,
                       "rule": describe_rule(stage.deadline, contract=stage.deadline.kind is DeadlineKind.CONTRACT),
                       "anchor": str(stage.anchor), "source": stage.source})
    return {"regime": regime.id, "anchor": iso(anchor), "timezone": tz, "verified": regime.verified,
            "stages": stages}
