"""The OpenAPI document at /api/v1/openapi.json and a readable page of it at /api/docs.

Both are public: they describe the interface, never data, and the people who need them first (an integrator
writing a SIEM's signed intake, a script author before an admin issues the token) have no token yet.
"""

from __future__ import annotations

import re

from flask import Blueprint, current_app, render_template

from app.api import api_bp
from app.api.spec import Media, operation
from app.api.spec.build import build_spec
from app.auth.permissions import Permission, declare

SPEC_KEY = "breachline.openapi"
docs_bp = Blueprint("api_docs", __name__, url_prefix="/api")


def current_spec() -> dict:
    """The running app's OpenAPI document, built once (routes do not change after create_app)."""
    spec = current_app.extensions.get(SPEC_KEY)
    if spec is None:
        spec = current_app.extensions[SPEC_KEY] = build_spec(current_app)
    return spec


@api_bp.get("/openapi.json")
@declare(Permission.public)
@operation(tags=["meta"], security=False,
           responses={200: Media({"application/json": {"type": "object", "required": ["openapi", "paths"]}})})
def openapi_document():
    """This OpenAPI 3.1 document; a readable version is at /api/docs."""
    return current_spec()


def type_text(schema: dict) -> str:
    """A JSON Schema in a few words: "array of IncidentBrief", "string (date-time) or null", "one of a, b"."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    for key, joiner in (("anyOf", " or "), ("oneOf", " or ")):
        if key in schema:
            return joiner.join(type_text(s) for s in schema[key])
    if "enum" in schema:
        return "one of " + ", ".join(str(v) for v in schema["enum"])
    if "const" in schema:
        return f"always {str(schema['const']).lower() if isinstance(schema['const'], bool) else schema['const']}"
    kind = schema.get("type", "any")
    if kind == "array":
        return "array of " + type_text(schema.get("items", {}))
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return "object of " + type_text(schema["additionalProperties"])
    text = kind if isinstance(kind, str) else " or ".join(kind)
    if "format" in schema:
        text += f" ({schema['format']})"
    elif "contentMediaType" in schema:
        text += f" ({schema['contentMediaType']})"
    return text


def limits_text(schema: dict) -> str:
    """The constraints of a schema: range, length, pattern, default."""
    parts = []
    for key, label in (("minimum", "≥"), ("maximum", "≤"), ("minLength", "length ≥"), ("maxLength", "length ≤"),
                       ("minItems", "items ≥")):
        if key in schema:
            parts.append(f"{label} {schema[key]}")
    if "pattern" in schema:
        parts.append(f"matches {schema['pattern']}")
    if "default" in schema and schema["default"] not in ("", [], {}):
        parts.append(f"default {schema['default']}")
    return "; ".join(parts)


def _media(content: dict) -> list[tuple[str, str, str | None]]:
    # (media type, type in words, schema name to link to or None)
    found = []
    for media, item in content.items():
        schema = item["schema"]
        found.append((media, type_text(schema), _link(schema)))
    return found


def _paragraphs(text: str) -> list[list[tuple[str, bool]]]:
    # Paragraphs of (text, is_code) runs: descriptions are CommonMark, of which the page shows `code` only.
    return [[(run, i % 2 == 1) for i, run in enumerate(re.split(r"`([^`]*)`", paragraph)) if run]
            for paragraph in text.split("\n\n") if paragraph.strip()]


def _link(schema: dict) -> str | None:
    target = schema.get("$ref") or schema.get("items", {}).get("$ref")
    return target.rsplit("/", 1)[-1] if target else None


def _fields(schema: dict) -> list[dict]:
    required = set(schema.get("required", []))
    return [{"name": name, "type": type_text(prop), "ref": _link(prop), "required": name in required,
             "limits": limits_text(prop), "description": prop.get("description", "")}
            for name, prop in schema.get("properties", {}).items()]


def page_context(spec: dict) -> dict:
    """The document arranged for the page: operations by tag, then every schema with its fields."""
    by_tag: dict[str, list] = {tag["name"]: [] for tag in spec["tags"]}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            by_tag[op["tags"][0]].append({
                "id": op["operationId"], "method": method.upper(), "path": path, "summary": op["summary"],
                "description": _paragraphs(op.get("description", "")), "permission": op["x-permission"],
                "public": op.get("security") == [],
                "parameters": [{**p, "type": type_text(p["schema"]), "ref": _link(p["schema"]),
                                "limits": limits_text(p["schema"])}
                               for p in op.get("parameters", [])],
                "body": _media(op.get("requestBody", {}).get("content", {})),
                "responses": [(status, r["description"], _media(r.get("content", {})))
                              for status, r in op["responses"].items()]})
    tags = [{**tag, "operations": by_tag[tag["name"]]} for tag in spec["tags"]]
    schemas = [{"name": name, "description": schema.get("description", ""), "type": type_text(schema),
                "fields": _fields(schema), "closed": schema.get("additionalProperties") is False}
               for name, schema in spec["components"]["schemas"].items()]
    return {"info": spec["info"], "server": spec["servers"][0]["url"], "tags": tags, "schemas": schemas}


@docs_bp.get("/docs")
@declare(Permission.public)
def docs_page():
    """The API reference as a page: every operation by tag, its parameters, body and answers, and every schema."""
    return render_template("api/docs.html", **page_context(current_spec()))
