"""The data map: controllers (customers), systems, taxonomy, processing records and map versions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import JSON, Field, SQLModel

from app.core.time import UTCDateTime


class ProcessingRole(StrEnum):
    """Our role for one processing record."""

    processor = "processor"  # we process the controller's data on its behalf (Art. 28)
    controller = "controller"  # our own company's data
    sub_processor = "sub-processor"  # we are a sub-processor of a processor


class ContactRole(StrEnum):
    """Why a controller's contact is on file."""

    dpo = "dpo"
    privacy = "privacy"
    security = "security"
    legal = "legal"
    escalation = "escalation"


class Controller(SQLModel, table=True):
    """A customer (or our own company) whose personal data we hold."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=100, sa_column_kwargs={"unique": True}, index=True)
    name: str = Field(max_length=300, index=True)
    country: str = Field(max_length=2, index=True)
    sector: str = Field(default="", max_length=100, index=True)
    locale: str = Field(default="en", max_length=10)
    timezone: str = Field(default="UTC", max_length=64)
    notify_within_hours: int | None = None  # contract (DPA Art. 28(3)(f)): notify within N hours
    notify_within_business_days: int | None = None  # ... or N business days
    holiday_country: str | None = Field(default=None, max_length=6)  # calendar for business days
    notify_emails: list[str] = Field(default_factory=list, sa_type=JSON)
    webhook_url: str | None = Field(default=None, max_length=2000)
    webhook_secret: str | None = Field(default=None, max_length=200)  # a credential: never exported by default


class ControllerJurisdiction(SQLModel, table=True):
    """One jurisdiction (EU, UK, US-CA, BR, ...) whose law covers a controller's data subjects."""

    __tablename__ = "controller_jurisdiction"

    controller_id: int = Field(foreign_key="controller.id", primary_key=True, ondelete="CASCADE")
    code: str = Field(max_length=10, primary_key=True, index=True)


class Contact(SQLModel, table=True):
    """A person at a controller to be told about breaches."""

    id: int | None = Field(default=None, primary_key=True)
    controller_id: int = Field(foreign_key="controller.id", index=True, ondelete="CASCADE")
    role: ContactRole = Field(sa_type=sa.String(20))
    name: str = Field(default="", max_length=200)
    email: str = Field(default="", max_length=254)
    phone: str = Field(default="", max_length=50)


class System(SQLModel, table=True):
    """A system (service, database, bucket) that holds personal data."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=100, sa_column_kwargs={"unique": True}, index=True)
    name: str = Field(max_length=300)
    description: str = Field(default="", max_length=2000)
    owner: str = Field(default="", max_length=200)
    region: str = Field(default="", max_length=50)


class DataCategory(SQLModel, table=True):
    """A fideslang data category with its GDPR flags and ENISA type (seeded from taxonomy.yaml)."""

    __tablename__ = "data_category"

    key: str = Field(max_length=120, primary_key=True)
    name: str = Field(max_length=200)
    parent: str | None = Field(default=None, max_length=120)
    description: str = Field(default="", max_length=2000)
    enisa_type: str = Field(max_length=20)
    art9: bool = False
    art10: bool = False
    credentials: bool = False
    government_id: bool = False
    vulnerable: bool = False


class SubjectCategory(SQLModel, table=True):
    """A fideslang data subject category (seeded from taxonomy.yaml)."""

    __tablename__ = "subject_category"

    key: str = Field(max_length=120, primary_key=True)
    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=2000)
    vulnerable: bool = False


class ProcessingRecord(SQLModel, table=True):
    """One controller's data in one system, in one role, with estimated counts."""

    __tablename__ = "processing_record"
    __table_args__ = (sa.UniqueConstraint("controller_id", "system_id", "role", name="uq_processing_ctrl_sys_role"),)

    id: int | None = Field(default=None, primary_key=True)
    controller_id: int = Field(foreign_key="controller.id", index=True, ondelete="CASCADE")
    system_id: int = Field(foreign_key="system.id", index=True, ondelete="CASCADE")
    role: ProcessingRole = Field(sa_type=sa.String(20))
    est_subjects: int = Field(default=0, sa_type=sa.BigInteger)  # issue 8: sums pass 2**31 on PostgreSQL
    est_records: int = Field(default=0, sa_type=sa.BigInteger)  # issue 8: sums pass 2**31 on PostgreSQL
    region: str = Field(default="", max_length=50)


class ProcessingDataCategory(SQLModel, table=True):
    """A data category held by a processing record."""

    __tablename__ = "processing_data_category"

    record_id: int = Field(foreign_key="processing_record.id", primary_key=True, ondelete="CASCADE")
    category_key: str = Field(foreign_key="data_category.key", primary_key=True, index=True)


class ProcessingSubjectCategory(SQLModel, table=True):
    """A subject category held by a processing record."""

    __tablename__ = "processing_subject_category"

    record_id: int = Field(foreign_key="processing_record.id", primary_key=True, ondelete="CASCADE")
    subject_key: str = Field(foreign_key="subject_category.key", primary_key=True, index=True)


class DataMapVersion(SQLModel, table=True):
    """One state of the data map, named by the SHA-256 of its canonical content."""

    __tablename__ = "datamap_version"

    id: int | None = Field(default=None, primary_key=True)
    content_hash: str = Field(max_length=64, index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    created_by: str = Field(max_length=254)
    source: str = Field(default="", max_length=500)
    controllers: int = 0
    systems: int = 0
    records: int = 0
