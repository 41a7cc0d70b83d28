"""Incident records: references, create, versioned edits, status workflow and scope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, delete, func, select, update

from app.auth.models import User
from app.core.errors import Conflict, InputError, NotFound, Problem
from app.core.pagination import Page, PageRequest
from app.core.time import iso, require_aware
from app.datamap.models import Controller, DataCategory, System
from app.incidents.access import visible_incidents_clause
from app.incidents.models import (CountOverride, Incident, IncidentCategory, IncidentController, IncidentCreate,
                                  IncidentStatus, IncidentSystem, IncidentUpdate, ScopeIn)

# Allowed moves; "not a breach" can be declared from any open state and reopened to triage.
TRANSITIONS: dict[IncidentStatus, set[IncidentStatus]] = {
    IncidentStatus.triage: {IncidentStatus.investigating, IncidentStatus.contained, IncidentStatus.notifying,
                            IncidentStatus.not_a_breach},
    IncidentStatus.investigating: {IncidentStatus.contained, IncidentStatus.notifying, IncidentStatus.not_a_breach},
    IncidentStatus.contained: {IncidentStatus.investigating, IncidentStatus.notifying, IncidentStatus.closed,
                               IncidentStatus.not_a_breach},
    IncidentStatus.notifying: {IncidentStatus.contained, IncidentStatus.closed},
    IncidentStatus.closed: {IncidentStatus.investigating},
    IncidentStatus.not_a_breach: {IncidentStatus.triage, IncidentStatus.closed},
}
OPEN_STATUSES = [IncidentStatus.triage, IncidentStatus.investigating, IncidentStatus.contained,
                 IncidentStatus.notifying]
TIME_FIELDS = ("detected_at", "aware_at", "occurred_from", "occurred_to", "contained_at")


def get_by_ref(*, session: Session, ref: str) -> Incident:
    """The incident with this reference, or NotFound; unguarded: routes use access.get_visible_by_ref."""
    incident = session.exec(select(Incident).where(Incident.ref == ref.upper())).first()
    if incident is None:
        raise NotFound(f"no incident {ref}")
    return incident


# Transaction-level PostgreSQL advisory lock ("BRL" + 2, year) that serialises reference allocation.
REF_LOCK_KEY = 0x42524C02


def next_ref(*, session: Session, year: int) -> tuple[str, int]:
    """The next reference of the year, INC-<year>-<4-digit sequence>."""
    if session.get_bind().dialect.name == "postgresql":
        # Issue 8: two web workers declaring at once would both read the same max(seq) and one would fail
        # on the unique ref (a 500). Held until the declaring transaction commits. (SQLite has one writer.)
        session.connection().execute(sa.text("SELECT pg_advisory_xact_lock(:key, :year)"),
                                     {"key": REF_LOCK_KEY, "year": year})
    last = session.exec(select(func.max(Incident.seq)).where(Incident.year == year)).one() or 0
    return f"INC-{year}-{last + 1:04d}", last + 1


def _check_times(values: dict) -> None:
    problems = []
    for name in TIME_FIELDS:
        if values.get(name) is not None:
            values[name] = require_aware(values[name], name)
    if values.get("occurred_from") and values.get("occurred_to") and values["occurred_to"] < values["occurred_from"]:
        problems.append(Problem("must not be before occurred_from", field="occurred_to"))
    if values.get("aware_at") and values.get("detected_at") and values["aware_at"] < values["detected_at"]:
        problems.append(Problem("awareness cannot come before detection", field="aware_at"))
    if problems:
        raise InputError(problems)


def _owner_id(session: Session, email: str | None) -> int | None:
    if not email:
        return None
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        raise InputError(Problem(f"no user with email {email}", field="owner"))
    return user.id


def create(*, session: Session, data: IncidentCreate, actor: str, now: datetime,
           known_types: set[str] | None = None) -> Incident:
    """Create an incident with the next reference of the current year (scope is set separately)."""
    if known_types is not None and data.incident_type not in known_types:
        raise InputError(Problem(f"unknown incident type {data.incident_type!r}; known: {', '.join(sorted(known_types))}",
                                 field="incident_type"))
    values = data.model_dump(exclude={"scope", "owner", "anchors"})
    _check_times(values)
    ref, seq = next_ref(session=session, year=now.year)
    incident = Incident(ref=ref, year=now.year, seq=seq, created_at=now, updated_at=now, created_by=actor,
                        owner_id=_owner_id(session, data.owner),
                        anchors={k: iso(require_aware(v, k)) for k, v in data.anchors.items()}, **values)
    incident.breach_types = sorted({str(b) for b in data.breach_types})
    session.add(incident)
    session.flush()
    return incident


def update_incident(*, session: Session, incident: Incident, data: IncidentUpdate, actor: str,
                    now: datetime) -> dict[str, tuple]:
    """Apply an edit made from `data.version`; returns {field: (old, new)}; a stale version is refused."""
    changes: dict[str, tuple] = {}
    values = data.model_dump(exclude_unset=True, exclude={"version", "owner", "anchors"})
    merged = {name: values.get(name, getattr(incident, name)) for name in TIME_FIELDS}
    _check_times(merged)
    values.update({k: merged[k] for k in TIME_FIELDS if k in values})
    if "breach_types" in values:
        values["breach_types"] = sorted({str(b) for b in values["breach_types"]})
    if "owner" in data.model_fields_set:
        values["owner_id"] = _owner_id(session, data.owner)
    if data.anchors is not None:
        values["anchors"] = {k: iso(require_aware(v, k)) for k, v in data.anchors.items()}
    for name, new in values.items():
        old = getattr(incident, name)
        if old != new:
            changes[name] = (old, new)
    claim_version(session=session, incident=incident, expected=data.version)
    for name, (_, new) in changes.items():
        setattr(incident, name, new)
    incident.updated_at = now
    session.add(incident)
    session.flush()
    return changes


def claim_version(*, session: Session, incident: Incident, expected: int | None) -> None:
    """Bump the version if it is still `expected` (atomically); otherwise refuse the stale edit."""
    if expected is None:
        expected = incident.version
    bumped = session.exec(update(Incident).where(Incident.id == incident.id, Incident.version == expected)
                          .values(version=Incident.version + 1)).rowcount
    session.refresh(incident)
    if bumped == 0:
        raise Conflict(f"{incident.ref} was changed by someone else since you opened it (you edited version "
                       f"{expected}, it is now version {incident.version}, last saved "
                       f"{incident.updated_at:%Y-%m-%d %H:%M} UTC). Nothing was saved: reload and re-apply your "
                       "changes.")


def change_status(*, session: Session, incident: Incident, status: IncidentStatus, rationale: str, now: datetime,
                  expected_version: int | None = None) -> IncidentStatus:
    """Move the incident along the workflow; returns the old status."""
    old = IncidentStatus(incident.status)
    if status == old:
        raise Conflict(f"{incident.ref} is already {status}")
    if status not in TRANSITIONS[old]:
        allowed = ", ".join(sorted(TRANSITIONS[old]))
        raise InputError(Problem(f"cannot go from {old} to {status}; allowed: {allowed}", field="status"))
    if status == IncidentStatus.not_a_breach and not rationale.strip():
        raise InputError(Problem("say why this is not a personal data breach (Art. 4(12) GDPR)", field="rationale"))
    claim_version(session=session, incident=incident, expected=expected_version)
    incident.status = status
    incident.status_rationale = rationale.strip()
    if status == IncidentStatus.contained and incident.contained_at is None:
        incident.contained_at = now
    if status == IncidentStatus.closed:
        incident.closed_at = now
    elif old == IncidentStatus.closed:
        incident.closed_at = None
    incident.updated_at = now
    session.add(incident)
    session.flush()
    return old


@dataclass
class Scope:
    """An incident's scope as keys, for display and comparison."""

    systems: list[str]
    data_categories: list[str]
    controllers: list[str]
    overrides: dict[str, dict]

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {"systems": self.systems, "data_categories": self.data_categories, "controllers": self.controllers,
                "overrides": self.overrides}


def get_scope(*, session: Session, incident_id: int) -> Scope:
    """The incident's scope by keys."""
    systems = session.exec(select(System.key).join(IncidentSystem, IncidentSystem.system_id == System.id)
                           .where(IncidentSystem.incident_id == incident_id).order_by(System.key)).all()
    categories = session.exec(select(IncidentCategory.category_key).where(IncidentCategory.incident_id == incident_id)
                              .order_by(IncidentCategory.category_key)).all()
    controllers = session.exec(select(Controller.key).join(IncidentController,
                                                           IncidentController.controller_id == Controller.id)
                               .where(IncidentController.incident_id == incident_id).order_by(Controller.key)).all()
    overrides = {key: {"est_subjects": o.est_subjects, "est_records": o.est_records, "note": o.note}
                 for o, key in session.exec(select(CountOverride, Controller.key)
                                            .join(Controller, CountOverride.controller_id == Controller.id)
                                            .where(CountOverride.incident_id == incident_id))}
    return Scope(list(systems), list(categories), list(controllers), overrides)


def _resolve(session: Session, model, column, keys: list[str], field: str) -> dict[str, object]:
    keys = sorted(set(keys))
    if not keys:
        return {}
    rows = session.exec(select(model).where(column.in_(keys))).all()
    found = {getattr(r, "key"): r for r in rows}
    unknown = [k for k in keys if k not in found]
    if unknown:
        raise InputError([Problem(f"unknown key {k!r}", field=f"scope.{field}") for k in unknown])
    return found


def set_scope(*, session: Session, incident: Incident, scope: ScopeIn) -> tuple[Scope, Scope]:
    """Replace the incident's scope; unknown keys are refused with the field named. Returns (old, new)."""
    old = get_scope(session=session, incident_id=incident.id)
    systems = _resolve(session, System, System.key, scope.systems, "systems")
    categories = _resolve(session, DataCategory, DataCategory.key, scope.data_categories, "data_categories")
    controllers = _resolve(session, Controller, Controller.key, list(scope.controllers) + list(scope.overrides),
                           "controllers")
    for model in (IncidentSystem, IncidentCategory, IncidentController, CountOverride):
        session.exec(delete(model).where(model.incident_id == incident.id))
    session.add_all(IncidentSystem(incident_id=incident.id, system_id=s.id) for s in systems.values())
    session.add_all(IncidentCategory(incident_id=incident.id, category_key=k) for k in categories)
    session.add_all(IncidentController(incident_id=incident.id, controller_id=controllers[k].id)
                    for k in sorted(set(scope.controllers)))
    session.add_all(CountOverride(incident_id=incident.id, controller_id=controllers[k].id, est_subjects=o.est_subjects,
                                  est_records=o.est_records, note=o.note) for k, o in scope.overrides.items())
    session.flush()
    return old, get_scope(session=session, incident_id=incident.id)


@dataclass
class IncidentFilter:
    """Filters for the incidents list; empty values filter nothing."""

    open_only: bool = False
    status: str = ""
    incident_type: str = ""
    severity: str = ""
    drill: bool | None = None  # True: drills only, False: real incidents only
    q: str = ""  # text in the reference or the title


def search_incidents(*, session: Session, viewer, filters: IncidentFilter, page: PageRequest) -> Page[Incident]:
    """One page of the incidents the viewer may see (need-to-know) that match the filters, newest first."""
    query = select(Incident).where(visible_incidents_clause(viewer))
    if filters.open_only:
        query = query.where(Incident.status.in_(OPEN_STATUSES))
    for column, value in ((Incident.status, filters.status), (Incident.incident_type, filters.incident_type),
                          (Incident.severity, filters.severity)):
        if value:
            query = query.where(column == value)
    if filters.drill is not None:
        query = query.where(Incident.drill.is_(filters.drill))
    if filters.q.strip():
        text = filters.q.strip().lower()
        query = query.where(sa.or_(func.lower(Incident.title).contains(text, autoescape=True),
                                   func.lower(Incident.ref).contains(text, autoescape=True)))
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(Incident.created_at.desc(), Incident.id.desc())
                        .offset(page.offset).limit(page.per_page)).all()
    return Page(list(rows), total, page)
