"""Obligations: derived from the regimes and an impact snapshot, and kept in step with the incident.

One obligation per (incident, regime stage, recipient). `sync_obligations` is idempotent: it creates
what is missing, re-times open obligations when an anchor or a contract changed, closes open ones
that no longer apply (reversibly), and never touches what a person settled (met, late, or not
required by a lead). Risk decisions (Art. 33(1) "unlikely to result in a risk", Art. 34 "high risk")
arrive as `risk_decision`; without one, the SA clock runs (notifying is the default) and the
high-risk stages wait.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from app.clock.deadlines import DeadlineKind, DeadlineRule, compute_due, internal_target
from app.clock.models import Obligation, ObligationStatus
from app.clock.obligation_reminders import cancel_pending_reminders, replan_reminders
from app.clock.regimes import STAGE_PREFIX, AnchorName, Facts, PerRecipient, Recipient, Regime, Stage, applies
from app.clock.settings import ClockSettings, contract_rule, describe_rule, split_country
from app.clock.settle import SETTLED, set_not_required
from app.core.time import UTC, iso, parse_aware, require_aware
from app.datamap.models import Controller
from app.incidents.models import ImpactRow, ImpactSnapshot, Incident, IncidentStatus

SYSTEM_ACTOR = "breachline"  # decided_by for closures the sync made itself, and may undo
RISK_PREFIX = "Risk decision: "  # rationale prefix of closures that follow a risk decision
OUT_OF_SCOPE = "no longer in the incident's scope (impact of {at})"
NO_LONGER_APPLIES = "no longer applies to the incident's facts (impact of {at})"
PROCESSOR_ROLES = frozenset({"processor", "sub-processor"})  # a sub-processor owes its processor the same notice


@dataclass
class ObligationChanges:
    """What a sync changed, so the caller can write timeline events."""

    created: list[Obligation] = field(default_factory=list)
    updated: list[Obligation] = field(default_factory=list)  # open, re-timed or re-described
    closed: list[Obligation] = field(default_factory=list)  # not required: out of scope or no longer applies
    reopened: list[Obligation] = field(default_factory=list)  # came back into scope / a decision said yes
    decided: list[Obligation] = field(default_factory=list)  # not required because of a risk decision

    @property
    def is_empty(self) -> bool:
        """True if nothing changed."""
        return not (self.created or self.updated or self.closed or self.reopened or self.decided)


@dataclass
class _Want:
    regime: Regime
    stage: Stage
    controller: Controller | None  # per-controller stages only
    decision: str | None = None  # rationale when a risk decision makes the stage not required
    decided_by: str = ""
    reopen_decided: bool = False  # an explicit "yes" undoes an earlier "no"


def _is_gated_high_risk(regime: Regime, stage: Stage) -> bool:
    return any(c is not None and c.high_risk for c in (regime.applies_when, stage.applies_when))


def _wanted(incident: Incident, rows: list[tuple[ImpactRow, Controller]], settings: ClockSettings,
            risk_decision: dict | None, customers_only: bool = False) -> tuple[dict[tuple, _Want], set[tuple]]:
    """Which (regime, stage, recipient) should exist, and which high-risk stages wait for a decision."""
    company = settings.company_controller_key
    own = [(r, c) for r, c in rows if "controller" in (r.roles or [r.role]) or c.key == company]
    customers = [(r, c) for r, c in rows if set(r.roles or [r.role]) & PROCESSOR_ROLES and c.key != company]
    # Art. 4(12): no personal data (or a lead ruled "not a breach") and the data-protection regimes fall away.
    personal = bool(rows) and incident.status != IncidentStatus.not_a_breach
    # Gated stages are judged as if the risk were high; the decision below says what to do with them.
    base = dict(company_flags=settings.company_flags, incident_flags=frozenset(incident.flags or ()),
                high_risk=True, personal_data=personal)
    # Per incident: our own data when it is affected (regimes: "ours when we are controller").
    basis = own or rows
    our_roles = ({"controller"} if own else set()) | ({"processor"} if customers else set())
    incident_facts = Facts(our_roles=our_roles,
                           jurisdictions={j for r, _ in basis for j in r.jurisdictions},
                           sectors={c.sector for _, c in basis if c.sector},
                           special_categories=any(r.special_categories for r, _ in basis),
                           subjects=sum(r.est_subjects for r, _ in basis), **base)
    # Per controller: that customer's own row, where we act as its (sub-)processor.
    customer_facts = [(c, Facts(our_roles={"processor"}, jurisdictions=set(r.jurisdictions),
                                sectors={c.sector} if c.sector else set(), special_categories=r.special_categories,
                                subjects=r.est_subjects, **base)) for r, c in customers]
    decision = risk_decision or {}
    notify_sa, communicate = decision.get("notify_sa"), decision.get("communicate_subjects")
    by = decision.get("decided_by") or "assessment"
    wants: dict[tuple, _Want] = {}
    pending: set[tuple] = set()
    for regime in sorted(settings.regimes.values(), key=lambda r: r.id):
        for stage in regime.stages:
            if customers_only and stage.per_recipient != PerRecipient.CONTROLLER:
                continue  # rows are a few customers' only: incident-wide facts would be wrong
            targets = customer_facts if stage.per_recipient == PerRecipient.CONTROLLER else [(None, incident_facts)]
            for controller, facts in targets:
                if not (applies(regime, facts) and applies(stage, facts)):
                    continue
                key = (regime.id, stage.id, controller.key if controller else "")
                want = _Want(regime, stage, controller)
                if _is_gated_high_risk(regime, stage):
                    if communicate is None:
                        pending.add(key)
                        continue
                    want.reopen_decided = bool(communicate)
                    if not communicate:
                        want.decision = RISK_PREFIX + (decision.get("rationale") or
                                                       "no high risk to the data subjects (Art. 34(1))")
                elif (regime.id, stage.id) in settings.sa_risk_stages and notify_sa is not None:
                    want.reopen_decided = bool(notify_sa)
                    if not notify_sa:
                        want.decision = RISK_PREFIX + (decision.get("rationale") or
                                                       "unlikely to result in a risk (Art. 33(1))")
                want.decided_by = by if want.decision else ""
                wants[key] = want
    return wants, pending


def _anchor_at(name: str, *, incident: Incident, regime_id: str, recipient_key: str,
               existing: dict[tuple, Obligation], notified: dict[str, datetime]) -> datetime | None:
    """The time of an anchor event, or None while it has not happened (or is not recorded)."""
    direct = {AnchorName.AWARE_AT: incident.aware_at, AnchorName.DETECTED_AT: incident.detected_at,
              AnchorName.OCCURRED_AT: incident.occurred_from}
    if name in direct:
        return direct[name]
    if name == AnchorName.DETECTED_YEAR_END_AT:
        year = incident.detected_at.astimezone(UTC).year
        return datetime(year + 1, 1, 1, tzinfo=UTC) - timedelta(seconds=1)
    if name == AnchorName.CONTROLLER_NOTIFIED_AT:
        return notified.get(recipient_key)
    if name.startswith(STAGE_PREFIX):
        stage_id = name.removeprefix(STAGE_PREFIX)
        earlier = existing.get((regime_id, stage_id, recipient_key)) or existing.get((regime_id, stage_id, ""))
        return earlier.met_at if earlier is not None and earlier.status in SETTLED else None
    value = (incident.anchors or {}).get(name)
    if isinstance(value, datetime):
        return require_aware(value, name)
    try:
        return parse_aware(value, name) if value else None
    except ValueError:
        return None  # a malformed anchor is treated as unknown: the obligation waits, visibly


def _derive(want: _Want, incident: Incident, existing: dict, notified: dict,
            settings: ClockSettings) -> tuple[dict, datetime | None]:
    """The obligation's fields for its current facts, and the anchor its reminder window starts from."""
    regime, stage, controller = want.regime, want.stage, want.controller
    key = controller.key if controller else ""
    recipient_kind = str(stage.recipient)
    if controller is not None:
        tz = controller.timezone or "UTC"
        country, subdivision = split_country(controller.holiday_country or controller.country)
    else:
        tz, country, subdivision = regime.recipient_timezone or "UTC", None, None
    rule, contract, broken = stage.deadline, False, ""
    if rule.kind is DeadlineKind.CONTRACT:
        contract = True
        try:
            terms = contract_rule(controller) if controller is not None else None
        except ValueError:
            # Unusable contract terms must not stop every other clock: treat as none, and say so.
            terms, broken = None, f"; contract holiday country {controller.holiday_country!r} unknown"
        rule = (DeadlineRule(no_fixed_deadline=True, internal_target_hours=rule.internal_target_hours)
                if terms is None else terms)
    anchor_args = dict(incident=incident, regime_id=regime.id, recipient_key=key, existing=existing,
                       notified=notified)
    anchor_at = _anchor_at(stage.anchor, **anchor_args)
    due = compute_due(anchor_at, rule, tz=tz, country=country, subdivision=subdivision) if anchor_at else None
    window_anchor = anchor_at
    text = describe_rule(rule, contract=contract) + broken
    if stage.backstop is not None:
        backstop_at = _anchor_at(stage.backstop.anchor, **anchor_args)
        backstop_due = (compute_due(backstop_at, stage.backstop.deadline, tz=tz, country=country,
                                    subdivision=subdivision) if backstop_at else None)
        if backstop_due is not None and (due is None or backstop_due < due):
            due, window_anchor = backstop_due, backstop_at  # the earlier of the two wins
        text += f"; at the latest {describe_rule(stage.backstop.deadline)} after {stage.backstop.anchor}"
    target = None
    if anchor_at is not None:
        override = settings.target_overrides.get(f"{regime.id}/{stage.id}")
        if override is None and contract:
            override = stage.deadline.internal_target_hours  # the resolved contract rule does not carry it
        target = internal_target(anchor_at, rule, default_hours=settings.target_hours(recipient_kind),
                                 override_hours=override)
        if due is not None and target is not None and target >= due:
            target = None  # a target no earlier than the deadline adds nothing
    elif due is None:
        text += f" — waiting for {stage.anchor}"
    title = stage.title + (f" — {controller.name}" if controller is not None else "")
    fields = dict(title=title[:300], recipient_kind=recipient_kind, controller_id=controller.id if controller else None,
                  anchor_name=stage.anchor, anchor_at=anchor_at, due_at=due,
                  no_fixed_deadline=rule.kind is DeadlineKind.NO_FIXED_DEADLINE and stage.backstop is None,
                  internal_target_at=target, deadline_rule=text[:200], source=stage.source[:300],
                  verified=regime.verified, informational=stage.informational)
    return fields, window_anchor


_TIMING = ("anchor_at", "due_at", "internal_target_at")


def _apply(ob: Obligation, fields: dict) -> tuple[bool, bool]:
    """Write fields onto ob; return (anything changed, timing changed)."""
    changed = [name for name, value in fields.items() if getattr(ob, name) != value]
    for name in changed:
        setattr(ob, name, fields[name])
    return bool(changed), any(name in _TIMING for name in changed)


def _auto_closed(ob: Obligation) -> bool:
    return ob.status == ObligationStatus.not_required and ob.decided_by == SYSTEM_ACTOR


def sync_obligations(*, session: Session, incident: Incident, snapshot: ImpactSnapshot | None,
                     settings: ClockSettings, now: datetime, risk_decision: dict | None = None,
                     recipients: set[str] | None = None) -> ObligationChanges:
    """Create, re-time, close or reopen the incident's obligations for its snapshot; settled ones stay as they are."""
    # recipients: only these customers' own obligations (the dispatcher starts the clocks of the customers
    # it just notified; re-deriving every customer's after each batch was most of a delivery's cost).
    now = require_aware(now, "now")
    rows_query = (select(ImpactRow, Controller).join(Controller, Controller.id == ImpactRow.controller_id)
                  .where(ImpactRow.snapshot_id == (snapshot.id if snapshot is not None else None)))
    existing_query = select(Obligation).where(Obligation.incident_id == incident.id)
    if recipients is not None:
        keys = sorted(recipients)
        rows_query = rows_query.where(Controller.key.in_(keys))
        # Incident-wide ones too, read only: a customer's stage may be anchored on one of them.
        existing_query = existing_query.where(Obligation.recipient_key.in_([*keys, ""]))
    rows = [] if snapshot is None else list(session.exec(rows_query.order_by(ImpactRow.id)))
    existing = {(o.regime_id, o.stage_id, o.recipient_key): o for o in session.exec(existing_query)}
    # The controller becomes aware when we first tell it (WP250): our earliest notice to it.
    notified: dict[str, datetime] = {}
    for o in existing.values():
        if (o.recipient_kind == Recipient.CONTROLLER and o.recipient_key and not o.informational
                and o.status in SETTLED and o.met_at is not None):
            notified[o.recipient_key] = min(o.met_at, notified.get(o.recipient_key, o.met_at))
    wants, pending = _wanted(incident, rows, settings, risk_decision, customers_only=recipients is not None)
    changes = ObligationChanges()
    replan: list[tuple[Obligation, datetime | None]] = []
    cancel: list[Obligation] = []
    new: dict[tuple, tuple[dict, _Want, datetime | None]] = {}
    for key, want in wants.items():
        ob = existing.get(key)
        fields, window_anchor = _derive(want, incident, existing, notified, settings)
        if ob is None:
            # Inserted in bulk below: a declaration over thousands of customers creates thousands at once.
            # (A new obligation is never settled, so later stages anchored on it see "not yet" either way.)
            row = dict(incident_id=incident.id, regime_id=key[0], stage_id=key[1], recipient_key=key[2],
                       created_at=now, status=ObligationStatus.open, rationale="", decided_by="", decided_at=None,
                       **fields)
            if want.decision:
                row.update(status=ObligationStatus.not_required, rationale=want.decision[:5000],
                           decided_by=want.decided_by, decided_at=now)
            new[key] = (row, want, window_anchor)
        elif ob.status == ObligationStatus.open:
            if want.decision:
                set_not_required(ob, want.decision, want.decided_by, now)
                changes.decided.append(ob)
                cancel.append(ob)
                continue
            changed, timing = _apply(ob, fields)
            if changed:
                changes.updated.append(ob)
            if timing:
                replan.append((ob, window_anchor))
        elif not want.decision and (_auto_closed(ob) or (want.reopen_decided and ob.rationale.startswith(RISK_PREFIX))):
            ob.status, ob.rationale, ob.decided_by, ob.decided_at = ObligationStatus.open, "", "", None
            _apply(ob, fields)
            changes.reopened.append(ob)
            replan.append((ob, window_anchor))
    for key, ob in _insert_new(session, incident.id, new).items():
        existing[key] = ob
        if new[key][1].decision:
            changes.decided.append(ob)
        else:
            changes.created.append(ob)
            replan.append((ob, new[key][2]))
    present = {c.key for _, c in rows}
    at = iso(snapshot.computed_at) if snapshot is not None else iso(now)
    for key, ob in existing.items():
        if key in wants or key in pending or ob.status != ObligationStatus.open:
            continue
        if recipients is not None and key[2] not in recipients:
            continue  # not among the customers synced
        gone = ob.controller_id is not None and ob.recipient_key and ob.recipient_key not in present
        set_not_required(ob, (OUT_OF_SCOPE if gone else NO_LONGER_APPLIES).format(at=at), SYSTEM_ACTOR, now)
        changes.closed.append(ob)
        cancel.append(ob)
    session.flush()
    cancel_pending_reminders(session, [o.id for o in cancel])
    replan_reminders(session, replan, settings, now)
    return changes


def _insert_new(session: Session, incident_id: int, new: dict[tuple, tuple]) -> dict[tuple, Obligation]:
    """Insert the new obligations with one executemany; return them as loaded objects, in `new`'s order."""
    if not new:
        return {}
    session.flush()  # pending changes first: the Core insert below bypasses the unit of work
    rows = [row for row, _, _ in new.values()]
    for start in range(0, len(rows), 2000):
        session.execute(sa.insert(Obligation.__table__), rows[start:start + 2000])
    loaded = {(o.regime_id, o.stage_id, o.recipient_key): o
              for o in session.exec(select(Obligation).where(Obligation.incident_id == incident_id))
              if (o.regime_id, o.stage_id, o.recipient_key) in new}
    return {key: loaded[key] for key in new}
