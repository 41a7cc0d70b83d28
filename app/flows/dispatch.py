"""The outbox dispatcher: a tick hook that claims due rows, sends them, records every attempt, escalates.

Per batch: claim (one committed transaction), send with no transaction open (all emails of the
batch over one SMTP connection; webhooks over one HTTP session from a small thread pool, while the
emails go out), then record the batch's results in one transaction together with their timeline
entries and, on first delivery, the obligations they meet. The attempt time is the injected `now`
plus the wall time the pass has taken, so a delivery is stamped when it happened, not when the
tick began; its timeline entries occur then and are recorded when the batch is.
"""

from __future__ import annotations

import hashlib
import logging
import time as walltime
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import load_only
from sqlmodel import select

from app import runtime
from app.clock.models import Obligation
from app.clock.obligation_documents import customer_clock
from app.clock.regimes import AnchorName
from app.db import immediate_session
from app.core.time import iso
from app.datamap.models import Controller
from app.db import engine as engine_of
from app.flows import incident as incident_flows
from app.flows.notifications import PHASE_LABEL, lock_chain, obligation_met_event, recipient_label
from app.incidents.models import Incident
from app.notifications import approval, outbox
from app.notifications.channels import DeliveryResult
from app.notifications.channels.email import SmtpSettings, build_message, send_batch
from app.notifications.channels.psirt import PsirtMessage, send_many_to_psirt
from app.notifications.channels.webhook import post_signed, webhook_session
from app.notifications.models import Channel, Notification
from app.notifications.settings import NoticeSettings
from app.timeline import service as timeline

log = logging.getLogger(__name__)
ACTOR = "dispatcher"


@dataclass
class DispatchReport:
    """What one dispatch pass did."""

    claimed: int = 0
    delivered: int = 0  # attempts that succeeded
    retry: int = 0  # attempts that failed and will be retried
    failed: int = 0  # attempts that failed for good (permanent, or retry period over)
    superseded: int = 0  # our claim was taken over (lease expired) before we recorded
    escalated: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """The small dict the tick report shows."""
        return {k: v for k, v in self.__dict__.items() if v or k == "claimed"}


def dispatch_outbox(app: Flask, now: datetime, worker: str) -> dict:
    """Tick hook (app.scheduler.TICK_HOOKS): one dispatch pass at `now`."""
    with app.app_context():
        settings = NoticeSettings.from_config(app.config, regimes=runtime.regimes())
        return dispatch_pass(engine_of(app), settings, now=now, worker=worker).as_dict()


def dispatch_pass(eng: sa.Engine, settings: NoticeSettings, *, now: datetime, worker: str) -> DispatchReport:
    """Deliver due outbox rows in batches, then settle customer clocks and tell the PSIRT about failures."""
    report = DispatchReport()
    started = walltime.monotonic()

    def at() -> datetime:
        return now + timedelta(seconds=walltime.monotonic() - started)

    touched: dict[int, set[str]] = {}  # incident -> customers notified for the first time in this pass

    def record(done: list[tuple]) -> None:
        for recorded in _record(eng, done, worker, settings, at) if done else []:
            setattr(report, recorded.outcome, getattr(report, recorded.outcome) + 1)
            if recorded.newly_delivered:
                keys = touched.setdefault(recorded.notification.incident_id, set())
                if recorded.notification.controller_id:
                    keys.add(recorded.notification.recipient_key)

    # Pipelined: a batch is sent (by one thread, no transaction open) while the one before it is recorded
    # here, so the receivers' time and the database's overlap. A crash leaves at most two batches sent but
    # unrecorded; their claims expire and they go again with the same ids.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dispatch-send") as sender:
        sending = None
        for _ in range(max(settings.max_batches, 1)):
            with immediate_session(eng) as session:
                items = outbox.claim(session=session, now=now, worker=worker, limit=settings.batch_size,
                                     lease_seconds=settings.lease_seconds)
                jobs = outbox.prepare(session=session, items=items, settings=settings, worker=worker, now=now)
            report.claimed += len(items)
            previous, sending = sending, sender.submit(_send, jobs, settings, at) if jobs else None
            if previous is not None:
                record(previous.result())
            if len(items) < settings.batch_size:
                break
        if sending is not None:
            record(sending.result())
    for incident_id in sorted(touched):
        try:
            _start_customer_clocks(eng, incident_id, touched[incident_id], at())
        except Exception as exc:  # deliveries are recorded; the next incident change syncs the clocks
            log.exception("syncing the customer clocks of incident %s failed", incident_id)
            report.errors.append(f"customer clocks of incident {incident_id}: {type(exc).__name__}")
    _escalate(eng, settings, now=now, at=at, report=report)
    return report


def _record(eng: sa.Engine, done: list[tuple], worker: str, settings: NoticeSettings, at) -> list[outbox.Recorded]:
    """Record a batch's results with their timeline entries in one transaction; a deadlock victim is retried."""
    incidents = sorted({job.notification.incident_id for job, *_ in done})
    for attempt in range(3):
        try:
            with immediate_session(eng) as session:
                for incident_id in incidents:  # chains first, in one order: no deadlock with other writers
                    lock_chain(session, incident_id)
                recorded = outbox.record_many(session=session, done=done, worker=worker, settings=settings)
                _write_timeline(session, recorded, at())
            return recorded
        except sa.exc.OperationalError:
            # The messages went out: losing this record would mean sending them again after the lease.
            if attempt == 2:
                raise
            log.warning("recording a batch of %d outbox row(s) failed (attempt %d), retrying", len(done),
                        attempt + 1, exc_info=True)
    raise AssertionError("unreachable")


def _send(jobs: list[outbox.Job], settings: NoticeSettings, at) -> list[tuple]:
    """(job, result, attempt time, duration ms) per job: webhooks from a small pool while the emails go out."""
    done: list[tuple] = [(job, job.problem, at(), 0) for job in jobs if job.problem is not None]
    emails = [job for job in jobs if job.problem is None and job.email is not None]
    hooks = [job for job in jobs if job.problem is None and job.email is None]
    pool = http = None
    if hooks:
        # Receivers answer in their own time: posting one after another made a batch as slow as the
        # sum of their latencies. One session; its pool keeps a connection per thread alive.
        workers = max(1, min(settings.webhook_concurrency, len(hooks)))
        http = webhook_session(pool_size=workers)
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhook")
        allowed = set(settings.config.get("WEBHOOK_ALLOWED_HOSTS") or set())
        posts = [pool.submit(_post, job, http, allowed, at) for job in hooks]
    try:
        if emails:
            done += _send_emails(emails, settings, at, done)
        if hooks:
            done += [post.result() for post in posts]
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
            http.close()
    return done


def _send_emails(emails: list[outbox.Job], settings: NoticeSettings, at, done: list[tuple]) -> list[tuple]:
    """Send the emails over one SMTP connection; malformed ones fail alone (added to `done`)."""
    began = walltime.monotonic()
    try:
        try:
            results = send_batch(SmtpSettings.from_config(settings.config), [job.email for job in emails])
        except ValueError:
            # send_batch refuses the whole batch for one malformed message before sending anything:
            # fail that message alone and send the rest.
            emails = _without_malformed(emails, done, at)
            results = send_batch(SmtpSettings.from_config(settings.config), [job.email for job in emails])
    except Exception as exc:  # a channel bug or bad SMTP settings must not lose notices: retry them
        log.exception("sending %d email(s) failed", len(emails))
        results = [DeliveryResult.transient(", ".join(job.email.to), f"not sent: {type(exc).__name__}: {exc}")
                   for job in emails]
    share = int((walltime.monotonic() - began) * 1000 / max(len(emails), 1))
    when = at()
    return [(job, result, when, share) for job, result in zip(emails, results)]


def _post(job: outbox.Job, http, allowed: set[str], at) -> tuple:
    """POST one signed webhook (on a pool thread); never raises."""
    began = walltime.monotonic()
    try:
        result = post_signed(job.item.url, job.secret, job.notification.uid, job.body, now=at(),
                             allowed_hosts=allowed, session=http)
    except Exception as exc:  # never lose the row: record a transient failure and retry
        log.exception("webhook %s crashed", job.item.url)
        result = DeliveryResult.transient(job.item.url or "", f"crashed: {type(exc).__name__}: {exc}")
    return job, result, at(), int((walltime.monotonic() - began) * 1000)


def _without_malformed(emails: list[outbox.Job], done: list[tuple], at) -> list[outbox.Job]:
    """The emails that build; each one that does not gets a permanent failure of its own in `done`."""
    good = []
    for job in emails:
        try:
            build_message(job.email)
            good.append(job)
        except (ValueError, TypeError) as exc:
            done.append((job, DeliveryResult.permanent_failure(job.item.target, f"message not sendable: {exc}"), at(), 0))
    return good


def _write_timeline(session, recorded: list[outbox.Recorded], now: datetime) -> None:
    """Settle the obligations the batch met and write its timeline entries: one chain write per incident."""
    controller_ids = sorted({r.notification.controller_id for r in recorded if r.notification.controller_id})
    # Held here: the session keeps objects only while someone refers to them, and recipient_label's
    # session.get must find them instead of querying once per row.
    controllers = []
    for start in range(0, len(controller_ids), 900):
        controllers += session.exec(select(Controller).where(Controller.id.in_(controller_ids[start:start + 900]))
                                    .options(load_only(Controller.name))).all()
    incidents = {i: session.get(Incident, i) for i in {r.notification.incident_id for r in recorded}}
    delivered = [r for r in recorded if r.newly_delivered]
    met = dict(zip((id(r) for r in delivered), approval.settle_many(
        session=session, deliveries=[(r.notification, r.at) for r in delivered], actor=ACTOR)))
    events: dict[int, list[timeline.NewEvent]] = {}
    for r in recorded:
        n = r.notification
        entries = _events(session, r, met.get(id(r)), incidents[n.incident_id])
        if n.recipient_key.startswith("subjects:"):
            entries = [_redacted(e) for e in entries]  # issue 10: subjects' addresses never enter the hash chain
        events.setdefault(n.incident_id, []).extend(entries)
    for incident_id in sorted(events):
        timeline.append_many(session=session, incident_id=incident_id, events=events[incident_id], recorded_at=now)
    del controllers


def _events(session, recorded: outbox.Recorded, obligation: Obligation | None,
            incident: Incident) -> list[timeline.NewEvent]:
    """The timeline events of one recorded attempt; they occurred at the attempt time."""
    n, a, when = recorded.notification, recorded.attempt, recorded.at
    who = recipient_label(session, n)
    channel = "Email" if a.channel == Channel.email else "Webhook"
    if recorded.outcome == "delivered":
        state = f"delivered ({a.detail})"
    elif recorded.outcome == "retry":
        state = f"failed ({a.detail}), retry at {iso(recorded.item.next_attempt_at)}"
    elif recorded.outcome == "failed":
        state = f"failed for good ({recorded.item.last_error})"
    else:
        state = f"{a.detail}; the row was taken over by another dispatcher"
    base = {"notification_id": n.id, "uid": n.uid, "phase": n.phase, "kind": n.kind, "obligation_id": n.obligation_id}
    attempt = {"attempt_id": a.id, "channel": a.channel, "target": a.target, "ok": a.ok, "status_code": a.status_code,
               "detail": a.detail, "outcome": a.outcome, "attempt": recorded.item.attempts,
               "duration_ms": a.duration_ms, "worker": a.worker}

    def event(kind: str, summary: str, details: dict) -> timeline.NewEvent:
        return timeline.NewEvent(kind, summary[:2000], ACTOR, occurred_at=when, details=details,
                                 controller_id=n.controller_id)

    events = []
    if not recorded.newly_delivered:  # the delivering attempt is told by notification.delivered below
        events.append(event("notification.attempt", f"{channel} to {who} ({a.target}): {state}", {**base, **attempt}))
    if recorded.endpoint_disabled:
        events.append(event("webhook.endpoint_disabled",
                            f"Webhook of {who} answered 410 Gone and is disabled until its URL changes",
                            {**base, "url": recorded.item.url}))
    if recorded.newly_delivered:
        ob = obligation or session.get(Obligation, n.obligation_id)
        clock = customer_clock(obligation_to_controller=ob, aware_at=incident.aware_at, now=when) \
            if n.controller_id and n.kind != "data_subject" else None  # issue 10: subjects have no controller clock
        events.append(event("notification.delivered",
                            f"{PHASE_LABEL[n.phase]} delivered to {who} by {a.channel} ({a.target}: {a.detail}) "
                            f"at {iso(when)}" + (f"; their 72 h clock runs to {clock['projected_due_at']}"
                                                 if clock else ""),
                            {**base, **attempt, "delivered_at": iso(when), "customer_clock": clock}))
        if obligation is not None:
            events.append(obligation_met_event(n, obligation, ACTOR))
    if recorded.newly_failed:
        events.append(event("notification.failed", f"{PHASE_LABEL[n.phase]} to {who} NOT delivered: {n.error}",
                            {**base, "error": n.error}))
    return events


def _redacted(event: timeline.NewEvent) -> timeline.NewEvent:
    """The event with addresses redacted from its summary and details: Art. 34 rows go to data subjects."""
    from app.core.redaction import Redactor

    redactor = Redactor()
    return replace(event, summary=redactor.redact(event.summary)[0],
                   details=redactor.redact_value(event.details or {})[0])


def _start_customer_clocks(eng: sa.Engine, incident_id: int, keys: set[str], when: datetime) -> None:
    """Re-sync the notified customers' obligations: a customer's own 72 h clock starts with our first notice."""
    try:
        settings = runtime.clock_settings()
    except RuntimeError:
        return  # outside an app context (a bare pass in a script): the next incident change syncs them
    with immediate_session(eng) as session:
        waiting = sorted({key for (key,) in session.execute(
            select(Obligation.recipient_key).where(
                Obligation.incident_id == incident_id, Obligation.anchor_name == AnchorName.CONTROLLER_NOTIFIED_AT,
                Obligation.anchor_at.is_(None)).distinct())} & keys)
        if not waiting:
            return  # no clock of these customers waits for our notice
        lock_chain(session, incident_id)
        incident = session.get(Incident, incident_id)
        # Their obligations only, not the impact: a delivery changes who was notified, not what was affected.
        incident_flows.sync_obligations(session=session, incident=incident, actor=incident_flows.Actor(ACTOR, "lead"),
                                        now=when, settings=settings, recipients=set(waiting))


def _escalate(eng: sa.Engine, settings: NoticeSettings, *, now: datetime, at, report: DispatchReport) -> None:
    """Tell the PSIRT (email and/or webhook) about notices that failed or lost their webhook."""
    with immediate_session(eng) as session:
        claimed = outbox.claim_escalations(session=session, now=now)
        messages = [_psirt_message(session, n) for n in claimed]
    if not claimed:
        return
    try:
        answers = send_many_to_psirt(settings.config, messages, now=at())
    except Exception as exc:  # the escalation stays due and is retried next pass
        log.exception("escalating %d notification(s) failed", len(claimed))
        answers = [[DeliveryResult.transient("psirt", f"{type(exc).__name__}: {exc}")]] * len(claimed)
    for n, results in zip(claimed, answers):
        delivered = any(r.ok for r in results)
        text = "; ".join(f"{r.target}: {'ok' if r.ok else 'failed'} {r.detail}" for r in results)
        with immediate_session(eng) as session:
            if not delivered and any(not r.permanent for r in results):
                outbox.unclaim_escalation(session=session, notification_id=n.id)
                continue
            report.escalated += int(delivered)
            timeline.append(session=session, incident_id=n.incident_id, kind="notification.escalated", actor=ACTOR,
                            recorded_at=at(), controller_id=n.controller_id,
                            summary=(f"PSIRT {'told' if delivered else 'could NOT be told'}: {n.escalation}")[:2000],
                            details={"notification_id": n.id, "uid": n.uid, "reason": n.escalation, "result": text})


def _psirt_message(session, n: Notification) -> PsirtMessage:
    incident = session.get(Incident, n.incident_id)
    who = recipient_label(session, n)
    drill = "[DRILL] " if n.drill else ""
    key = hashlib.sha256(n.escalation.encode()).hexdigest()[:8]
    subject = f"{drill}{incident.ref}: notice to {who} needs attention"
    text = "\n".join([*(["DRILL — this is an exercise."] if n.drill else []),
                      f"Incident:     {incident.ref} {incident.title}",
                      f"Notice:       {PHASE_LABEL[n.phase]} {n.uid} to {who} ({n.status})",
                      f"What:         {n.escalation}", "", f"Open: /notifications/{n.id}"]) + "\n"
    payload = {"type": "breachline.notification_escalation", "id": f"escalation-{n.uid}-{key}",
               "incident": {"ref": incident.ref, "drill": incident.drill},
               "notification": {"id": n.id, "uid": n.uid, "status": str(n.status), "phase": n.phase,
                                "recipient": who, "link": f"/notifications/{n.id}"},
               "reason": n.escalation}
    return PsirtMessage(subject=subject, text=text, payload=payload, drill=n.drill)
