"""Declaring and working an incident: every step recomputes what depends on it and writes the timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from app.assessment import service as assessment_service
from app.clock import obligations as obligation_service
from app.clock.settings import ClockSettings
from app.core.time import iso
from app.flows import tasks as tasks_flow
from app.incidents import impact as impact_service
from app.incidents import service
from app.incidents.models import Incident, IncidentCreate, IncidentStatus, IncidentUpdate, ScopeIn, StatusChange
from app.timeline import service as timeline
from app.timeline.models import TimelineEvent


@dataclass
class Actor:
    """Who does something: recorded on the timeline as `name`, checked by role."""

    name: str  # email, or "scheduler", "intake:<source>"
    role: str = "responder"
    user_id: int | None = None  # the signed-in user or token owner (None: the system)


def _event(session: Session, incident: Incident, kind: str, summary: str, actor: Actor, now: datetime,
           **kwargs) -> None:
    timeline.append(session=session, incident_id=incident.id, kind=kind, summary=summary, actor=actor.name,
                    recorded_at=now, **kwargs)


def declare(*, session: Session, data: IncidentCreate, actor: Actor, now: datetime, settings: ClockSettings,
            known_types: set[str] | None = None, incident_type_obj=None) -> Incident:
    """Create an incident with its scope, then compute impact and obligations, all on the timeline."""
    incident = service.create(session=session, data=data, actor=actor.name, now=now, known_types=known_types)
    _event(session, incident, "incident.created",
           f"{'Drill ' if incident.drill else ''}incident {incident.ref} declared: {incident.title}", actor, now,
           details={"incident_type": incident.incident_type, "breach_types": incident.breach_types,
                    "severity": str(incident.severity), "detected_at": iso(incident.detected_at),
                    "aware_at": iso(incident.aware_at), "drill": incident.drill,
                    "restricted": incident.restricted})
    if incident.aware_at:
        _event(session, incident, "incident.aware", "We became aware of a personal data breach (reasonable degree "
               "of certainty, WP250)", actor, now, occurred_at=incident.aware_at)
    if incident.restricted:
        from app.flows import access as access_flow  # lazy: flows.access imports Actor from here

        access_flow.add_creator(session=session, incident=incident, actor=actor, now=now)
    _apply_scope(session, incident, data.scope, actor, now)
    tasks_flow.create_for_incident(session=session, incident=incident, actor=actor, now=now,
                                   incident_type=incident_type_obj)  # playbook tasks (issue 5)
    recompute(session=session, incident=incident, actor=actor, now=now, settings=settings)
    return incident


def edit(*, session: Session, incident: Incident, data: IncidentUpdate, actor: Actor, now: datetime,
         settings: ClockSettings) -> dict:
    """Apply a versioned edit; anchors that moved recompute deadlines."""
    from app.flows import access as access_flow  # lazy: flows.access imports Actor from here

    if data.restricted is not None and data.restricted != incident.restricted:
        access_flow.require_restrict_permission(actor)  # who may see an incident is a lead's decision
    changes = service.update_incident(session=session, incident=incident, data=data, actor=actor.name, now=now)
    if changes.get("restricted", (False, False))[1]:
        access_flow.add_creator(session=session, incident=incident, actor=actor, now=now)
    if changes:
        _event(session, incident, "incident.edited", "Edited: " + ", ".join(sorted(changes)), actor, now,
               details={"version": incident.version,
                        "changes": {k: {"from": _show(old), "to": _show(new)} for k, (old, new) in changes.items()}})
        if "aware_at" in changes and incident.aware_at:
            _event(session, incident, "incident.aware", "Awareness time set (reasonable degree of certainty, WP250)",
                   actor, now, occurred_at=incident.aware_at)
        recompute(session=session, incident=incident, actor=actor, now=now, settings=settings)
    return changes


def _show(value):
    return iso(value) if isinstance(value, datetime) else value


def change_status(*, session: Session, incident: Incident, change: StatusChange, actor: Actor, now: datetime,
                  settings: ClockSettings) -> None:
    """Move the incident in its workflow and record why."""
    old = service.change_status(session=session, incident=incident, status=change.status, rationale=change.rationale,
                                now=now, expected_version=change.version)
    summary = f"Status {old} → {change.status}"
    if change.status == IncidentStatus.not_a_breach:
        summary += f": not a personal data breach — {change.rationale.strip()}"
    _event(session, incident, "incident.status", summary, actor, now,
           details={"from": str(old), "to": str(change.status), "rationale": change.rationale.strip()})
    recompute(session=session, incident=incident, actor=actor, now=now, settings=settings)


def set_scope(*, session: Session, incident: Incident, scope: ScopeIn, actor: Actor, now: datetime,
              settings: ClockSettings, expected_version: int | None = None) -> None:
    """Replace the scope, then recompute impact and obligations."""
    service.claim_version(session=session, incident=incident, expected=expected_version)
    _apply_scope(session, incident, scope, actor, now)
    recompute(session=session, incident=incident, actor=actor, now=now, settings=settings)


def _apply_scope(session: Session, incident: Incident, scope: ScopeIn, actor: Actor, now: datetime) -> None:
    old, new = service.set_scope(session=session, incident=incident, scope=scope)
    if old != new:
        _event(session, incident, "scope.changed",
               f"Scope: {len(new.systems)} system(s)"
               + (f", narrowed to {len(new.data_categories)} categor(ies)" if new.data_categories else "")
               + (f", {len(new.controllers)} controller(s)" if new.controllers else ""),
               actor, now, details={"from": old.as_dict(), "to": new.as_dict()})


def recompute(*, session: Session, incident: Incident, actor: Actor, now: datetime, settings: ClockSettings) -> None:
    """Refresh the impact snapshot and the obligations; differences go on the timeline."""
    snapshot, diff = impact_service.refresh_impact(session=session, incident_id=incident.id, now=now)
    if diff is not None and not diff.is_empty:
        _event(session, incident, "impact.changed", "Impact: " + diff.summary(), actor, now,
               details={"snapshot_id": snapshot.id, "datamap_version_id": snapshot.datamap_version_id,
                        **diff.as_dict()})
    sync_obligations(session=session, incident=incident, actor=actor, now=now, settings=settings)


def sync_obligations(*, session: Session, incident: Incident, actor: Actor, now: datetime, settings: ClockSettings,
                     snapshot=None, recipients: set[str] | None = None) -> None:
    """Bring the obligations (of `recipients` only, if given) in line with the latest impact and risk decision."""
    snapshot = snapshot or impact_service.latest_snapshot(session=session, incident_id=incident.id)
    latest = assessment_service.latest(session=session, incident_id=incident.id)
    changes = obligation_service.sync_obligations(
        session=session, incident=incident, snapshot=snapshot, settings=settings, now=now,
        risk_decision=assessment_service.risk_decision(latest) if latest else None, recipients=recipients)
    events = []
    for kind, obligations in (("obligation.created", changes.created), ("obligation.updated", changes.updated),
                              ("obligation.closed", changes.closed), ("obligation.reopened", changes.reopened),
                              ("obligation.not_required", changes.decided)):
        for ob in obligations:
            if kind in ("obligation.closed", "obligation.not_required"):
                summary = f"{ob.title}: not required — {ob.rationale}"
            else:
                summary = f"{ob.title}: " + (f"due {iso(ob.due_at)}" if ob.due_at
                                             else f"no fixed deadline ({ob.deadline_rule})")
            events.append(timeline.NewEvent(
                kind, summary[:2000], actor.name, controller_id=ob.controller_id,
                details={"obligation_id": ob.id, "regime": ob.regime_id, "stage": ob.stage_id,
                         "status": str(ob.status), "due_at": iso(ob.due_at),
                         "internal_target_at": iso(ob.internal_target_at), "rationale": ob.rationale,
                         "decided_by": ob.decided_by, "source": ob.source}))
    # One chain write for all of them: an incident over thousands of customers has an event per obligation.
    timeline.append_many(session=session, incident_id=incident.id, events=events, recorded_at=now)


def add_note(*, session: Session, incident: Incident, text: str, occurred_at: datetime | None, actor: Actor,
             now: datetime) -> TimelineEvent:
    """A manual timeline entry with its own time of occurrence; returns the event."""
    return timeline.append(session=session, incident_id=incident.id, kind="note", summary=text.strip(),
                           actor=actor.name, recorded_at=now, occurred_at=occurred_at or now)
