"""The API form of notifications: a summary per row, and the full record with content, attempts and ack."""

from __future__ import annotations

from sqlmodel import Session

from app.clock.models import Obligation
from app.core.time import iso
from app.datamap.models import Controller
from app.notifications.acks import acknowledgement_of
from app.notifications.channels.email import notification_message_id
from app.notifications.drafting import versions_of
from app.notifications.models import DeliveryAttempt, NoticeFacts, Notification
from app.notifications.outbox import attempts_of, message_domain, outbox_of


def obligation_ref(obligation: Obligation | None) -> dict | None:
    """The obligation a notice is for, briefly."""
    if obligation is None:
        return None
    return {"id": obligation.id, "regime": obligation.regime_id, "stage": obligation.stage_id,
            "title": obligation.title, "status": str(obligation.status), "due_at": iso(obligation.due_at),
            "met_at": iso(obligation.met_at)}


def summary_document(n: Notification, *, controller: Controller | None, obligation: Obligation | None,
                     action: str | None = None, channels: list[str] | None = None) -> dict:
    """One notification in a list."""
    doc = {"id": n.id, "uid": n.uid, "controller": controller.key if controller else None,
           "controller_name": controller.name if controller else None, "obligation": obligation_ref(obligation),
           "kind": n.kind, "phase": n.phase, "status": str(n.status), "missing": list(n.missing),
           "phased": n.phased, "error": n.error or None, "version": n.version, "drill": n.drill,
           "delivered_at": iso(n.delivered_at)}
    if action is not None:
        doc["action"] = action
    if channels is not None:
        doc["channels"] = channels
    return doc


def attempt_documents(n: Notification, attempts: list[DeliveryAttempt], *, mail_from: str | None) -> list[dict]:
    """Each delivery attempt with its number on its outbox row and its proof (Message-ID or webhook-id, reply)."""
    numbers: dict[int, int] = {}
    docs = []
    for a in attempts:
        numbers[a.outbox_id] = numbers.get(a.outbox_id, 0) + 1
        if a.channel == "email":
            proof = {"message_id": notification_message_id(n.uid, message_domain(mail_from)),
                     "smtp_code": a.status_code, "smtp_reply": a.detail or None}
        else:
            proof = {"webhook_id": n.uid, "http_status": a.status_code, "status_line": a.detail or None}
        docs.append({"attempt": numbers[a.outbox_id], "outbox_id": a.outbox_id, "at": iso(a.attempted_at),
                     "channel": a.channel, "target": a.target, "ok": a.ok, "status_code": a.status_code,
                     "detail": a.detail, "error": a.error or None, "outcome": a.outcome, "proof": proof,
                     "duration_ms": a.duration_ms, "worker": a.worker})
    return docs


def notification_document(session: Session, n: Notification, *, mail_from: str | None = None) -> dict:
    """Everything about one notification: status, rendered content, outbox, every attempt, acknowledgement."""
    controller = session.get(Controller, n.controller_id) if n.controller_id else None
    ack = acknowledgement_of(session=session, notification_id=n.id)
    doc = summary_document(n, controller=controller, obligation=session.get(Obligation, n.obligation_id))
    doc.update({
        "incident_id": n.incident_id, "locale": n.locale, "required": list(n.required),
        "content": {"subject": n.subject, "text": n.text, "html": n.html, "payload": n.payload},
        "changes_since_last": list(n.changes), "previous_id": n.previous_id, "issued_at": iso(n.issued_at),
        "drafted": {"by": n.drafted_by, "at": iso(n.drafted_at)},
        "approved": {"by": n.approved_by, "at": iso(n.approved_at)} if n.approved_at else None,
        "reasons_for_delay": n.reasons_for_delay or None, "queued_at": iso(n.queued_at),
        "cancelled": ({"by": n.cancelled_by, "at": iso(n.cancelled_at), "reason": n.cancel_reason}
                      if n.cancelled_at else None),
        "failed_at": iso(n.failed_at), "escalation": n.escalation or None, "escalated_at": iso(n.escalated_at),
        "filed_reference": n.filed_reference or None,
        "versions": [{"version": v.version, "by": v.edited_by, "at": iso(v.edited_at), "note": v.note}
                     for v in versions_of(session=session, notification_id=n.id)],
        "outbox": [{"id": i.id, "channel": str(i.channel), "target": i.target, "status": str(i.status),
                    "attempts": i.attempts, "next_attempt_at": iso(i.next_attempt_at), "give_up_at": iso(i.give_up_at),
                    "last_error": i.last_error or None} for i in outbox_of(session=session, notification_id=n.id)],
        "attempts": attempt_documents(n, attempts_of(session=session, notification_id=n.id), mail_from=mail_from),
        "acknowledgement": None if ack is None else {"at": iso(ack.acknowledged_at), "contact_name": ack.contact_name,
                                                     "contact": ack.contact},
    })
    return doc


def facts_document(facts: NoticeFacts) -> dict:
    """The facts every notice of an incident shares; version 0 means never saved (drafts use the defaults)."""
    return {"description": facts.description, "likely_consequences": facts.likely_consequences,
            "measures_taken": list(facts.measures_taken), "measures_proposed": list(facts.measures_proposed),
            "measures_recommended": list(facts.measures_recommended), "contact_name": facts.contact_name,
            "contact_role": facts.contact_role, "contact_email": facts.contact_email,
            "contact_phone": facts.contact_phone, "authority_name": facts.authority_name,
            "member_states": list(facts.member_states), "data_subjects_informed": facts.data_subjects_informed,
            "version": facts.version, "updated_by": facts.updated_by or None, "updated_at": iso(facts.updated_at)}
