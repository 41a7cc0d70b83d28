"""Issue 8: the dashboard pages through open incidents by nearest deadline without reading them all."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.clock.models import Obligation
from app.core.pagination import PageRequest
from app.flows import dashboard
from app.incidents.access import SYSTEM
from app.incidents.models import Incident


def _seed(session, now) -> dict[str, int]:
    """Incidents with legal deadlines, one with only an internal target, one without any, one closed, one huge."""
    incidents, obligations = [], []

    def incident(ref: str, status: str = "investigating", minutes: int = 0):
        at = now - timedelta(minutes=minutes)
        incidents.append({"ref": ref, "year": 2026, "seq": len(incidents) + 1, "title": ref, "summary": "",
                          "incident_type": "data-leak", "status": status, "status_rationale": "",
                          "severity": "medium", "breach_types": [], "flags": [], "anchors": {}, "detected_at": at,
                          "aware_at": at, "drill": False, "restricted": False, "version": 1, "created_at": at,
                          "updated_at": at, "created_by": "t@example.org"})

    for i in range(30):
        incident(f"D-{i:02d}", minutes=i)
    incident("TARGET-ONLY")
    incident("NO-DEADLINE-OLD", minutes=90)
    incident("NO-DEADLINE-NEW", minutes=1)
    incident("CLOSED", status="closed")
    incident("HUGE")
    session.execute(sa.insert(Incident.__table__), incidents)
    ids = dict(session.execute(sa.select(Incident.ref, Incident.id)).all())

    def obligation(ref: str, stage: str, due=None, target=None, informational=False, status="open"):
        obligations.append({"incident_id": ids[ref], "regime_id": "gdpr", "stage_id": stage, "title": f"{ref} {stage}",
                            "recipient_kind": "supervisory_authority", "recipient_key": "", "anchor_name": "aware_at",
                            "anchor_at": now, "due_at": due, "internal_target_at": target, "status": status,
                            "informational": informational, "created_at": now})

    for i in range(30):
        obligation(f"D-{i:02d}", "a", due=now + timedelta(hours=i))
        obligation(f"D-{i:02d}", "b", due=now + timedelta(hours=100 + i))
        obligation(f"D-{i:02d}", "waiting")  # no anchor yet: no deadline at all
    obligation("D-05", "met", due=now - timedelta(days=9), status="met")  # settled: does not count
    obligation("D-06", "info", due=now - timedelta(days=9), informational=True)  # the customer's own duty
    obligation("TARGET-ONLY", "t", target=now + timedelta(hours=10, minutes=30))
    obligation("CLOSED", "c", due=now - timedelta(days=30))
    for k in range(600):  # an incident over hundreds of customers, all due at the same time
        obligation("HUGE", f"c{k:03d}", due=now + timedelta(hours=3, minutes=30))
    session.execute(sa.insert(Obligation.__table__), obligations)
    session.flush()
    return ids


def _refs(page) -> list[str]:
    return [row.incident.ref for row in page.items]


def test_pages_follow_the_nearest_deadline_then_the_newest_without_one(session, now):
    _seed(session, now)
    expected = ([f"D-{i:02d}" for i in range(4)] + ["HUGE"] + [f"D-{i:02d}" for i in range(4, 11)] + ["TARGET-ONLY"]
                + [f"D-{i:02d}" for i in range(11, 30)] + ["NO-DEADLINE-NEW", "NO-DEADLINE-OLD"])
    seen = []
    for number in range(1, 5):
        page = dashboard.open_incidents(session=session, now=now, viewer=SYSTEM, page=PageRequest(number, 10))
        assert page.total == 34 and page.exact
        seen += _refs(page)
    assert seen == expected
    first = dashboard.open_incidents(session=session, now=now, viewer=SYSTEM, page=PageRequest(1, 10))
    huge = next(r for r in first.items if r.incident.ref == "HUGE")
    assert (huge.open_obligations, huge.overdue, huge.next_title) == (600, 0, "HUGE c000")
    d0 = first.items[0]
    assert (d0.next_due, d0.open_obligations) == (now, 3) and first.has_next


def test_the_count_stops_at_its_bound(session, now, monkeypatch):
    _seed(session, now)
    monkeypatch.setattr(dashboard, "COUNT_BOUND", 20)
    page = dashboard.open_incidents(session=session, now=now, viewer=SYSTEM, page=PageRequest(1, 10))
    assert (page.total, page.exact) == (21, False) and len(page.items) == 10
    deep = dashboard.open_incidents(session=session, now=now, viewer=SYSTEM, page=PageRequest(3, 10))
    assert (deep.total, deep.exact, len(deep.items)) == (31, False, 10)  # the bound moves with the page
    last = dashboard.open_incidents(session=session, now=now, viewer=SYSTEM, page=PageRequest(4, 10))
    assert (last.total, last.exact, _refs(last)) == (34, True, ["D-28", "D-29", "NO-DEADLINE-NEW", "NO-DEADLINE-OLD"])
