"""Impact analysis on a hand-built map with known answers, narrowing, overrides, diffs and query counts."""

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from app.datamap.formats.canonical import parse_canonical
from app.datamap.importer import import_map, record_version
from app.datamap.models import (Controller, ControllerJurisdiction, ProcessingDataCategory, ProcessingRecord,
                                ProcessingSubjectCategory, System)
from app.incidents.impact import compute_impact, impact_document, impact_rows, latest_snapshot, refresh_impact
from app.incidents.models import (CountOverride, ImpactSnapshot, Incident, IncidentCategory, IncidentController,
                                  IncidentSystem)
from tests_support import counting

MAP = """\
controllers:
  - {key: acme-health, name: Acme Health GmbH, country: DE, jurisdictions: [EU], sector: healthcare,
     timezone: Europe/Berlin, contract: {notify_within_hours: 24}}
  - {key: brightbank, name: Bright Bank Ltd, country: GB, jurisdictions: [UK], sector: financial,
     contract: {notify_within_business_days: 2, holiday_country: GB}}
  - {key: northwind, name: Northwind Cloud, country: IE, jurisdictions: [EU], sector: saas}
  - {key: kidsapp, name: Kids App AB, country: SE, jurisdictions: [EU], sector: education}
  - {key: ourco, name: Our Company, country: IE, jurisdictions: [EU]}
systems:
  - {key: patient-portal, name: Patient portal}
  - {key: billing, name: Billing}
  - {key: crm, name: CRM}
  - {key: analytics, name: Analytics}
processing:
  - {controller: acme-health, system: patient-portal, role: processor, est_subjects: 12000, est_records: 48000,
     data_categories: [user.health_and_medical, user.contact.email], subject_categories: [patient]}
  - {controller: acme-health, system: billing, role: processor, est_subjects: 3000, est_records: 3000,
     data_categories: [user.financial.bank_account, user.contact.email], subject_categories: [customer]}
  - {controller: brightbank, system: billing, role: processor, est_subjects: 5000, est_records: 5000,
     data_categories: [user.financial.bank_account, user.name], subject_categories: [customer]}
  - {controller: brightbank, system: billing, role: sub-processor, est_subjects: 40, est_records: 40,
     data_categories: [user.name], subject_categories: [employee]}
  - {controller: northwind, system: billing, role: processor, est_subjects: 300, est_records: 300,
     data_categories: [user.contact.email], subject_categories: [customer]}
  - {controller: northwind, system: crm, role: controller, est_subjects: 20, est_records: 20,
     data_categories: [user.contact.email, user.name], subject_categories: [customer]}
  - {controller: kidsapp, system: analytics, role: processor, est_subjects: 900, est_records: 9000,
     data_categories: [user.childrens, user.behavior.browsing_history], subject_categories: [customer]}
  - {controller: ourco, system: crm, role: controller, est_subjects: 800, est_records: 800,
     data_categories: [user.contact.email, user.name], subject_categories: [employee]}
"""


def load(session, now, text=MAP):
    result = import_map(parse_canonical(text, "t.yaml"), session=session, actor="t", now=now)
    session.flush()
    return result


def ids(session, model, keys):
    return {row.key: row.id for row in session.exec(select(model).where(model.key.in_(keys)))}


def make_incident(session, now, *, systems, categories=(), controllers=(), seq=1):
    incident = Incident(ref=f"INC-2026-{seq:04d}", year=2026, seq=seq, title="Ransomware on billing",
                        incident_type="ransomware", detected_at=now - timedelta(hours=2), aware_at=now,
                        created_at=now, updated_at=now, created_by="t")
    session.add(incident)
    session.flush()
    set_scope(session, incident, systems=systems, categories=categories, controllers=controllers)
    return incident


def set_scope(session, incident, *, systems, categories=(), controllers=()):
    for model in (IncidentSystem, IncidentCategory, IncidentController):
        session.exec(sa.delete(model).where(model.incident_id == incident.id))
    session.add_all(IncidentSystem(incident_id=incident.id, system_id=i)
                    for i in ids(session, System, systems).values())
    session.add_all(IncidentCategory(incident_id=incident.id, category_key=k) for k in categories)
    session.add_all(IncidentController(incident_id=incident.id, controller_id=i)
                    for i in ids(session, Controller, controllers).values())
    session.flush()


def override(session, incident, key, **counts):
    cid = ids(session, Controller, [key])[key]
    session.add(CountOverride(incident_id=incident.id, controller_id=cid, **counts))
    session.flush()


def by_key(result):
    return {c.key: c for c in result.controllers}


def test_full_scope_gives_exact_per_controller_numbers_and_totals(session, now):
    load(session, now)
    incident = make_incident(session, now, systems=["billing", "crm", "patient-portal"])
    override(session, incident, "brightbank", est_subjects=4500)
    result = compute_impact(session=session, incident_id=incident.id)
    rows = by_key(result)
    assert list(rows) == ["acme-health", "brightbank", "northwind", "ourco"]  # kidsapp only in analytics

    acme = rows["acme-health"]
    assert (acme.role, acme.roles) == ("processor", ["processor"])
    assert acme.systems == ["billing", "patient-portal"]
    assert acme.data_categories == ["user.contact.email", "user.financial.bank_account", "user.health_and_medical"]
    assert acme.subject_categories == ["customer", "patient"]
    assert (acme.est_subjects, acme.est_records) == (15000, 51000)
    assert acme.special_categories and acme.vulnerable_subjects  # Art. 9 health data; patients
    assert acme.jurisdictions == ["EU"]

    bank = rows["brightbank"]
    assert (bank.role, bank.roles) == ("processor", ["processor", "sub-processor"])  # processor wins
    assert bank.subject_categories == ["customer", "employee"]
    assert (bank.est_subjects, bank.est_records) == (4500, 5040)  # subjects overridden, records summed
    assert not bank.special_categories and not bank.vulnerable_subjects
    assert bank.jurisdictions == ["UK"]

    north = rows["northwind"]
    assert (north.role, north.roles) == ("processor", ["processor", "controller"])
    assert north.systems == ["billing", "crm"]
    assert (north.est_subjects, north.est_records) == (320, 320)

    assert (rows["ourco"].role, rows["ourco"].est_subjects) == ("controller", 800)

    t = result.totals
    assert (t["controllers"], t["est_subjects"], t["est_records"]) == (4, 20620, 57160)
    assert t["special_categories"] and t["vulnerable_subjects"]
    assert t["by_data_category"] == {
        "user.contact.email": {"controllers": 3, "est_subjects": 15000 + 320 + 800},
        # brightbank's 5000 is capped at its overridden 4500
        "user.financial.bank_account": {"controllers": 2, "est_subjects": 3000 + 4500},
        "user.health_and_medical": {"controllers": 1, "est_subjects": 12000},
        "user.name": {"controllers": 3, "est_subjects": 4500 + 20 + 800},
    }
    assert t["by_jurisdiction"] == {"EU": {"controllers": 3, "est_subjects": 16120},
                                    "UK": {"controllers": 1, "est_subjects": 4500}}
    assert t["by_role"] == {"controller": {"controllers": 1, "est_subjects": 800},
                            "processor": {"controllers": 3, "est_subjects": 19820}}


def test_category_narrowing_counts_only_records_holding_them_and_reports_only_them(session, now):
    load(session, now)
    # "user.financial" covers its descendant user.financial.bank_account.
    incident = make_incident(session, now, systems=["billing", "crm", "patient-portal"], categories=["user.financial"])
    rows = by_key(compute_impact(session=session, incident_id=incident.id))
    assert list(rows) == ["acme-health", "brightbank"]
    acme = rows["acme-health"]
    assert acme.data_categories == ["user.financial.bank_account"]
    assert acme.systems == ["billing"] and acme.subject_categories == ["customer"]
    assert (acme.est_subjects, acme.est_records) == (3000, 3000)
    assert not acme.special_categories and not acme.vulnerable_subjects  # the health records are out
    bank = rows["brightbank"]
    assert bank.roles == ["processor"]  # the sub-processor record holds no financial data
    assert (bank.est_subjects, bank.data_categories) == (5000, ["user.financial.bank_account"])


def test_controller_narrowing_and_a_vulnerable_category(session, now):
    load(session, now)
    incident = make_incident(session, now, systems=["billing", "analytics", "patient-portal"],
                             controllers=["kidsapp", "acme-health"])
    result = compute_impact(session=session, incident_id=incident.id)
    rows = by_key(result)
    assert list(rows) == ["acme-health", "kidsapp"]
    kids = rows["kidsapp"]
    assert kids.vulnerable_subjects  # user.childrens is a vulnerable data category; subjects are "customer"
    assert not kids.special_categories
    assert (kids.est_subjects, kids.est_records) == (900, 9000)
    assert result.totals["controllers"] == 2 and result.totals["est_subjects"] == 15900


def test_empty_scope_has_no_impact(session, now):
    load(session, now)
    incident = make_incident(session, now, systems=[])
    result = compute_impact(session=session, incident_id=incident.id)
    assert result.controllers == [] and result.totals["controllers"] == 0


def snapshots(session):
    return session.exec(select(sa.func.count()).select_from(ImpactSnapshot)).one()


def test_refresh_stores_snapshots_and_diffs_scope_and_map_changes(session, now):
    load(session, now)
    incident = make_incident(session, now, systems=["billing"])
    first, diff = refresh_impact(session=session, incident_id=incident.id, now=now)
    assert diff.first and diff.controllers_added == ["acme-health", "brightbank", "northwind"]
    assert diff.summary() == "3 controllers added"
    assert first.datamap_version_id is not None and first.controllers == 3
    assert [r.role for r in impact_rows(session=session, snapshot_id=first.id)] == ["processor"] * 3

    # Nothing changed: no new snapshot, no diff.
    same, none = refresh_impact(session=session, incident_id=incident.id, now=now + timedelta(minutes=5))
    assert none is None and same.id == first.id and snapshots(session) == 1

    # Scope grows and the map changes: kidsapp added, northwind's counts and acme's categories change.
    set_scope(session, incident, systems=["billing", "analytics"])
    load(session, now, MAP.replace("est_subjects: 300, est_records: 300", "est_subjects: 350, est_records: 360")
         .replace("data_categories: [user.financial.bank_account, user.contact.email]",
                  "data_categories: [user.financial.bank_account, user.contact.phone_number]"))
    later = now + timedelta(hours=1)
    second, diff = refresh_impact(session=session, incident_id=incident.id, now=later)
    assert second.id != first.id and second.datamap_version_id == first.datamap_version_id + 1
    assert diff.controllers_added == ["kidsapp"] and diff.controllers_removed == []
    assert diff.categories_changed == {"acme-health": {"added": ["user.contact.phone_number"],
                                                       "removed": ["user.contact.email"]}}
    assert diff.counts_changed == {"northwind": {"est_subjects": [300, 350], "est_records": [300, 360]}}
    assert diff.summary() == "1 controller added, categories changed for 1, counts changed for 1"
    assert diff.as_dict()["datamap_version"] == [first.datamap_version_id, second.datamap_version_id]
    assert latest_snapshot(session=session, incident_id=incident.id).id == second.id

    # Narrowing to acme removes the others.
    set_scope(session, incident, systems=["billing", "analytics"], controllers=["acme-health"])
    _, diff = refresh_impact(session=session, incident_id=incident.id, now=later + timedelta(hours=1))
    assert diff.controllers_removed == ["brightbank", "kidsapp", "northwind"]
    assert diff.summary() == "3 removed"


def test_new_map_version_alone_stores_a_snapshot_with_an_empty_diff(session, now):
    load(session, now)
    incident = make_incident(session, now, systems=["billing"])
    first, _ = refresh_impact(session=session, incident_id=incident.id, now=now)
    load(session, now, MAP.replace("Kids App AB", "Kids App Sweden AB"))  # outside the scope
    second, diff = refresh_impact(session=session, incident_id=incident.id, now=now + timedelta(minutes=1))
    assert second.id != first.id and diff.is_empty and diff.datamap_version is not None


def test_impact_document_has_the_api_shape(session, now):
    load(session, now)
    incident = make_incident(session, now, systems=["patient-portal"])
    snapshot, _ = refresh_impact(session=session, incident_id=incident.id, now=now)
    doc = impact_document(session=session, snapshot=snapshot)
    assert set(doc) == {"datamap_version", "datamap_version_hash", "computed_at", "controllers", "totals"}
    assert doc["datamap_version"] == snapshot.datamap_version_id and len(doc["datamap_version_hash"]) == 64
    assert doc["computed_at"] == "2026-03-02T09:30:00Z"
    assert doc["controllers"] == [{
        "key": "acme-health", "name": "Acme Health GmbH", "role": "processor",
        "data_categories": ["user.contact.email", "user.health_and_medical"], "subject_categories": ["patient"],
        "est_subjects": 12000, "est_records": 48000, "special_categories": True, "vulnerable_subjects": True,
        "jurisdictions": ["EU"], "systems": ["patient-portal"]}]
    assert doc["totals"]["est_subjects"] == 12000


def _bulk_map(session, start, stop):
    """Controllers start..stop-1; the first ten hold data in s-0/s-1 (the scope), the rest elsewhere."""
    systems = ids(session, System, [f"s-{i}" for i in range(10)])
    if not systems:
        session.add_all(System(key=f"s-{i}", name=f"System {i}") for i in range(10))
        session.flush()
        systems = ids(session, System, [f"s-{i}" for i in range(10)])
    controllers = [Controller(key=f"c-{i:04d}", name=f"Customer {i}", country="DE") for i in range(start, stop)]
    session.add_all(controllers)
    session.flush()
    records = [ProcessingRecord(controller_id=c.id, system_id=systems[f"s-{i % 2 if i < 10 else 2 + i % 8}"],
                                role="processor", est_subjects=100, est_records=1000)
               for i, c in zip(range(start, stop), controllers)]
    session.add_all(records)
    session.add_all(ControllerJurisdiction(controller_id=c.id, code="EU") for c in controllers)
    session.flush()
    session.add_all(ProcessingDataCategory(record_id=r.id, category_key="user.contact.email") for r in records)
    session.add_all(ProcessingSubjectCategory(record_id=r.id, subject_key="customer") for r in records)
    record_version(session=session, actor="t", now=session.info.get("now"))
    session.flush()


def _count_statements(session, fn):
    with counting(session.get_bind()) as seen:
        value = fn()
    return len(seen), value


@pytest.mark.parametrize("narrowed", [False, True])
def test_cost_depends_on_the_scope_not_the_map(session, now, narrowed):
    session.info["now"] = now
    _bulk_map(session, 0, 50)
    incident = make_incident(session, now, systems=["s-0", "s-1"],
                             categories=["user.contact"] if narrowed else ())
    small_count, small = _count_statements(session, lambda: compute_impact(session=session, incident_id=incident.id))
    _bulk_map(session, 50, 500)
    assert session.exec(select(sa.func.count()).select_from(Controller)).one() == 500
    big_count, big = _count_statements(session, lambda: compute_impact(session=session, incident_id=incident.id))
    assert small_count == big_count <= 12
    assert [c.key for c in big.controllers] == [c.key for c in small.controllers] == [f"c-{i:04d}" for i in range(10)]
    assert big.totals == small.totals and big.totals["est_subjects"] == 1000

    snapshot, _ = refresh_impact(session=session, incident_id=incident.id, now=now)
    doc_count, doc = _count_statements(session, lambda: impact_document(session=session, snapshot=snapshot))
    assert doc_count <= 2 and len(doc["controllers"]) == 10  # no query per controller
