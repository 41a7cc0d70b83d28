"""Data-map import and export on the API (the same flow as the web's import page and export links), and the taxonomy."""

from __future__ import annotations

from flask import Response, request

from app import runtime
from app.api import api_bp
from app.api.queries import DatamapExportQuery, DatamapImportQuery, parse_query
from app.api.schemas.datamap import ImportSummaryOut
from app.api.spec import TEXT, Media, operation
from app.auth.permissions import Permission, declare
from app.auth.security import client_ip
from app.core import time
from app.core.errors import InputError, Problem
from app.datamap.taxonomy import Taxonomy, taxonomy
from app.db import get_session
from app.flows import datamap as datamap_flows

# A raw body's format when no ?filename= names it (multipart uploads carry their file name).
RAW_TYPES = {"application/yaml": "yaml", "application/x-yaml": "yaml", "text/yaml": "yaml", "text/x-yaml": "yaml",
             "application/json": "json", "text/csv": "csv"}
UPLOAD = {"type": "object", "required": ["file"],
          "properties": {"file": {"type": "string", "contentMediaType": "application/octet-stream",
                                  "description": ".yaml/.yml/.json (canonical or Fides manifest) or .csv"},
                         "assignments": {"type": "string", "contentMediaType": "text/csv",
                                         "description": "with a Fides manifest: customers and counts per system"}}}


def _upload() -> tuple[str, bytes, tuple[str, bytes] | None]:
    """(file name, content, assignments) from a multipart upload or a raw body."""
    query = parse_query(DatamapImportQuery)
    upload = request.files.get("file")
    if upload is not None:
        extra = request.files.get("assignments")
        assignments = (extra.filename or "assignments.csv", extra.read()) if extra is not None else None
        return upload.filename or query.filename or "upload.yaml", upload.read(), assignments
    kind = RAW_TYPES.get(request.mimetype)
    named = query.filename.rsplit(".", 1)[-1].lower().replace("yml", "yaml") if query.filename else None
    if kind and named and named != kind:  # a CSV body named .yaml is a mistake, not a YAML file
        raise InputError(Problem(f"the Content-Type says {kind} but ?filename= says {named}: send one format",
                                 field="filename"))
    if query.filename is None and kind is None:
        raise InputError(Problem("send the map as the multipart field `file`, or as the body with Content-Type "
                                 "application/yaml, application/json or text/csv (or name it with ?filename=)",
                                 field="body"))
    content = request.get_data()
    if not content.strip():
        raise InputError(Problem("the body is empty: send the data map", field="body"))
    return query.filename or f"datamap.{kind}", content, None


@api_bp.post("/datamap/import")
@declare(Permission.datamap_write)
@operation(tags=["datamap"], query=DatamapImportQuery,
           body=Media({"multipart/form-data": UPLOAD, "application/yaml": {"type": "object"}, "text/csv": TEXT,
                       "application/json": {"type": "object"}}),  # a YAML or JSON map is a mapping
           responses={201: ImportSummaryOut, 200: ImportSummaryOut})
def import_datamap():
    """Import a data map, all or nothing: 201 with a new version, 200 when nothing changed, 422 naming file:line: field."""
    filename, content, assignments = _upload()
    db = get_session()
    result = datamap_flows.import_upload(session=db, filename=filename, content=content, assignments=assignments,
                                         actor=runtime.actor().name, now=time.now())
    db.commit()
    return datamap_flows.import_summary(result), 201 if result.changed else 200


@api_bp.get("/datamap/export")
@declare(Permission.datamap_read)
@operation(tags=["datamap"], query=DatamapExportQuery,
           # YAML and JSON describe the parsed document (a mapping), CSV the text itself.
           responses={200: Media({"application/yaml": {"type": "object"}, "text/csv": TEXT,
                                  "application/json": {"type": "object"}},
                                 headers={"Content-Disposition": "attachment; the file name"})})
def export_datamap():
    """The whole data map as ?format=yaml|csv|json (never webhook secrets); recorded in the audit log."""
    query = parse_query(DatamapExportQuery)
    db = get_session()
    rendered = datamap_flows.export(session=db, fmt=query.format, actor=runtime.actor().name, target=request.path,
                                    ip=client_ip(), now=time.now())
    db.commit()
    return Response(rendered.chunks, mimetype=rendered.mimetype,
                    headers={"Content-Disposition": f"attachment; filename={rendered.filename}"})


@api_bp.get("/datamap/taxonomy")
@declare(Permission.datamap_read)
@operation(tags=["datamap"], responses={200: Taxonomy})
def get_taxonomy():
    """The data and subject categories (fideslang keys) with their Art. 9/10 flags and ENISA types."""
    return taxonomy().model_dump(mode="json")
