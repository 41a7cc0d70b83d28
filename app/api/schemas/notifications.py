"""Answers about notifications: list rows, the full record with content, outbox, attempts and acknowledgement."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, RootModel

from app.api.schemas.common import Out, PageMeta, UTCTime
from app.clock.models import ObligationStatus
from app.notifications.models import Channel, NotificationStatus, OutboxStatus
from app.notifications.render import MessageKind


class ObligationBrief(Out):
    """The obligation a notice is for."""

    id: int
    regime: str
    stage: str
    title: str
    status: ObligationStatus
    due_at: UTCTime | None
    met_at: UTCTime | None


class NotificationSummary(Out):
    """One notification in a list."""

    id: int
    uid: str
    controller: str | None = Field(description="controller key; null for authority reports and subject letters")
    controller_name: str | None
    obligation: ObligationBrief | None
    kind: MessageKind
    phase: Literal["initial", "update", "final"]
    status: NotificationStatus
    missing: list[str]
    phased: bool
    error: str | None
    version: int = Field(ge=1)
    drill: bool
    delivered_at: UTCTime | None
    action: Literal["created", "redrafted", "unchanged", "kept", "no_change"] | None = Field(
        default=None, description="drafting only: what drafting did to this notice")
    channels: list[Literal["email", "webhook", "manual", "drill"]] | None = Field(
        default=None, description="lists only: the notice's channels")


class DraftedList(RootModel[list[NotificationSummary]]):
    """The notices drafting created, updated or left unchanged."""


class NotificationList(PageMeta):
    """One page of the incident's notifications."""

    items: list[NotificationSummary]


class ContentOut(Out):
    """The rendered notice."""

    subject: str
    text: str
    html: str | None
    payload: dict[str, Any] | None = Field(description="the webhook body (processor to controller notices)")


class ByAt(Out):
    """Who did it, and when."""

    by: str
    at: UTCTime | None


class CancelledOut(ByAt):
    """Who withdrew the notice, when and why."""

    reason: str


class NotificationVersionOut(Out):
    """One saved version of the content."""

    version: int
    by: str
    at: UTCTime
    note: str


class OutboxOut(Out):
    """One delivery channel of a queued notice."""

    id: int
    channel: Channel
    target: str
    status: OutboxStatus
    attempts: int = Field(ge=0)
    next_attempt_at: UTCTime
    give_up_at: UTCTime
    last_error: str | None


class EmailProof(Out):
    """What proves an email attempt: our stable Message-ID and the SMTP server's reply."""

    message_id: str
    smtp_code: int | None
    smtp_reply: str | None


class WebhookProof(Out):
    """What proves a webhook attempt: the webhook-id header (the receiver's idempotency key) and the HTTP answer."""

    webhook_id: str
    http_status: int | None
    status_line: str | None


class AttemptOut(Out):
    """One delivery attempt and what the peer answered."""

    attempt: int = Field(ge=1, description="the attempt's number on its outbox row (channel target)")
    outbox_id: int
    at: UTCTime
    channel: str
    target: str
    ok: bool
    status_code: int | None
    detail: str
    error: str | None
    outcome: str
    proof: EmailProof | WebhookProof
    duration_ms: int
    worker: str


class AcknowledgementOut(Out):
    """The controller's confirmation of receipt."""

    at: UTCTime
    contact_name: str
    contact: str


class NotificationOut(NotificationSummary):
    """Everything about one notification."""

    incident_id: int
    locale: str
    required: list[str]
    content: ContentOut
    changes_since_last: list[dict[str, Any]]
    previous_id: int | None
    issued_at: UTCTime
    drafted: ByAt
    approved: ByAt | None
    reasons_for_delay: str | None
    queued_at: UTCTime | None
    cancelled: CancelledOut | None
    failed_at: UTCTime | None
    escalation: str | None
    escalated_at: UTCTime | None
    filed_reference: str | None
    versions: list[NotificationVersionOut]
    outbox: list[OutboxOut]
    attempts: list[AttemptOut]
    acknowledgement: AcknowledgementOut | None


class RefusedOut(Out):
    """A notice a bulk approval left alone, and why."""

    id: int
    reason: str


class BulkApproveOut(Out):
    """What a bulk approval did: each selected draft is approved or refused on its own."""

    approved: list[NotificationSummary]
    refused: list[RefusedOut]


class NoticeFactsOut(Out):
    """The facts every notice of an incident shares (version 0: never saved; drafts use the defaults)."""

    description: str
    likely_consequences: str
    measures_taken: list[str]
    measures_proposed: list[str]
    measures_recommended: list[str]
    contact_name: str
    contact_role: str
    contact_email: str
    contact_phone: str
    authority_name: str
    member_states: list[str]
    data_subjects_informed: Literal["", "yes", "planned", "no", "not_required"]
    version: int = Field(ge=0)
    updated_by: str | None
    updated_at: UTCTime | None
