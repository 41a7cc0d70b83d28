"""Build the OpenAPI 3.1 document of /api/v1 from the routes, their permissions and their @operation specs."""

from __future__ import annotations

import inspect
import json
import re
from importlib.metadata import PackageNotFoundError, version

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import IntegerConverter, Rule

from app.api.queries import CONFIG_MAXIMUM
from app.api.schemas.common import Problem
from app.api.schemas.timeline import export_components
from app.api.spec import Media, OperationSpec, spec_of
from app.auth.permissions import Permission, is_write
from app.core.numbers import ROW_ID_MAX

PREFIX = "/api/v1"
REF = "#/components/schemas/{model}"
PROBLEM_MEDIA = "application/problem+json"
METHODS = ("get", "put", "post", "patch", "delete")
TAGS = {
    "incidents": "Declare, read and edit incidents; status, scope and impact.",
    "timeline": "The hash-chained timeline and its exports.",
    "tasks": "Playbook tasks of an incident.",
    "obligations": "Notification duties and their deadlines.",
    "assessment": "Risk assessment, the notify / do-not-notify recommendation and the breach register.",
    "notifications": "Drafting, approving, cancelling and filing notices.",
    "subjects": "Affected data subjects: lists, the Art. 34 communication, access, erasure and retention.",
    "access": "Need-to-know: restricted incidents and their members.",
    "datamap": "Controllers (customers), systems and data-map versions.",
    "regimes": "Legal clocks and the deadline calculator.",
    "exports": "Register metrics and files, and the deadlines calendar.",
    "audit": "The security audit log.",
    "intake": "Signed alerts from SIEMs (HMAC, no bearer token).",
    "meta": "This document.",
}
ERROR_TEXT = {
    401: "No bearer token, or it is unknown, revoked or expired (WWW-Authenticate says which).",
    403: "The token's role lacks the permission, or the token lacks the scope (write for changes).",
    404: "No such object, or one you may not see (need-to-know hides restricted incidents).",
    409: "Conflicts with the current state: a stale version, a duplicate, or the wrong status.",
    413: "The body is larger than MAX_CONTENT_LENGTH.",
    422: "Invalid input; `errors` names each field (body fields, or query parameters by name).",
}
_PARAM = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")


def _version() -> str:
    try:
        return version("breachline")
    except PackageNotFoundError:
        return "0"


def _describe(view) -> tuple[str, str]:
    doc = inspect.getdoc(view) or view.__name__.replace("_", " ")
    summary, _, rest = doc.partition("\n")
    return summary.strip(), rest.strip()


def _path_parameters(rule: Rule) -> list[dict]:
    parameters = []
    for match in _PARAM.finditer(rule.rule):
        name = match["name"]
        if isinstance(rule._converters.get(name), IntegerConverter):
            schema = {"type": "integer", "minimum": 0, "maximum": ROW_ID_MAX}  # larger: 404 (app/api/__init__.py)
        else:
            # Werkzeug's default converter: one non-empty path segment.
            schema = {"type": "string", "minLength": 1, "pattern": "^[^/]+$"}
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    return parameters


def _query_parameter(name: str, schema: dict, required: bool, config) -> dict:
    schema = {k: v for k, v in schema.items() if k != "title"}
    description = schema.pop("description", None)
    # A query parameter is absent, never null: drop pydantic's `| None` branch and null default.
    options = schema.get("anyOf")
    if options and {"type": "null"} in options:
        rest = [o for o in options if o != {"type": "null"}]
        schema.pop("anyOf")
        schema.update(rest[0] if len(rest) == 1 else {"anyOf": rest})
    if schema.get("default", 0) is None:
        schema.pop("default")
    key = schema.pop(CONFIG_MAXIMUM, None)
    if key:
        schema["maximum"] = int(config[key])
    parameter = {"name": name, "in": "query", "required": required, "schema": schema}
    if description:
        parameter["description"] = description
    return parameter


def _models(specs: list[OperationSpec]) -> list[tuple[type[BaseModel], str]]:
    found: dict[tuple[type[BaseModel], str], None] = {(Problem, "serialization"): None}

    def add(item, mode: str) -> None:
        if isinstance(item, Media):
            for schema in item.content.values():
                add(schema, mode)
        elif isinstance(item, tuple):
            for alternative in item:
                add(alternative, mode)
        elif isinstance(item, type) and issubclass(item, BaseModel):
            found[(item, mode)] = None

    for spec in specs:
        add(spec.body, "validation")
        add(spec.query, "validation")
        for item in spec.responses.values():
            add(item, "serialization")
    return list(found)


def _schema(item, refs: dict, mode: str) -> dict:
    if isinstance(item, tuple):
        return {"anyOf": [_schema(alternative, refs, mode) for alternative in item]}
    return refs[(item, mode)] if isinstance(item, type) else item


def _content(item, refs: dict, mode: str) -> dict:
    if isinstance(item, Media):
        return {media: {"schema": _schema(schema, refs, mode)} for media, schema in item.content.items()}
    return {"application/json": {"schema": refs[(item, mode)]}}


def _responses(spec: OperationSpec, refs: dict, errors: set[int]) -> dict:
    responses = {}
    for status, item in sorted(spec.responses.items()):
        response = {"description": HTTP_STATUS_CODES[status]}
        if item is not None:
            response["content"] = _content(item, refs, "serialization")
        if isinstance(item, Media) and item.headers:
            response["headers"] = {name: {"description": text, "schema": {"type": "string"}}
                                   for name, text in item.headers.items()}
        responses[str(status)] = response
    for status in sorted(errors):
        response = {"description": ERROR_TEXT.get(status, HTTP_STATUS_CODES[status]),
                    "content": {PROBLEM_MEDIA: {"schema": {"$ref": REF.format(model="Problem")}}}}
        if status == 401:
            response["headers"] = {"WWW-Authenticate": {"description": "the challenge", "schema": {"type": "string"}}}
        responses[str(status)] = response
    return responses


def _operation(rule: Rule, view, spec: OperationSpec, refs: dict, query_schemas: dict, config) -> dict:
    permission: Permission = getattr(view, "permission", None)
    public = permission == Permission.public or not spec.security
    summary, description = _describe(view)
    if not public:
        scope = "write" if is_write(permission) else "read"
        description = (description + "\n\n" if description else "") + \
            f"Needs permission `{permission}` (a token with the `{scope}` scope)."
    parameters = _path_parameters(rule)
    parameters += [{"name": name, "in": "header", "required": True, "description": text, "schema": {"type": "string"}}
                   for name, text in spec.headers.items()]
    if spec.query is not None:
        schema = query_schemas[spec.query]
        required = set(schema.get("required", []))
        parameters += [_query_parameter(name, prop, name in required, config)
                       for name, prop in schema.get("properties", {}).items()]
    errors = set(spec.errors)
    if not public:
        errors |= {401, 403}
    if any(p["in"] == "path" for p in parameters):
        errors.add(404)
    if spec.body is not None or spec.query is not None:
        errors.add(422)
    if spec.body is not None:
        errors.add(413)
    operation = {"operationId": rule.endpoint.removeprefix("api."), "tags": list(spec.tags), "summary": summary,
                 "x-permission": str(permission)}
    if description:
        operation["description"] = description
    if parameters:
        operation["parameters"] = parameters
    if spec.body is not None:
        operation["requestBody"] = {"required": spec.body_required, "content": _content(spec.body, refs, "validation")}
    operation["responses"] = _responses(spec, refs, errors)
    if public:
        operation["security"] = []
    return operation


def _tidy_names(document: dict) -> dict:
    """The document with readable component names."""
    # pydantic qualifies clashing names (app__incidents__models__BreachType) and splits a schema by mode
    # (BreachType-Output) even when both halves are the same.
    schemas = document["components"]["schemas"]
    renames: dict[str, str] = {}
    taken = {name for name in schemas if "__" not in name and "-" not in name}
    for name in sorted(n for n in schemas if "__" in n):
        parts = name.split("__")
        new = parts[-1] if parts[-1] not in taken else parts[1].capitalize() + parts[-1]  # AssessmentBreachType
        renames[name] = new
        taken.add(new)
    for name in sorted(n for n in schemas if n.endswith(("-Input", "-Output"))):
        twins = sorted(n for n, schema in schemas.items() if n != name and "-" not in n and schema == schemas[name])
        if twins:  # the same schema under another name: use that one
            renames[name] = renames.get(twins[0], twins[0])
    text = json.dumps(document)
    for old, new in renames.items():
        text = text.replace(f'"{REF.format(model=old)}"', f'"{REF.format(model=new)}"')
    tidy = json.loads(text)
    tidy["components"]["schemas"] = dict(sorted({renames.get(n, n): schema for n, schema in
                                                 tidy["components"]["schemas"].items()}.items()))
    return tidy


def api_rules(app: Flask) -> list[Rule]:
    """The /api/v1 rules of the app, in path order."""
    return sorted((r for r in app.url_map.iter_rules() if r.rule.startswith(PREFIX + "/")), key=lambda r: r.rule)


def openapi_path(rule: Rule) -> str:
    """A Flask rule as an OpenAPI path relative to the server URL: <int:task_id> -> {task_id}."""
    return _PARAM.sub(lambda m: "{" + m["name"] + "}", rule.rule.removeprefix(PREFIX))


def build_spec(app: Flask) -> dict:
    """The OpenAPI 3.1 document of every described /api/v1 operation (undescribed ones are left out; a test fails)."""
    described = [(rule, app.view_functions[rule.endpoint]) for rule in api_rules(app)
                 if spec_of(app.view_functions[rule.endpoint]) is not None]
    specs = [spec_of(view) for _, view in described]
    refs, top = models_json_schema(_models(specs), ref_template=REF)
    components = dict(top.get("$defs", {}))
    query_schemas = {}
    for spec in specs:
        if spec.query is not None and spec.query not in query_schemas:
            query_schemas[spec.query] = spec.query.model_json_schema(ref_template=REF, mode="validation")
            components.update(query_schemas[spec.query].pop("$defs", {}))
            components.pop(spec.query.__name__, None)  # a query model is parameters, not a body
    components.update(export_components())
    paths: dict[str, dict] = {}
    for rule, view in described:
        item = paths.setdefault(openapi_path(rule), {})
        for method in METHODS:
            if method.upper() in rule.methods:
                item[method] = _operation(rule, view, spec_of(view), refs, query_schemas, app.config)
    used = sorted({tag for spec in specs for tag in spec.tags})
    return _tidy_names({
        "openapi": "3.1.0",
        "info": {"title": "Breachline API", "version": _version(),
                 "description": "The JSON API of Breachline, the breach incident response tracker. Authenticate with "
                                "`Authorization: Bearer <token>` (an admin makes tokens with "
                                "`breachline tokens create --email EMAIL`). Errors are RFC 9457 problem details "
                                "(application/problem+json); times are RFC 3339 with an offset on input and UTC "
                                "with `Z` on output."},
        "servers": [{"url": PREFIX}],
        "tags": [{"name": tag, "description": TAGS.get(tag, "")} for tag in used],
        "paths": paths,
        "components": {"schemas": dict(sorted(components.items())),
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                      "description": "an API token of a user"}}},
        "security": [{"bearer": []}],
    })
