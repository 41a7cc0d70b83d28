"""The facts of a breach notification and the webhook payload built from them.

The fact models carry the GDPR Art. 33(3) content: (a) nature incl. categories and approximate
numbers of data subjects and records, (b) contact point, (c) likely consequences, (d) measures
taken or proposed. Anything not yet known stays empty and is listed in `missing`, so it can
follow in phases (Art. 33(4)). The processor -> controller payload (`breach.notification`,
schema `schemas/webhook-payload.v1.json`) is a dict serialised canonically, never templated text.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from app.assessment.enisa import Band
from app.core.time import UTC, iso
from app.incidents.models import BreachType

EVENT_TYPE = "breach.notification"
SCHEMA_VERSION = "1.0"
SCHEMA_FILE = Path(__file__).with_name("schemas") / "webhook-payload.v1.json"
CONTROLLER_DEADLINE_HOURS = 72  # GDPR Art. 33(1): the controller's outer limit, from its awareness


def _blank_to_none(value: Any) -> Any:
    """Treat empty or whitespace-only text as 'not known yet'."""
    if isinstance(value, str):
        return value.strip() or None
    return value


def _drop_blank_items(value: Any) -> Any:
    """Drop empty lines from a list of texts, so [''] does not count as a measure."""
    if isinstance(value, (list, tuple)):
        return [v.strip() if isinstance(v, str) else v for v in value if not (isinstance(v, str) and not v.strip())]
    return value


UTCTime = Annotated[AwareDatetime, AfterValidator(lambda v: v.astimezone(UTC))]
Text = Annotated[str | None, BeforeValidator(_blank_to_none)]
TextList = Annotated[list[Annotated[str, Field(min_length=1)]], BeforeValidator(_drop_blank_items)]


class Phase(StrEnum):
    """Which notice in the sequence for one recipient (Art. 33(4): information in phases)."""

    initial = "initial"
    update = "update"
    final = "final"


class ContentItem(StrEnum):
    """An item of notification content that can be 'to follow' (Art. 33(3), 33(4))."""

    nature = "nature"  # (a) description of what happened
    breach_types = "breach_types"  # (a) confidentiality / integrity / availability
    occurrence_period = "occurrence_period"  # (a) when it happened
    data_categories = "data_categories"  # (a) categories of personal data
    subject_categories = "subject_categories"  # (a) categories of data subjects
    est_subjects = "est_subjects"  # (a) approximate number of data subjects
    est_records = "est_records"  # (a) approximate number of personal data records
    contact_point = "contact_point"  # (b) DPO or other contact point
    likely_consequences = "likely_consequences"  # (c)
    measures = "measures"  # (d) measures taken or proposed


class ChangeItem(StrEnum):
    """What a 'changed since our last notice' entry is about."""

    nature = "nature"
    breach_types = "breach_types"
    occurrence_period = "occurrence_period"
    containment = "containment"  # contained, or no longer contained
    data_categories = "data_categories"
    subject_categories = "subject_categories"
    est_subjects = "est_subjects"
    est_records = "est_records"
    contact_point = "contact_point"
    likely_consequences = "likely_consequences"
    measures = "measures"
    advice = "advice"  # our risk assessment changed
    other = "other"


class Facts(BaseModel):
    """Base for fact models: unknown keys are an error, naming the key."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DataCategoryFact(Facts):
    """An affected category of personal data (fideslang key) with its GDPR flags."""

    key: str = Field(min_length=1)
    name: str = Field(min_length=1)
    art9: bool = False  # special category, Art. 9 GDPR
    art10: bool = False  # criminal convictions and offences, Art. 10 GDPR


class SubjectCategoryFact(Facts):
    """An affected category of data subjects (fideslang key)."""

    key: str = Field(min_length=1)
    name: str = Field(min_length=1)
    vulnerable: bool = False  # e.g. children, patients


class Nature(Facts):
    """What happened (Art. 33(3)(a))."""

    breach_types: list[BreachType] = Field(default_factory=list)
    description: Text = None
    occurred_from: UTCTime | None = None
    occurred_to: UTCTime | None = None
    detected_at: UTCTime | None = None
    contained_at: UTCTime | None = None
    ongoing: bool | None = None  # None: not known whether it still goes on


class CategoriesAndCounts(Facts):
    """Categories and approximate numbers of data subjects and records (Art. 33(3)(a))."""

    data_categories: list[DataCategoryFact] = Field(default_factory=list)
    subject_categories: list[SubjectCategoryFact] = Field(default_factory=list)
    est_subjects: int | None = Field(default=None, ge=0)
    est_records: int | None = Field(default=None, ge=0)


class ContactPoint(Facts):
    """Name and contact details of the DPO or other contact point (Art. 33(3)(b))."""

    name: str = Field(min_length=1)
    role: Text = None  # e.g. "Data Protection Officer"
    email: Text = None
    phone: Text = None


class Measures(Facts):
    """Measures taken or proposed, incl. mitigation (Art. 33(3)(d)), and what we recommend."""

    taken: TextList = Field(default_factory=list)
    proposed: TextList = Field(default_factory=list)
    recommended: TextList = Field(default_factory=list)  # for the recipient to consider


class Change(Facts):
    """One thing that changed since the previous notice."""

    item: ChangeItem
    summary: str = Field(min_length=1)


class Advice(Facts):
    """Our risk assessment, offered as advice: the controller decides (Art. 33(1), 34(1))."""

    summary: Text = None
    enisa_score: float | None = Field(default=None, ge=0)
    enisa_band: Band | None = None
    notify_supervisory_authority: bool | None = None
    communicate_to_data_subjects: bool | None = None
    reasons: TextList = Field(default_factory=list)


class ControllerRef(Facts):
    """The customer (controller) a notice is addressed to."""

    key: str = Field(min_length=1)
    name: Text = None


class BreachContent(Facts):
    """The Art. 33(3) content shared by every kind of message."""

    nature: Nature = Field(default_factory=Nature)
    categories_and_counts: CategoriesAndCounts = Field(default_factory=CategoriesAndCounts)
    contact_point: ContactPoint | None = None
    likely_consequences: Text = None
    measures: Measures = Field(default_factory=Measures)
    missing: list[ContentItem] = Field(default_factory=list)  # known gaps beyond the empty fields

    def missing_items(self) -> list[ContentItem]:
        """Return the content items still to follow: empty fields plus those marked missing."""
        nature, counts = self.nature, self.categories_and_counts
        empty = {
            ContentItem.nature: nature.description is None,
            ContentItem.breach_types: not nature.breach_types,
            ContentItem.occurrence_period: nature.occurred_from is None,
            ContentItem.data_categories: not counts.data_categories,
            ContentItem.subject_categories: not counts.subject_categories,
            ContentItem.est_subjects: counts.est_subjects is None,
            ContentItem.est_records: counts.est_records is None,
            ContentItem.contact_point: self.contact_point is None,
            ContentItem.likely_consequences: self.likely_consequences is None,
            ContentItem.measures: not (self.measures.taken or self.measures.proposed),
        }
        gaps = {item for item, is_empty in empty.items() if is_empty} | set(self.missing)
        return [item for item in ContentItem if item in gaps]


def controller_deadline(starts_at: datetime | None, hours: int = CONTROLLER_DEADLINE_HOURS) -> datetime | None:
    """Return the controller's Art. 33(1) outer limit: its awareness plus 72 calendar hours, in UTC."""
    return None if starts_at is None else starts_at.astimezone(UTC) + timedelta(hours=hours)


class NotificationFacts(BreachContent):
    """Everything a processor -> controller notice (Art. 33(2)) says, for one controller and phase."""

    notification_id: str = Field(min_length=1)
    incident_ref: str = Field(min_length=1)
    phase: Phase
    drill: bool = False
    issued_at: UTCTime  # when this notice was composed: the payload timestamp
    aware_at: UTCTime | None = None  # when we, the processor, became aware
    controller_aware_at: UTCTime | None = None  # when the controller got our first notice; None: this one
    language: str = Field(default="en", pattern=r"^[a-z]{2}(-[A-Z]{2})?$")  # of the free texts
    organisation_name: str = Field(min_length=1)  # we, the processor
    controller: ControllerRef
    previous_notification_id: Text = None
    previous_issued_at: UTCTime | None = None
    changes_since_last: list[Change] = Field(default_factory=list)
    advice: Advice | None = None
    acknowledgement_url: Text = Field(default=None, pattern=r"^https?://\S+$")
    controller_deadline_hours: int = Field(default=CONTROLLER_DEADLINE_HOURS, gt=0)

    @model_validator(mode="after")
    def _phase_fits(self) -> NotificationFacts:
        if self.phase is Phase.initial and (self.previous_notification_id or self.changes_since_last):
            raise ValueError("an initial notice has no previous notice and no changes since one")
        if self.phase is not Phase.initial and not self.previous_notification_id:
            raise ValueError(f"a {self.phase.value} notice must name previous_notification_id")
        return self


def _payload_data(facts: NotificationFacts) -> dict:
    """The `data` object of the payload; every key present, null where not known."""
    nature, counts, contact, advice = facts.nature, facts.categories_and_counts, facts.contact_point, facts.advice
    deadline_from = facts.controller_aware_at or facts.issued_at
    return {
        "notification_id": facts.notification_id,
        "incident_ref": facts.incident_ref,
        "phase": facts.phase.value,
        "drill": facts.drill,
        "language": facts.language,
        "processor": {"name": facts.organisation_name},
        "controller": {"key": facts.controller.key, "name": facts.controller.name},
        "processor_aware_at": iso(facts.aware_at),
        "controller_deadline": {
            "hours": facts.controller_deadline_hours,
            "projected_from": iso(deadline_from),
            "projected_due_at": iso(controller_deadline(deadline_from, facts.controller_deadline_hours)),
            "starts_on_receipt": facts.controller_aware_at is None,
        },
        "nature": {
            "breach_types": [t.value for t in nature.breach_types],
            "description": nature.description,
            "occurred_from": iso(nature.occurred_from),
            "occurred_to": iso(nature.occurred_to),
            "detected_at": iso(nature.detected_at),
            "contained_at": iso(nature.contained_at),
            "ongoing": nature.ongoing,
        },
        "categories_and_counts": {
            "data_categories": [{"key": c.key, "name": c.name, "art9": c.art9, "art10": c.art10}
                                for c in counts.data_categories],
            "subject_categories": [{"key": s.key, "name": s.name, "vulnerable": s.vulnerable}
                                   for s in counts.subject_categories],
            "est_subjects": counts.est_subjects,
            "est_records": counts.est_records,
        },
        "contact_point": None if contact is None else {
            "name": contact.name, "role": contact.role, "email": contact.email, "phone": contact.phone},
        "likely_consequences": facts.likely_consequences,
        "measures": {"taken": list(facts.measures.taken), "proposed": list(facts.measures.proposed),
                     "recommended_for_controller": list(facts.measures.recommended)},
        "missing": [item.value for item in facts.missing_items()],
        "previous_notification": None if facts.previous_notification_id is None else {
            "id": facts.previous_notification_id, "issued_at": iso(facts.previous_issued_at)},
        "changes_since_last": [{"item": c.item.value, "summary": c.summary} for c in facts.changes_since_last],
        "advice": None if advice is None else {
            "summary": advice.summary,
            "enisa_score": advice.enisa_score,
            "enisa_band": advice.enisa_band.value if advice.enisa_band else None,
            "notify_supervisory_authority": advice.notify_supervisory_authority,
            "communicate_to_data_subjects": advice.communicate_to_data_subjects,
            "reasons": list(advice.reasons),
        },
        "acknowledgement_url": facts.acknowledgement_url,
    }


def build_webhook_payload(**facts: Any) -> dict:
    """Build the `breach.notification` payload from NotificationFacts fields; invalid facts raise ValidationError."""
    validated = NotificationFacts.model_validate(facts)
    return {"type": EVENT_TYPE, "schema_version": SCHEMA_VERSION, "timestamp": iso(validated.issued_at),
            "data": _payload_data(validated)}


def serialise_payload(payload: dict) -> bytes:
    """Return the exact bytes to sign and send: compact, sorted keys, ASCII-only JSON."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("ascii")


def load_schema() -> dict:
    """Return the published JSON Schema of the webhook payload."""
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
