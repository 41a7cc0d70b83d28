"""Obligations: derived from the regimes and an impact snapshot, kept in step with the incident, then settled.

One obligation per (incident, regime stage, recipient). `sync_obligations` is idempotent: it creates
what is missing, re-times open obligations when an anchor or a contract changed, closes open ones
that no longer apply (reversibly), and never touches what a person settled (met, late, or not
required by a lead). Risk decisions (Art. 33(1) "unlikely to result in a risk", Art. 34 "high risk")
arrive as `risk_decision`; without one, the SA clock runs (notifying is the default) and the
high-risk stages wait.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from app.auth.models import Role
from app.clock.deadlines import DeadlineKind, DeadlineRule, ReminderPlan, compute_due, internal_target, reminder_times
from app.clock.models import Obligation, ObligationStatus, Reminder, ReminderKind
from app.clock.regimes import STAGE_PREFIX, AnchorName, Facts, PerRecipient, Recipient, Regime, Stage, applies
from app.clock.settings import (ClockSettings, contract_rule, describe_rule,  # noqa: F401  (re-exported)
                                load_default_regimes, split_country)
from app.core.errors import Conflict, Forbidden, InputError, NotFound, Problem
from app.core.time import UTC, iso, parse_aware, require_aware
from app.datamap.models import Controller
from app.incidents.models import ImpactRow, ImpactSnapshot, Incident, IncidentStatus

SYSTEM_ACTOR = "breachline"  # decided_by for closures the sync made itself, and may undo
RISK_PREFIX = "Risk decision: "  # rationale prefix of closures that follow a risk decision
OUT_OF_SCOPE = "no longer in the incident's scope (impact of {at})"
NO_LONGER_APPLIES = "no longer applies to the incident's facts (impact of {at})"
PROCESSOR_ROLES = frozenset({"processor", "sub-processor"})  # a sub-processor owes its processor the same notice
SETTLED = (ObligationStatus.met, ObligationStatus.late)
CUSTOMER_WINDOW_HOURS = 72  # GDPR Art. 33(1), the controller's own clock


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


def _close(ob: Obligation, rationale: str, by: str, now: datetime) -> None:
    ob.status, ob.rationale, ob.decided_by, ob.decided_at = ObligationStatus.not_required, rationale[:5000], by, now


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
                _close(ob, want.decision, want.decided_by, now)
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
        _close(ob, (OUT_OF_SCOPE if gone else NO_LONGER_APPLIES).format(at=at), SYSTEM_ACTOR, now)
        changes.closed.append(ob)
        cancel.append(ob)
    session.flush()
    _cancel_pending(session, [o.id for o in cancel])
    _replan(session, replan, settings, now)
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


def _plan_of(settings: ClockSettings, ob: Obligation) -> ReminderPlan:
    regime = settings.regimes.get(ob.regime_id)
    try:
        return regime.stage(ob.stage_id).reminders if regime else ReminderPlan()
    except KeyError:
        return ReminderPlan()


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:g} h"


def reminder_schedule(ob: Obligation, plan: ReminderPlan, window_anchor: datetime | None,
                      now: datetime) -> list[tuple[ReminderKind, str, datetime]]:
    """(kind, label, due) of the reminders an open obligation should have, from its plan."""
    legal = ob.due_at is not None
    end = ob.due_at if legal else ob.internal_target_at
    start = window_anchor if legal else ob.anchor_at
    if end is None or start is None:
        return []
    start = min(start, end)
    window = (end - start).total_seconds()
    items = []
    for at in reminder_times(start, end, plan):
        if at < end:
            share = math.floor((at - start).total_seconds() / window * 100 + 0.5)
            items.append((ReminderKind.progress, f"{share}% of the window used", at))
        elif at == end:
            items.append((ReminderKind.due, "due now" if legal else "internal target reached", at))
        else:
            items.append((ReminderKind.overdue, f"{_hours(at - end)} overdue" if legal
                          else f"{_hours(at - end)} past the internal target", at))
    if plan.overdue_hours:
        first = end + timedelta(hours=min(plan.overdue_hours))
        items.append((ReminderKind.escalation, f"{_hours(first - end)} overdue — escalate" if legal
                      else f"{_hours(first - end)} past the internal target — escalate", first))
    # A progress reminder already overtaken by a later one that is also past says nothing new:
    # created late (or re-timed), the obligation gets the latest news once, not a burst of stale ones.
    latest_past = max((at for _, _, at in items if at <= now), default=None)
    return [(k, label, at) for k, label, at in items
            if not (k is ReminderKind.progress and at <= now and latest_past is not None and at < latest_past)]


def _unfired():
    # Not "fired_at IS NULL": that matches nearly every reminder, and SQLite (without statistics) then walks
    # the whole tick index (fired_at, due_at) instead of looking up the obligations' own reminders.
    return sa.func.coalesce(Reminder.fired_at, sa.null()).is_(None)


def _cancel_pending(session: Session, ids: list[int]) -> None:
    for start in range(0, len(ids), 500):
        session.exec(sa.update(Reminder).where(Reminder.obligation_id.in_(ids[start:start + 500]),
                                               _unfired()).values(cancelled=True)
                     .execution_options(synchronize_session=False))


def _replan(session: Session, entries: list[tuple[Obligation, datetime | None]], settings: ClockSettings,
            now: datetime) -> None:
    """Replace the unfired reminders of these obligations by a fresh plan."""
    if not entries:
        return
    ids = [ob.id for ob, _ in entries]
    fired: set[tuple] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        # A claimed row is being sent right now: cancel it rather than pull it from under the sender.
        session.exec(sa.update(Reminder).where(Reminder.obligation_id.in_(chunk), _unfired(),
                                               Reminder.claimed_at.is_not(None)).values(cancelled=True)
                     .execution_options(synchronize_session=False))
        session.exec(sa.delete(Reminder).where(Reminder.obligation_id.in_(chunk), _unfired(),
                                               Reminder.claimed_at.is_(None))
                     .execution_options(synchronize_session=False))
        fired |= set(session.exec(select(Reminder.obligation_id, Reminder.kind, Reminder.label, Reminder.due_at)
                                  .where(Reminder.obligation_id.in_(chunk), Reminder.fired_at.is_not(None))))
    rows = []
    for ob, window_anchor in entries:
        if ob.status != ObligationStatus.open:
            continue
        for kind, label, at in reminder_schedule(ob, _plan_of(settings, ob), window_anchor, now):
            if (ob.id, str(kind), label, at) not in fired:  # never fire the same reminder twice
                rows.append({"obligation_id": ob.id, "kind": str(kind), "label": label, "due_at": at,
                             "claimed_at": None, "claimed_by": "", "fired_at": None, "cancelled": False,
                             "result": ""})
    # Core executemany: four or five reminders per obligation, thousands of obligations per declaration.
    for start in range(0, len(rows), 5000):
        session.execute(sa.insert(Reminder.__table__), rows[start:start + 5000])


def mark_met(*, session: Session, obligation: Obligation, met_at: datetime, actor: str, delay_reasons: str = "",
             now: datetime | None = None) -> Obligation:
    """Record the obligation as met at met_at (late after due_at, which needs delay_reasons); late_by is frozen."""
    return mark_met_many(session=session, settlements=[(obligation, met_at, delay_reasons)], actor=actor, now=now)[0]


def mark_met_many(*, session: Session, settlements: list[tuple[Obligation, datetime, str]], actor: str,
                  now: datetime | None = None) -> list[Obligation]:
    """mark_met for (obligation, met_at, delay_reasons) triples: one flush, one reminder cancellation."""
    # The dispatcher settles a batch of deliveries at once; a flush and an UPDATE per obligation
    # cost more than sending the notice.
    for obligation, met_at, delay_reasons in settlements:
        _set_met(obligation, met_at, actor, delay_reasons, now)
    session.add_all([obligation for obligation, _, _ in settlements])
    session.flush()
    _cancel_pending(session, [obligation.id for obligation, _, _ in settlements])
    return [obligation for obligation, _, _ in settlements]


def _set_met(obligation: Obligation, met_at: datetime, actor: str, delay_reasons: str, now: datetime | None) -> None:
    met_at = require_aware(met_at, "met_at")
    if obligation.status in SETTLED:
        raise Conflict(f"already met at {iso(obligation.met_at)}; late_by is frozen at the first notice")
    if obligation.status != ObligationStatus.open:
        raise Conflict(f"obligation is {obligation.status}, not open")
    late = obligation.due_at is not None and met_at > obligation.due_at
    reasons = (delay_reasons or "").strip()
    if late and not reasons and not obligation.informational:  # the customer's own delay is its to explain
        raise InputError(Problem("met after the deadline: give the reasons for the delay (GDPR Art. 33(1))",
                                 field="delay_reasons"))
    obligation.status = ObligationStatus.late if late else ObligationStatus.met
    obligation.met_at = met_at
    # Rounded up: a notice one millisecond late is late by a second, never by zero.
    obligation.late_by_seconds = (math.ceil((met_at - obligation.due_at).total_seconds()) if late
                                  else 0 if obligation.due_at is not None else None)
    obligation.delay_reasons = reasons
    obligation.decided_by, obligation.decided_at = actor, now or met_at


def mark_not_required(*, session: Session, obligation: Obligation, actor_role: str, actor: str, rationale: str,
                      now: datetime) -> Obligation:
    """A lead or admin rules the obligation not required, with a rationale (Art. 33(5) documentation)."""
    if actor_role not in (Role.lead, Role.admin):
        raise Forbidden("only a lead or an admin may mark an obligation not required")
    if not (rationale or "").strip():
        raise InputError(Problem("say why the obligation is not required", field="rationale"))
    if obligation.status != ObligationStatus.open:
        raise Conflict(f"obligation is {obligation.status}, not open")
    _close(obligation, rationale.strip(), actor, require_aware(now, "now"))
    session.add(obligation)
    session.flush()
    _cancel_pending(session, [obligation.id])
    return obligation


def customer_clock(*, obligation_to_controller: Obligation, aware_at: datetime | None, now: datetime) -> dict:
    """The customer's own projected 72 h Art. 33(1) deadline and how much of it our delay used."""
    ob = obligation_to_controller
    notified = ob.met_at if ob.status in SETTLED else None
    anchor = notified or aware_at
    due = anchor + timedelta(hours=CUSTOMER_WINDOW_HOURS) if anchor else None
    used = ((notified or now) - aware_at).total_seconds() / 3600 if aware_at else None
    return {"controller_key": ob.recipient_key, "notified": notified is not None, "notified_at": iso(notified),
            "anchor_at": iso(anchor), "projected_due_at": iso(due), "window_hours": CUSTOMER_WINDOW_HOURS,
            "used_hours": None if used is None else round(max(used, 0.0), 2),
            "remaining_hours": None if due is None else round((due - now).total_seconds() / 3600, 2)}


def list_obligations(*, session: Session, incident_id: int) -> list[Obligation]:
    """The incident's obligations, soonest due first; no due time last."""
    return list(session.exec(select(Obligation).where(Obligation.incident_id == incident_id)
                             .order_by(Obligation.due_at.is_(None), Obligation.due_at,
                                       Obligation.internal_target_at.is_(None), Obligation.internal_target_at,
                                       Obligation.id)))


def get_obligation(*, session: Session, incident_id: int, obligation_id: int) -> Obligation:
    """The incident's obligation with this id, or NotFound (another incident's id is not found either)."""
    obligation = session.get(Obligation, obligation_id)
    if obligation is None or obligation.incident_id != incident_id:
        raise NotFound(f"no obligation {obligation_id} in this incident")
    return obligation


def obligation_document(obligation: Obligation, *, now: datetime) -> dict:
    """The API form of an obligation; overdue = open, ours (not informational) and past due_at."""
    ob = obligation
    overdue = (ob.status == ObligationStatus.open and not ob.informational and ob.due_at is not None
               and now > ob.due_at)
    return {"id": ob.id, "regime": ob.regime_id, "stage": ob.stage_id, "title": ob.title,
            "recipient": {"kind": ob.recipient_kind, "key": ob.recipient_key},
            "anchor": {"name": ob.anchor_name, "at": iso(ob.anchor_at)}, "due_at": iso(ob.due_at),
            "no_fixed_deadline": ob.no_fixed_deadline, "internal_target_at": iso(ob.internal_target_at),
            "deadline_rule": ob.deadline_rule, "status": str(ob.status), "overdue": overdue,
            "met_at": iso(ob.met_at), "late_by_seconds": ob.late_by_seconds, "source": ob.source,
            "verified": ob.verified, "informational": ob.informational,
            "delay_reasons": ob.delay_reasons or None, "rationale": ob.rationale or None,
            "decided_by": ob.decided_by or None, "decided_at": iso(ob.decided_at)}
