"""Export endpoints: timeline formats (through GET /incidents/<ref>/timeline?format=), register metrics and exports, calendar."""

from __future__ import annotations

from flask import current_app, request

from app import runtime
from app.api import api_bp
from app.api.queries import PeriodQuery, RegisterExportQuery, TimelineExportQuery, parse_query
from app.api.schemas.assessment import MetricsOut
from app.api.spec import BINARY, TEXT, Media, operation
from app.auth.permissions import Permission, declare
from app.core import time
from app.db import get_session
from app.exports import metrics as metrics_service
from app.exports.ics import calendar_feed, feed_incidents
from app.exports.options import parse_options
from app.exports.views import (check_redaction_choice, ics_response, register_for_request, register_response,
                               timeline_response)


def timeline_export(incident):
    """The incident's timeline as ?format=json|csv|html|pdf, in ?tz=, for ?controller= (redacted unless redact=0)."""
    options = parse_options(request.args)
    viewer = runtime.viewer()
    check_redaction_choice(options, str(viewer.role))
    return timeline_response(incident, options, actor=runtime.actor().name)


@api_bp.get("/incidents/<ref>/export")
@declare(Permission.incident_read)
@operation(tags=["exports"], query=TimelineExportQuery,
           responses={200: Media({"application/json": {"$ref": "#/components/schemas/TimelineExport"},
                                  "text/csv": TEXT, "text/html": TEXT, "application/pdf": BINARY},
                                 headers={"Content-Disposition": "the file name"})})
def incident_export_api(ref: str):
    """The incident's timeline or report as ?format=json|csv|html|pdf, ?tz=, ?controller= (redacted unless redact=0)."""
    incident = runtime.visible_incident(ref)
    parse_options(request.args)  # the web export's checks first: they name every bad option at once (tz too)
    parse_query(TimelineExportQuery)
    return timeline_export(incident)


@api_bp.get("/register/metrics")
@declare(Permission.incident_read)
@operation(tags=["exports"], query=PeriodQuery, responses={200: MetricsOut})
def register_metrics():
    """The period's numbers (?from=&to=&drills=): median/p90 hours to notify customers, within contract, overdue, counts."""
    parse_query(PeriodQuery)  # register_for_request() reads the same arguments once they are known to be valid
    return metrics_service.register_metrics(session=get_session(), register=register_for_request(), now=time.now())


@api_bp.get("/register/export")
@declare(Permission.incident_read)
@operation(tags=["exports"], query=RegisterExportQuery,
           responses={200: Media({"text/csv": TEXT, "application/pdf": BINARY},
                                 headers={"Content-Disposition": "the file name"})})
def register_export_api():
    """The breach register of a period as ?format=csv|pdf."""
    return register_response(parse_query(RegisterExportQuery).format)


@api_bp.get("/calendar.ics")
@declare(Permission.incident_read)
@operation(tags=["exports"], responses={200: Media({"text/calendar": TEXT})})
def calendar_api():
    """Open deadlines of every open incident the token's user may see, as iCalendar (bearer token)."""
    incidents = feed_incidents(session=get_session(), viewer=runtime.viewer())
    return ics_response(calendar_feed(session=get_session(), incidents=incidents, now=time.now(),
                                      base_url=current_app.config.get("PUBLIC_BASE_URL") or request.host_url))
