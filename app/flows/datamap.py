"""Data-map import and export as the web page and the API do them: one parse-and-apply, one render-and-audit."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from app.auth import audit
from app.core.errors import InputError, Problem
from app.datamap.exporter import canonical_map, to_csv_rows, to_yaml
from app.datamap.importer import ImportResult, import_map, parse_file

EXPORT_FORMATS = ("yaml", "csv", "json")
_MIMETYPES = {"yaml": "application/yaml", "csv": "text/csv", "json": "application/json"}


def import_upload(*, session: Session, filename: str, content: bytes, assignments: tuple[str, bytes] | None,
                  actor: str, now: datetime) -> ImportResult:
    """Parse an uploaded map by its file name (.yaml/.yml/.json/.csv, Fides + assignments) and apply it; all or nothing."""
    text = _utf8(filename, content)
    extra = (assignments[0], _utf8(assignments[0], assignments[1])) if assignments else None
    parsed = parse_file(filename, text, assignments=extra)
    return import_map(parsed, session=session, actor=actor, now=now, source=filename)


def _utf8(filename: str, content: bytes) -> str:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(Problem("the file is not UTF-8 text", file=filename)) from None


def import_summary(result: ImportResult) -> dict:
    """What an import did, as the API answers it."""
    version = result.version
    return {"changed": result.changed, "controllers": result.controllers, "systems": result.systems,
            "records": result.records, "changes": result.changes,
            "version": None if version is None else {"id": version.id, "content_hash": version.content_hash}}


@dataclass
class MapExport:
    """A rendered data map: its text (in chunks), media type and download name."""

    chunks: Iterable[str]
    mimetype: str
    filename: str


def export(*, session: Session, fmt: str, actor: str, target: str, ip: str | None, now: datetime) -> MapExport:
    """The data map as yaml, csv or json (never webhook secrets), recorded in the audit log; the caller commits."""
    if fmt not in EXPORT_FORMATS:
        raise InputError(Problem(f"unknown format {fmt!r}: use one of {', '.join(EXPORT_FORMATS)}", field="format"))
    document = canonical_map(session=session)
    audit.record(session=session, action=audit.EXPORT_PREFIX + "datamap", now=now, actor=actor, target=target,
                 ip=ip, details={"format": fmt})
    if fmt == "yaml":
        chunks: Iterable[str] = [to_yaml(document)]
    elif fmt == "json":
        chunks = [json.dumps(document, indent=2, ensure_ascii=False) + "\n"]
    else:
        chunks = to_csv_rows(document)
    return MapExport(chunks=chunks, mimetype=_MIMETYPES[fmt], filename=f"datamap.{fmt}")
