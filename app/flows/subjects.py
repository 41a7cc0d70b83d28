"""Subject-level use cases: import a list, send the Art. 34 communication, access, erasure, retention.

Every step writes the incident's timeline with counts and row numbers only: identifiers and contact
addresses never enter the hash chain (it can never be rewritten, so it could never be erased).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask
from sqlmodel import Session, select

from app.clock.models import Obligation, ObligationStatus
from app.core.errors import Conflict, Forbidden, InputError, NotFound, Problem
from app.core.time import iso, require_aware
from app.datamap.models import Contact, Controller
from app.flows.incident import Actor
from app.incidents.impact import impact_rows, latest_snapshot
from app.incidents.models import Incident
from app.notifications import approval
from app.notifications.content import content_of, shared_facts, slice_counts
from app.notifications.drafting import new_uid
from app.notifications.models import (Channel, DeliveryAttempt, NoticeFacts, Notification, NotificationStatus,
                                      NotificationVersion, OutboxItem)
from app.notifications.render import MessageKind, TemplateProblem, normalise_locale, render_message
from app.notifications.settings import NoticeSettings
from app.notifications.targets import drill_targets
from app.subjects import retention, service
from app.subjects.models import AffectedSubject, SubjectStatus
from app.subjects.pseudonym import KeyRing
from app.timeline import service as timeline
from app.timeline.redaction import TimelineRedaction

RECIPIENT_PREFIX = "subjects:"  # Notification.recipient_key of an Art. 34 communication for one controller


def _require_lead(actor: Actor) -> None:
    if not approval.is_lead(actor.role):
        raise Forbidden("only a lead may manage affected-subject lists")


def _event(session: Session, incident: Incident, kind: str, summary: str, actor: Actor, now: datetime,
           controller_id: int | None = None, **details) -> None:
    timeline.append(session=session, incident_id=incident.id, kind=kind, summary=summary, actor=actor.name,
                    recorded_at=now, controller_id=controller_id, details=details)


def controller_of(*, session: Session, key: str) -> Controller:
    """The controller with this key; NotFound names the key."""
    controller = session.exec(select(Controller).where(Controller.key == key)).first()
    if controller is None:
        raise NotFound(f"no controller with key {key!r}")
    return controller


def import_list(*, session: Session, incident: Incident, controller: Controller, csv_text: str, ring: KeyRing,
                actor: Actor, now: datetime) -> service.ImportResult:
    """Import a CSV of subjects of one controller into the incident (pseudonymised); records counts on the timeline."""
    _require_lead(actor)
    rows = service.parse_csv(csv_text)
    result = service.import_rows(session=session, ring=ring, incident_id=incident.id, controller_id=controller.id,
                                 rows=rows, actor=actor.name, now=now)
    _event(session, incident, "subjects.imported",
           f"Affected-subject list of {controller.name} imported: {result.added} added, {result.updated} updated, "
           f"{result.without_contact} without a contact address (identifiers stored as {ring.current} pseudonyms)",
           actor, now, controller_id=controller.id, **result.as_dict(), key_id=ring.current)
    return result


def _obligation_for(session: Session, incident: Incident, controller: Controller,
                    settings: NoticeSettings) -> Obligation:
    """The obligation an Art. 34 communication for this controller's subjects belongs to.

    Our own company: the incident's data-subject obligation (delivery meets it). A customer: its
    Art. 33(2) obligation, once met: we communicate on the controller's instruction after telling it.
    """
    obligations = session.exec(select(Obligation).where(Obligation.incident_id == incident.id)).all()
    own = settings.company_controller_key and controller.key == settings.company_controller_key
    for ob in obligations:
        if ob.recipient_kind == "data_subjects" and not ob.informational and (
                ob.controller_id == controller.id or (own and ob.controller_id is None)):
            return ob
    for ob in obligations:
        if ob.controller_id == controller.id and ob.status != ObligationStatus.open:
            return ob
    raise Conflict(f"{controller.name} has not been notified of this incident yet: notify the controller first "
                   "(GDPR Art. 33(2)); Art. 34 communications on its behalf follow its instruction")


def _dpo(session: Session, controller: Controller) -> dict | None:
    contacts = session.exec(select(Contact).where(Contact.controller_id == controller.id)).all()
    dpo = next((c for c in contacts if str(c.role) == "dpo" and c.name.strip()), None)
    return None if dpo is None else {"name": dpo.name.strip(), "role": "Data Protection Officer",
                                     "email": dpo.email.strip() or None, "phone": dpo.phone.strip() or None}


def prepare_communication(*, session: Session, incident: Incident, controller: Controller, actor: Actor,
                          now: datetime, settings: NoticeSettings) -> Notification:
    """Draft the Art. 34 communication to this controller's subjects in its locale; approved like any notice."""
    _require_lead(actor)
    now = require_aware(now, "now")
    key = RECIPIENT_PREFIX + controller.key
    open_one = session.exec(select(Notification).where(
        Notification.incident_id == incident.id, Notification.recipient_key == key,
        Notification.status.in_([NotificationStatus.draft, NotificationStatus.approved]))).first()
    if open_one is not None:
        return open_one
    ob = _obligation_for(session, incident, controller, settings)
    locale = normalise_locale(controller.locale)
    snapshot = latest_snapshot(session=session, incident_id=incident.id)
    rows = [r for r in (impact_rows(session=session, snapshot_id=snapshot.id) if snapshot else [])
            if r.controller_id == controller.id]
    shared = shared_facts(incident=incident, facts=session.get(NoticeFacts, incident.id),
                          organisation_name=controller.name, company_contact=_dpo(session, controller),
                          assessment_inputs=None)
    content = content_of(shared, slice_counts(rows), None)
    seq = len(session.exec(select(Notification.id).where(Notification.obligation_id == ob.id,
                                                         Notification.recipient_key == key)).all()) + 1
    n = Notification(uid=new_uid(), incident_id=incident.id, obligation_id=ob.id, controller_id=controller.id,
                     recipient_key=key, kind=MessageKind.data_subject.value, phase="initial", seq=seq, locale=locale,
                     drill=incident.drill, issued_at=now, drafted_by=actor.name, drafted_at=now, updated_at=now,
                     facts=content)
    context = {"incident_ref": incident.ref, "drill": incident.drill, "aware_at": incident.aware_at,
               "language": locale, "organisation_name": controller.name, **content, "phase": "initial",
               "notification_id": n.uid, "issued_at": now}
    try:
        message = render_message(MessageKind.data_subject, locale, "initial", context)
    except TemplateProblem as exc:
        raise Conflict(f"the data-subject template could not be rendered: {exc}") from None
    n.subject, n.text, n.html = message.subject, message.text, message.html
    n.inputs_hash = hashlib.sha256(json.dumps(context, sort_keys=True, default=str).encode()).hexdigest()
    session.add(n)
    session.flush()
    session.add(NotificationVersion(notification_id=n.id, version=1, subject=n.subject, text=n.text, html=n.html,
                                    edited_by=actor.name, edited_at=now, note="drafted: Art. 34 communication"))
    _event(session, incident, "subjects.communication_drafted",
           f"Art. 34 communication to the data subjects of {controller.name} drafted ({locale}); it needs approval",
           actor, now, controller_id=controller.id, notification_id=n.id, uid=n.uid)
    session.flush()
    return n


@dataclass
class SendResult:
    """What sending queued."""

    notification: Notification
    queued: int
    without_contact: int


def send(*, session: Session, incident: Incident, controller: Controller, actor: Actor, now: datetime,
         settings: NoticeSettings) -> SendResult:
    """Queue the approved communication to every listed subject with an address: one outbox row each (drill: the drill mailbox)."""
    _require_lead(actor)
    now = require_aware(now, "now")
    key = RECIPIENT_PREFIX + controller.key
    n = session.exec(select(Notification).where(
        Notification.incident_id == incident.id, Notification.recipient_key == key,
        Notification.status.in_([NotificationStatus.approved, NotificationStatus.queued,
                                 NotificationStatus.delivered])).order_by(Notification.id.desc())).first()
    if n is None:
        raise Conflict(f"no approved Art. 34 communication for {controller.name}: draft it here, have another lead "
                       "approve it on the Notifications page, then send")
    drill_mail = None
    if incident.drill:
        targets = drill_targets(settings.config)
        if targets.error or not targets.emails:
            raise Conflict(f"drill incident: {targets.error or 'set DRILL_EMAIL'}; real subjects are never written to")
        drill_mail = list(targets.emails)
    subjects = session.exec(select(AffectedSubject).where(
        AffectedSubject.incident_id == incident.id, AffectedSubject.controller_id == controller.id,
        AffectedSubject.status.in_([SubjectStatus.imported, SubjectStatus.failed, SubjectStatus.no_contact]))
        .order_by(AffectedSubject.id)).all()
    give_up = now + timedelta(hours=settings.retry_hours)
    queued = without = 0
    for subject in subjects:
        if not subject.contact:
            subject.status = SubjectStatus.no_contact
            without += 1
            session.add(subject)
            continue
        item = OutboxItem(notification_id=n.id, channel=Channel.email, addresses=drill_mail or [subject.contact],
                          next_attempt_at=now, give_up_at=give_up, created_at=now)
        session.add(item)
        session.flush()
        subject.status, subject.notification_id, subject.outbox_id = SubjectStatus.queued, n.id, item.id
        session.add(subject)
        queued += 1
    if queued and n.status == NotificationStatus.approved:
        n.status, n.queued_at, n.updated_at = NotificationStatus.queued, now, now
        session.add(n)
    _event(session, incident, "subjects.communication_queued",
           f"Art. 34 communication to the data subjects of {controller.name} queued for {queued} subject(s)"
           + (f"; {without} without a contact address" if without else "") + (" (drill mailbox)" if drill_mail else ""),
           actor, now, controller_id=controller.id, notification_id=n.id, queued=queued, without_contact=without)
    session.flush()
    return SendResult(n, queued, without)


def access_export(*, session: Session, identifier: str, ring: KeyRing, actor: Actor, now: datetime,
                  controller: Controller | None = None) -> dict:
    """Everything held about the subject with this identifier, as JSON (Art. 15/20); the lookup is on each timeline."""
    _require_lead(actor)
    service.sync_delivery(session=session)
    found = service.find(session=session, ring=ring, identifier=identifier,
                         controller_id=controller.id if controller else None)
    moved = service.rekey(session=session, ring=ring, identifiers=[identifier]) if found else 0
    incidents = {i.id: i for i in session.exec(select(Incident).where(Incident.id.in_({s.incident_id for s in found})))} \
        if found else {}
    controllers = {c.id: c for c in session.exec(select(Controller).where(
        Controller.id.in_({s.controller_id for s in found})))} if found else {}
    records = []
    for subject in found:
        attempts = session.exec(select(DeliveryAttempt).where(DeliveryAttempt.outbox_id == subject.outbox_id)
                                .order_by(DeliveryAttempt.id)).all() if subject.outbox_id else []
        records.append(service.subject_document(subject, incident_ref=incidents[subject.incident_id].ref,
                                                controller_key=controllers[subject.controller_id].key,
                                                attempts=attempts))
    for incident_id in sorted({s.incident_id for s in found}):
        rows = [s.id for s in found if s.incident_id == incident_id]
        _event(session, incidents[incident_id], "subjects.access",
               f"Access request answered: {len(rows)} subject row(s) exported (rows {', '.join(map(str, rows))})",
               actor, now, rows=rows)
    return {"generated_at": iso(now), "found": len(records), "rekeyed": moved,
            "note": ("Breachline stores the identifier only as a keyed pseudonym; the contact address only until the "
                     "Art. 34 communication is delivered plus a grace period."),
            "records": records}


def erase(*, session: Session, identifier: str, mode: str, reason: str, ring: KeyRing, actor: Actor, now: datetime,
          controller: Controller | None = None) -> int:
    """Erase or pseudonymise every row of this subject; each incident's timeline records it without personal data."""
    _require_lead(actor)
    if mode not in ("erase", "pseudonymise"):
        raise InputError(Problem("mode must be erase or pseudonymise", field="mode"))
    found = [s for s in service.find(session=session, ring=ring, identifier=identifier,
                                     controller_id=controller.id if controller else None)
             if s.status != SubjectStatus.erased]
    if not found:
        raise NotFound("no subject with this identifier is held (under any configured key)")
    incidents = {i.id: i for i in session.exec(select(Incident).where(Incident.id.in_({s.incident_id for s in found})))}
    for subject in found:
        service.erase(session=session, subject=subject, mode=mode, now=now)
        incident = incidents[subject.incident_id]
        _event(session, incident, f"subjects.{'erased' if mode == 'erase' else 'pseudonymised'}",
               f"Subject row #{subject.id} {'erased' if mode == 'erase' else 'pseudonymised (contact removed)'} "
               f"on request" + (f" ({reason.strip()})" if reason.strip() else ""),
               actor, now, controller_id=subject.controller_id, row=subject.id, mode=mode)
    session.flush()
    return len(found)


def run_retention(*, session: Session, settings: retention.RetentionSettings, now: datetime, actor: str,
                  dry_run: bool) -> retention.RetentionPlan:
    """Run (or plan) retention; a real run notes on each touched incident's timeline what it did (counts only)."""
    plan = retention.run(session=session, settings=settings, now=now, actor=actor, dry_run=dry_run)
    if not dry_run and plan.incidents:
        for incident in session.exec(select(Incident).where(Incident.ref.in_(list(plan.incidents)))):
            marks = session.exec(select(TimelineRedaction.event_id).where(
                TimelineRedaction.incident_id == incident.id)).all()
            timeline.append(session=session, incident_id=incident.id, kind="retention.applied", actor=actor,
                            recorded_at=now, summary="Retention policy applied: " + "; ".join(plan.incidents[incident.ref]),
                            details={"changes": plan.incidents[incident.ref], "events_marked": len(marks)})
    return plan


def retention_tick(app: Flask, now: datetime, worker: str) -> dict:
    """Tick hook (app.scheduler.TICK_HOOKS): run retention at most once per RETENTION_RUN_EVERY_HOURS."""
    from app.db import immediate_session
    from app.db import engine as engine_of

    settings = retention.RetentionSettings.from_config(app.config)
    with app.app_context(), immediate_session(engine_of(app)) as session:
        if not retention.due(session=session, settings=settings, now=now):
            return {}
        plan = run_retention(session=session, settings=settings, now=now, actor="scheduler", dry_run=False)
        return {"retention": dict(plan.counts)}
