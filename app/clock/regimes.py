"""Legal notification regimes as data: models for playbooks/regimes/*.yaml, loading, and applicability."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from app.clock.deadlines import DeadlineRule, ReminderPlan, zone
from app.core.errors import InputError, ProblemCollector
from app.core.yamlfile import load_yaml, validate_model

SLUG = r"[a-z0-9]+(?:[-_][a-z0-9]+)*"
Slug = Annotated[str, Field(pattern=f"^{SLUG}$")]
Jurisdiction = Annotated[str, Field(pattern=r"^[A-Z]{2}(?:-[A-Z0-9]{1,3})?$")]  # EU, UK, US-CA, BR
Flag = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
STAGE_PREFIX = "stage:"


class Role(StrEnum):
    PROCESSOR = "processor"
    CONTROLLER = "controller"


class Notifier(StrEnum):
    PROCESSOR = "processor"
    CONTROLLER = "controller"
    BUSINESS_ASSOCIATE = "business_associate"  # HIPAA
    COVERED_ENTITY = "covered_entity"  # HIPAA, NYDFS
    ENTITY = "entity"  # NIS2 essential/important entity, Australian APP entity
    FINANCIAL_ENTITY = "financial_entity"  # DORA
    ICT_PROVIDER = "ict_provider"  # ICT third-party service provider assisting a financial entity
    REGISTRANT = "registrant"  # SEC
    MAINTAINER = "maintainer"  # California: holds data it does not own
    OWNER = "owner"  # California: owns or licenses the data
    ORGANISATION = "organisation"
    INTERMEDIARY = "intermediary"  # Singapore data intermediary
    FIDUCIARY = "fiduciary"  # India data fiduciary
    HANDLER = "handler"  # China personal information handler
    OPERATOR = "operator"  # Japan business operator
    MANUFACTURER = "manufacturer"  # CRA


class Recipient(StrEnum):
    CONTROLLER = "controller"  # our customer (also HIPAA covered entity, California owner)
    SUPERVISORY_AUTHORITY = "supervisory_authority"  # data protection authority
    DATA_SUBJECTS = "data_subjects"
    CSIRT = "csirt"
    COMPETENT_AUTHORITY = "competent_authority"  # sector regulator (DORA)
    REGULATOR = "regulator"  # NYDFS, SEC, HHS
    ATTORNEY_GENERAL = "attorney_general"
    MEDIA = "media"
    INTERNAL = "internal"  # a step we owe ourselves, e.g. finishing an assessment


class PerRecipient(StrEnum):
    CONTROLLER = "controller"  # one obligation per affected controller (customer)
    INCIDENT = "incident"  # one obligation per incident


class AnchorName(StrEnum):
    AWARE_AT = "aware_at"  # we became aware with reasonable certainty (WP250)
    DETECTED_AT = "detected_at"  # first detection or suspicion; also HIPAA/California "discovery"
    OCCURRED_AT = "occurred_at"  # the incident itself happened
    CLASSIFIED_MAJOR_AT = "classified_major_at"  # DORA classification as major
    DETERMINED_AT = "determined_at"  # determination that an incident/breach occurred
    MATERIALITY_DETERMINED_AT = "materiality_determined_at"  # SEC materiality determination
    CONTROLLER_NOTIFIED_AT = "controller_notified_at"  # we notified this controller: its awareness
    ASSESSED_NOTIFIABLE_AT = "assessed_notifiable_at"  # assessment concluded the breach is notifiable
    EXTORTION_PAID_AT = "extortion_paid_at"  # an extortion payment was made
    FIX_AVAILABLE_AT = "fix_available_at"  # a corrective or mitigating measure became available
    DETECTED_YEAR_END_AT = "detected_year_end_at"  # end of the calendar year in which detected_at falls


def check_anchor(value: str) -> str:
    """Return value if it is a known anchor name or stage:<id>, else raise ValueError."""
    if value in set(AnchorName) or (value.startswith(STAGE_PREFIX)
                                    and re.fullmatch(SLUG, value.removeprefix(STAGE_PREFIX))):
        return value
    raise ValueError(f"unknown anchor {value!r}; use one of {', '.join(AnchorName)} or stage:<earlier stage id>")


Anchor = Annotated[str, AfterValidator(check_anchor)]


class AppliesWhen(BaseModel):
    """Conditions under which a regime or stage applies; every given condition must hold."""

    model_config = ConfigDict(extra="forbid")

    # Our role for the affected records; holds if we have any of these roles.
    our_role: list[Role] | None = None
    # The affected controller's jurisdiction (ours when we are controller); US-CA also counts as US.
    controller_jurisdictions_any: list[Jurisdiction] | None = None
    # The affected controller's sector, e.g. healthcare, financial.
    controller_sectors_any: list[Flag] | None = None
    # Art. 9/10 special categories are among the affected data.
    special_categories: Literal[True] | None = None
    # Affected subjects (estimated) are at least / at most this many (both inclusive).
    min_subjects: Annotated[int, Field(strict=True, ge=0)] | None = None
    max_subjects: Annotated[int, Field(strict=True, ge=0)] | None = None
    # Company-level settings from config, all required: nis2_entity, dora_financial_entity,
    # sec_registrant, cra_manufacturer, hipaa_business_associate, hipaa_covered_entity,
    # nydfs_covered_entity.
    company_flags_all: list[Flag] | None = None
    # Incident facts set by responders, all required / none allowed: significant_incident,
    # major_incident, material_incident, extortion_payment, actively_exploited_vulnerability,
    # severe_incident, wrongful_purpose.
    incident_flags_all: list[Flag] | None = None
    incident_flags_none: list[Flag] | None = None
    # A risk decision found high risk (Art. 34-type); an undecided risk does not satisfy it.
    high_risk: Literal[True] | None = None
    # Personal data is affected (Art. 4(12)); security-only incidents do not satisfy it.
    personal_data: Literal[True] | None = None


class Backstop(BaseModel):
    """A second anchor and rule for the same stage; whichever falls due first wins (DORA)."""

    model_config = ConfigDict(extra="forbid")

    anchor: Anchor
    deadline: DeadlineRule
    source: Annotated[str, Field(min_length=3)]

    @field_validator("deadline")
    @classmethod
    def _fixed(cls, value: DeadlineRule) -> DeadlineRule:
        if not value.is_fixed:
            raise ValueError("a backstop needs a fixed deadline (hours, calendar_days, months, business_days)")
        return value


class Stage(BaseModel):
    """One notification step: who tells whom, from which anchor, by when, with what content."""

    model_config = ConfigDict(extra="forbid")

    id: Slug
    title: Annotated[str, Field(min_length=3)]
    anchor: Anchor  # an AnchorName, or stage:<id> of an earlier stage (when that stage was met)
    deadline: DeadlineRule
    backstop: Backstop | None = None
    reminders: ReminderPlan = ReminderPlan()
    required_content: list[Slug] = []
    template: Annotated[str, Field(pattern=r"^notifications/[a-z0-9_]+$")] | None = None
    source: Annotated[str, Field(min_length=3)]  # the citation for this stage's number
    # Overrides of the regime's defaults; filled in from the regime after loading.
    notifier: Notifier | None = None
    recipient: Recipient | None = None
    per_recipient: PerRecipient | None = None
    applies_when: AppliesWhen | None = None  # extra conditions on top of the regime's
    # The duty is someone else's (e.g. a customer's own Art. 33 clock, started by our notice):
    # tracked so we can tell and assist them, never counted as our own lateness.
    informational: bool = False
    notes: str = ""


class Source(BaseModel):
    """A legal citation for the regime."""

    model_config = ConfigDict(extra="forbid")

    citation: Annotated[str, Field(min_length=3)]
    url: Annotated[str, Field(pattern=r"^https?://\S+$")] | None = None


class Regime(BaseModel):
    """A legal notification regime loaded from playbooks/regimes/<id>.yaml."""

    model_config = ConfigDict(extra="forbid")

    id: Slug
    title: Annotated[str, Field(min_length=3)]
    verified: Annotated[bool, Field(strict=True)]  # false: not checked against the text, needs legal review
    jurisdiction: Jurisdiction
    notifier: Notifier
    recipient: Recipient
    per_recipient: PerRecipient
    # Time zone of an authority recipient for day-based periods; None: the recipient's own, else UTC.
    recipient_timezone: str | None = None
    applies_when: AppliesWhen = AppliesWhen()
    stages: Annotated[list[Stage], Field(min_length=1)]
    sources: Annotated[list[Source], Field(min_length=1)]
    notes: str = ""

    @field_validator("recipient_timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            zone(value)
        return value

    @model_validator(mode="after")
    def _stage_defaults(self) -> Regime:
        for stage in self.stages:
            stage.notifier = stage.notifier or self.notifier
            stage.recipient = stage.recipient or self.recipient
            stage.per_recipient = stage.per_recipient or self.per_recipient
        return self

    def stage(self, stage_id: str) -> Stage:
        """Return the stage with this id, or raise KeyError."""
        for stage in self.stages:
            if stage.id == stage_id:
                return stage
        raise KeyError(f"regime {self.id} has no stage {stage_id!r}")


def check_regime(regime: Regime) -> list[tuple[str, tuple]]:
    """Return cross-field problems as (message, path): duplicate stage ids, stage anchors not earlier."""
    problems: list[tuple[str, tuple]] = []
    seen: set[str] = set()
    for i, stage in enumerate(regime.stages):
        if stage.id in seen:
            problems.append((f"duplicate stage id {stage.id!r}", ("stages", i, "id")))
        refs = [(stage.anchor, ("stages", i, "anchor"))]
        if stage.backstop:
            refs.append((stage.backstop.anchor, ("stages", i, "backstop", "anchor")))
        for anchor, path in refs:
            if anchor.startswith(STAGE_PREFIX) and anchor.removeprefix(STAGE_PREFIX) not in seen:
                problems.append((f"anchor {anchor!r} must name an earlier stage of this regime", path))
        seen.add(stage.id)
    return problems


def load_regime_file(path: Path | str) -> Regime:
    """Load and validate one regime file; problems raise InputError naming file, line and field."""
    doc = load_yaml(path)
    regime = validate_model(Regime, doc.data, doc)
    problems = [doc.problem(message, where) for message, where in check_regime(regime)]
    if regime.id != Path(path).stem:
        problems.append(doc.problem(f"id {regime.id!r} must match the file name {Path(path).name!r}", ("id",)))
    if problems:
        raise InputError(problems)
    return regime


def load_regimes(directory: Path | str) -> dict[str, Regime]:
    """Load every *.yaml regime in directory, reporting the problems of all files at once."""
    directory = Path(directory)
    collector = ProblemCollector()
    if not directory.is_dir():
        collector.add("regime directory does not exist", file=str(directory))
        collector.raise_if_any()
    regimes: dict[str, Regime] = {}
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        try:
            regime = load_regime_file(path)
        except InputError as exc:
            collector.problems.extend(exc.problems)
            continue
        if regime.id in regimes:
            collector.add(f"duplicate regime id {regime.id!r}", file=str(path), field="id")
        regimes[regime.id] = regime
    collector.raise_if_any()
    return regimes


@dataclass(frozen=True)
class Facts:
    """What is known about one incident (and, for per-controller regimes, one controller)."""

    our_roles: frozenset[str] = frozenset()
    jurisdictions: frozenset[str] = frozenset()
    sectors: frozenset[str] = frozenset()
    special_categories: bool = False
    subjects: int = 0
    company_flags: frozenset[str] = frozenset()
    incident_flags: frozenset[str] = frozenset()
    high_risk: bool | None = None  # None: no risk decision yet
    personal_data: bool = False

    def __post_init__(self) -> None:
        for name in ("our_roles", "jurisdictions", "sectors", "company_flags", "incident_flags"):
            object.__setattr__(self, name, frozenset(getattr(self, name)))


def _in_jurisdiction(fact: str, wanted: str) -> bool:
    return fact == wanted or fact.startswith(wanted + "-")


def applies(target: Regime | Stage | AppliesWhen | None, facts: Facts) -> bool:
    """Return True if every condition of target (a regime's, a stage's own, or a bare condition) holds."""
    cond = target.applies_when if isinstance(target, (Regime, Stage)) else target
    if cond is None:
        return True
    checks = [
        cond.our_role is None or bool(facts.our_roles & set(cond.our_role)),
        cond.controller_jurisdictions_any is None
        or any(_in_jurisdiction(f, w) for f in facts.jurisdictions for w in cond.controller_jurisdictions_any),
        cond.controller_sectors_any is None or bool(facts.sectors & set(cond.controller_sectors_any)),
        cond.special_categories is None or facts.special_categories,
        cond.min_subjects is None or facts.subjects >= cond.min_subjects,
        cond.max_subjects is None or facts.subjects <= cond.max_subjects,
        cond.company_flags_all is None or set(cond.company_flags_all) <= facts.company_flags,
        cond.incident_flags_all is None or set(cond.incident_flags_all) <= facts.incident_flags,
        cond.incident_flags_none is None or not (set(cond.incident_flags_none) & facts.incident_flags),
        cond.high_risk is None or facts.high_risk is True,
        cond.personal_data is None or facts.personal_data,
    ]
    return all(checks)


def applicable_stages(regime: Regime, facts: Facts) -> list[Stage]:
    """Return the stages of regime that apply to facts (none if the regime itself does not)."""
    if not applies(regime, facts):
        return []
    return [stage for stage in regime.stages if applies(stage, facts)]
