"""Finding NUL characters in request input: PostgreSQL text cannot store them, so they are refused at the door."""

from __future__ import annotations


def first_nul(value, path: str = "") -> str | None:
    """The path (a.b.0.c) of the first string holding a NUL character in a JSON-like value, or None."""
    if isinstance(value, str):
        return path or "body" if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return where
            found = first_nul(item, where)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = first_nul(item, f"{path}.{index}" if path else str(index))
            if found:
                return found
    return None
