"""Drafting notices: one per recipient and obligation from that recipient's own facts; edits kept as versions.

Re-drafting is idempotent: an open draft is re-rendered only when what it is rendered from changed
(and never once a person edited it); after a delivered notice the next one is an update (or the
final report) listing what changed since that notice, and an update with no changes is not drafted.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import string
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.orm import defer
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, func, select

from app.assessment import service as assessment_service
from app.clock.models import Obligation, ObligationStatus
from app.core.errors import Conflict
from app.core.time import require_aware
from app.datamap.models import Contact, Controller
from app.incidents.impact import impact_rows, latest_snapshot
from app.incidents.models import ImpactRow, Incident
from app.notifications.acks import ack_token, ack_url
from app.notifications.content import (KIND_RECIPIENTS, TEMPLATE_KINDS, MentionGuard, SharedFacts, changes_between,
                                       completeness, content_and_gaps, recipient_advice, shared_facts, shared_texts,
                                       slice_counts)
from app.notifications.models import (OPEN_STATUSES, NoticeFacts, Notification, NotificationEdit, NotificationStatus,
                                      NotificationVersion, WebhookEndpointState)
from app.notifications.payload import build_webhook_payload
from app.notifications.render import (MessageKind, RenderedMessage, TemplateProblem, normalise_locale,
                                      render_message)
from app.notifications.settings import NoticeSettings
from app.notifications.targets import customer_targets, recipient_name

P2C = MessageKind.processor_to_controller
MENTION = "names another customer"  # marks the part of `error` the mention check owns
ERROR_SEPARATOR = " | "
_ROW_DEFAULTS = {"subject": "", "text": "", "html": None, "payload": None}  # a notice whose template failed
_WRITTEN = ("subject", "text", "html", "payload", "facts", "required", "missing", "changes")  # not read back


@dataclass
class DraftOutcome:
    """What drafting did for one obligation: created, redrafted, unchanged, kept (edited or in progress), no_change."""

    notification: Notification | None  # None only while a bulk draft waits for its insert
    action: str
    obligation: Obligation
    recipient: str = ""  # the customer's name, or "supervisory authority" / "data subjects"


def new_uid() -> str:
    """A public notification id: letters only (no dots, no digits that could read as a count), 94 bits."""
    # One draw from the OS, not twenty: drafting ten thousand notices made 200,000 urandom calls.
    number, letters = secrets.randbelow(26 ** 20), []
    for _ in range(20):
        number, digit = divmod(number, 26)
        letters.append(string.ascii_lowercase[digit])
    return "ntf_" + "".join(letters)


def kind_of(settings: NoticeSettings, ob: Obligation):
    """(message kind, stage) of an obligation we draft notices for, or None."""
    regime = settings.regimes.get(ob.regime_id)
    try:
        stage = regime.stage(ob.stage_id) if regime else None
    except KeyError:
        return None
    kind = TEMPLATE_KINDS.get(stage.template or "") if stage else None
    if kind is None or ob.informational or ob.recipient_kind not in KIND_RECIPIENTS[kind]:
        return None
    if (kind is P2C) != (ob.controller_id is not None):
        return None
    return kind, stage


def _in_chunks(session: Session, query_for, ids: list[int]) -> list:
    found = []
    for start in range(0, len(ids), 900):
        found += list(session.exec(query_for(ids[start:start + 900])))
    return found


def _company(session: Session, settings: NoticeSettings) -> tuple[Controller | None, dict | None]:
    if not settings.company_controller_key:
        return None, None
    company = session.exec(select(Controller).where(Controller.key == settings.company_controller_key)).first()
    if company is None:
        return None, None
    contacts = list(session.exec(select(Contact).where(Contact.controller_id == company.id)))
    dpo = next((c for c in contacts if str(c.role) == "dpo" and c.name.strip()), None)
    contact = None if dpo is None else {"name": dpo.name.strip(), "role": "Data Protection Officer",
                                        "email": dpo.email.strip() or None, "phone": dpo.phone.strip() or None}
    return company, contact


def draft_all(*, session: Session, incident: Incident, settings: NoticeSettings, actor: str, now: datetime,
              phase: str | None = None) -> list[DraftOutcome]:
    """Draft (or refresh) a notice for every obligation we notify for; `phase="final"` asks for final reports."""
    now = require_aware(now, "now")
    obligations = session.exec(select(Obligation).where(
        Obligation.incident_id == incident.id, Obligation.informational.is_(False),
        Obligation.status.in_([ObligationStatus.open, ObligationStatus.met, ObligationStatus.late]))
        .order_by(Obligation.recipient_key, Obligation.id)).all()
    plans = [(ob, *found) for ob in obligations if (found := kind_of(settings, ob))]
    if not plans:
        return []
    snapshot = latest_snapshot(session=session, incident_id=incident.id)
    rows = impact_rows(session=session, snapshot_id=snapshot.id) if snapshot else []
    by_controller = {r.controller_id: r for r in rows}
    ids = sorted({r.controller_id for r in rows} | {ob.controller_id for ob, *_ in plans if ob.controller_id})
    controllers = {c.id: c for c in _in_chunks(session, lambda c: select(Controller).where(Controller.id.in_(c)), ids)}
    contacts: dict[int, list[Contact]] = defaultdict(list)
    for contact in _in_chunks(session, lambda c: select(Contact).where(Contact.controller_id.in_(c)), ids):
        contacts[contact.controller_id].append(contact)
    endpoints = {e.controller_id: e for e in _in_chunks(
        session, lambda c: select(WebhookEndpointState).where(WebhookEndpointState.controller_id.in_(c)), ids)}
    company, company_contact = _company(session, settings)
    assessment = assessment_service.latest(session=session, incident_id=incident.id)
    shared = shared_facts(incident=incident, facts=session.get(NoticeFacts, incident.id),
                          organisation_name=settings.organisation_name, company_contact=company_contact,
                          assessment_inputs=assessment.inputs if assessment else None)
    guard = MentionGuard({cid: (controllers[cid].key, controllers[cid].name) for cid in by_controller
                          if cid in controllers and (company is None or cid != company.id)})
    mentioned = guard.mentioned(shared_texts(shared))
    history: dict[tuple, list[Notification]] = defaultdict(list)
    for n in session.exec(select(Notification).where(Notification.incident_id == incident.id).order_by(Notification.seq)):
        history[(n.obligation_id, n.recipient_key)].append(n)
    own_rows = [r for r in rows if "controller" in (r.roles or [r.role]) or (company and r.controller_id == company.id)]
    drafter = _Drafter(session=session, incident=incident, settings=settings, actor=actor, now=now, shared=shared,
                       mentioned=mentioned, company=company)
    outcomes = []
    for ob, kind, stage in plans:
        controller = controllers.get(ob.controller_id) if ob.controller_id else None
        slice_rows = ([by_controller[ob.controller_id]] if ob.controller_id in by_controller else []) if kind is P2C \
            else own_rows
        outcome = drafter.draft(ob, kind, stage.required_content, history[(ob.id, ob.recipient_key)], phase,
                                controller, contacts.get(ob.controller_id, []), endpoints.get(ob.controller_id),
                                slice_rows)
        if outcome is not None:
            outcome.recipient = controller.name if controller else ob.recipient_kind.replace("_", " ")
            outcomes.append(outcome)
    drafter.write()
    return outcomes


@dataclass
class _Drafter:
    session: Session
    incident: Incident
    settings: NoticeSettings
    actor: str
    now: datetime
    shared: SharedFacts
    mentioned: dict[int, str]
    company: Controller | None
    # Written in bulk by write(): an incident over ten thousand customers drafts ten thousand notices,
    # and a flush (or an ORM object) per notice cost more than rendering it.
    created: list[tuple[DraftOutcome, dict]] = field(default_factory=list)  # outcome, row of the new notice
    versions: list[tuple[Notification | str, int, RenderedMessage, str]] = field(default_factory=list)

    def draft(self, ob: Obligation, kind: MessageKind, required: list[str], history: list[Notification],
              requested: str | None, controller: Controller | None, contacts: list[Contact],
              endpoint: WebhookEndpointState | None, rows: list[ImpactRow]) -> DraftOutcome | None:
        """Create, refresh or keep the notice for one obligation; None when its sequence is closed."""
        current = next((n for n in reversed(history) if n.status in OPEN_STATUSES), None)
        if current is not None and (current.status != NotificationStatus.draft or current.edited):
            return DraftOutcome(current, "kept", ob)
        delivered = [n for n in history if n.status == NotificationStatus.delivered]
        last = delivered[-1] if delivered else None
        if last is not None and last.phase == "final":
            return None  # the final report closes the sequence
        phase = "initial" if last is None else ("final" if requested == "final" else "update")
        locale = normalise_locale(controller.locale if controller else self.company.locale if self.company else "en")
        shared = self.shared
        counts = slice_counts(rows)
        advice = recipient_advice(shared, counts, rows, locale)
        content, empty = content_and_gaps(shared, counts, advice)
        changes = changes_between(last.facts, content, locale) if last else []
        if phase == "update" and not changes and current is None:
            return DraftOutcome(last, "no_change", ob)
        _, missing = completeness(required, content, empty)
        errors = self._errors(kind, controller, contacts, endpoint)
        context = {"incident_ref": shared.incident_ref, "drill": shared.drill, "aware_at": shared.aware_at,
                   "language": locale, "organisation_name": shared.organisation_name,
                   **content, "changes_since_last": changes}
        if kind is P2C:
            context.update(controller={"key": controller.key, "name": controller.name},
                           recipient_name=recipient_name(contacts),
                           recipient_timezone=controller.timezone if controller.timezone else None,
                           controller_aware_at=ob.met_at if last is not None else None)
        else:
            context.update(authority_name=shared.authority_name, due_at=ob.due_at, member_states=shared.member_states,
                           data_subjects_informed=shared.data_subjects_informed)
        if last is not None:
            context.update(previous_notification_id=last.uid, previous_issued_at=last.issued_at)
        inputs = json.dumps({"kind": kind.value, "phase": phase, "locale": locale, "context": context,
                             "errors": errors, "missing": missing}, sort_keys=True, default=str)
        digest = hashlib.sha256(inputs.encode()).hexdigest()
        if current is not None and current.inputs_hash == digest:
            return DraftOutcome(current, "unchanged", ob)
        uid = current.uid if current is not None else new_uid()
        context.update(phase=phase, notification_id=uid, issued_at=self.now)
        if kind is P2C:
            token = ack_token(secret_key=self.settings.secret_key, uid=uid, signed_at=self.now)
            context["acknowledgement_url"] = ack_url(self.settings.public_base_url, token)
        message, payload = None, None
        try:
            message = render_message(kind, locale, phase, context)
        except TemplateProblem as exc:
            errors.append(f"template problem: {exc}")
        if message is not None and kind is P2C:
            try:
                payload = build_webhook_payload(**{k: v for k, v in context.items()
                                                   if k not in ("recipient_name", "recipient_timezone")})
            except ValidationError as exc:
                first = exc.errors()[0]
                errors.append(f"webhook payload: {'.'.join(map(str, first['loc']))}: {first['msg']}")
        values = {"phase": phase, "locale": locale, "facts": content, "required": list(required), "missing": missing,
                  "phased": bool(missing), "changes": changes, "previous_id": last.id if last else None,
                  "error": ERROR_SEPARATOR.join(errors)[:2000], "inputs_hash": digest, "issued_at": self.now,
                  "updated_at": self.now}
        if message is not None:
            values.update(subject=message.subject, text=message.text, html=message.html, payload=payload)
        if current is None:
            outcome = DraftOutcome(None, "created", ob)  # the notification is loaded after the bulk insert
            self.created.append((outcome, {**self._new(ob, kind, locale, history, controller, uid), **values}))
            if message is not None:
                self.versions.append((uid, 1, message, "drafted"))
            return outcome
        for name, value in values.items():
            setattr(current, name, value)
        if message is not None:
            current.version += 1
            self.versions.append((current, current.version, message, "re-drafted: the facts changed"))
        return DraftOutcome(current, "redrafted", ob)

    def write(self) -> None:
        """Write the drafted notices and their versions in bulk and fill in the new outcomes' notifications."""
        self.session.flush()  # the re-drafted notices: one UPDATE per set of changed columns
        rows = [row for _, row in self.created]
        columns = {name for row in rows for name in row}
        for row in rows:  # one executemany needs the same keys in every row (a template error has no text)
            for name in columns - row.keys():
                row[name] = _ROW_DEFAULTS[name]
        table = Notification.__table__
        for start in range(0, len(rows), 1000):
            self.session.execute(sa.insert(table), rows[start:start + 1000])
        uids = [row["uid"] for row in rows]
        # Loaded back (one query per 900), so callers get the same objects as from any other query; the
        # message and facts columns are not read back but given the values just written (decoding them
        # again cost as much as the insert).
        loaded = {n.uid: n for n in _in_chunks(self.session, lambda c: select(Notification).where(
            Notification.uid.in_(c)).options(*(defer(getattr(Notification, name)) for name in _WRITTEN)), uids)}
        for outcome, row in self.created:
            outcome.notification = loaded[row["uid"]]
            for name in _WRITTEN:
                set_committed_value(outcome.notification, name, row[name])
        self.created.clear()
        versions = [{"notification_id": loaded[n].id if isinstance(n, str) else n.id, "version": version,
                     "subject": m.subject, "text": m.text, "html": m.html, "edited_by": self.actor,
                     "edited_at": self.now, "note": note} for n, version, m, note in self.versions]
        for start in range(0, len(versions), 1000):
            self.session.execute(sa.insert(NotificationVersion.__table__), versions[start:start + 1000])
        self.versions.clear()

    def _errors(self, kind: MessageKind, controller: Controller | None, contacts: list[Contact],
                endpoint: WebhookEndpointState | None) -> list[str]:
        errors = []
        own = controller.id if controller else (self.company.id if self.company else None)
        others = sorted({term for cid, term in self.mentioned.items() if cid != own})
        if others:
            errors.append(f"the shared notice facts {MENTION} ({', '.join(others)}): edit the notice facts, then draft "
                          "again")
        if kind is P2C and not self.incident.drill:
            problem = customer_targets(controller, contacts, endpoint).error
            if problem:
                errors.append(problem)
        return errors

    def _new(self, ob: Obligation, kind: MessageKind, locale: str, history: list[Notification],
             controller: Controller | None, uid: str) -> dict:
        return {"uid": uid, "incident_id": self.incident.id, "obligation_id": ob.id,
                "controller_id": controller.id if controller else None, "recipient_key": ob.recipient_key,
                "kind": kind.value, "seq": max((n.seq for n in history), default=0) + 1, "locale": locale,
                "drill": self.incident.drill, "status": NotificationStatus.draft.value, "version": 1,
                "drafted_by": self.actor, "drafted_at": self.now}


def other_customers_guard(*, session: Session, notification: Notification) -> MentionGuard:
    """A mention check for the names and keys of the incident's affected customers other than the recipient."""
    snapshot = latest_snapshot(session=session, incident_id=notification.incident_id)
    if snapshot is None:
        return MentionGuard({})
    pairs = session.exec(select(Controller.id, Controller.key, Controller.name)
                         .join(ImpactRow, ImpactRow.controller_id == Controller.id)
                         .where(ImpactRow.snapshot_id == snapshot.id)).all()
    return MentionGuard({cid: (key, name) for cid, key, name in pairs if cid != notification.controller_id})


def edit_draft(*, session: Session, notification: Notification, data: NotificationEdit, actor: str,
               now: datetime) -> list[str]:
    """Apply an edit made from data.version as a new version; returns the fields changed (stale edits: Conflict)."""
    if notification.status != NotificationStatus.draft:
        raise Conflict(f"notification {notification.id} is {notification.status}: only drafts can be edited")
    changed = [name for name in ("subject", "text", "html")
               if getattr(data, name) is not None and getattr(data, name) != getattr(notification, name)]
    bumped = session.exec(sa.update(Notification).where(Notification.id == notification.id,
                                                        Notification.version == data.version,
                                                        Notification.status == NotificationStatus.draft)
                          .values(version=Notification.version + 1)
                       .execution_options(synchronize_session=False)).rowcount
    session.refresh(notification)
    if bumped == 0:
        raise Conflict(f"notification {notification.id} was changed by someone else since you opened it (you edited "
                       f"version {data.version}, it is now version {notification.version}, {notification.status}). "
                       "Nothing was saved: reload and re-apply your changes.")
    for name in changed:
        setattr(notification, name, getattr(data, name))
    notification.edited, notification.updated_at = True, require_aware(now, "now")
    found = other_customers_guard(session=session, notification=notification).mentioned(
        [notification.subject, notification.text, notification.html or "",
         json.dumps(notification.payload or {}, ensure_ascii=False)])
    parts = [p for p in notification.error.split(ERROR_SEPARATOR) if p and MENTION not in p]
    if found:
        parts.append(f"the notice {MENTION} ({', '.join(sorted(found.values()))}): remove it before approval")
    notification.error = ERROR_SEPARATOR.join(parts)[:2000]
    session.add(notification)
    session.add(NotificationVersion(notification_id=notification.id, version=notification.version,
                                    subject=notification.subject, text=notification.text, html=notification.html,
                                    edited_by=actor, edited_at=notification.updated_at,
                                    note=data.note.strip() or "edited"))
    session.flush()
    return changed


def versions_of(*, session: Session, notification_id: int) -> list[NotificationVersion]:
    """Every version of a notification, oldest first."""
    return list(session.exec(select(NotificationVersion).where(NotificationVersion.notification_id == notification_id)
                             .order_by(NotificationVersion.version)))


def count_by_status(*, session: Session, incident_id: int) -> dict[str, int]:
    """How many of the incident's notifications are in each status."""
    return dict(session.exec(select(Notification.status, func.count()).where(Notification.incident_id == incident_id)
                             .group_by(Notification.status)).all())
