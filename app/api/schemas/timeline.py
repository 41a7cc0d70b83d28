"""Answers about timelines: the hash-chained events, and the published JSON export schema."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import Field

from app.api.schemas.common import Out, PageMeta, UTCTime

EXPORT_SCHEMA = Path(__file__).resolve().parents[2] / "timeline" / "schemas" / "timeline-export.v1.json"
EXPORT_COMPONENT = "TimelineExport"


class TimelineEventOut(Out):
    """One event with every hashed field and its hash (redacted ones say so)."""

    seq: int = Field(ge=1)
    occurred_at: UTCTime
    recorded_at: UTCTime
    kind: str
    actor: str
    summary: str
    details: dict[str, Any]
    controller_id: int | None
    prev_hash: str
    hash: str
    redacted: str | None = Field(default=None, description="why the shown content differs from the hashed one")
    retention_redacted: str | None = Field(default=None, description="retention or erasure")


class TimelineOut(PageMeta):
    """One page of the events in chain order, and whether the whole chain verifies."""

    incident: str
    verified: bool
    head_hash: str
    items: list[TimelineEventOut]


@cache
def export_components() -> dict[str, dict]:
    """The published export schema as OpenAPI components: its $defs become TimelineExport_<name>."""
    schema = json.loads(EXPORT_SCHEMA.read_text(encoding="utf-8"))
    definitions = schema.pop("$defs", {})
    for key in ("$schema", "$id"):
        schema.pop(key, None)
    # The file's own "#/$defs/x" references would resolve against the OpenAPI document once embedded.
    text = json.dumps({EXPORT_COMPONENT: schema, **{f"{EXPORT_COMPONENT}_{k}": v for k, v in definitions.items()}})
    return json.loads(text.replace('"#/$defs/', f'"#/components/schemas/{EXPORT_COMPONENT}_'))
