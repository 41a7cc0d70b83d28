"""Incidents, their scope (systems, categories, controllers), count overrides and impact snapshots."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa

from sqlmodel import JSON, Field, SQLModel

from app.core.time import AwareISO, UTCDateTime
from app.core.numbers import COUNT_MAX, ROW_ID_MAX


class IncidentStatus(StrEnum):
    """Workflow states of an incident."""

    triage = "triage"
    investigating = "investigating"
    contained = "contained"
    notifying = "notifying"
    closed = "closed"
    not_a_breach = "not_a_breach"  # not a personal data breach (Art. 4(12)); needs a rationale


class BreachType(StrEnum):
    """WP250 / EDPB 9/2022 breach types; one incident can be several."""

    confidentiality = "confidentiality"  # unauthorised disclosure of or access to data
    integrity = "integrity"  # unauthorised alteration
    availability = "availability"  # loss of access or destruction, temporary included


class Severity(StrEnum):
    """Operational severity set by the responder (the ENISA score is separate)."""

    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class Incident(SQLModel, table=True):
    """A security incident that may be a personal data breach."""

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(max_length=20, sa_column_kwargs={"unique": True}, index=True)  # INC-2026-0001
    year: int
    seq: int
    title: str = Field(max_length=300)
    summary: str = Field(default="", max_length=20000)
    incident_type: str = Field(max_length=80)  # id of a playbooks/incident-types file
    status: IncidentStatus = Field(default=IncidentStatus.triage, sa_type=sa.String(20), index=True)
    status_rationale: str = Field(default="", max_length=5000)  # required for not_a_breach
    severity: Severity = Field(default=Severity.medium, sa_type=sa.String(10))
    owner_id: int | None = Field(default=None, foreign_key="user.id")
    breach_types: list[str] = Field(default_factory=list, sa_type=JSON)
    flags: list[str] = Field(default_factory=list, sa_type=JSON)  # regime facts, e.g. significant_incident
    occurred_from: datetime | None = Field(default=None, sa_type=UTCDateTime)
    occurred_to: datetime | None = Field(default=None, sa_type=UTCDateTime)
    detected_at: datetime = Field(sa_type=UTCDateTime)
    aware_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # reasonable certainty (WP250)
    contained_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    anchors: dict = Field(default_factory=dict, sa_type=JSON)  # other regime anchors: name -> ISO UTC
    drill: bool = False  # an exercise: every clock runs, visibly marked, never sent to real contacts
    restricted: bool = False  # need-to-know: visible to members and admins only
    version: int = 1  # optimistic lock: an edit names the version it started from
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    created_by: str = Field(max_length=254)


class IncidentMember(SQLModel, table=True):
    """A person allowed to see a restricted (need-to-know) incident; admins see it without being members."""

    __tablename__ = "incident_member"

    incident_id: int = Field(foreign_key="incident.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="user.id", primary_key=True, index=True)
    added_by: str = Field(max_length=254)  # email of who added them
    added_at: datetime = Field(sa_type=UTCDateTime)


class IncidentSystem(SQLModel, table=True):
    """A system in the incident's scope."""

    __tablename__ = "incident_system"

    incident_id: int = Field(foreign_key="incident.id", primary_key=True, ondelete="CASCADE")
    system_id: int = Field(foreign_key="system.id", primary_key=True)


class IncidentCategory(SQLModel, table=True):
    """Narrows the scope to some data categories (none listed: all categories of the systems)."""

    __tablename__ = "incident_category"

    incident_id: int = Field(foreign_key="incident.id", primary_key=True, ondelete="CASCADE")
    category_key: str = Field(foreign_key="data_category.key", primary_key=True)


class IncidentController(SQLModel, table=True):
    """Narrows the scope to some controllers (none listed: every controller with data in the systems)."""

    __tablename__ = "incident_controller"

    incident_id: int = Field(foreign_key="incident.id", primary_key=True, ondelete="CASCADE")
    controller_id: int = Field(foreign_key="controller.id", primary_key=True)


class CountOverride(SQLModel, table=True):
    """A responder's better estimate of one controller's affected subjects and records."""

    __tablename__ = "incident_count_override"

    incident_id: int = Field(foreign_key="incident.id", primary_key=True, ondelete="CASCADE")
    controller_id: int = Field(foreign_key="controller.id", primary_key=True)
    est_subjects: int | None = Field(default=None, sa_type=sa.BigInteger)  # issue 8: sums pass 2**31 on PostgreSQL
    est_records: int | None = Field(default=None, sa_type=sa.BigInteger)  # issue 8: sums pass 2**31 on PostgreSQL
    note: str = Field(default="", max_length=2000)


class ImpactSnapshot(SQLModel, table=True):
    """The result of one impact analysis, naming the data-map version it used."""

    __tablename__ = "impact_snapshot"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    datamap_version_id: int | None = Field(default=None, foreign_key="datamap_version.id")
    computed_at: datetime = Field(sa_type=UTCDateTime)
    scope_hash: str = Field(max_length=64)  # SHA-256 of the scope it was computed for
    controllers: int = 0
    est_subjects: int = Field(default=0, sa_type=sa.BigInteger)  # issue 8: sums pass 2**31 on PostgreSQL
    est_records: int = Field(default=0, sa_type=sa.BigInteger)  # issue 8: sums pass 2**31 on PostgreSQL
    special_categories: bool = False
    vulnerable_subjects: bool = False
    totals: dict = Field(default_factory=dict, sa_type=JSON)  # categories, jurisdictions, roles across all


class ImpactRow(SQLModel, table=True):
    """One affected controller in an impact snapshot."""

    __tablename__ = "impact_row"
    __table_args__ = (sa.Index("ix_impact_row_snapshot_controller", "snapshot_id", "controller_id", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    snapshot_id: int = Field(foreign_key="impact_snapshot.id", ondelete="CASCADE")
    controller_id: int = Field(foreign_key="controller.id", index=True)
    role: str = Field(max_length=20)  # processor | controller | sub-processor (processor wins when mixed)
    # Every role we hold for its records: `role` alone would hide our own (controller) data behind "processor".
    roles: list[str] = Field(default_factory=list, sa_type=JSON)
    data_categories: list[str] = Field(default_factory=list, sa_type=JSON)
    subject_categories: list[str] = Field(default_factory=list, sa_type=JSON)
    jurisdictions: list[str] = Field(default_factory=list, sa_type=JSON)
    systems: list[str] = Field(default_factory=list, sa_type=JSON)
    est_subjects: int = Field(default=0, sa_type=sa.BigInteger)  # issue 8: sums pass 2**31 on PostgreSQL
    est_records: int = Field(default=0, sa_type=sa.BigInteger)  # issue 8: sums pass 2**31 on PostgreSQL
    special_categories: bool = False  # Art. 9 or Art. 10 data affected
    vulnerable_subjects: bool = False  # children, patients


class OverrideIn(SQLModel):
    """A better estimate of one controller's counts."""

    model_config = {"extra": "forbid"}  # a misspelt count must not be dropped silently
    est_subjects: int | None = Field(default=None, ge=0, le=COUNT_MAX)
    est_records: int | None = Field(default=None, ge=0, le=COUNT_MAX)
    note: str = Field(default="", max_length=2000)


class ScopeIn(SQLModel):
    """Affected systems, optionally narrowed to some data categories or controllers."""

    model_config = {"extra": "forbid"}
    systems: list[str] = Field(default_factory=list)
    data_categories: list[str] = Field(default_factory=list)
    controllers: list[str] = Field(default_factory=list)
    overrides: dict[str, OverrideIn] = Field(default_factory=dict)  # controller key -> counts


class ScopeChange(ScopeIn):
    """A scope replacement through the API; `version` (optional) is the version the editor started from."""

    version: int | None = Field(default=None, ge=1, le=ROW_ID_MAX)


class IncidentCreate(SQLModel):
    """Input for declaring an incident (web form and API)."""

    model_config = {"extra": "forbid"}
    title: str = Field(min_length=3, max_length=300)
    incident_type: str = Field(min_length=1, max_length=80)
    summary: str = Field(default="", max_length=20000)
    severity: Severity = Severity.medium
    breach_types: list[BreachType] = Field(default_factory=list)
    detected_at: AwareISO
    aware_at: AwareISO | None = None
    occurred_from: AwareISO | None = None
    occurred_to: AwareISO | None = None
    contained_at: AwareISO | None = None
    owner: str | None = Field(default=None, max_length=254)  # user email
    drill: bool = False
    restricted: bool = False
    flags: list[str] = Field(default_factory=list)
    anchors: dict[str, AwareISO] = Field(default_factory=dict)
    scope: ScopeIn = Field(default_factory=ScopeIn)


def _absent_is_unchanged(schema: dict) -> None:
    # The field may be left out (unchanged) but not sent as null: its column has no empty value.
    schema.pop("default", None)


_KEEP = {"json_schema_extra": _absent_is_unchanged}


class IncidentUpdate(SQLModel):
    """An edit; `version` is the version the editor started from (stale edits are refused).

    A field left out is unchanged; null clears the fields that may be empty (aware_at, occurred_*, contained_at,
    owner) and is refused for the others.
    """

    model_config = {"extra": "forbid"}
    version: int = Field(ge=1, le=ROW_ID_MAX)
    title: str = Field(default=None, min_length=3, max_length=300, schema_extra=_KEEP)
    summary: str = Field(default=None, max_length=20000, schema_extra=_KEEP)
    incident_type: str = Field(default=None, min_length=1, max_length=80, schema_extra=_KEEP)
    severity: Severity = Field(default=None, schema_extra=_KEEP)
    breach_types: list[BreachType] = Field(default=None, schema_extra=_KEEP)
    detected_at: AwareISO = Field(default=None, schema_extra=_KEEP)
    aware_at: AwareISO | None = None
    occurred_from: AwareISO | None = None
    occurred_to: AwareISO | None = None
    contained_at: AwareISO | None = None
    owner: str | None = Field(default=None, max_length=254)
    drill: bool = Field(default=None, schema_extra=_KEEP)
    restricted: bool = Field(default=None, schema_extra=_KEEP)
    flags: list[str] = Field(default=None, schema_extra=_KEEP)
    anchors: dict[str, AwareISO] | None = None


class StatusChange(SQLModel):
    """A move in the status workflow."""

    model_config = {"extra": "forbid"}
    status: IncidentStatus
    rationale: str = Field(default="", max_length=5000)
    version: int | None = Field(default=None, ge=1, le=ROW_ID_MAX)
