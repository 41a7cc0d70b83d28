"""Data-map endpoints: controllers, systems, versions."""

from __future__ import annotations

from app.api import api_bp
from app.api.queries import ControllerListQuery, PageQuery, SystemListQuery, parse_page_query
from app.api.schemas.datamap import ControllerOut, ControllerPage, SystemOut, SystemPage, VersionPage
from app.api.spec import operation
from app.auth.permissions import Permission, declare
from app.core.pagination import PageRequest
from app.core.time import iso
from app.datamap import service
from app.datamap.models import Controller, System
from app.db import get_session


def _page_request() -> PageRequest:
    return parse_page_query(PageQuery)[1]


def controller_summary(c: Controller, jurisdictions: list[str]) -> dict:
    """A controller as listed."""
    return {"key": c.key, "name": c.name, "country": c.country, "jurisdictions": jurisdictions, "sector": c.sector,
            "locale": c.locale, "timezone": c.timezone}


def contract_of(c: Controller) -> dict | None:
    """A controller's contractual notification terms, or None (= without undue delay)."""
    if c.notify_within_hours is not None:
        return {"notify_within_hours": c.notify_within_hours}
    if c.notify_within_business_days is not None:
        return {"notify_within_business_days": c.notify_within_business_days, "holiday_country": c.holiday_country}
    return None


def system_doc(s: System) -> dict:
    """A system as the API shows it."""
    return {"key": s.key, "name": s.name, "description": s.description, "owner": s.owner, "region": s.region}


@api_bp.get("/controllers")
@declare(Permission.datamap_read)
@operation(tags=["datamap"], query=ControllerListQuery, responses={200: ControllerPage})
def list_controllers():
    """Controllers, paginated, filterable by q, country, sector and jurisdiction."""
    db = get_session()
    query, page_request = parse_page_query(ControllerListQuery)
    filters = service.ControllerFilter(**{k: getattr(query, k).strip()
                                          for k in ("q", "country", "sector", "jurisdiction")})
    page = service.list_controllers(session=db, filters=filters, page=page_request)
    jurisdictions = service.jurisdictions_of(session=db, controller_ids=[c.id for c in page.items])
    return {"items": [controller_summary(c, jurisdictions[c.id]) for c in page.items], **page.meta()}


@api_bp.get("/controllers/<key>")
@declare(Permission.datamap_read)
@operation(tags=["datamap"], responses={200: ControllerOut})
def get_controller(key: str):
    """One controller with contacts, contract, channels (no secrets) and processing records."""
    db = get_session()
    c = service.get_controller(session=db, key=key)
    body = controller_summary(c, service.jurisdictions_of(session=db, controller_ids=[c.id])[c.id])
    body["contract"] = contract_of(c)
    body["contacts"] = [{"role": str(k.role), "name": k.name, "email": k.email, "phone": k.phone}
                        for k in service.contacts_of(session=db, controller=c)]
    body["channels"] = {"email": c.notify_emails, "webhook": {"url": c.webhook_url} if c.webhook_url else None}
    body["processing"] = [
        {"system": h.system.key, "role": str(h.record.role), "data_categories": h.data_categories,
         "subject_categories": h.subject_categories, "est_subjects": h.record.est_subjects,
         "est_records": h.record.est_records, "region": h.record.region}
        for h in service.holdings(session=db, controller=c).items]
    return body


@api_bp.get("/systems")
@declare(Permission.datamap_read)
@operation(tags=["datamap"], query=SystemListQuery, responses={200: SystemPage})
def list_systems():
    """Systems, paginated, with the number of controllers whose data each holds."""
    query, page_request = parse_page_query(SystemListQuery)
    page = service.list_systems(session=get_session(), page=page_request, q=query.q.strip())
    return {"items": [{**system_doc(s), "controllers": n} for s, n in page.items], **page.meta()}


@api_bp.get("/systems/<key>")
@declare(Permission.datamap_read)
@operation(tags=["datamap"], query=PageQuery, responses={200: SystemOut})
def get_system(key: str):
    """One system and the controllers whose data it holds (paginated)."""
    db = get_session()
    s = service.get_system(session=db, key=key)
    holdings = service.holdings(session=db, system=s, page=_page_request())
    body = system_doc(s)
    body["processing"] = {
        "items": [{"controller": h.controller.key, "role": str(h.record.role), "data_categories": h.data_categories,
                   "subject_categories": h.subject_categories, "est_subjects": h.record.est_subjects,
                   "est_records": h.record.est_records} for h in holdings.items],
        **holdings.meta()}
    return body


@api_bp.get("/datamap/versions")
@declare(Permission.datamap_read)
@operation(tags=["datamap"], query=PageQuery, responses={200: VersionPage})
def list_versions():
    """Data-map versions, newest first."""
    page = service.list_versions(session=get_session(), page=_page_request())
    return {"items": [{"id": v.id, "content_hash": v.content_hash, "created_at": iso(v.created_at),
                       "created_by": v.created_by, "source": v.source, "controllers": v.controllers,
                       "systems": v.systems, "records": v.records} for v in page.items], **page.meta()}
