"""Alert intake (issue 7): signed alerts from a SIEM open a triage incident or attach to an open one.

Each accepted alert leaves an `intake_receipt` row: (source, signature digest) is unique, so a replayed
alert is refused, and (source, dedup_key) -> incident_id finds the open incident a repeat alert belongs to.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field as PydanticField
from sqlmodel import Field, Session, SQLModel, select

from app.core.time import AwareISO, UTCDateTime
from app.incidents.models import Incident, Severity
from app.incidents.service import OPEN_STATUSES

SIGNATURE_PREFIX = "sha256="


class IntakeReceipt(SQLModel, table=True):
    """One accepted alert: who sent it, a digest of its signature (replay guard), the incident it went to."""

    __tablename__ = "intake_receipt"
    __table_args__ = (sa.UniqueConstraint("source", "signature_digest", name="uq_intake_receipt_source_signature"),
                      sa.Index("ix_intake_receipt_source_dedup_key", "source", "dedup_key"))

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=80)
    signature_digest: str = Field(max_length=64)  # sha256 hex of the signature header value
    dedup_key: str | None = Field(default=None, max_length=200)
    received_at: datetime = Field(sa_type=UTCDateTime)
    incident_id: int = Field(foreign_key="incident.id", index=True)


class AlertIn(BaseModel):
    """The body of a signed alert."""

    model_config = ConfigDict(extra="forbid")
    title: str = PydanticField(min_length=3, max_length=300)
    incident_type: str = PydanticField(min_length=1, max_length=80)
    summary: str = PydanticField(default="", max_length=20000)
    detected_at: AwareISO
    dedup_key: str | None = PydanticField(default=None, min_length=1, max_length=200)
    systems: list[str] = PydanticField(default_factory=list)
    severity: Severity | None = None


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of "<timestamp>." + body>` with the source's secret."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def signature_valid(secret: str | None, timestamp: str, body: bytes, signature: str) -> bool:
    """True when the signature header matches; constant-time, and False for unknown sources."""
    if not secret or not timestamp or not signature:
        return False
    expected = expected_signature(secret, timestamp, body)
    return hmac.compare_digest(expected.encode("utf-8"), signature.strip().lower().encode("utf-8"))


def signature_digest(signature: str) -> str:
    """What the receipt stores of a signature."""
    return hashlib.sha256(signature.strip().lower().encode("utf-8")).hexdigest()


def seen(*, session: Session, source: str, digest: str) -> bool:
    """True when this (source, signature) was accepted before: a replay."""
    return session.exec(select(IntakeReceipt.id).where(IntakeReceipt.source == source,
                                                       IntakeReceipt.signature_digest == digest)).first() is not None


def open_incident_for(*, session: Session, source: str, dedup_key: str) -> Incident | None:
    """The newest open incident an earlier alert from this source with this dedup key opened or joined."""
    query = (select(Incident).join(IntakeReceipt, IntakeReceipt.incident_id == Incident.id)
             .where(IntakeReceipt.source == source, IntakeReceipt.dedup_key == dedup_key,
                    Incident.status.in_(OPEN_STATUSES))
             .order_by(Incident.id.desc()))
    return session.exec(query).first()

