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


# Core tables: the aggregates below return plain rows, thousands per incident, without ORM row handling.
_PR = ProcessingRecord.__table__
_PDC = ProcessingDataCategory.__table__
_PSC = ProcessingSubjectCategory.__table__
_CTL = Controller.__table__
_JUR = ControllerJurisdiction.__table__


def _record_filter(incident_id: int, scope: Scope) -> list:
    """WHERE clauses selecting the scope's processing records (subqueries, so no id lists travel)."""
    clauses = [_PR.c.system_id.in_(select(IncidentSystem.system_id).where(IncidentSystem.incident_id == incident_id))]
    if scope.controllers:
        clauses.append(_PR.c.controller_id.in_(
            select(IncidentController.controller_id).where(IncidentController.incident_id == incident_id)))
    if scope.categories:
        # An alias, correlated to the record only: the outer query may join the link table itself.
        link = _PDC.alias("held")
        held = (select(link.c.record_id).where(link.c.record_id == _PR.c.id,
                                               _category_match(link.c.category_key, scope.categories))
                .correlate(_PR))
        clauses.append(held.exists())
    return clauses


def _sum(column):
    # PostgreSQL's sum(bigint) is numeric (Decimal in Python); cast back so rows carry plain ints.
    return sa.cast(func.sum(column), sa.BigInteger)


def _split(text: str | None) -> list[str]:
    return text.split(",") if text else []


def _impact_query(where: list, categories: list[str]):
    """One statement over the scope's records: per (controller, role), per category and per subject category.

    The scoped records are read once (a CTE used three times is materialised by SQLite and
    PostgreSQL); each branch is grouped in SQL, so rows grow with affected controllers, not records.
    Columns: part (0 roles, 1 data categories, 2 subject categories), controller id, key, subjects,
    records, systems, then for part 0 the controller's key, name and jurisdictions.
    """
    scoped = select(_PR.c.id, _PR.c.controller_id, _PR.c.role, _PR.c.system_id, _PR.c.est_subjects,
                    _PR.c.est_records).where(*where).cte("scoped")
    grouped = (select(scoped.c.controller_id, scoped.c.role, _sum(scoped.c.est_subjects).label("subjects"),
                      _sum(scoped.c.est_records).label("records"),
                      func.aggregate_strings(sa.cast(scoped.c.system_id, sa.String), ",").label("systems"))
               .group_by(scoped.c.controller_id, scoped.c.role).subquery("grouped"))
    codes = (select(func.aggregate_strings(_JUR.c.code, ",")).where(_JUR.c.controller_id == grouped.c.controller_id)
             .scalar_subquery())
    text, number = sa.null().cast(sa.String), sa.null().cast(sa.BigInteger)
    roles = (select(sa.literal_column("0").label("part"), grouped.c.controller_id, grouped.c.role.label("key"),
                    grouped.c.subjects, grouped.c.records, grouped.c.systems, _CTL.c.key.label("ctl_key"),
                    _CTL.c.name, codes.label("jurisdictions"))
             .join(_CTL, _CTL.c.id == grouped.c.controller_id))
    data = (select(sa.literal_column("1"), scoped.c.controller_id, _PDC.c.category_key,
                   _sum(scoped.c.est_subjects), number, text, text, text, text)
            .join(_PDC, _PDC.c.record_id == scoped.c.id).group_by(scoped.c.controller_id, _PDC.c.category_key))
    if categories:
        # Only the categories the incident is narrowed to are reported (and flagged).
        data = data.where(_category_match(_PDC.c.category_key, categories))
    subjects = (select(sa.literal_column("2"), scoped.c.controller_id, _PSC.c.subject_key, number, number, text,
                       text, text, text)
                .join(_PSC, _PSC.c.record_id == scoped.c.id).group_by(scoped.c.controller_id, _PSC.c.subject_key))
    return sa.union_all(roles, data, subjects)


def compute_impact(*, session: Session, incident_id: int) -> ImpactResult:
    """Affected controllers with categories, subjects, counts and flags, from the current data map."""
    if session.get(Incident, incident_id) is None:
        raise NotFound(f"no incident with id {incident_id}")
    scope = _scope(session, incident_id)
    if not scope.system_ids:
        return ImpactResult(scope, [], _totals([]))
    system_keys = {str(i): k for i, k in zip(scope.system_ids, scope.systems)}
    special_keys, vulnerable_keys = set(), set()
    for key, art9, art10, vuln in session.execute(select(DataCategory.key, DataCategory.art9, DataCategory.art10,
                                                         DataCategory.vulnerable)):
        if art9 or art10:
            special_keys.add(key)
        if vuln:
            vulnerable_keys.add(key)
    vulnerable_subjects = set(session.execute(select(SubjectCategory.key)
                                              .where(SubjectCategory.vulnerable.is_(True))).scalars())
    found: dict[int, list] = {}  # controller id -> [key, name, roles, subjects, records, systems, jurisdictions]
    cats: dict[int, dict[str, int]] = {}
    subjects_of: dict[int, set[str]] = {}
    special: set[int] = set()
    vulnerable: set[int] = set()
    # fetchall, then a tight loop: one impact can return 100,000 grouped rows (20,000 controllers).
    rows = session.execute(_impact_query(_record_filter(incident_id, scope), scope.categories)).all()
    for part, cid, key, subjects, records, systems, ctl_key, name, jurisdictions in rows:
        if part == 1:
            mine = cats.get(cid)
            if mine is None:
                mine = cats[cid] = {}
            mine[key] = subjects
            if key in special_keys:
                special.add(cid)
            if key in vulnerable_keys:
                vulnerable.add(cid)
        elif part == 2:
            held = subjects_of.get(cid)
            if held is None:
                held = subjects_of[cid] = set()
            held.add(key)
            if key in vulnerable_subjects:
                vulnerable.add(cid)
        else:
            entry = found.get(cid)
            if entry is None:
                entry = found[cid] = [ctl_key, name, set(), 0, 0, set(), sorted(set(_split(jurisdictions)))]
            entry[2].add(key)
            entry[3] += subjects
            entry[4] += records
            entry[5].update(_split(systems))
    if not found:
        return ImpactResult(scope, [], _totals([]))
    overrides = {o.controller_id: o for o in session.exec(
        select(CountOverride).where(CountOverride.incident_id == incident_id))}

    controllers = []
    precedence = [str(r) for r in ROLE_PRECEDENCE]
    for cid, (key, name, role_set, subjects, records, systems, jurisdictions) in found.items():
        mine = cats.get(cid, {})
        names = sorted(mine)
        override = overrides.get(cid)
        if override is None:
            # Each category's records are a subset of the controller's, so its sum never exceeds the total.
            category_subjects = {k: mine[k] for k in names}
        else:
            subjects = override.est_subjects if override.est_subjects is not None else subjects
            records = override.est_records if override.est_records is not None else records
            # A category never counts more subjects than the controller has (after an override).
            category_subjects = {k: min(mine[k], subjects) for k in names}
        roles = [r for r in precedence if r in role_set]
        controllers.append(ControllerImpact(
            controller_id=cid, key=key, name=name, role=roles[0], roles=roles,
            data_categories=names, subject_categories=sorted(subjects_of.get(cid, ())),
            systems=sorted({system_keys[s] for s in systems}), jurisdictions=jurisdictions, est_subjects=subjects,
            est_records=records, special_categories=cid in special, vulnerable_subjects=cid in vulnerable,
            category_subjects=category_subjects))
    controllers.sort(key=lambda c: c.key)
    return ImpactResult(scope, controllers, _totals(controllers))


def _totals(controllers: list[ControllerImpact]) -> dict:
    """Totals across controllers; subjects are summed per controller, so people known to two customers count twice."""
    # [controllers, subjects] pairs, filled inline: thousands of controllers times several keys each.
    by_category: dict[str, list[int]] = {}
    by_subject: dict[str, list[int]] = {}
    by_jurisdiction: dict[str, list[int]] = {}
    by_role: dict[str, list[int]] = {}
    for c in controllers:
        for key, subjects in c.category_subjects.items():
            slot = by_category.get(key) or by_category.setdefault(key, [0, 0])
            slot[0] += 1
            slot[1] += subjects
        for table, keys in ((by_subject, c.subject_categories), (by_jurisdiction, c.jurisdictions),
                            (by_role, (c.role,))):
            for key in keys:
                slot = table.get(key) or table.setdefault(key, [0, 0])
                slot[0] += 1
                slot[1] += c.est_subjects

    def shown(table: dict[str, list[int]]) -> dict:
        return {key: {"controllers": n, "est_subjects": subjects} for key, (n, subjects) in sorted(table.items())}

    return {
        "controllers": len(controllers),
        "est_subjects": sum(c.est_subjects for c in controllers),
        "est_records": sum(c.est_records for c in controllers),
        "special_categories": any(c.special_categories for c in controllers),
        "vulnerable_subjects": any(c.vulnerable_subjects for c in controllers),
        "by_data_category": shown(by_category),
        "by_subject_category": shown(by_subject),
        "by_jurisdiction": shown(by_jurisdiction),
        "by_role": shown(by_role),
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
    # Core executemany: one row per affected customer, often thousands, none needed as an object here.
    rows = [{"snapshot_id": snapshot.id, "controller_id": c.controller_id, **c.comparable()}
            for c in result.controllers]
    for start in range(0, len(rows), 5000):
        session.execute(sa.insert(ImpactRow.__table__), rows[start:start + 5000])
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
