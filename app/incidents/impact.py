"""Impact analysis: which controllers, categories and subjects an incident's scope touches, as snapshots.

The numbers come from grouped SQL over the processing records of the scope only, so the cost grows
with the scope, never with the size of the data map. Each result is stored as a snapshot naming the
data-map version it used, so a decision can be shown again months later with the map it rested on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, func, select

from app.core.errors import NotFound
from app.core.time import iso
from app.datamap.models import (Controller, ControllerJurisdiction, DataCategory, DataMapVersion,
                                ProcessingDataCategory, ProcessingRecord, ProcessingRole,
                                ProcessingSubjectCategory, SubjectCategory, System)
from app.datamap.service import current_version
from app.incidents.models import (CountOverride, ImpactRow, ImpactSnapshot, Incident, IncidentCategory,
                                  IncidentController, IncidentSystem)

# When we hold one controller's data in several roles, the row shows the role that carries the most
# duties towards that customer: as processor we owe it an Art. 33(2) notice; as sub-processor we owe
# one to our processor; as controller the duty is ours alone. `roles` keeps all of them.
ROLE_PRECEDENCE = (ProcessingRole.processor, ProcessingRole.sub_processor, ProcessingRole.controller)


@dataclass
class Scope:
    """What the incident touches, by key; narrowing lists are empty when not narrowed."""

    system_ids: list[int]
    systems: list[str]
    categories: list[str]
    controllers: list[str]

    def digest(self) -> str:
        """SHA-256 of the sorted scope, naming what a snapshot was computed for."""
        body = {"systems": sorted(self.systems), "data_categories": sorted(self.categories),
                "controllers": sorted(self.controllers)}
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass
class ControllerImpact:
    """One affected controller."""

    controller_id: int
    key: str
    name: str
    role: str
    roles: list[str]
    data_categories: list[str]
    subject_categories: list[str]
    systems: list[str]
    jurisdictions: list[str]
    est_subjects: int
    est_records: int
    special_categories: bool
    vulnerable_subjects: bool
    category_subjects: dict[str, int] = field(default_factory=dict)  # subjects whose records hold each category

    def comparable(self) -> dict:
        """The fields a stored row keeps, for change detection."""
        return {name: getattr(self, name) for name in _ROW_FIELDS}


_ROW_FIELDS = ("role", "roles", "data_categories", "subject_categories", "systems", "jurisdictions",
               "est_subjects", "est_records", "special_categories", "vulnerable_subjects")


@dataclass
class ImpactResult:
    """Affected controllers (by key) and the totals across them."""

    scope: Scope
    controllers: list[ControllerImpact]
    totals: dict


def _scope(session: Session, incident_id: int) -> Scope:
    systems = session.exec(select(System.id, System.key).join(IncidentSystem, IncidentSystem.system_id == System.id)
                           .where(IncidentSystem.incident_id == incident_id).order_by(System.key)).all()
    categories = session.exec(select(IncidentCategory.category_key).where(IncidentCategory.incident_id == incident_id)
                              .order_by(IncidentCategory.category_key)).all()
    controllers = session.exec(select(Controller.key)
                               .join(IncidentController, IncidentController.controller_id == Controller.id)
                               .where(IncidentController.incident_id == incident_id).order_by(Controller.key)).all()
    return Scope([i for i, _ in systems], [k for _, k in systems], list(categories), list(controllers))


def _category_match(column, keys: list[str]):
    # Narrowing to a category includes its fideslang descendants: "user.contact" covers
    # "user.contact.email". startswith(autoescape) keeps "_" in keys from acting as a LIKE wildcard.
    return sa.or_(column.in_(keys), *[column.startswith(k + ".", autoescape=True) for k in keys])


def _record_filter(incident_id: int, scope: Scope) -> list:
    """WHERE clauses selecting the scope's processing records (subqueries, so no id lists travel)."""
    clauses = [ProcessingRecord.system_id.in_(select(IncidentSystem.system_id)
                                              .where(IncidentSystem.incident_id == incident_id))]
    if scope.controllers:
        clauses.append(ProcessingRecord.controller_id.in_(
            select(IncidentController.controller_id).where(IncidentController.incident_id == incident_id)))
    if scope.categories:
        # An alias, correlated to the record only: the outer query may join the link table itself.
        link = aliased(ProcessingDataCategory)
        held = (select(link.record_id).where(link.record_id == ProcessingRecord.id,
                                             _category_match(link.category_key, scope.categories))
                .correlate(ProcessingRecord))
        clauses.append(held.exists())
    return clauses


def compute_impact(*, session: Session, incident_id: int) -> ImpactResult:
    """Affected controllers with categories, subjects, counts and flags, from the current data map."""
    if session.get(Incident, incident_id) is None:
        raise NotFound(f"no incident with id {incident_id}")
    scope = _scope(session, incident_id)
    if not scope.system_ids:
        return ImpactResult(scope, [], _totals([]))
    where = _record_filter(incident_id, scope)
    per_role = session.exec(
        select(Controller.id, Controller.key, Controller.name, ProcessingRecord.role,
               func.sum(ProcessingRecord.est_subjects), func.sum(ProcessingRecord.est_records))
        .join(Controller, Controller.id == ProcessingRecord.controller_id).where(*where)
        .group_by(Controller.id, Controller.key, Controller.name, ProcessingRecord.role)).all()
    found: dict[int, dict] = {}
    for cid, key, name, role, subjects, records in per_role:
        entry = found.setdefault(cid, {"key": key, "name": name, "roles": set(), "subjects": 0, "records": 0})
        entry["roles"].add(str(role))
        entry["subjects"] += int(subjects or 0)
        entry["records"] += int(records or 0)
    if not found:
        return ImpactResult(scope, [], _totals([]))

    cats: dict[int, dict[str, int]] = {cid: {} for cid in found}
    special: set[int] = set()
    vulnerable: set[int] = set()
    cat_query = (select(ProcessingRecord.controller_id, ProcessingDataCategory.category_key, DataCategory.art9,
                        DataCategory.art10, DataCategory.vulnerable, func.sum(ProcessingRecord.est_subjects))
                 .join(ProcessingDataCategory, ProcessingDataCategory.record_id == ProcessingRecord.id)
                 .join(DataCategory, DataCategory.key == ProcessingDataCategory.category_key).where(*where)
                 .group_by(ProcessingRecord.controller_id, ProcessingDataCategory.category_key, DataCategory.art9,
                           DataCategory.art10, DataCategory.vulnerable))
    if scope.categories:
        # Only the categories the incident is narrowed to are reported (and flagged).
        cat_query = cat_query.where(_category_match(ProcessingDataCategory.category_key, scope.categories))
    for cid, key, art9, art10, vuln, subjects in session.exec(cat_query):
        cats[cid][key] = int(subjects or 0)
        if art9 or art10:
            special.add(cid)
        if vuln:
            vulnerable.add(cid)

    subjects_of: dict[int, set[str]] = {cid: set() for cid in found}
    for cid, key, vuln in session.exec(
            select(ProcessingRecord.controller_id, ProcessingSubjectCategory.subject_key, SubjectCategory.vulnerable)
            .join(ProcessingSubjectCategory, ProcessingSubjectCategory.record_id == ProcessingRecord.id)
            .join(SubjectCategory, SubjectCategory.key == ProcessingSubjectCategory.subject_key).where(*where)
            .group_by(ProcessingRecord.controller_id, ProcessingSubjectCategory.subject_key,
                      SubjectCategory.vulnerable)):
        subjects_of[cid].add(key)
        if vuln:
            vulnerable.add(cid)

    systems_of: dict[int, set[str]] = {cid: set() for cid in found}
    for cid, key in session.exec(select(ProcessingRecord.controller_id, System.key)
                                 .join(System, System.id == ProcessingRecord.system_id).where(*where)
                                 .group_by(ProcessingRecord.controller_id, System.key)):
        systems_of[cid].add(key)

    affected = select(ProcessingRecord.controller_id).where(*where)
    jurisdictions: dict[int, list[str]] = {cid: [] for cid in found}
    for cid, code in session.exec(select(ControllerJurisdiction.controller_id, ControllerJurisdiction.code)
                                  .where(ControllerJurisdiction.controller_id.in_(affected))
                                  .order_by(ControllerJurisdiction.code)):
        jurisdictions[cid].append(code)

    overrides = {o.controller_id: o for o in session.exec(
        select(CountOverride).where(CountOverride.incident_id == incident_id))}

    controllers = []
    for cid, entry in found.items():
        subjects, records = entry["subjects"], entry["records"]
        override = overrides.get(cid)
        if override is not None:
            subjects = override.est_subjects if override.est_subjects is not None else subjects
            records = override.est_records if override.est_records is not None else records
        roles = [str(r) for r in ROLE_PRECEDENCE if str(r) in entry["roles"]]
        controllers.append(ControllerImpact(
            controller_id=cid, key=entry["key"], name=entry["name"], role=roles[0], roles=roles,
            data_categories=sorted(cats[cid]), subject_categories=sorted(subjects_of[cid]),
            systems=sorted(systems_of[cid]), jurisdictions=jurisdictions[cid], est_subjects=subjects,
            est_records=records, special_categories=cid in special, vulnerable_subjects=cid in vulnerable,
            # A category never counts more subjects than the controller has (after an override).
            category_subjects={k: min(n, subjects) for k, n in sorted(cats[cid].items())}))
    controllers.sort(key=lambda c: c.key)
    return ImpactResult(scope, controllers, _totals(controllers))


def _bump(table: dict, key: str, subjects: int) -> None:
    slot = table.setdefault(key, {"controllers": 0, "est_subjects": 0})
    slot["controllers"] += 1
    slot["est_subjects"] += subjects


def _totals(controllers: list[ControllerImpact]) -> dict:
    """Totals across controllers; subjects are summed per controller, so people known to two customers count twice."""
    by_category: dict = {}
    by_subject: dict = {}
    by_jurisdiction: dict = {}
    by_role: dict = {}
    for c in controllers:
        for key, subjects in c.category_subjects.items():
            _bump(by_category, key, subjects)
        for key in c.subject_categories:
            _bump(by_subject, key, c.est_subjects)
        for code in c.jurisdictions:
            _bump(by_jurisdiction, code, c.est_subjects)
        _bump(by_role, c.role, c.est_subjects)
    return {
        "controllers": len(controllers),
        "est_subjects": sum(c.est_subjects for c in controllers),
        "est_records": sum(c.est_records for c in controllers),
        "special_categories": any(c.special_categories for c in controllers),
        "vulnerable_subjects": any(c.vulnerable_subjects for c in controllers),
        "by_data_category": dict(sorted(by_category.items())),
        "by_subject_category": dict(sorted(by_subject.items())),
        "by_jurisdiction": dict(sorted(by_jurisdiction.items())),
        "by_role": dict(sorted(by_role.items())),
    }


@dataclass
class ImpactDiff:
    """What changed between two snapshots, keyed by controller key."""

    controllers_added: list[str] = field(default_factory=list)
    controllers_removed: list[str] = field(default_factory=list)
    categories_changed: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # data categories
    subjects_changed: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # subject categories
    counts_changed: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    datamap_version: list[int | None] | None = None  # [old, new] when the map version changed
    first: bool = False  # the first snapshot: everything counts as added

    @property
    def is_empty(self) -> bool:
        """True if no controller, category or count changed (a new map version alone is not a change)."""
        return not (self.controllers_added or self.controllers_removed or self.categories_changed
                    or self.subjects_changed or self.counts_changed)

    def summary(self) -> str:
        """One line for a timeline event."""
        parts = []
        if self.controllers_added:
            parts.append(f"{len(self.controllers_added)} controller{'s' if len(self.controllers_added) != 1 else ''}"
                         " added")
        if self.controllers_removed:
            parts.append(f"{len(self.controllers_removed)} removed")
        if self.categories_changed or self.subjects_changed:
            parts.append(f"categories changed for {len(set(self.categories_changed) | set(self.subjects_changed))}")
        if self.counts_changed:
            parts.append(f"counts changed for {len(self.counts_changed)}")
        if not parts:
            return "no change in controllers, categories or counts"
        return ", ".join(parts)

    def as_dict(self) -> dict:
        """JSON-ready form for timeline details."""
        return {"first": self.first, "controllers_added": self.controllers_added,
                "controllers_removed": self.controllers_removed, "categories_changed": self.categories_changed,
                "subjects_changed": self.subjects_changed, "counts_changed": self.counts_changed,
                "datamap_version": self.datamap_version}


def _set_change(old: list[str], new: list[str]) -> dict[str, list[str]] | None:
    added, removed = sorted(set(new) - set(old)), sorted(set(old) - set(new))
    return {"added": added, "removed": removed} if added or removed else None


def _diff(old: dict[str, dict], new: dict[str, dict]) -> ImpactDiff:
    diff = ImpactDiff(controllers_added=sorted(set(new) - set(old)), controllers_removed=sorted(set(old) - set(new)))
    for key in sorted(set(old) & set(new)):
        a, b = old[key], new[key]
        if change := _set_change(a["data_categories"], b["data_categories"]):
            diff.categories_changed[key] = change
        if change := _set_change(a["subject_categories"], b["subject_categories"]):
            diff.subjects_changed[key] = change
        if (a["est_subjects"], a["est_records"]) != (b["est_subjects"], b["est_records"]):
            diff.counts_changed[key] = {"est_subjects": [a["est_subjects"], b["est_subjects"]],
                                        "est_records": [a["est_records"], b["est_records"]]}
    return diff


def latest_snapshot(*, session: Session, incident_id: int) -> ImpactSnapshot | None:
    """The incident's most recent impact snapshot, if any."""
    return session.exec(select(ImpactSnapshot).where(ImpactSnapshot.incident_id == incident_id)
                        .order_by(ImpactSnapshot.id.desc()).limit(1)).first()


def impact_rows(*, session: Session, snapshot_id: int, controller_id: int | None = None) -> list[ImpactRow]:
    """The rows of a snapshot (one per controller, by controller key), or one controller's row."""
    query = select(ImpactRow).where(ImpactRow.snapshot_id == snapshot_id)
    if controller_id is not None:
        query = query.where(ImpactRow.controller_id == controller_id)
    return list(session.exec(query.order_by(ImpactRow.id)))


def _stored(session: Session, snapshot: ImpactSnapshot) -> dict[str, dict]:
    rows = session.exec(select(ImpactRow, Controller.key).join(Controller, Controller.id == ImpactRow.controller_id)
                        .where(ImpactRow.snapshot_id == snapshot.id)).all()
    return {key: {name: getattr(row, name) for name in _ROW_FIELDS} for row, key in rows}


def refresh_impact(*, session: Session, incident_id: int,
                   now: datetime) -> tuple[ImpactSnapshot, ImpactDiff | None]:
    """Recompute; store a snapshot if result, scope or map version changed; return it and the diff (None: same)."""
    result = compute_impact(session=session, incident_id=incident_id)
    version = current_version(session=session)
    version_id = version.id if version else None
    scope_hash = result.scope.digest()
    new = {c.key: c.comparable() for c in result.controllers}
    previous = latest_snapshot(session=session, incident_id=incident_id)
    old = _stored(session, previous) if previous else {}
    if (previous is not None and previous.datamap_version_id == version_id and previous.scope_hash == scope_hash
            and old == new and previous.totals == result.totals):
        return previous, None
    snapshot = ImpactSnapshot(
        incident_id=incident_id, datamap_version_id=version_id, computed_at=now, scope_hash=scope_hash,
        controllers=result.totals["controllers"], est_subjects=result.totals["est_subjects"],
        est_records=result.totals["est_records"], special_categories=result.totals["special_categories"],
        vulnerable_subjects=result.totals["vulnerable_subjects"], totals=result.totals)
    session.add(snapshot)
    session.flush()
    session.add_all(ImpactRow(snapshot_id=snapshot.id, controller_id=c.controller_id, **c.comparable())
                    for c in result.controllers)
    session.flush()
    diff = _diff(old, new)
    diff.first = previous is None
    if previous is not None and previous.datamap_version_id != version_id:
        diff.datamap_version = [previous.datamap_version_id, version_id]
    return snapshot, diff


def impact_document(*, session: Session, snapshot: ImpactSnapshot) -> dict:
    """The API form of a snapshot: per controller and totals, naming the data-map version it used."""
    rows = session.exec(select(ImpactRow, Controller.key, Controller.name)
                        .join(Controller, Controller.id == ImpactRow.controller_id)
                        .where(ImpactRow.snapshot_id == snapshot.id).order_by(ImpactRow.id)).all()
    version = session.get(DataMapVersion, snapshot.datamap_version_id) if snapshot.datamap_version_id else None
    return {
        "datamap_version": snapshot.datamap_version_id,
        "datamap_version_hash": version.content_hash if version else None,
        "computed_at": iso(snapshot.computed_at),
        "controllers": [{"key": key, "name": name, "role": row.role, "data_categories": row.data_categories,
                         "subject_categories": row.subject_categories, "est_subjects": row.est_subjects,
                         "est_records": row.est_records, "special_categories": row.special_categories,
                         "vulnerable_subjects": row.vulnerable_subjects, "jurisdictions": row.jurisdictions,
                         "systems": row.systems} for row, key, name in rows],
        "totals": snapshot.totals,
    }
