"""Importing a data map: check references, then upsert everything in one transaction and record a version."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, delete, select

from app.core.errors import InputError, Problem
from app.datamap.exporter import canonical_map, compare_maps, content_hash
from app.datamap.formats.canonical import ParsedMap, parse_canonical
from app.datamap.formats.csvmap import parse_csv
from app.datamap.formats.fides import is_fides_manifest, parse_fides
from app.datamap.models import (Contact, Controller, ControllerJurisdiction, DataMapVersion,
                                ProcessingDataCategory, ProcessingRecord, ProcessingSubjectCategory, System)
from app.datamap.service import current_version, sync_taxonomy
from app.datamap.taxonomy import taxonomy


@dataclass
class ImportResult:
    """What an import did."""

    version: DataMapVersion | None  # the new version, or None when the map did not change
    controllers: int
    systems: int
    records: int
    changed: bool
    # Per section: added, changed, removed, unchanged entries (empty when the caller gave no "before" map).
    changes: dict[str, dict[str, int]] = field(default_factory=dict)


def parse_file(path: Path | str, text: str | None = None, *, assignments: tuple[str, str] | None = None) -> ParsedMap:
    """Parse a data-map file by its extension: .yaml/.yml/.json canonical or Fides, .csv."""
    name = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(Problem(f"cannot read file: {exc}", file=name)) from None
    suffix = Path(name).suffix.lower()
    if suffix == ".csv":
        return parse_csv(text, name)
    if suffix not in {".yaml", ".yml", ".json"}:
        raise InputError(Problem("unknown file type: expected .yaml, .yml, .json or .csv", file=name))
    if is_fides_manifest(text):
        if assignments is None:
            raise InputError(Problem("a Fides manifest needs an assignments CSV (--assignments FILE)", file=name))
        return parse_fides(text, name, assignments[1], assignments[0])
    return parse_canonical(text, name)


def check_references(parsed: ParsedMap, *, session: Session) -> None:
    """Reject duplicate keys, unknown taxonomy keys and references to unknown controllers or systems."""
    data, problems = parsed.data, []
    tax = taxonomy()
    for section, items in (("controllers", data.controllers), ("systems", data.systems)):
        seen: dict[str, int] = {}
        for i, item in enumerate(items):
            if item.key in seen:
                problems.append(parsed.problem(f"duplicate key {item.key!r} (first at index {seen[item.key]})",
                                               (section, i, "key")))
            seen.setdefault(item.key, i)
    controllers = {c.key for c in data.controllers} | _existing_keys(session, Controller,
                                                                      {p.controller for p in data.processing})
    systems = {s.key for s in data.systems} | _existing_keys(session, System, {p.system for p in data.processing})
    seen_records: dict[tuple, int] = {}
    for i, p in enumerate(data.processing):
        if p.controller not in controllers:
            problems.append(parsed.problem(f"unknown controller {p.controller!r}", ("processing", i, "controller")))
        if p.system not in systems:
            problems.append(parsed.problem(f"unknown system {p.system!r}", ("processing", i, "system")))
        for field, known, keys in (("data_categories", tax.data_categories, p.data_categories),
                                   ("subject_categories", tax.subject_categories, p.subject_categories)):
            for j, key in enumerate(keys):
                if key not in known:
                    problems.append(parsed.problem(f"unknown taxonomy key {key!r}", ("processing", i, field, j)))
        ident = (p.controller, p.system, str(p.role))
        if ident in seen_records:
            problems.append(parsed.problem(
                f"duplicate processing record for {'/'.join(ident)} (first at index {seen_records[ident]})",
                ("processing", i)))
        seen_records.setdefault(ident, i)
    if problems:
        raise InputError(problems)


def _existing_keys(session: Session, model, keys: set[str]) -> set[str]:
    if not keys:
        return set()
    return set(session.exec(select(model.key).where(model.key.in_(sorted(keys)))))


def import_map(parsed: ParsedMap, *, session: Session, actor: str, now: datetime, source: str = "") -> ImportResult:
    """Validate and apply a parsed map (upsert by key); the caller commits, or rolls back on error."""
    sync_taxonomy(session=session)
    check_references(parsed, session=session)
    before = canonical_map(session=session)
    data = parsed.data
    controller_ids = {c.key: _upsert_controller(session, c) for c in data.controllers}
    system_ids = {s.key: _upsert_system(session, s) for s in data.systems}
    session.flush()
    wanted = {p.controller for p in data.processing} | set(controller_ids)
    for key, cid in session.exec(select(Controller.key, Controller.id).where(Controller.key.in_(sorted(wanted)))):
        controller_ids[key] = cid
    needed_systems = {p.system for p in data.processing} - set(system_ids)
    if needed_systems:
        for key, sid in session.exec(select(System.key, System.id).where(System.key.in_(sorted(needed_systems)))):
            system_ids[key] = sid
    _replace_processing(session, data.processing, controller_ids, system_ids)
    session.flush()
    return record_version(session=session, actor=actor, now=now, source=source, before=before)


def record_version(*, session: Session, actor: str, now: datetime, source: str = "",
                   before: dict | None = None) -> ImportResult:
    """Hash the current map and record a new version if it differs from the latest one (and from `before`)."""
    document = canonical_map(session=session)
    digest = content_hash(document)
    latest = current_version(session=session)
    counts = dict(controllers=len(document["controllers"]), systems=len(document["systems"]),
                  records=len(document["processing"]))
    changes = compare_maps(before, document) if before is not None else {}
    if latest is not None and latest.content_hash == digest:
        return ImportResult(version=None, changed=False, changes=changes, **counts)
    version = DataMapVersion(content_hash=digest, created_at=now, created_by=actor, source=source, **counts)
    session.add(version)
    session.flush()
    return ImportResult(version=version, changed=True, changes=changes, **counts)


def _upsert_controller(session: Session, c) -> int:
    row = session.exec(select(Controller).where(Controller.key == c.key)).first()
    if row is None:
        row = Controller(key=c.key, name=c.name, country=c.country)
        session.add(row)
    row.name, row.country, row.sector, row.locale, row.timezone = c.name, c.country, c.sector, c.locale, c.timezone
    row.notify_within_hours = c.contract.notify_within_hours if c.contract else None
    row.notify_within_business_days = c.contract.notify_within_business_days if c.contract else None
    row.holiday_country = c.contract.holiday_country if c.contract else None
    row.notify_emails = list(c.channels.email)
    webhook = c.channels.webhook
    if webhook is None:
        row.webhook_url, row.webhook_secret = None, None
    else:
        if webhook.secret:
            row.webhook_secret = webhook.secret
        elif not row.webhook_secret or row.webhook_url != webhook.url:
            # Standard Webhooks: the sender issues the secret; the customer fetches it from us.
            row.webhook_secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        row.webhook_url = webhook.url
    session.flush()
    session.exec(delete(ControllerJurisdiction).where(ControllerJurisdiction.controller_id == row.id))
    session.add_all(ControllerJurisdiction(controller_id=row.id, code=code) for code in c.jurisdictions)
    session.exec(delete(Contact).where(Contact.controller_id == row.id))
    session.add_all(Contact(controller_id=row.id, role=k.role, name=k.name, email=k.email, phone=k.phone)
                    for k in c.contacts)
    return row.id


def _upsert_system(session: Session, s) -> int:
    row = session.exec(select(System).where(System.key == s.key)).first()
    if row is None:
        row = System(key=s.key, name=s.name)
        session.add(row)
    row.name, row.description, row.owner, row.region = s.name, s.description, s.owner, s.region
    session.flush()
    return row.id


def _replace_processing(session: Session, records, controller_ids: dict, system_ids: dict) -> None:
    """Make each named controller's processing records exactly those in the file (diffed, not rewritten)."""
    ids = sorted(controller_ids.values())
    existing = {}
    for chunk in _chunks(ids, 500):
        for r in session.exec(select(ProcessingRecord).where(ProcessingRecord.controller_id.in_(chunk))):
            existing[(r.controller_id, r.system_id, str(r.role))] = r
    cats = _links(session, ProcessingDataCategory, "category_key", [r.id for r in existing.values()])
    subs = _links(session, ProcessingSubjectCategory, "subject_key", [r.id for r in existing.values()])
    keep = set()
    for p in records:
        ident = (controller_ids[p.controller], system_ids[p.system], str(p.role))
        keep.add(ident)
        row = existing.get(ident)
        if row is None:
            row = ProcessingRecord(controller_id=ident[0], system_id=ident[1], role=p.role)
            session.add(row)
            session.flush()
        row.est_subjects, row.est_records, row.region = p.est_subjects, p.est_records, p.region
        _set_links(session, ProcessingDataCategory, "category_key", row.id, cats.get(row.id, set()),
                   set(p.data_categories))
        _set_links(session, ProcessingSubjectCategory, "subject_key", row.id, subs.get(row.id, set()),
                   set(p.subject_categories))
    stale = [r.id for ident, r in existing.items() if ident not in keep]
    for chunk in _chunks(stale, 500):
        session.exec(delete(ProcessingDataCategory).where(ProcessingDataCategory.record_id.in_(chunk)))
        session.exec(delete(ProcessingSubjectCategory).where(ProcessingSubjectCategory.record_id.in_(chunk)))
        session.exec(delete(ProcessingRecord).where(ProcessingRecord.id.in_(chunk)))


def _links(session: Session, model, column: str, record_ids: list[int]) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for chunk in _chunks(record_ids, 500):
        for rid, key in session.exec(select(model.record_id, getattr(model, column)).where(model.record_id.in_(chunk))):
            out.setdefault(rid, set()).add(key)
    return out


def _set_links(session: Session, model, column: str, record_id: int, have: set[str], want: set[str]) -> None:
    if have == want:
        return
    gone = sorted(have - want)
    if gone:
        session.exec(delete(model).where(model.record_id == record_id, getattr(model, column).in_(gone)))
    session.add_all(model(record_id=record_id, **{column: key}) for key in sorted(want - have))


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]
