"""Obligations from regimes and impact: exact due times, reminders, settling, scope changes, idempotence."""

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlmodel import select

from app.clock.deadlines import ReminderPlan
from app.clock.models import Obligation, Reminder
from app.clock.obligation_documents import customer_clock, list_obligations, obligation_document
from app.clock.obligation_reminders import reminder_schedule
from app.clock.obligations import sync_obligations
from app.clock.settings import ClockSettings, load_default_regimes
from app.clock.settle import mark_met, mark_not_required
from app.core.errors import Conflict, Forbidden, InputError
from app.datamap.formats.canonical import parse_canonical
from app.datamap.importer import import_map
from app.datamap.models import Controller, System
from app.incidents.impact import refresh_impact
from app.incidents.models import ImpactSnapshot, Incident, IncidentController, IncidentSystem

UTC = timezone.utc
AWARE = datetime(2026, 4, 2, 10, 0, tzinfo=UTC)  # Thursday before Easter: Good Friday and Easter Monday follow

MAP = """\
controllers:
  - {key: acme-health, name: Acme Health GmbH, country: DE, jurisdictions: [EU], sector: healthcare,
     timezone: Europe/Berlin, contract: {notify_within_hours: 24}}
  - {key: kita-de, name: Kita Verwaltung GmbH, country: DE, jurisdictions: [EU], sector: education,
     timezone: Europe/Berlin, contract: {notify_within_business_days: 2, holiday_country: DE}}
  - {key: northwind, name: Northwind Cloud, country: IE, jurisdictions: [EU], sector: saas, timezone: Europe/Dublin}
  - {key: ourco, name: Our Company, country: IE, jurisdictions: [EU]}
  - {key: fincorp, name: Fincorp AG, country: DE, jurisdictions: [EU], sector: financial,
     contract: {notify_within_hours: 12}}
systems:
  - {key: billing, name: Billing}
  - {key: crm, name: CRM}
  - {key: ledger, name: Ledger}
processing:
  - {controller: acme-health, system: billing, role: processor, est_subjects: 1000, est_records: 1000,
     data_categories: [user.contact.email], subject_categories: [customer]}
  - {controller: kita-de, system: billing, role: processor, est_subjects: 200, est_records: 200,
     data_categories: [user.contact.email], subject_categories: [customer]}
  - {controller: northwind, system: billing, role: processor, est_subjects: 300, est_records: 300,
     data_categories: [user.contact.email], subject_categories: [customer]}
  - {controller: ourco, system: crm, role: controller, est_subjects: 800, est_records: 800,
     data_categories: [user.contact.email, user.name], subject_categories: [employee]}
  - {controller: fincorp, system: ledger, role: processor, est_subjects: 50, est_records: 50,
     data_categories: [user.financial.bank_account], subject_categories: [customer]}
"""


@pytest.fixture(scope="module")
def regimes():
    return load_default_regimes()


@pytest.fixture
def settings(regimes):
    return ClockSettings(regimes=regimes, company_controller_key="ourco")


@pytest.fixture
def world(session, now):
    """The map loaded and an incident touching billing and crm (all but fincorp), aware at AWARE."""
    import_map(parse_canonical(MAP, "t.yaml"), session=session, actor="t", now=now)
    incident = Incident(ref="INC-2026-0001", year=2026, seq=1, title="Ransomware on billing",
                        incident_type="ransomware", detected_at=AWARE - timedelta(hours=3), aware_at=AWARE,
                        created_at=AWARE, updated_at=AWARE, created_by="t")
    session.add(incident)
    session.flush()
    scope(session, incident, ["billing", "crm"])
    return incident


def scope(session, incident, systems, controllers=()):
    for model in (IncidentSystem, IncidentController):
        session.exec(sa.delete(model).where(model.incident_id == incident.id))
    for key in systems:
        system = session.exec(select(System).where(System.key == key)).one()
        session.add(IncidentSystem(incident_id=incident.id, system_id=system.id))
    for key in controllers:
        controller = session.exec(select(Controller).where(Controller.key == key)).one()
        session.add(IncidentController(incident_id=incident.id, controller_id=controller.id))
    session.flush()


def sync(session, incident, settings, now, **kwargs):
    snapshot, _ = refresh_impact(session=session, incident_id=incident.id, now=now)
    return sync_obligations(session=session, incident=incident, snapshot=snapshot, settings=settings, now=now,
                            **kwargs)


def obligations(session, incident):
    return {(o.regime_id, o.stage_id, o.recipient_key): o for o in list_obligations(session=session,
                                                                                    incident_id=incident.id)}


def reminders(session, ob, pending_only=False):
    query = select(Reminder).where(Reminder.obligation_id == ob.id).order_by(Reminder.due_at, Reminder.kind)
    rows = session.exec(query).all()
    return [r for r in rows if not (pending_only and (r.cancelled or r.fired_at))]


def count(session, model):
    return session.exec(select(sa.func.count()).select_from(model)).one()


def test_due_times_per_customer_contract_and_for_our_own_data(session, world, settings):
    changes = sync(session, world, settings, AWARE + timedelta(hours=1))
    obs = obligations(session, world)
    assert set(obs) == {
        ("gdpr-art33-2", "notify-controller", "acme-health"), ("gdpr-art33-2", "notify-controller", "kita-de"),
        ("gdpr-art33-2", "notify-controller", "northwind"), ("gdpr-art33", "customer-notify-sa", "acme-health"),
        ("gdpr-art33", "customer-notify-sa", "kita-de"), ("gdpr-art33", "customer-notify-sa", "northwind"),
        ("gdpr-art33", "notify-sa", ""),  # our own data (ourco); Art. 34 waits for a risk decision
    }
    assert len(changes.created) == 7 and not (changes.updated or changes.closed)

    acme = obs[("gdpr-art33-2", "notify-controller", "acme-health")]
    assert acme.due_at == AWARE + timedelta(hours=24) and acme.deadline_rule == "24 hours (contract)"
    assert acme.internal_target_at is None  # the 24 h target adds nothing to a 24 h contract
    assert acme.title == "Notify the controller of the personal data breach — Acme Health GmbH"
    assert (acme.recipient_kind, acme.anchor_name, acme.anchor_at) == ("controller", "aware_at", AWARE)

    # 2 business days in Germany from Thursday 2 April 2026: Good Friday, the weekend and Easter Monday
    # do not count, so Tue 7 and Wed 8 April; the day ends 23:59:59 Berlin summer time (UTC+2).
    kita = obs[("gdpr-art33-2", "notify-controller", "kita-de")]
    assert kita.due_at == datetime(2026, 4, 8, 21, 59, 59, tzinfo=UTC)
    assert kita.deadline_rule == "2 business days (DE, contract)"
    assert kita.internal_target_at == AWARE + timedelta(hours=24)

    north = obs[("gdpr-art33-2", "notify-controller", "northwind")]
    assert north.due_at is None and north.no_fixed_deadline
    assert north.internal_target_at == AWARE + timedelta(hours=24)
    assert north.deadline_rule == "without undue delay (contract: none)"

    sa_ob = obs[("gdpr-art33", "notify-sa", "")]
    assert sa_ob.due_at == AWARE + timedelta(hours=72) and sa_ob.deadline_rule == "72 hours"
    assert (sa_ob.recipient_kind, sa_ob.controller_id, sa_ob.verified) == ("supervisory_authority", None, True)

    # The customers' own clocks start with our notice, which has not happened yet.
    own = obs[("gdpr-art33", "customer-notify-sa", "acme-health")]
    assert own.informational and own.anchor_name == "controller_notified_at"
    assert own.anchor_at is None and own.due_at is None and "waiting for controller_notified_at" in own.deadline_rule
    assert reminders(session, own) == []

    # Ordered by due, no due last.
    assert [o.id for o in list_obligations(session=session, incident_id=world.id)][:3] == [acme.id, sa_ob.id, kita.id]


def test_reminders_follow_the_plan(session, world, settings):
    sync(session, world, settings, AWARE + timedelta(hours=1))
    obs = obligations(session, world)
    acme = obs[("gdpr-art33-2", "notify-controller", "acme-health")]
    got = [(r.kind, r.label, r.due_at - AWARE) for r in reminders(session, acme)]
    h = lambda n: timedelta(hours=n)  # noqa: E731
    assert got == [("progress", "50% of the window used", h(12)), ("progress", "75% of the window used", h(18)),
                   ("progress", "90% of the window used", h(21.6)), ("due", "due now", h(24)),
                   ("escalation", "1 h overdue — escalate", h(25)), ("overdue", "1 h overdue", h(25)),
                   ("overdue", "6 h overdue", h(30)), ("overdue", "24 h overdue", h(48))]
    north = obs[("gdpr-art33-2", "notify-controller", "northwind")]
    labels = [r.label for r in reminders(session, north)]
    assert "internal target reached" in labels and "1 h past the internal target" in labels
    assert reminders(session, north)[3].due_at == AWARE + h(24)


def test_late_creation_skips_overtaken_progress_reminders_but_keeps_due_ones():
    ob = Obligation(incident_id=1, regime_id="x", stage_id="y", title="t", recipient_kind="controller",
                    anchor_name="aware_at", anchor_at=AWARE, due_at=AWARE + timedelta(hours=24),
                    created_at=AWARE)
    now = AWARE + timedelta(hours=19)  # 50 % and 75 % are past; 75 % is the latest news
    labels = [label for _, label, _ in reminder_schedule(ob, ReminderPlan(), AWARE, now)]
    assert labels[:2] == ["75% of the window used", "90% of the window used"]
    later = AWARE + timedelta(hours=26)  # past due and the first overdue reminder: due still fires once
    labels = [label for _, label, _ in reminder_schedule(ob, ReminderPlan(), AWARE, later)]
    assert "50% of the window used" not in labels and labels[0] == "due now"
    assert "1 h overdue — escalate" in labels


def test_resync_is_idempotent(session, world, settings):
    sync(session, world, settings, AWARE + timedelta(hours=1))
    before = (count(session, Obligation), count(session, Reminder))
    changes = sync(session, world, settings, AWARE + timedelta(hours=2))
    assert changes.is_empty
    assert (count(session, Obligation), count(session, Reminder)) == before


def test_contract_change_retimes_open_obligations_and_their_reminders(session, world, settings, now):
    sync(session, world, settings, AWARE + timedelta(hours=1))
    kita = obligations(session, world)[("gdpr-art33-2", "notify-controller", "kita-de")]
    import_map(parse_canonical(MAP.replace("{notify_within_business_days: 2, holiday_country: DE}",
                                           "{notify_within_hours: 48}"), "t.yaml"), session=session, actor="t", now=now)
    session.expire_all()
    changes = sync(session, world, settings, AWARE + timedelta(hours=2))
    assert [o.recipient_key for o in changes.updated] == ["kita-de"]
    assert kita.due_at == AWARE + timedelta(hours=48) and kita.deadline_rule == "48 hours (contract)"
    due = [r.due_at for r in reminders(session, kita) if r.kind == "due"]
    assert due == [AWARE + timedelta(hours=48)] and len(reminders(session, kita)) == 8  # old plan replaced


def test_mark_met_late_needs_reasons_and_freezes_late_by(session, world, settings):
    sync(session, world, settings, AWARE + timedelta(hours=1))
    acme = obligations(session, world)[("gdpr-art33-2", "notify-controller", "acme-health")]
    met_at = AWARE + timedelta(hours=26)
    with pytest.raises(InputError) as err:
        mark_met(session=session, obligation=acme, met_at=met_at, actor="lead@example.org")
    assert err.value.problems[0].field == "delay_reasons" and acme.status == "open"
    mark_met(session=session, obligation=acme, met_at=met_at, actor="lead@example.org",
             delay_reasons="Customer contact unreachable over the holiday")
    assert (acme.status, acme.late_by_seconds) == ("late", 2 * 3600)
    with pytest.raises(Conflict, match="already met"):
        mark_met(session=session, obligation=acme, met_at=met_at + timedelta(hours=5), actor="x", delay_reasons="x")
    assert acme.late_by_seconds == 2 * 3600 and acme.met_at == met_at
    assert all(r.cancelled for r in reminders(session, acme))

    # The customer's own 72 h clock now runs from our notice.
    changes = sync(session, world, settings, met_at)
    own = obligations(session, world)[("gdpr-art33", "customer-notify-sa", "acme-health")]
    assert own in changes.updated and own.anchor_at == met_at and own.due_at == met_at + timedelta(hours=72)
    assert [(r.label, r.due_at) for r in reminders(session, own)] == [
        ("50% of the window used", met_at + timedelta(hours=36))]
    clock = customer_clock(obligation_to_controller=acme, aware_at=AWARE, now=met_at + timedelta(hours=10))
    assert clock["notified"] and clock["projected_due_at"] == "2026-04-06T12:00:00Z"
    assert (clock["used_hours"], clock["remaining_hours"]) == (26.0, 62.0)


def test_a_sync_for_some_customers_starts_their_clocks_and_touches_nothing_else(session, world, settings):
    sync(session, world, settings, AWARE + timedelta(hours=1))
    obs = obligations(session, world)
    met_at = AWARE + timedelta(hours=2)
    mark_met(session=session, obligation=obs[("gdpr-art33-2", "notify-controller", "acme-health")], met_at=met_at,
             actor="dispatcher")
    mark_met(session=session, obligation=obs[("gdpr-art33-2", "notify-controller", "kita-de")], met_at=met_at,
             actor="dispatcher")
    before = {key: (o.status, o.anchor_at, o.due_at) for key, o in obs.items()}
    # The dispatcher syncs only the customers it notified (acme); the snapshot is not refreshed.
    snapshot = session.exec(select(ImpactSnapshot).where(ImpactSnapshot.incident_id == world.id)
                            .order_by(ImpactSnapshot.id.desc())).first()
    changes = sync_obligations(session=session, incident=world, snapshot=snapshot, settings=settings, now=met_at,
                               recipients={"acme-health"})
    after = {key: (o.status, o.anchor_at, o.due_at) for key, o in obligations(session, world).items()}
    assert [(o.stage_id, o.recipient_key) for o in changes.updated] == [("customer-notify-sa", "acme-health")]
    assert not (changes.created or changes.closed or changes.reopened or changes.decided)
    assert after[("gdpr-art33", "customer-notify-sa", "acme-health")][1:] == (met_at, met_at + timedelta(hours=72))
    # kita's clock waits for its own sync; the incident-wide ones are left as they were.
    assert {k: v for k, v in after.items() if k[2] != "acme-health"} == \
        {k: v for k, v in before.items() if k[2] != "acme-health"}


def test_met_on_time(session, world, settings):
    sync(session, world, settings, AWARE + timedelta(hours=1))
    sa_ob = obligations(session, world)[("gdpr-art33", "notify-sa", "")]
    mark_met(session=session, obligation=sa_ob, met_at=AWARE + timedelta(hours=30), actor="dpo@example.org")
    assert (sa_ob.status, sa_ob.late_by_seconds, sa_ob.delay_reasons) == ("met", 0, "")


def test_customer_clock_before_we_notify(session, world, settings):
    sync(session, world, settings, AWARE + timedelta(hours=1))
    north = obligations(session, world)[("gdpr-art33-2", "notify-controller", "northwind")]
    clock = customer_clock(obligation_to_controller=north, aware_at=AWARE, now=AWARE + timedelta(hours=5))
    assert not clock["notified"] and clock["projected_due_at"] == "2026-04-05T10:00:00Z"
    assert (clock["used_hours"], clock["remaining_hours"]) == (5.0, 67.0)


def test_not_required_needs_a_lead_and_a_rationale(session, world, settings, now):
    sync(session, world, settings, AWARE + timedelta(hours=1))
    north = obligations(session, world)[("gdpr-art33-2", "notify-controller", "northwind")]
    with pytest.raises(Forbidden):
        mark_not_required(session=session, obligation=north, actor_role="responder", actor="r@example.org",
                          rationale="dup", now=now)
    with pytest.raises(InputError) as err:
        mark_not_required(session=session, obligation=north, actor_role="lead", actor="l@example.org",
                          rationale="  ", now=now)
    assert err.value.problems[0].field == "rationale" and north.status == "open"
    mark_not_required(session=session, obligation=north, actor_role="lead", actor="l@example.org",
                      rationale="Test tenant, no real personal data", now=now)
    assert (north.status, north.decided_by, north.decided_at) == ("not_required", "l@example.org", now)
    assert reminders(session, north, pending_only=True) == []
    # A lead's decision survives every re-sync.
    sync(session, world, settings, AWARE + timedelta(hours=3))
    assert north.status == "not_required" and north.rationale == "Test tenant, no real personal data"


def test_controller_leaving_the_scope_closes_its_open_obligations_and_coming_back_reopens(session, world, settings):
    sync(session, world, settings, AWARE + timedelta(hours=1))
    obs = obligations(session, world)
    acme = obs[("gdpr-art33-2", "notify-controller", "acme-health")]
    mark_met(session=session, obligation=acme, met_at=AWARE + timedelta(hours=2), actor="x")
    scope(session, world, ["billing", "crm"], controllers=["kita-de", "ourco"])
    later = AWARE + timedelta(hours=4)
    changes = sync(session, world, settings, later)
    closed = {(o.stage_id, o.recipient_key) for o in changes.closed}
    # acme's notice was met: it stays met; its still-open informational clock and northwind's close.
    assert closed == {("customer-notify-sa", "acme-health"), ("notify-controller", "northwind"),
                      ("customer-notify-sa", "northwind")}
    north = obs[("gdpr-art33-2", "notify-controller", "northwind")]
    assert north.status == "not_required" and north.decided_by == "breachline"
    assert north.rationale == "no longer in the incident's scope (impact of 2026-04-02T14:00:00Z)"
    assert acme.status == "met" and reminders(session, north, pending_only=True) == []

    scope(session, world, ["billing", "crm"])
    changes = sync(session, world, settings, later + timedelta(hours=1))
    assert {(o.stage_id, o.recipient_key) for o in changes.reopened} == closed
    assert north.status == "open" and north.rationale == "" and reminders(session, north, pending_only=True)


def test_risk_decisions_drive_art34_and_may_make_the_sa_notice_not_required(session, world, settings):
    sync(session, world, settings, AWARE + timedelta(hours=1))
    no = {"notify_sa": False, "communicate_subjects": False, "decided_by": "dpo@example.org",
          "rationale": "Encrypted with a key that was not compromised"}
    changes = sync(session, world, settings, AWARE + timedelta(hours=2), risk_decision=no)
    obs = obligations(session, world)
    sa_ob, subjects = obs[("gdpr-art33", "notify-sa", "")], obs[("gdpr-art34", "notify-subjects", "")]
    assert {o.id for o in changes.decided} == {sa_ob.id, subjects.id}
    for ob in (sa_ob, subjects):
        assert ob.status == "not_required" and ob.decided_by == "dpo@example.org"
        assert ob.rationale == "Risk decision: Encrypted with a key that was not compromised"
    # A sync without a decision (e.g. after a scope edit) leaves the decision standing.
    assert sync(session, world, settings, AWARE + timedelta(hours=3)).is_empty
    yes = {"notify_sa": True, "communicate_subjects": True, "decided_by": "dpo@example.org", "rationale": "Re-assessed"}
    changes = sync(session, world, settings, AWARE + timedelta(hours=4), risk_decision=yes)
    assert {o.id for o in changes.reopened} == {sa_ob.id, subjects.id}
    assert subjects.status == "open" and subjects.no_fixed_deadline and subjects.due_at is None
    assert subjects.internal_target_at == AWARE + timedelta(hours=72)  # the YAML's own target


def test_undecided_risk_creates_no_art34_and_a_yes_creates_it(session, world, settings):
    sync(session, world, settings, AWARE + timedelta(hours=1))
    assert ("gdpr-art34", "notify-subjects", "") not in obligations(session, world)
    changes = sync(session, world, settings, AWARE + timedelta(hours=2), risk_decision={"communicate_subjects": True})
    assert [(o.regime_id, o.status) for o in changes.created] == [("gdpr-art34", "open")]


def test_dora_backstop_and_financial_customer_assistance(session, world, regimes):
    settings = ClockSettings(regimes=regimes, company_controller_key="ourco",
                             company_flags={"dora_financial_entity"})
    scope(session, world, ["ledger"])
    world.flags = ["major_incident"]
    sync(session, world, settings, AWARE + timedelta(hours=1))
    obs = obligations(session, world)
    initial = obs[("dora-art19", "initial-notification", "")]
    # Not yet classified as major: the 24 h backstop from awareness is the deadline meanwhile.
    assert initial.anchor_at is None and initial.due_at == AWARE + timedelta(hours=24)
    assert initial.deadline_rule == "4 hours; at the latest 24 hours after aware_at"
    assist = obs[("dora-art19", "assist-financial-entity", "fincorp")]
    assert assist.due_at == AWARE + timedelta(hours=12)
    assert assist.internal_target_at == AWARE + timedelta(hours=4)  # earlier than the contract: kept
    assert obs[("dora-art19", "intermediate-report", "")].due_at is None  # waits for the initial report

    classified = AWARE + timedelta(hours=2)
    world.anchors = {"classified_major_at": classified.isoformat()}
    changes = sync(session, world, settings, AWARE + timedelta(hours=2))
    assert initial in changes.updated and initial.due_at == classified + timedelta(hours=4)
    mark_met(session=session, obligation=initial, met_at=classified + timedelta(hours=3), actor="x")
    sync(session, world, settings, AWARE + timedelta(hours=6))
    assert obs[("dora-art19", "intermediate-report", "")].due_at == classified + timedelta(hours=75)


def test_obligation_document_shape(session, world, settings):
    sync(session, world, settings, AWARE + timedelta(hours=1))
    acme = obligations(session, world)[("gdpr-art33-2", "notify-controller", "acme-health")]
    doc = obligation_document(acme, now=AWARE + timedelta(hours=25))
    assert doc == {
        "id": acme.id, "regime": "gdpr-art33-2", "stage": "notify-controller", "title": acme.title,
        "recipient": {"kind": "controller", "key": "acme-health"},
        "anchor": {"name": "aware_at", "at": "2026-04-02T10:00:00Z"}, "due_at": "2026-04-03T10:00:00Z",
        "no_fixed_deadline": False, "internal_target_at": None, "deadline_rule": "24 hours (contract)",
        "status": "open", "overdue": True, "met_at": None, "late_by_seconds": None,
        "source": "GDPR Art. 33(2); contractual hours under Art. 28(3)(f)", "verified": True,
        "informational": False, "delay_reasons": None, "rationale": None, "decided_by": None, "decided_at": None}
    assert obligation_document(acme, now=AWARE)["overdue"] is False


def test_settings_from_config_drive_company_regimes(session, world, regimes):
    settings = ClockSettings.from_config({"COMPANY_FLAGS": ["nis2_entity"], "COMPANY_CONTROLLER_KEY": "ourco"},
                                         regimes=regimes)
    assert settings.target_hours("controller") == 24 and settings.target_hours("csirt") == 72
    world.flags = ["significant_incident"]
    sync(session, world, settings, AWARE + timedelta(hours=1))
    obs = obligations(session, world)
    assert obs[("nis2-art23", "early-warning", "")].due_at == AWARE + timedelta(hours=24)
    assert obs[("nis2-art23", "incident-notification", "")].due_at == AWARE + timedelta(hours=72)
    final = obs[("nis2-art23", "final-report", "")]
    assert final.anchor_at is None and final.due_at is None  # one month after the notification, once sent


def test_not_a_breach_closes_the_data_protection_clocks(session, world, settings):
    sync(session, world, settings, AWARE + timedelta(hours=1))
    world.status = "not_a_breach"
    changes = sync(session, world, settings, AWARE + timedelta(hours=2))
    assert len(changes.closed) == 7
    assert all(o.rationale.startswith("no longer applies to the incident's facts") for o in changes.closed)
    world.status = "investigating"
    assert len(sync(session, world, settings, AWARE + timedelta(hours=3)).reopened) == 7
