"""Answers about risk: the recommendation, recorded assessments, the breach register and its metrics."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from app.api.schemas.common import DateText, Out, UTCTime
from app.assessment.enisa import Band
from app.incidents.models import BreachType, IncidentStatus


class EnisaOut(Out):
    """The ENISA numbers: data processing context, ease of identification, circumstances, score and band."""

    dpc: float
    ei: float
    cb: float
    score: float
    band: Band


class RecommendationOut(Out):
    """Notify / do-not-notify, with the ENISA score and the reasons."""

    enisa: EnisaOut
    notify_supervisory_authority: bool
    communicate_to_data_subjects: bool
    document_internally: Literal[True]
    reasons: list[str]


class StoredRecommendation(Out):
    """The engine's recommendation as an assessment stores it."""

    notify_supervisory_authority: bool
    communicate_to_data_subjects: bool
    document_internally: Literal[True]


class AssessmentResultOut(Out):
    """What an assessment row stores as its result."""

    score: float
    band: Band
    enisa: EnisaOut
    recommendation: StoredRecommendation
    reasons: list[str]
    explanations: dict[str, str]


class DecisionOut(Out):
    """The human decision."""

    notify_supervisory_authority: bool
    communicate_to_data_subjects: bool


class AssessmentOut(Out):
    """One recorded assessment."""

    seq: int = Field(ge=1)
    inputs: dict[str, Any] = Field(description="the AssessmentInput facts as given")
    result: AssessmentResultOut
    decision: DecisionOut
    overridden: bool
    rationale: str
    assessor: str
    assessed_at: UTCTime
    decided_at: UTCTime | None


class AdviceOut(Out):
    """The latest recommendation as advice to customers, who decide for their own data."""

    band: Band | None
    score: float | None
    reasons: list[str]
    enisa: dict[str, Any]
    notify_supervisory_authority: bool
    communicate_to_data_subjects: bool
    document_internally: Literal[True]
    inputs: dict[str, Any]
    assessment_seq: int
    assessed_at: UTCTime


class AssessmentList(Out):
    """Every assessment of the incident, newest first."""

    incident: str
    items: list[AssessmentOut]
    total: int = Field(ge=0)
    advice_for_controllers: AdviceOut | None


class RegisterImpact(Out):
    """The latest impact of a register entry."""

    controllers: int
    est_subjects: int
    est_records: int
    special_categories: bool
    vulnerable_subjects: bool
    data_categories: list[str]


class RegisterDecision(Out):
    """The latest assessment's decision of a register entry."""

    assessment_seq: int
    notify_supervisory_authority: bool
    communicate_to_data_subjects: bool
    overridden: bool
    rationale: str | None
    recommendation: dict[str, Any]
    reasons: list[str]
    score: float | None
    band: Band | None
    assessor: str
    decided_at: UTCTime | None


class NoticeState(Out):
    """How far notifying one kind of recipient has got."""

    state: Literal["none", "notified", "partly notified", "pending", "not required"]
    notified: int = Field(ge=0)
    of: int = Field(ge=0)
    first_at: UTCTime | None


class RegisterEntry(Out):
    """One incident of the breach register (Art. 33(5))."""

    ref: str
    title: str
    status: IncidentStatus
    incident_type: str
    breach_types: list[BreachType]
    drill: bool
    detected_at: UTCTime
    aware_at: UTCTime | None
    contained_at: UTCTime | None
    closed_at: UTCTime | None
    status_rationale: str | None
    impact: RegisterImpact | None
    decision: RegisterDecision | None
    notified: dict[str, NoticeState] = Field(description="recipient kind -> state")


class RegisterOut(Out):
    """The breach register of a period."""

    from_: DateText | None = Field(alias="from")
    to: DateText | None
    breaches: list[RegisterEntry]
    not_a_breach: list[RegisterEntry]
    total: int = Field(ge=0)


class HoursToNotify(Out):
    """Hours from awareness to a controller being notified."""

    count: int = Field(ge=0)
    median: float | None
    p90: float | None
    method: str


class WithinContract(Out):
    """Controller notices on time and late against their contracts."""

    on_time: int = Field(ge=0)
    late: int = Field(ge=0)
    share: float | None = Field(ge=0, le=1)
    without_contract_deadline: int = Field(ge=0)


class OverdueItem(Out):
    """An open obligation past its deadline."""

    incident: str
    title: str
    recipient_kind: str
    recipient_key: str
    due_at: UTCTime | None


class OverdueList(Out):
    """Open obligations past their deadlines."""

    count: int = Field(ge=0)
    items: list[OverdueItem]


class MetricsOut(Out):
    """The period's numbers."""

    from_: DateText | None = Field(alias="from")
    to: DateText | None
    computed_at: UTCTime
    breaches: int = Field(ge=0)
    not_a_breach: int = Field(ge=0)
    hours_to_controller_notified: HoursToNotify
    controller_notifications_within_contract: WithinContract
    overdue_obligations: OverdueList
    incidents_by_type: dict[str, int]
    incidents_by_data_category: dict[str, int]


class AssessmentFormOut(Out):
    """What a new assessment of the incident starts from, and what it would recommend as it stands."""

    incident: str
    values: dict[str, Any] = Field(description="the assessment inputs, prefilled (POST them as inputs)")
    sources: dict[str, str] = Field(description="input -> where its value came from")
    hints: dict[str, list[str]] = Field(description="input -> the incident type's questions that settle it")
    general_hints: list[str]
    recommendation: RecommendationOut | None = Field(description="null while the prefilled values are incomplete")
    incomplete: list[str] = Field(description="what keeps the prefilled values from being assessed")

