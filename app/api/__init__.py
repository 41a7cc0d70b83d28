"""JSON API under /api/v1: bearer-token auth, problem+json errors, same flows as the web views."""

from __future__ import annotations

from typing import TypeVar

from flask import Blueprint
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException

from app.core.problems import problem
from app.core.errors import Conflict, Forbidden, InputError, NotFound, Problem
from app.core.numbers import ROW_ID_MAX

api_bp = Blueprint("api", __name__, url_prefix="/api/v1")
M = TypeVar("M", bound=BaseModel)


@api_bp.url_value_preprocessor
def _ids_in_range(endpoint, values):
    # An id past any INTEGER column makes the database raise (a 500); no row can have it, so it is a 404.
    for name, value in (values or {}).items():
        if isinstance(value, int) and value > ROW_ID_MAX:
            raise NotFound(f"no {name.removesuffix('_id').replace('_', ' ')} {value}")


@api_bp.errorhandler(InputError)
def _input_error(exc: InputError):
    return problem(422, "Unprocessable Content", "the request has invalid fields", errors=exc.problems)


@api_bp.errorhandler(ValidationError)
def _validation_error(exc: ValidationError):
    errors = [Problem(e["msg"], field=".".join(str(p) for p in e["loc"]) or None) for e in exc.errors()]
    return problem(422, "Unprocessable Content", "the request has invalid fields", errors=errors)


@api_bp.errorhandler(NotFound)
def _not_found(exc: NotFound):
    return problem(404, "Not Found", str(exc))


@api_bp.errorhandler(Conflict)
def _conflict(exc: Conflict):
    return problem(409, "Conflict", str(exc))


@api_bp.errorhandler(Forbidden)
def _forbidden(exc: Forbidden):
    return problem(403, "Forbidden", str(exc))


@api_bp.app_errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    # App-wide so that unknown /api/ URLs (404) and wrong methods (405) answer as problems too.
    from flask import request

    if not request.path.startswith("/api/"):
        from app.web import error_page

        return error_page(exc)
    allowed = getattr(exc, "valid_methods", None)  # RFC 9110: a 405 names the methods the URL does take
    return problem(exc.code or 500, exc.name, exc.description, headers={"Allow": ", ".join(allowed)} if allowed else None)


def json_body() -> dict:
    """The request's JSON object body, or a 422 problem naming what is wrong with it."""
    from flask import request

    if not request.is_json:
        raise InputError(Problem("send a JSON object with Content-Type: application/json", field="body"))
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InputError(Problem("the body must be a JSON object", field="body"))
    return body


def body_as(model: type[M], body: dict | None = None) -> M:
    """The JSON object body (or `body`) as the model: JSON types exactly as documented, then pydantic's checks."""
    from app.api.jsontypes import check_json_types

    body = json_body() if body is None else body
    check_json_types(model, body)
    return model.model_validate(body)


from app.api import assessment, datamap, incidents, regimes, tasks  # noqa: E402,F401  (registers routes on api_bp)
from app.api import notifications  # noqa: E402,F401  issue 4: notification endpoints
from app.api import audit, members  # noqa: E402,F401  issue 7: audit log, need-to-know
from app.api import exports  # noqa: E402,F401  issue 6: timeline exports, register metrics, calendar
from app.api import subjects  # noqa: E402,F401  issue 10: affected subjects, access, erasure, retention
from app.api import intake  # noqa: E402,F401  issue 7: signed alert intake from SIEMs
from app.api import openapi  # noqa: E402,F401  issue 7: the OpenAPI document (and /api/docs)
from app.api import obligations  # noqa: E402,F401  issue 7: settle obligations by hand (met, not required)
from app.api import notice_review  # noqa: E402,F401  issue 7: bulk approval and shared notice facts
from app.api import datamap_io  # noqa: E402,F401  issue 7: data-map import and export, taxonomy
