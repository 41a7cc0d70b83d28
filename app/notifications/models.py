"""Notifications: drafts and their versions, the outbox, delivery attempts, acknowledgements, notice facts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

import sqlalchemy as sa
from pydantic import Field as PydanticField
from pydantic import field_validator
from sqlmodel import JSON, Field, SQLModel

from app.core.numbers import ROW_ID_MAX
from app.core.time import AwareISO, UTCDateTime

RowId = Annotated[int, PydanticField(ge=1, le=ROW_ID_MAX)]  # a notification id or version as input


class NotificationStatus(StrEnum):
    """Where a notification stands: draft -> approved -> queued -> delivered | failed, or cancelled."""

    draft = "draft"
    approved = "approved"  # approved; manual kinds wait here until someone records them as filed
    queued = "queued"  # in the outbox
    delivered = "delivered"  # at least one channel delivered it (or it was recorded as filed)
    failed = "failed"  # no channel delivered it: permanent failure or retries exhausted; escalated
    cancelled = "cancelled"  # withdrawn before delivery, with a reason


OPEN_STATUSES = (NotificationStatus.draft, NotificationStatus.approved, NotificationStatus.queued)


class Channel(StrEnum):
    """How a notification reaches its recipient."""

    email = "email"
    webhook = "webhook"
    manual = "manual"  # authority report or data-subject letter: filed or sent outside Breachline


class OutboxStatus(StrEnum):
    """One outbox row (one channel target) of a queued notification."""

    pending = "pending"  # waiting for its next attempt (or being attempted under a claim)
    delivered = "delivered"
    failed = "failed"  # permanent failure or retry period over
    cancelled = "cancelled"  # the notification was cancelled before this row was sent


class Notification(SQLModel, table=True):
    """One notice to one recipient for one obligation; `seq` counts the notices of that pair."""

    __table_args__ = (sa.UniqueConstraint("obligation_id", "recipient_key", "seq",
                                          name="uq_notification_obligation_recipient_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(max_length=40, sa_column_kwargs={"unique": True}, index=True)  # webhook-id, Message-ID
    incident_id: int = Field(foreign_key="incident.id", index=True)
    obligation_id: int = Field(foreign_key="obligation.id", index=True)
    controller_id: int | None = Field(default=None, foreign_key="controller.id", index=True)
    recipient_key: str = Field(default="", max_length=120)  # controller key; "" for authority / subjects
    kind: str = Field(max_length=40)  # app.notifications.render.MessageKind
    phase: str = Field(max_length=10)  # initial | update | final
    seq: int = 1
    locale: str = Field(default="en", max_length=10)
    status: NotificationStatus = Field(default=NotificationStatus.draft, sa_type=sa.String(12), index=True)
    drill: bool = False
    subject: str = Field(default="", max_length=1000)
    text: str = Field(default="", sa_type=sa.Text)
    html: str | None = Field(default=None, sa_type=sa.Text)
    payload: dict | None = Field(default=None, sa_type=JSON)  # webhook body (processor -> controller only)
    facts: dict = Field(default_factory=dict, sa_type=JSON)  # what the notice said, for "changed since"
    required: list[str] = Field(default_factory=list, sa_type=JSON)  # the stage's required content
    missing: list[str] = Field(default_factory=list, sa_type=JSON)  # required items still to follow
    changes: list[dict] = Field(default_factory=list, sa_type=JSON)  # changes since the last delivered notice
    phased: bool = False  # sent with items to follow (Art. 33(4))
    error: str = Field(default="", max_length=2000)  # why it cannot be approved or was not delivered
    edited: bool = False  # a person changed the text: re-drafting leaves it alone
    inputs_hash: str = Field(default="", max_length=64)  # what it was rendered from; same hash: nothing to re-draft
    version: int = 1
    issued_at: datetime = Field(sa_type=UTCDateTime)  # when the content was composed
    drafted_by: str = Field(max_length=254)
    drafted_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    approved_by: str = Field(default="", max_length=254)
    approved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reasons_for_delay: str = Field(default="", max_length=5000)  # Art. 33(1), given at approval when late
    queued_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancelled_by: str = Field(default="", max_length=254)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancel_reason: str = Field(default="", max_length=2000)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    failed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    escalation: str = Field(default="", max_length=2000)  # what the PSIRT must be told (failure, 410 Gone)
    escalated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # when the PSIRT was told
    filed_reference: str = Field(default="", max_length=300)  # manual kinds: the authority's case number
    previous_id: int | None = Field(default=None, foreign_key="notification.id")  # last delivered notice


class NotificationVersion(SQLModel, table=True):
    """The content of one version of a notification; version 1 is the first draft."""

    __tablename__ = "notification_version"
    __table_args__ = (sa.UniqueConstraint("notification_id", "version", name="uq_notification_version"),)

    id: int | None = Field(default=None, primary_key=True)
    notification_id: int = Field(foreign_key="notification.id", index=True)
    version: int
    subject: str = Field(max_length=1000)
    text: str = Field(sa_type=sa.Text)
    html: str | None = Field(default=None, sa_type=sa.Text)
    edited_by: str = Field(max_length=254)
    edited_at: datetime = Field(sa_type=UTCDateTime)
    note: str = Field(default="", max_length=2000)  # "drafted", "re-drafted: facts changed", the editor's note


class OutboxItem(SQLModel, table=True):
    """One channel target of a queued notification; the dispatcher claims these rows."""

    __tablename__ = "notification_outbox"
    __table_args__ = (sa.Index("ix_notification_outbox_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    notification_id: int = Field(foreign_key="notification.id", index=True)
    channel: Channel = Field(sa_type=sa.String(10))
    addresses: list[str] = Field(default_factory=list, sa_type=JSON)  # email recipients
    url: str | None = Field(default=None, max_length=2000)  # webhook target
    status: OutboxStatus = Field(default=OutboxStatus.pending, sa_type=sa.String(12))
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    give_up_at: datetime = Field(sa_type=UTCDateTime)  # queued_at + DELIVERY_RETRY_HOURS
    claimed_by: str = Field(default="", max_length=100)
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str = Field(default="", max_length=2000)
    created_at: datetime = Field(sa_type=UTCDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def target(self) -> str:
        """The addresses or URL, as the attempt records show them."""
        return ", ".join(self.addresses) if self.channel == Channel.email else (self.url or "")


class DeliveryAttempt(SQLModel, table=True):
    """One attempt to deliver one outbox row, with what the peer answered."""

    __tablename__ = "delivery_attempt"

    id: int | None = Field(default=None, primary_key=True)
    notification_id: int = Field(foreign_key="notification.id", index=True)
    outbox_id: int = Field(foreign_key="notification_outbox.id", index=True)
    attempted_at: datetime = Field(sa_type=UTCDateTime)
    channel: str = Field(max_length=10)
    target: str = Field(max_length=2000)
    ok: bool
    status_code: int | None = None  # SMTP reply code or HTTP status
    detail: str = Field(default="", max_length=600)  # SMTP reply or HTTP status line
    error: str = Field(default="", max_length=600)  # what went wrong, when not ok
    outcome: str = Field(max_length=12)  # delivered | retry | failed
    duration_ms: int = 0
    worker: str = Field(default="", max_length=100)


class Acknowledgement(SQLModel, table=True):
    """A controller confirmed receipt through its signed link; no IP address is kept."""

    id: int | None = Field(default=None, primary_key=True)
    notification_id: int = Field(foreign_key="notification.id", sa_column_kwargs={"unique": True})
    controller_id: int | None = Field(default=None, foreign_key="controller.id", index=True)
    acknowledged_at: datetime = Field(sa_type=UTCDateTime)
    contact_name: str = Field(default="", max_length=200)
    contact: str = Field(default="", max_length=300)  # email or phone the controller gave


class WebhookEndpointState(SQLModel, table=True):
    """A customer's webhook URL that answered 410 Gone: not called again until the URL changes."""

    __tablename__ = "webhook_endpoint_state"

    controller_id: int = Field(foreign_key="controller.id", primary_key=True)
    url: str = Field(max_length=2000)
    disabled_at: datetime = Field(sa_type=UTCDateTime)
    reason: str = Field(default="", max_length=600)
    notification_id: int | None = Field(default=None, foreign_key="notification.id")


class NoticeFacts(SQLModel, table=True):
    """Facts every notice of an incident shares that the incident record does not hold (Art. 33(3))."""

    __tablename__ = "notice_facts"

    incident_id: int = Field(foreign_key="incident.id", primary_key=True)
    description: str = Field(default="", sa_type=sa.Text)  # empty: the incident summary
    likely_consequences: str = Field(default="", sa_type=sa.Text)
    measures_taken: list[str] = Field(default_factory=list, sa_type=JSON)
    measures_proposed: list[str] = Field(default_factory=list, sa_type=JSON)
    measures_recommended: list[str] = Field(default_factory=list, sa_type=JSON)  # for the recipient
    contact_name: str = Field(default="", max_length=200)  # empty: our company's DPO from the data map
    contact_role: str = Field(default="", max_length=200)
    contact_email: str = Field(default="", max_length=254)
    contact_phone: str = Field(default="", max_length=50)
    authority_name: str = Field(default="", max_length=300)
    member_states: list[str] = Field(default_factory=list, sa_type=JSON)
    data_subjects_informed: str = Field(default="", max_length=20)  # yes | planned | no | not_required
    version: int = 1
    updated_by: str = Field(default="", max_length=254)
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


def _lines(value):
    if isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()]
    return [str(v).strip() for v in (value or []) if str(v).strip()]


class NoticeFactsIn(SQLModel):
    """An edit of the notice facts; lists may be given as text with one item per line."""

    model_config = {"extra": "forbid"}
    description: str = Field(default="", max_length=20000)
    likely_consequences: str = Field(default="", max_length=20000)
    measures_taken: list[str] = Field(default_factory=list)
    measures_proposed: list[str] = Field(default_factory=list)
    measures_recommended: list[str] = Field(default_factory=list)
    contact_name: str = Field(default="", max_length=200)
    contact_role: str = Field(default="", max_length=200)
    contact_email: str = Field(default="", max_length=254)
    contact_phone: str = Field(default="", max_length=50)
    authority_name: str = Field(default="", max_length=300)
    member_states: list[str] = Field(default_factory=list)
    data_subjects_informed: Literal["", "yes", "planned", "no", "not_required"] = ""
    version: int | None = Field(default=None, ge=1, le=ROW_ID_MAX)

    @field_validator("measures_taken", "measures_proposed", "measures_recommended", "member_states", mode="before")
    @classmethod
    def _split_lines(cls, value):
        return _lines(value)


class NotificationEdit(SQLModel):
    """An edit of a draft's content, made from `version` (a stale version is refused)."""

    model_config = {"extra": "forbid"}
    version: int = Field(ge=1, le=ROW_ID_MAX)
    subject: str | None = Field(default=None, min_length=1, max_length=1000)
    text: str | None = Field(default=None, min_length=1, max_length=200000)
    html: str | None = Field(default=None, max_length=400000)
    note: str = Field(default="", max_length=2000)

    @field_validator("subject")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and ("\r" in value or "\n" in value):
            raise ValueError("the subject must be one line")
        return value


class DraftRequest(SQLModel):
    """Options of "Draft notifications": final asks for final reports where a notice was delivered."""

    model_config = {"extra": "forbid"}
    phase: Literal["update", "final"] | None = None


class ApproveIn(SQLModel):
    """Approval input; reasons for delay are required when the obligation is overdue."""

    model_config = {"extra": "forbid"}
    reasons_for_delay: str = Field(default="", max_length=5000)
    version: int | None = Field(default=None, ge=1, le=ROW_ID_MAX)  # the version the approver reviewed; None: the current one


class BulkApproveIn(SQLModel):
    """Approve several drafts of one incident: the ids (or all_drafts, optionally on one channel), one reason text."""

    model_config = {"extra": "forbid"}
    ids: list[RowId] = Field(default_factory=list, max_length=10000)
    versions: dict[RowId, RowId] = Field(default_factory=dict)  # id -> the version reviewed; a newer one is refused
    all_drafts: bool = False  # "select all": every draft of the incident (on `channel`, when given)
    channel: Literal["email", "webhook", "manual", "drill"] | None = None
    reasons_for_delay: str = Field(default="", max_length=5000)  # for the overdue ones (GDPR Art. 33(1))


class CancelIn(SQLModel):
    """Cancellation input: why the notice is withdrawn."""

    model_config = {"extra": "forbid"}
    reason: str = Field(min_length=1, max_length=2000)


class FiledIn(SQLModel):
    """A manual notice (authority report, letter to data subjects) was filed or sent outside Breachline."""

    model_config = {"extra": "forbid"}
    filed_at: AwareISO
    reference: str = Field(default="", max_length=300)


class AckIn(SQLModel):
    """What a controller may give when confirming receipt."""

    model_config = {"extra": "forbid"}
    contact_name: str = Field(default="", max_length=200)
    contact: str = Field(default="", max_length=300)
