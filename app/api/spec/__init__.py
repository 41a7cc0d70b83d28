"""OpenAPI 3.1 for /api/v1: the @operation decorator every API view carries; build.py turns routes into the document.

The document is generated from the same pydantic models the views validate with, so it cannot drift from
what the API accepts; tests/api runs schemathesis over it to prove the same for what the API answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

SPEC_ATTRIBUTE = "openapi"  # where @operation stores its OperationSpec on the view function


@dataclass(frozen=True)
class Media:
    """A body that is not one JSON model: media type -> model, raw JSON Schema, or a tuple of models (any of them)."""

    content: Mapping[str, type[BaseModel] | dict[str, Any] | tuple]
    headers: Mapping[str, str] = field(default_factory=dict)  # header name -> description


TEXT = {"type": "string"}  # a body that is text of its media type (CSV, iCalendar, HTML)
BINARY = {"type": "string", "contentMediaType": "application/pdf"}  # OpenAPI 3.1's way to say "bytes"


@dataclass(frozen=True)
class OperationSpec:
    """What one view accepts and answers, beyond what its route and permission already say."""

    tags: tuple[str, ...]
    responses: Mapping[int, type[BaseModel] | Media | None]  # success status -> body (None: no body)
    errors: tuple[int, ...] = ()  # error statuses beyond those the builder derives (401/403/404/413/422)
    body: type[BaseModel] | Media | None = None
    body_required: bool = True
    query: type[BaseModel] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)  # required request header -> description
    security: bool = True  # False: no bearer token (the route authenticates otherwise, or is public)


def operation(*, tags: Iterable[str], responses: Mapping[int, type[BaseModel] | Media | None],
              errors: Iterable[int] = (), body: type[BaseModel] | Media | None = None, body_required: bool = True,
              query: type[BaseModel] | None = None, headers: Mapping[str, str] | None = None,
              security: bool = True) -> Callable:
    """Describe an API view for the OpenAPI document (summary and description come from its docstring)."""
    spec = OperationSpec(tags=tuple(tags), responses=dict(responses), errors=tuple(errors), body=body,
                         body_required=body_required, query=query, headers=dict(headers or {}), security=security)

    def mark(view: Callable) -> Callable:
        setattr(view, SPEC_ATTRIBUTE, spec)
        return view

    return mark


def spec_of(view: Callable) -> OperationSpec | None:
    """The OperationSpec of a view, or None if it was never described."""
    return getattr(view, SPEC_ATTRIBUTE, None)
