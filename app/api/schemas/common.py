"""Shapes every API answer shares: problem details, UTC times, page metadata."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# What app.core.time.iso() writes: UTC with a Z, microseconds only when there are some.
UTC_TEXT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z$"
UTCTime = Annotated[str, Field(pattern=UTC_TEXT, json_schema_extra={"format": "date-time"})]
DateText = Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", json_schema_extra={"format": "date"})]


class Out(BaseModel):
    """Base of answer models: a document has exactly the fields its model lists (additionalProperties: false)."""

    model_config = ConfigDict(extra="forbid")


class ProblemItem(Out):
    """One thing wrong with the request, and where (file, line, field)."""

    message: str
    file: str | None = None
    line: int | None = None
    field: str | None = None


class Problem(Out):
    """An RFC 9457 problem details document (media type application/problem+json)."""

    type: str
    title: str
    status: int
    detail: str | None = None
    errors: list[ProblemItem] | None = None


class PageMeta(Out):
    """Where a paginated list stands."""

    page: int = Field(ge=1)
    per_page: int = Field(ge=1)
    total: int = Field(ge=0)
    pages: int = Field(ge=1)
