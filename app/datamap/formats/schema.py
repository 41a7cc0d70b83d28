"""The canonical data-map document as pydantic models; every format is read into these."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.datamap.models import ContactRole, ProcessingRole

KEY_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,99}$"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ContractIn(_Strict):
    """Contractual notification terms (DPA, Art. 28(3)(f)); absent means "without undue delay"."""

    notify_within_hours: int | None = Field(default=None, gt=0, le=8760)
    notify_within_business_days: int | None = Field(default=None, gt=0, le=60)
    holiday_country: str | None = Field(default=None, pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")

    @model_validator(mode="after")
    def _one_term(self):
        if (self.notify_within_hours is None) == (self.notify_within_business_days is None):
            raise ValueError("give exactly one of notify_within_hours or notify_within_business_days")
        if self.notify_within_business_days is not None and not self.holiday_country:
            raise ValueError("notify_within_business_days needs holiday_country (ISO 3166 code)")
        return self


class ContactIn(_Strict):
    """A person at the controller."""

    role: ContactRole
    name: str = ""
    email: str = ""
    phone: str = ""

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if value and not _EMAIL.match(value):
            raise ValueError(f"{value!r} is not an email address")
        return value.lower()


class WebhookIn(_Strict):
    """The controller's webhook endpoint; the secret signs payloads (Standard Webhooks)."""

    url: str = Field(pattern=r"^https?://[^\s/$.?#].[^\s]*$", max_length=2000)
    secret: str | None = Field(default=None, min_length=16, max_length=200)


class ChannelsIn(_Strict):
    """Where notifications go."""

    email: list[str] = []
    webhook: WebhookIn | None = None

    @field_validator("email")
    @classmethod
    def _emails(cls, values: list[str]) -> list[str]:
        for value in values:
            if not _EMAIL.match(value):
                raise ValueError(f"{value!r} is not an email address")
        return [v.lower() for v in values]


class ControllerIn(_Strict):
    """A customer (or our own company) in the data map."""

    key: str = Field(pattern=KEY_PATTERN)
    name: str = Field(min_length=1, max_length=300)
    country: str = Field(pattern=r"^[A-Z]{2}$")
    jurisdictions: list[str] = Field(min_length=1)
    sector: str = ""
    locale: str = Field(default="en", pattern=r"^[a-z]{2}([-_][A-Za-z]{2})?$")
    timezone: str = "UTC"
    contract: ContractIn | None = None
    contacts: list[ContactIn] = []
    channels: ChannelsIn = ChannelsIn()

    @field_validator("jurisdictions")
    @classmethod
    def _jurisdictions(cls, values: list[str]) -> list[str]:
        for value in values:
            if not re.match(r"^[A-Z]{2,3}(-[A-Z0-9]{1,3})?$", value):
                raise ValueError(f"{value!r} is not a jurisdiction code like EU, UK, US-CA")
        return sorted(set(values))

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file path
            raise ValueError(f"{value!r} is not an IANA time zone") from None
        return value


class SystemIn(_Strict):
    """A system holding personal data."""

    key: str = Field(pattern=KEY_PATTERN)
    name: str = Field(min_length=1, max_length=300)
    description: str = ""
    owner: str = ""
    region: str = ""


class ProcessingIn(_Strict):
    """One controller's data in one system."""

    controller: str = Field(pattern=KEY_PATTERN)
    system: str = Field(pattern=KEY_PATTERN)
    role: ProcessingRole
    data_categories: list[str] = Field(min_length=1)
    subject_categories: list[str] = Field(min_length=1)
    est_subjects: int = Field(ge=0)
    est_records: int = Field(ge=0)
    region: str = ""


class DataMapIn(_Strict):
    """A whole data-map document."""

    controllers: list[ControllerIn] = []
    systems: list[SystemIn] = []
    processing: list[ProcessingIn] = []
