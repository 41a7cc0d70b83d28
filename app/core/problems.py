"""RFC 9457 problem details responses for the JSON API."""

from __future__ import annotations

from flask import Response, json

from app.core.errors import Problem

PROBLEM_TYPE = "application/problem+json"


def problem(status: int, title: str, detail: str | None = None, *, errors: list[Problem] | None = None,
            headers: dict | None = None) -> Response:
    """Build an application/problem+json response."""
    body: dict = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = [p.as_dict() for p in errors]
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
