"""Queries over the data map: controllers, systems, taxonomy and versions."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, func, select

from app.core.errors import NotFound
from app.core.pagination import Page, PageRequest
from app.datamap.models import (Contact, Controller, ControllerJurisdiction, DataCategory, DataMapVersion,
                                ProcessingDataCategory, ProcessingRecord, ProcessingSubjectCategory,
                                SubjectCategory, System)
from app.datamap.taxonomy import taxonomy


def sync_taxonomy(*, session: Session) -> None:
    """Insert or update the taxonomy tables from the vendored file (idempotent)."""
    tax = taxonomy()
    have = {c.key: c for c in session.exec(select(DataCategory))}
    for info in tax.data_categories.values():
        row = have.get(info.key) or DataCategory(key=info.key, name=info.name, enisa_type=str(info.enisa_type))
        for field in ("name", "parent", "description", "art9", "art10", "credentials", "government_id",
                      "vulnerable"):
            setattr(row, field, getattr(info, field))
        row.enisa_type = str(info.enisa_type)
        session.add(row)
    have_subjects = {s.key: s for s in session.exec(select(SubjectCategory))}
    for info in tax.subject_categories.values():
        row = have_subjects.get(info.key) or SubjectCategory(key=info.key, name=info.name)
        row.name, row.description, row.vulnerable = info.name, info.description, info.vulnerable
        session.add(row)
    session.flush()


def current_version(*, session: Session) -> DataMapVersion | None:
    """The latest data-map version, if any import happened."""
    return session.exec(select(DataMapVersion).order_by(DataMapVersion.id.desc()).limit(1)).first()


def list_versions(*, session: Session, page: PageRequest) -> Page[DataMapVersion]:
    """Data-map versions, newest first."""
    total = session.exec(select(func.count()).select_from(DataMapVersion)).one()
    items = session.exec(select(DataMapVersion).order_by(DataMapVersion.id.desc())
                         .offset(page.offset).limit(page.per_page)).all()
    return Page(list(items), total, page)


@dataclass
class ControllerFilter:
    """Filters for the controllers list."""

    q: str = ""  # matches key or name
    country: str = ""
    sector: str = ""
    jurisdiction: str = ""


def list_controllers(*, session: Session, filters: ControllerFilter, page: PageRequest) -> Page[Controller]:
    """Controllers matching the filters, by name, one page at a time."""
    query = select(Controller)
    if filters.q:
        pattern = f"%{filters.q.lower()}%"
        query = query.where(sa.or_(func.lower(Controller.name).like(pattern), Controller.key.like(pattern)))
    if filters.country:
        query = query.where(Controller.country == filters.country.upper())
    if filters.sector:
        query = query.where(Controller.sector == filters.sector)
    if filters.jurisdiction:
        query = query.where(Controller.id.in_(select(ControllerJurisdiction.controller_id)
                                              .where(ControllerJurisdiction.code == filters.jurisdiction.upper())))
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    items = session.exec(query.order_by(Controller.name, Controller.key).offset(page.offset).limit(page.per_page)).all()
    return Page(list(items), total, page)


def jurisdictions_of(*, session: Session, controller_ids: list[int]) -> dict[int, list[str]]:
    """Jurisdiction codes per controller id, in one query."""
    out: dict[int, list[str]] = {cid: [] for cid in controller_ids}
    if controller_ids:
        rows = session.exec(select(ControllerJurisdiction.controller_id, ControllerJurisdiction.code)
                            .where(ControllerJurisdiction.controller_id.in_(controller_ids))
                            .order_by(ControllerJurisdiction.code))
        for cid, code in rows:
            out[cid].append(code)
    return out


def facet_values(*, session: Session) -> dict[str, list[str]]:
    """Distinct countries, sectors and jurisdictions, for filter drop-downs."""
    return {
        "country": list(session.exec(select(Controller.country).distinct().order_by(Controller.country))),
        "sector": [s for s in session.exec(select(Controller.sector).distinct().order_by(Controller.sector)) if s],
        "jurisdiction": list(session.exec(select(ControllerJurisdiction.code).distinct()
                                          .order_by(ControllerJurisdiction.code))),
    }


def get_controller(*, session: Session, key: str) -> Controller:
    """The controller with this key, or NotFound."""
    row = session.exec(select(Controller).where(Controller.key == key)).first()
    if row is None:
        raise NotFound(f"no controller with key {key!r}")
    return row


def get_system(*, session: Session, key: str) -> System:
    """The system with this key, or NotFound."""
    row = session.exec(select(System).where(System.key == key)).first()
    if row is None:
        raise NotFound(f"no system with key {key!r}")
    return row


def contacts_of(*, session: Session, controller: Controller) -> list[Contact]:
    """A controller's contacts by role."""
    return list(session.exec(select(Contact).where(Contact.controller_id == controller.id)
                             .order_by(Contact.role, Contact.name)))


@dataclass
class HoldingRow:
    """One processing record with the names on both sides and its categories."""

    record: ProcessingRecord
    controller: Controller
    system: System
    data_categories: list[str]
    subject_categories: list[str]


def holdings(*, session: Session, controller: Controller | None = None, system: System | None = None,
             page: PageRequest | None = None) -> Page[HoldingRow]:
    """Processing records of one controller or one system, with categories, in a bounded number of queries."""
    query = select(ProcessingRecord, Controller, System).join(Controller).join(System)
    if controller is not None:
        query = query.where(ProcessingRecord.controller_id == controller.id)
    if system is not None:
        query = query.where(ProcessingRecord.system_id == system.id)
    page = page or PageRequest(1, 10_000)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(Controller.name, System.name).offset(page.offset).limit(page.per_page)).all()
    ids = [r.id for r, _, _ in rows]
    cats: dict[int, list[str]] = {i: [] for i in ids}
    subs: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        for rid, key in session.exec(select(ProcessingDataCategory.record_id, ProcessingDataCategory.category_key)
                                     .where(ProcessingDataCategory.record_id.in_(ids))):
            cats[rid].append(key)
        for rid, key in session.exec(select(ProcessingSubjectCategory.record_id, ProcessingSubjectCategory.subject_key)
                                     .where(ProcessingSubjectCategory.record_id.in_(ids))):
            subs[rid].append(key)
    items = [HoldingRow(r, c, s, sorted(cats[r.id]), sorted(subs[r.id])) for r, c, s in rows]
    return Page(items, total, page)


def list_systems(*, session: Session, page: PageRequest, q: str = "") -> Page[tuple[System, int]]:
    """Systems with the number of controllers whose data each holds."""
    counts = (select(ProcessingRecord.system_id, func.count(sa.distinct(ProcessingRecord.controller_id)).label("n"))
              .group_by(ProcessingRecord.system_id).subquery())
    query = select(System, func.coalesce(counts.c.n, 0)).outerjoin(counts, counts.c.system_id == System.id)
    if q:
        pattern = f"%{q.lower()}%"
        query = query.where(sa.or_(func.lower(System.name).like(pattern), System.key.like(pattern)))
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    items = session.exec(query.order_by(System.name).offset(page.offset).limit(page.per_page)).all()
    return Page([(s, n) for s, n in items], total, page)
