"""Answers about the data map: controllers (customers), systems and map versions."""

from __future__ import annotations

from pydantic import Field

from app.api.schemas.common import Out, PageMeta, UTCTime
from app.datamap.models import ContactRole


class ControllerSummary(Out):
    """A controller as listed."""

    key: str
    name: str
    country: str
    jurisdictions: list[str]
    sector: str
    locale: str
    timezone: str


class ControllerPage(PageMeta):
    """Controllers, paginated."""

    items: list[ControllerSummary]


class HoursContract(Out):
    """Notify the controller within N hours."""

    notify_within_hours: int


class BusinessDaysContract(Out):
    """Notify the controller within N business days of a holiday calendar."""

    notify_within_business_days: int
    holiday_country: str | None


class ContactOut(Out):
    """A person to notify at the controller."""

    role: ContactRole
    name: str
    email: str
    phone: str


class WebhookOut(Out):
    """The controller's webhook target (its secret is never shown)."""

    url: str


class ChannelsOut(Out):
    """Where notices to the controller go."""

    email: list[str]
    webhook: WebhookOut | None


class ControllerHolding(Out):
    """Data of the controller in one system."""

    system: str
    role: str
    data_categories: list[str]
    subject_categories: list[str]
    est_subjects: int = Field(ge=0)
    est_records: int = Field(ge=0)
    region: str


class ControllerOut(ControllerSummary):
    """One controller with contract, contacts, channels and processing records."""

    contract: HoursContract | BusinessDaysContract | None = Field(description="null: without undue delay")
    contacts: list[ContactOut]
    channels: ChannelsOut
    processing: list[ControllerHolding]


class SystemSummary(Out):
    """A system as listed, with how many controllers' data it holds."""

    key: str
    name: str
    description: str
    owner: str
    region: str
    controllers: int = Field(ge=0)


class SystemPage(PageMeta):
    """Systems, paginated."""

    items: list[SystemSummary]


class SystemHolding(Out):
    """One controller's data in the system."""

    controller: str
    role: str
    data_categories: list[str]
    subject_categories: list[str]
    est_subjects: int = Field(ge=0)
    est_records: int = Field(ge=0)


class HoldingPage(PageMeta):
    """The controllers whose data the system holds, paginated."""

    items: list[SystemHolding]


class SystemOut(Out):
    """One system and the controllers whose data it holds."""

    key: str
    name: str
    description: str
    owner: str
    region: str
    processing: HoldingPage


class MapVersionOut(Out):
    """One data-map version (every import makes one)."""

    id: int
    content_hash: str
    created_at: UTCTime
    created_by: str
    source: str
    controllers: int
    systems: int
    records: int


class VersionPage(PageMeta):
    """Data-map versions, newest first."""

    items: list[MapVersionOut]


class SectionChanges(Out):
    """How many entries of one section an import added, changed, removed or left as they were."""

    added: int = Field(ge=0)
    changed: int = Field(ge=0)
    removed: int = Field(ge=0)
    unchanged: int = Field(ge=0)


class VersionRef(Out):
    """The data-map version an import made."""

    id: int
    content_hash: str


class ImportSummaryOut(Out):
    """What an import did: totals of the map now, changes per section, and the new version (null: unchanged)."""

    changed: bool
    controllers: int = Field(ge=0)
    systems: int = Field(ge=0)
    records: int = Field(ge=0)
    changes: dict[str, SectionChanges] = Field(description="controllers, systems, processing")
    version: VersionRef | None

