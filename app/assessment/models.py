"""Recorded risk assessments of an incident: the facts, the recommendation and the human decision."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField
from sqlmodel import JSON, Field, SQLModel

from app.assessment.recommend import AssessmentInput
from app.core.time import UTCDateTime


class Assessment(SQLModel, table=True):
    """One assessment of an incident; every one is kept, so the register shows how the view changed."""

    __table_args__ = (sa.UniqueConstraint("incident_id", "seq", name="uq_assessment_incident_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    seq: int  # 1, 2, 3 ... within the incident: the history of re-assessments
    inputs: dict = Field(default_factory=dict, sa_type=JSON)  # AssessmentInput as JSON
    result: dict = Field(default_factory=dict, sa_type=JSON)  # enisa, recommendation, reasons, explanations
    decision_notify_sa: bool  # Art. 33(1): notify the supervisory authority about our own data
    decision_communicate: bool  # Art. 34: communicate to our own data subjects
    overridden: bool = False  # the decision differs from the recommendation
    override_rationale: str = Field(default="", max_length=5000)  # the assessor's reasoning; required to override
    assessor: str = Field(max_length=254)  # email of the lead who assessed and decided
    assessed_at: datetime = Field(sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def recommendation(self) -> dict:
        """The engine's recommendation as stored."""
        return self.result.get("recommendation", {})


# DecisionIn and AssessmentCreate are pydantic models, not SQLModel ones: SQLModel ignores the strict=True the
# API validates with, so `"notify_supervisory_authority": 1` or a count of "12" would slip through.
class DecisionIn(BaseModel):
    """The human decision; a missing answer follows the recommendation."""

    model_config = ConfigDict(extra="forbid")
    notify_supervisory_authority: bool | None = None
    communicate_to_data_subjects: bool | None = None


class AssessmentCreate(BaseModel):
    """An assessment of an incident through the API: the facts, an optional decision and the rationale."""

    model_config = ConfigDict(extra="forbid")
    inputs: AssessmentInput
    decision: DecisionIn | None = None
    rationale: str = PydanticField(default="", max_length=5000)
