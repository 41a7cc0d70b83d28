"""Alert intake: a SIEM posts a signed alert; it opens a triage incident or joins an open one by dedup key.

Authenticated by a per-source HMAC, not a bearer token (hence Permission.public): the view verifies the
signature before it reads the body. Headers: X-Breachline-Source, X-Breachline-Timestamp (unix seconds),
X-Breachline-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + raw body>, secret from INTAKE_SOURCES.
"""

from __future__ import annotations

import json

from flask import current_app, request
from sqlalchemy.exc import IntegrityError

from app import runtime
from app.api import api_bp, body_as
from app.api.schemas.regimes import IntakeOut
from app.api.spec import Media, operation
from app.auth.permissions import Permission, declare
from app.core import time
from app.core.errors import InputError, Problem
from app.core.problems import problem
from app.db import get_session
from app.flows import intake as intake_flow
from app.incidents import intake

_INVALID = "signature invalid"


def _unauthorized(detail: str):
    return problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": 'HMAC realm="breachline-intake"'})


@api_bp.post("/intake/alerts")
@declare(Permission.public)
@operation(tags=["intake"], security=False, body=intake.AlertIn, errors=(401, 409),
           responses={201: Media({"application/json": IntakeOut}, headers={"Location": "the new incident"}),
                      200: IntakeOut},
           headers={"X-Breachline-Source": "the source's name in INTAKE_SOURCES",
                    "X-Breachline-Timestamp": "Unix seconds; within INTAKE_TOLERANCE_SECONDS of now",
                    "X-Breachline-Signature": 'sha256=<hex HMAC-SHA256 of "<timestamp>." + raw body>'})
def intake_alert():
    """Accept a signed alert: 201 {"ref", "created": true} for a new incident, 200 when it joined an open one."""
    source = request.headers.get("X-Breachline-Source", "").strip()
    raw_timestamp = request.headers.get("X-Breachline-Timestamp", "").strip()
    signature = request.headers.get("X-Breachline-Signature", "")
    body = request.get_data(cache=True)
    sources = current_app.config.get("INTAKE_SOURCES") or {}
    secret = sources.get(source) if isinstance(sources, dict) and source else None
    if not raw_timestamp.isdigit() or not intake.signature_valid(secret, raw_timestamp, body, signature):
        return _unauthorized(_INVALID)
    now = time.now()
    if abs(now.timestamp() - int(raw_timestamp)) > int(current_app.config.get("INTAKE_TOLERANCE_SECONDS", 300)):
        return _unauthorized("stale or future timestamp")
    db = get_session()
    digest = intake.signature_digest(signature)
    if intake.seen(session=db, source=source, digest=digest):
        return problem(409, "Conflict", "this alert was already received (replay)")
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise InputError(Problem("the body must be a JSON object", field="body"))
    alert = body_as(intake.AlertIn, payload)
    known = runtime.incident_type_ids()
    if alert.incident_type not in known:
        raise InputError(Problem(f"unknown incident type {alert.incident_type!r}; known: {', '.join(sorted(known))}",
                                 field="incident_type"))
    try:
        incident, created = intake_flow.receive(session=db, source=source, digest=digest, alert=alert, now=now,
                                           settings=runtime.clock_settings(), known_types=known,
                                           incident_type_obj=runtime.incident_types().get(alert.incident_type))
        db.commit()
    except IntegrityError:  # the same signed alert raced in twice: the receipt's unique constraint decides
        db.rollback()
        return problem(409, "Conflict", "this alert was already received (replay)")
    if created:
        return {"ref": incident.ref, "created": True}, 201, {"Location": f"/api/v1/incidents/{incident.ref}"}
    return {"ref": incident.ref, "created": False}, 200
