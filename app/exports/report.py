"""The incident report (HTML and PDF): facts, impact with charts, obligations, notifications, assessment, timeline."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import ValidationError
from sqlmodel import Session, func, select

from app.assessment import service as assessment_service
from app.assessment.recommend import AssessmentInput, assess
from app.clock import obligation_documents
from app.clock.models import ObligationStatus
from app.core.display import format_duration, format_time
from app.core.time import parse_aware
from app.datamap.models import Controller
from app.exports.charts import bar_chart
from app.exports.events import EventStream, chain_note, incident_facts
from app.exports.scoping import ExportScope, impact_slice
from app.incidents import service as incident_service
from app.notifications.models import Acknowledgement, Notification, NotificationStatus, OutboxItem, OutboxStatus
from app.timeline.models import TimelineEvent

# A customer sees the notices that reached it or are on their way, not our drafts or withdrawn ones.
CUSTOMER_VISIBLE = (NotificationStatus.queued, NotificationStatus.delivered, NotificationStatus.failed)


def _when(scope: ExportScope):
    def when(value) -> str:
        if isinstance(value, str):
            value = parse_aware(value)
        return format_time(value, scope.tz)
    return when


def _impact(session: Session, scope: ExportScope) -> dict:
    snapshot, rows = impact_slice(session=session, scope=scope)
    if snapshot is None:
        return {"computed_at": None, "controllers": [], "totals": None, "charts": []}
    names = dict(session.exec(select(Controller.id, Controller.name)
                              .where(Controller.id.in_([r.controller_id for r in rows]))).all()) if rows else {}
    keys = dict(session.exec(select(Controller.id, Controller.key)
                             .where(Controller.id.in_([r.controller_id for r in rows]))).all()) if rows else {}
    controllers = [{"key": keys.get(r.controller_id), "name": names.get(r.controller_id), "role": r.role,
                    "data_categories": r.data_categories, "subject_categories": r.subject_categories,
                    "jurisdictions": r.jurisdictions, "est_subjects": r.est_subjects, "est_records": r.est_records,
                    "special_categories": r.special_categories, "vulnerable_subjects": r.vulnerable_subjects}
                   for r in rows]
    if scope.per_customer:
        # Totals and charts are across customers: a customer's report shows its own row only.
        return {"computed_at": snapshot.computed_at, "controllers": controllers, "totals": None, "charts": []}
    totals = snapshot.totals or {}
    charts = [(title, bar_chart([(k, v["controllers"]) for k, v in totals.get(key, {}).items()], title=title,
                                unit=" customers"))
              for key, title in (("by_data_category", "Affected customers by data category"),
                                 ("by_jurisdiction", "Affected customers by jurisdiction"))]
    return {"computed_at": snapshot.computed_at, "controllers": controllers, "totals": totals, "charts": charts,
            "datamap_version": snapshot.datamap_version_id}


def _obligations(session: Session, scope: ExportScope, now: datetime) -> list[dict]:
    items = obligation_documents.list_obligations(session=session, incident_id=scope.incident.id)
    if scope.per_customer:
        items = [o for o in items if o.controller_id == scope.controller.id]
    rows = []
    for o in items:
        overdue = o.status == ObligationStatus.open and not o.informational and o.due_at is not None and now > o.due_at
        rows.append({"title": scope.text(o.title), "regime": o.regime_id, "recipient_kind": o.recipient_kind,
                     "recipient_key": o.recipient_key, "deadline_rule": o.deadline_rule, "anchor_name": o.anchor_name,
                     "anchor_at": o.anchor_at, "due_at": o.due_at, "internal_target_at": o.internal_target_at,
                     "no_fixed_deadline": o.no_fixed_deadline, "status": str(o.status), "overdue": overdue,
                     "met_at": o.met_at, "late_by": format_duration_seconds(o.late_by_seconds),
                     "delay_reasons": scope.text(o.delay_reasons), "rationale": scope.text(o.rationale),
                     "source": o.source, "informational": o.informational, "verified": o.verified})
    return rows


def format_duration_seconds(seconds: int | None) -> str | None:
    """'2 d 4 h' for a positive number of seconds, else None."""
    return format_duration(timedelta(seconds=seconds)) if seconds else None


def _notifications(session: Session, scope: ExportScope) -> list[dict]:
    query = (select(Notification, Acknowledgement.acknowledged_at, Acknowledgement.contact_name, Controller.name)
             .outerjoin(Acknowledgement, Acknowledgement.notification_id == Notification.id)
             .outerjoin(Controller, Controller.id == Notification.controller_id)
             .where(Notification.incident_id == scope.incident.id))
    if scope.per_customer:
        query = query.where(Notification.controller_id == scope.controller.id,
                            Notification.status.in_([str(s) for s in CUSTOMER_VISIBLE]))
    found = session.exec(query.order_by(Notification.recipient_key, Notification.obligation_id, Notification.seq)).all()
    channels: dict[int, list[str]] = {}
    ids = [n.id for n, *_ in found]
    for start in range(0, len(ids), 500):
        for nid, channel, status in session.exec(select(OutboxItem.notification_id, OutboxItem.channel,
                                                        OutboxItem.status)
                                                 .where(OutboxItem.notification_id.in_(ids[start:start + 500]))):
            mark = "" if status == OutboxStatus.delivered else f" ({status})"
            channels.setdefault(nid, []).append(f"{channel}{mark}")
    return [{"recipient": name or n.recipient_key or n.kind.replace("_", " "), "recipient_key": n.recipient_key,
             "kind": n.kind, "phase": n.phase, "seq": n.seq, "status": str(n.status), "drill": n.drill,
             "approved_at": n.approved_at, "queued_at": n.queued_at, "delivered_at": n.delivered_at,
             "failed_at": n.failed_at, "acknowledged_at": ack_at, "ack_contact": scope.text(contact or ""),
             "channels": sorted(channels.get(n.id, [])), "reasons_for_delay": scope.text(n.reasons_for_delay),
             "filed_reference": n.filed_reference} for n, ack_at, contact, name in found]


def _assessment(session: Session, scope: ExportScope) -> dict | None:
    latest = assessment_service.latest(session=session, incident_id=scope.incident.id)
    if latest is None:
        return None
    if not scope.per_customer:
        result = latest.result
        return {"seq": latest.seq, "score": result.get("score"), "band": result.get("band"),
                "notify_sa": latest.decision_notify_sa, "communicate": latest.decision_communicate,
                "overridden": latest.overridden, "rationale": latest.override_rationale,
                "recommendation": latest.recommendation, "reasons": result.get("reasons", []),
                "assessor": latest.assessor, "decided_at": latest.decided_at, "per_customer": False}
    # Our decision concerns our own data; a customer gets our assessment re-run on its own slice,
    # because the incident-wide reasons quote totals across all customers.
    _, rows = impact_slice(session=session, scope=scope)
    inputs = dict(latest.inputs)
    inputs["data_categories"] = sorted({c for r in rows for c in r.data_categories})
    inputs["subjects_count"] = sum(r.est_subjects for r in rows)
    inputs["vulnerable_subjects"] = bool(inputs.get("vulnerable_subjects")) and any(r.vulnerable_subjects for r in rows)
    try:
        result = assess(AssessmentInput.model_validate(inputs))
    except (ValidationError, ValueError):
        return None
    return {"seq": latest.seq, "score": float(result.enisa.score), "band": result.enisa.band.value,
            "recommendation": {"notify_supervisory_authority": result.notify_supervisory_authority,
                               "communicate_to_data_subjects": result.communicate_to_data_subjects},
            "reasons": [scope.text(r) for r in result.reasons], "decided_at": latest.decided_at, "per_customer": True}


def count_events(*, session: Session, scope: ExportScope) -> int:
    """How many events the export will hold (for the PDF size limit)."""
    query = select(func.count()).select_from(TimelineEvent).where(TimelineEvent.incident_id == scope.incident.id,
                                                                 TimelineEvent.seq <= scope.head_seq)
    if scope.per_customer:
        query = query.where((TimelineEvent.controller_id == scope.controller.id)
                            | TimelineEvent.controller_id.is_(None))
    return session.exec(query).one()


def report_context(*, session: Session, scope: ExportScope, now: datetime) -> dict:
    """Everything the report template shows; the events are a stream read while rendering."""
    incident = scope.incident
    return {"scope": scope, "facts": incident_facts(scope), "incident": incident, "generated_at": now,
            "when": _when(scope), "summary_text": scope.text(incident.summary),
            "status_rationale": scope.text(incident.status_rationale),
            "systems": [] if scope.per_customer else incident_service.get_scope(session=session,
                                                                                 incident_id=incident.id).systems,
            "impact": _impact(session, scope), "obligations": _obligations(session, scope, now),
            "notifications": _notifications(session, scope), "assessment": _assessment(session, scope),
            "events": EventStream(session=session, scope=scope, with_local=False), "chain_note": chain_note(scope)}
