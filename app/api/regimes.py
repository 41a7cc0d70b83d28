"""The regimes and a deadline calculator over them, for users and automation."""

from __future__ import annotations

from app import runtime
from app.api import api_bp
from app.api.queries import DeadlineQuery, parse_query
from app.api.schemas.regimes import DeadlinesOut, RegimeList
from app.api.spec import operation
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
@operation(tags=["regimes"], responses={200: RegimeList})
def list_regimes():
    """Every regime in playbooks/regimes/."""
    regimes = runtime.regimes()
    return {"items": [regime_document(regimes[k]) for k in sorted(regimes)], "total": len(regimes)}


def _calculator_args() -> tuple:
    query = parse_query(DeadlineQuery)  # the documented shapes first: a missing or naive anchor is a 422 here
    problems = []
    anchor = None
    try:
        anchor = parse_aware(query.anchor, "anchor")
    except ValueError as exc:  # the right shape, but no such time (month 13, offset +25:00)
        problems.append(Problem(str(exc), field="anchor"))
    tz = query.timezone
    if tz:
        try:
            zone(tz)
        except ValueError as exc:
            problems.append(Problem(str(exc), field="timezone"))
    country = (query.country or "").upper() or None
    subdivision = query.subdivision or None
    if problems:
        raise InputError(problems)
    return anchor, tz, country, subdivision


@api_bp.get("/regimes/<regime_id>/deadlines")
@declare(Permission.incident_read)
@operation(tags=["regimes"], query=DeadlineQuery, responses={200: DeadlinesOut})
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
