"""Notification use cases: draft, edit, set the shared facts, approve (bulk), cancel, record filing, acknowledge.

Every step goes on the incident's timeline; per-customer steps carry the customer's controller_id,
so a customer's export shows its own notices and nobody else's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from app.core.errors import Conflict, NotFound
from app.core.time import iso, require_aware
from app.datamap.models import Contact, Controller
from app.flows.incident import Actor
from app.incidents.models import Incident
from app.notifications import acks, approval, drafting
from app.notifications.models import (Acknowledgement, AckIn, ApproveIn, NoticeFacts, NoticeFactsIn, Notification,
                                      NotificationEdit, OutboxItem)
from app.notifications.settings import NoticeSettings
from app.timeline import service as timeline
from app.timeline.models import TimelineHead

PHASE_LABEL = {"initial": "Initial notice", "update": "Update", "final": "Final report"}


def _event(session: Session, n: Notification, kind: str, summary: str, actor: str, now: datetime,
           occurred_at: datetime | None = None, **details) -> None:
    timeline.append(session=session, incident_id=n.incident_id, kind=kind, summary=summary[:2000], actor=actor,
                    recorded_at=now, occurred_at=occurred_at, controller_id=n.controller_id,
                    details={"notification_id": n.id, "uid": n.uid, "phase": n.phase, "kind": n.kind,
                             "obligation_id": n.obligation_id, **details})


def _new_event(n: Notification, kind: str, summary: str, actor: str, occurred_at: datetime | None = None,
               **details) -> timeline.NewEvent:
    """The same event as _event, for timeline.append_many."""
    return timeline.NewEvent(kind, summary[:2000], actor, occurred_at=occurred_at, controller_id=n.controller_id,
                             details={"notification_id": n.id, "uid": n.uid, "phase": n.phase, "kind": n.kind,
                                      "obligation_id": n.obligation_id, **details})


def lock_chain(session: Session, incident_id: int) -> None:
    """Take the incident's timeline lock first, so notification transactions lock rows in one order (no deadlocks)."""
    session.exec(sa.update(TimelineHead).where(TimelineHead.incident_id == incident_id)
                 .values(seq=TimelineHead.seq).execution_options(synchronize_session=False))


def recipient_label(session: Session, n: Notification) -> str:
    """Who a notice is for, in words."""
    if n.controller_id:
        controller = session.get(Controller, n.controller_id)
        return controller.name if controller else n.recipient_key
    return {"authority_report": "the supervisory authority", "data_subject": "the data subjects"}.get(n.kind, n.kind)


def get(*, session: Session, notification_id: int) -> Notification:
    """The notification with this id, or NotFound."""
    notification = session.get(Notification, notification_id)
    if notification is None:
        raise NotFound(f"no notification {notification_id}")
    return notification


def draft(*, session: Session, incident: Incident, actor: Actor, now: datetime, settings: NoticeSettings,
          phase: str | None = None) -> list[drafting.DraftOutcome]:
    """Draft a notice for every affected customer and our own authority/subject duties; idempotent."""
    outcomes = drafting.draft_all(session=session, incident=incident, settings=settings, actor=actor.name, now=now,
                                  phase=phase)
    events = []
    for o in outcomes:
        n = o.notification
        if o.action not in ("created", "redrafted"):
            continue
        what = f"{PHASE_LABEL[n.phase]} to {o.recipient} {'drafted' if o.action == 'created' else 're-drafted'}"
        if n.missing:
            what += f"; phased, to follow: {', '.join(n.missing)}"
        if n.error:
            what += f"; cannot be approved yet: {n.error}"
        events.append(_new_event(n, f"notification.{'drafted' if o.action == 'created' else 'redrafted'}", what,
                                 actor.name, version=n.version, missing=n.missing, changes=n.changes, error=n.error))
    # One chain write for the whole run: one event per customer notice.
    timeline.append_many(session=session, incident_id=incident.id, events=events, recorded_at=now)
    return outcomes


def facts_of(*, session: Session, incident: Incident) -> NoticeFacts:
    """The facts every notice of the incident shares (version 0: never saved, the defaults apply)."""
    return session.get(NoticeFacts, incident.id) or NoticeFacts(incident_id=incident.id, version=0)


def save_facts(*, session: Session, incident: Incident, data: NoticeFactsIn, actor: Actor, now: datetime) -> NoticeFacts:
    """Save the facts every notice shares (consequences, measures, contact point); stale versions are refused."""
    facts = session.get(NoticeFacts, incident.id) or NoticeFacts(incident_id=incident.id, version=0)
    if data.version is not None and facts.version and data.version != facts.version:
        raise Conflict(f"the notice facts were changed by {facts.updated_by} at {iso(facts.updated_at)} (now version "
                       f"{facts.version}); nothing was saved: reload and re-apply your changes")
    values = data.model_dump(exclude={"version"})
    changed = sorted(k for k, v in values.items() if getattr(facts, k) != v)
    for name, value in values.items():
        setattr(facts, name, value)
    facts.version, facts.updated_by, facts.updated_at = facts.version + 1, actor.name, now
    session.add(facts)
    session.flush()
    if changed:
        timeline.append(session=session, incident_id=incident.id, kind="notice_facts.updated", actor=actor.name,
                        recorded_at=now, summary="Notice facts updated: " + ", ".join(changed),
                        details={"changed": changed, "version": facts.version})
    return facts


def edit(*, session: Session, notification: Notification, data: NotificationEdit, actor: Actor,
         now: datetime) -> list[str]:
    """Edit a draft's text; the previous text stays as a version."""
    changed = drafting.edit_draft(session=session, notification=notification, data=data, actor=actor.name, now=now)
    _event(session, notification, "notification.edited",
           f"Draft to {recipient_label(session, notification)} edited (version {notification.version})"
           + (f": {data.note.strip()}" if data.note.strip() else ""), actor.name, now,
           version=notification.version, fields=changed, error=notification.error)
    return changed


def approve(*, session: Session, notification: Notification, data: ApproveIn, actor: Actor, now: datetime,
            settings: NoticeSettings) -> list[OutboxItem]:
    """Approve one draft and queue it for delivery (or fail a drill without drill targets)."""
    items = approval.approve(session=session, notification=notification, data=data, actor=actor.name,
                             actor_role=actor.role, now=now, settings=settings)
    timeline.append_many(session=session, incident_id=notification.incident_id, recorded_at=now,
                         events=_approval_events(session, notification, items, actor))
    return items


def _approval_events(session: Session, n: Notification, items: list[OutboxItem], actor: Actor) -> list:
    """approved, then queued (or failed: a drill without drill targets)."""
    who = recipient_label(session, n)
    events = [_new_event(n, "notification.approved", f"{PHASE_LABEL[n.phase]} to {who} approved", actor.name,
                         version=n.version, drafted_by=n.drafted_by, reasons_for_delay=n.reasons_for_delay)]
    if items:
        targets = [f"{i.channel}: {i.target}" for i in items]
        events.append(_new_event(n, "notification.queued", f"Queued for {who}: {'; '.join(targets)}", actor.name,
                                 outbox=[{"id": i.id, "channel": str(i.channel), "target": i.target} for i in items]))
    elif n.status == "failed":
        events.append(_new_event(n, "notification.failed", f"Not sent to {who}: {n.error}", actor.name,
                                 error=n.error))
    return events


@dataclass
class BulkResult:
    """What a bulk approval did: approved notifications, and per refused one why."""

    approved: list[Notification] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)


def approve_many(*, session: Session, incident: Incident, selection: dict[int, int | None], reasons: dict[int, str],
                 actor: Actor, now: datetime, settings: NoticeSettings) -> BulkResult:
    """Approve the selected drafts (id -> version reviewed); each succeeds or fails on its own."""
    # "Select all" over an incident with thousands of customers: checked and written in bulk (see
    # approval.approve_many); a refusal changes nothing, so the others need no savepoint.
    found = _by_id(session, Notification, Notification.id, sorted(selection))
    requests, why = [], {}
    for notification_id, version in selection.items():
        notification = found.get(notification_id)
        if notification is None or notification.incident_id != incident.id:
            why[notification_id] = "not a notification of this incident"
            continue
        requests.append((notification, ApproveIn(reasons_for_delay=reasons.get(notification_id, ""), version=version)))
    approved, refused = approval.approve_many(session=session, requests=requests, actor=actor.name,
                                              actor_role=actor.role, now=now, settings=settings)
    why.update((n.id, str(exc)) for n, exc in refused)
    controllers = _by_id(session, Controller, Controller.id, sorted({n.controller_id for n, _ in approved
                                                                     if n.controller_id}))  # for recipient_label
    events = [event for n, items in approved for event in _approval_events(session, n, items, actor)]
    timeline.append_many(session=session, incident_id=incident.id, recorded_at=now, events=events)
    del controllers
    done = {n.id: n for n, _ in approved}
    result = BulkResult()
    for notification_id in selection:  # in the order asked for
        if notification_id in done:
            result.approved.append(done[notification_id])
        else:
            result.refused.append((notification_id, why[notification_id]))
    return result


def draft_selection(*, session: Session, incident: Incident, channel: str | None = None) -> dict[int, int | None]:
    """"Select all": every draft of the incident (on one channel, when given), id -> the version shown."""
    items, _ = list_for_incident(session=session, incident=incident, status="draft", channel=channel)
    return {n.id: n.version for n in items}


def cancel(*, session: Session, notification: Notification, reason: str, actor: Actor, now: datetime,
           settings: NoticeSettings) -> None:
    """Cancel a notice before delivery, with the reason, on the timeline."""
    previous = notification.status
    lock_chain(session, notification.incident_id)
    rows = approval.cancel(session=session, notification=notification, reason=reason, actor=actor.name,
                           actor_role=actor.role, now=now, lease_seconds=settings.lease_seconds)
    _event(session, notification, "notification.cancelled",
           f"{PHASE_LABEL[notification.phase]} to {recipient_label(session, notification)} cancelled ({previous}): "
           f"{notification.cancel_reason}", actor.name, now, previous_status=str(previous), outbox_rows=rows,
           reason=notification.cancel_reason)


def record_filed(*, session: Session, notification: Notification, filed_at: datetime, reference: str, actor: Actor,
                 now: datetime) -> None:
    """Record a manual notice (authority report, letter to data subjects) as filed; settles its obligation."""
    obligation = approval.record_filed(session=session, notification=notification, filed_at=filed_at,
                                       reference=reference, actor=actor.name, actor_role=actor.role, now=now)
    who = recipient_label(session, notification)
    _event(session, notification, "notification.filed",
           f"{PHASE_LABEL[notification.phase]} to {who} filed" + (f" (reference {reference.strip()})" if reference.strip()
                                                                  else ""),
           actor.name, now, occurred_at=filed_at, reference=reference.strip())
    if obligation is not None:
        obligation_met(session, notification, obligation, actor.name, now)


def obligation_met(session: Session, notification: Notification, obligation, actor: str, now: datetime) -> None:
    """The timeline entry for an obligation met by a notice."""
    timeline.append_many(session=session, incident_id=obligation.incident_id, recorded_at=now,
                         events=[obligation_met_event(notification, obligation, actor)])


def obligation_met_event(notification: Notification, obligation, actor: str) -> timeline.NewEvent:
    """The timeline event of an obligation met by a notice, for timeline.append_many."""
    late = f", {obligation.late_by_seconds} s late: {obligation.delay_reasons}" if obligation.status == "late" else ""
    summary = f"{obligation.title}: met at {iso(obligation.met_at)} by notice {notification.uid}{late}"
    return timeline.NewEvent(
        "obligation.met", summary[:2000], actor, occurred_at=obligation.met_at, controller_id=obligation.controller_id,
        details={"obligation_id": obligation.id, "notification_id": notification.id,
                 "status": str(obligation.status), "met_at": iso(obligation.met_at),
                 "late_by_seconds": obligation.late_by_seconds, "delay_reasons": obligation.delay_reasons})


def acknowledge(*, session: Session, token: str, data: AckIn, now: datetime, settings: NoticeSettings) -> tuple[Notification, bool]:
    """A customer confirms receipt through its signed link; recorded once, on the timeline."""
    uid = acks.read_ack_token(secret_key=settings.secret_key, token=token, now=now, max_age_days=settings.ack_link_days)
    notification = acks.by_uid(session=session, uid=uid)
    if notification is None:
        raise acks.AckLinkProblem("this acknowledgement link is not valid")
    ack, new = acks.record_ack(session=session, notification=notification, data=data, now=now)
    if new:
        who = f" by {ack.contact_name}" if ack.contact_name else ""
        _event(session, notification, "notification.acknowledged",
               f"{recipient_label(session, notification)} confirmed receipt of notice {notification.uid}{who}",
               "acknowledgement link", require_aware(now, "now"), contact_name=ack.contact_name, contact=ack.contact)
    return notification, new


def list_for_incident(*, session: Session, incident: Incident, status: str | None = None, channel: str | None = None,
                      kind: str | None = None) -> tuple[list[Notification], dict[int, list[str]]]:
    """The incident's notifications (optionally by status, channel and kind) and each one's channels."""
    query = select(Notification).where(Notification.incident_id == incident.id)
    if status:
        query = query.where(Notification.status == status)
    if kind:
        query = query.where(Notification.kind == kind)
    items = list(session.exec(query.order_by(Notification.recipient_key, Notification.obligation_id,
                                             Notification.seq)))
    channels = channels_of(session=session, notifications=items)
    if channel:
        items = [n for n in items if channel in channels[n.id]]
    return items, channels


def channels_of(*, session: Session, notifications: list[Notification]) -> dict[int, list[str]]:
    """Per notification its channels: its outbox rows once queued, else what the customer has on file."""
    found: dict[int, set[str]] = {n.id: set() for n in notifications}
    ids = list(found)
    for start in range(0, len(ids), 900):
        for notification_id, channel in session.exec(select(OutboxItem.notification_id, OutboxItem.channel)
                                                     .where(OutboxItem.notification_id.in_(ids[start:start + 900]))):
            found[notification_id].add(str(channel))
    pending = [n for n in notifications if not found[n.id]]
    controller_ids = sorted({n.controller_id for n in pending if n.controller_id})
    controllers, with_contacts = {}, set()
    for start in range(0, len(controller_ids), 900):
        chunk = controller_ids[start:start + 900]
        controllers.update({c.id: c for c in session.exec(select(Controller).where(Controller.id.in_(chunk)))})
        with_contacts |= set(session.exec(select(Contact.controller_id).where(Contact.controller_id.in_(chunk),
                                                                               Contact.email != "")))
    for n in pending:
        if n.kind in approval.MANUAL_KINDS:
            found[n.id].add("manual")
        elif n.drill:
            found[n.id].add("drill")
        elif (c := controllers.get(n.controller_id)) is not None:
            if c.notify_emails or c.id in with_contacts:
                found[n.id].add("email")
            if c.webhook_url:
                found[n.id].add("webhook")
    return {k: sorted(v) for k, v in found.items()}


@dataclass
class ReviewPage:
    """What the bulk review page shows."""

    items: list[Notification]
    channels: dict[int, list[str]]
    controllers: dict[int, Controller]
    acked: dict[int, Acknowledgement]
    stale: set[int]  # delivered to a customer longer ago than the flag time and not acknowledged
    flags: acks.IncidentFlags
    counts: dict[str, int]
    facts: NoticeFacts


def _by_id(session: Session, model, column, ids: list[int]) -> dict:
    found = {}
    for start in range(0, len(ids), 900):
        for row in session.exec(select(model).where(column.in_(ids[start:start + 900]))):
            found[getattr(row, column.key)] = row
    return found


def review_page(*, session: Session, incident: Incident, status: str | None, channel: str | None, now: datetime,
                settings: NoticeSettings) -> ReviewPage:
    """The incident's notifications with their channels, receipts and the flags that need attention."""
    items, channels = list_for_incident(session=session, incident=incident, status=status, channel=channel)
    controllers = _by_id(session, Controller, Controller.id, sorted({n.controller_id for n in items if n.controller_id}))
    acked = _by_id(session, Acknowledgement, Acknowledgement.notification_id, [n.id for n in items])
    limit = settings.ack_flag_after_hours * 3600
    stale = {n.id for n in items if n.status == "delivered" and n.kind == "processor_to_controller"
             and n.id not in acked and (now - n.delivered_at).total_seconds() > limit}
    flags = acks.flags_for(session=session, incident_ids=[incident.id], now=now,
                           ack_after_hours=settings.ack_flag_after_hours).get(incident.id, acks.IncidentFlags())
    return ReviewPage(items=items, channels=channels, controllers=controllers, acked=acked, stale=stale, flags=flags,
                      counts=drafting.count_by_status(session=session, incident_id=incident.id),
                      facts=facts_of(session=session, incident=incident))


@dataclass
class Confirmation:
    """The "send to N customers" step of a bulk approval."""

    items: list[Notification]
    controllers: dict[int, Controller]
    late: set[int]  # overdue obligations: reasons for the delay are required
    customers: int


def confirmation(*, session: Session, incident: Incident, selection: dict[int, int | None],
                 now: datetime) -> Confirmation:
    """The selected notifications of the incident, who they go to, and which are overdue."""
    found = _by_id(session, Notification, Notification.id, sorted(selection))
    items = [found[i] for i in selection if i in found and found[i].incident_id == incident.id]
    obligations = _by_id(session, approval.Obligation, approval.Obligation.id, sorted({n.obligation_id for n in items}))
    controllers = _by_id(session, Controller, Controller.id, sorted({n.controller_id for n in items if n.controller_id}))
    return Confirmation(items=items, controllers=controllers, customers=len(controllers),
                        late={n.id for n in items if approval.overdue(obligations[n.obligation_id], now)})
