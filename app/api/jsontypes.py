"""JSON types checked as the OpenAPI document states them, before pydantic validates the values.

Pydantic's lax mode reads "12" or true as the integer 12 or 1, and 1 or "yes" as true; its strict mode would
refuse them, but SQLModel models ignore strict=True. The API promises JSON Schema's types, so each JSON body is
first checked against its model's own JSON Schema (the one the document publishes) for types only; pydantic
then checks everything else (ranges, lengths, patterns, enums, cross-field rules).
"""

from __future__ import annotations

from functools import cache

from pydantic import BaseModel

from app.core.errors import InputError, Problem

_IS = {
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


@cache
def _schema(model: type[BaseModel]) -> dict:
    return model.model_json_schema(mode="validation")


def _kind(schema: dict, defs: dict) -> str:
    if "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    kind = schema.get("type", "object" if "properties" in schema else "value")
    return kind if isinstance(kind, str) else " or ".join(kind)


def _fits(schema: dict, value, defs: dict) -> bool:
    return not _problems(schema, value, defs, "")


def _problems(schema: dict, value, defs: dict, where: str) -> list[Problem]:
    if "$ref" in schema:
        schema = {**defs[schema["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in schema.items() if k != "$ref"}}
    options = schema.get("anyOf") or schema.get("oneOf")
    if options and not any(_fits(option, value, defs) for option in options):
        same_kind = [o for o in options if _IS.get(_kind(o, defs), lambda v: False)(value)]
        if len(same_kind) == 1:  # e.g. an object where "object or null" is allowed: say what is wrong inside it
            return _problems(same_kind[0], value, defs, where)
        kinds = sorted({_kind(o, defs) for o in options})
        return [Problem(f"must be {' or '.join(kinds)}", field=where or None)]
    kind = schema.get("type")
    kinds = [kind] if isinstance(kind, str) else kind or []
    if kinds and not any(_IS[k](value) for k in kinds):
        return [Problem(f"must be a JSON {' or '.join(kinds)}", field=where or None)]
    found: list[Problem] = []
    if isinstance(value, dict):
        properties, extra = schema.get("properties", {}), schema.get("additionalProperties")
        for key, item in value.items():
            sub = properties.get(key, extra if isinstance(extra, dict) else None)
            if sub is not None:
                found += _problems(sub, item, defs, f"{where}.{key}" if where else key)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            found += _problems(schema["items"], item, defs, f"{where}.{index}" if where else str(index))
    return found


def check_json_types(model: type[BaseModel], body) -> None:
    """Raise InputError naming every field whose JSON type differs from the model's JSON Schema."""
    schema = _schema(model)
    problems = _problems(schema, body, schema.get("$defs", {}), "")
    if problems:
        raise InputError(problems)
