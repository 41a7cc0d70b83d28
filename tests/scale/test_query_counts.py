"""No N+1: pages and API lists issue the same number of queries at 10 and 100 rows."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notifications"))
from notice_world import configure, declare, draft, seed_customers  # noqa: E402
from tests_support import counting  # noqa: E402

PAGES = ("/dashboard", "/incidents/{ref}", "/datamap/controllers", "/api/v1/controllers", "/incidents",
         "/api/v1/incidents", "/api/v1/incidents/{ref}/timeline", "/api/v1/incidents/{ref}/notifications",
         "/api/v1/incidents/{ref}/obligations")


def _open_incidents(engine, n: int, now) -> None:
    """n more open incidents with three open obligations each, in bulk."""
    from app.clock.models import Obligation
    from app.incidents.models import Incident

    with engine.begin() as conn:
        incidents, obligations = [], []
        for i in range(1, n + 1):
            at = now - timedelta(hours=i)
            incidents.append({"ref": f"QC-{i:05d}", "year": 2026, "seq": 5000 + i, "title": f"Query count {i}",
                              "summary": "", "incident_type": "web-app-exfiltration", "status": "investigating",
                              "status_rationale": "", "severity": "medium", "breach_types": [], "flags": [],
                              "anchors": {}, "detected_at": at, "aware_at": at, "drill": False,
                              "restricted": i % 3 == 0, "version": 1, "created_at": at, "updated_at": at,
                              "created_by": "seed@example.org"})
        conn.execute(sa.insert(Incident.__table__), incidents)
        ids = conn.execute(sa.text("SELECT id FROM incident WHERE ref LIKE 'QC-%'")).scalars().all()
        for iid in ids:
            for k in range(3):
                obligations.append({"incident_id": iid, "regime_id": "gdpr", "stage_id": f"s{k}",
                                    "title": f"Notify {k}", "recipient_kind": "supervisory_authority",
                                    "recipient_key": "", "anchor_name": "aware", "anchor_at": now,
                                    "due_at": now + timedelta(hours=k * 24 - 30), "status": "open",
                                    "created_at": now})
        conn.execute(sa.insert(Obligation.__table__), obligations)


def _counts(app, client, now, n: int, headers: dict) -> dict[str, int]:
    engine = app.extensions["breachline.engine"]
    configure(app)
    with Session(engine, expire_on_commit=False) as session:
        seed_customers(session, n)
        incident_id, ref = declare(session, app.config, now)
        session.commit()
    draft(app, incident_id, now)  # one notice per customer, for the notifications list
    _open_incidents(engine, n, now)
    counts = {}
    for page in PAGES:
        path = page.format(ref=ref)
        extra = headers if path.startswith("/api/") else {}
        client.get(path, headers=extra)  # warm caches that are per process, not per request
        with counting(engine) as statements:
            response = client.get(path, headers=extra)
        assert response.status_code == 200, (path, response.status_code)
        counts[page] = len(statements)
    return counts


@pytest.mark.slow
@pytest.mark.parametrize("role", ["lead", "responder"])
def test_pages_issue_a_bounded_number_of_queries(app, client, make_user, login, token_for, now, role):
    user = make_user(role)
    login(user)
    headers = token_for(user)
    small = _counts(app, client, now, 10, headers)
    # A second, ten times larger world in the same database: the page queries must not grow with it.
    engine = app.extensions["breachline.engine"]
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE controller SET key = 'old-' || key, name = 'Old ' || name"))
        conn.execute(sa.text("UPDATE system SET key = 'old-' || key"))
        conn.execute(sa.text("UPDATE incident SET ref = 'OLD-' || ref WHERE ref LIKE 'QC-%'"))
    large = _counts(app, client, now, 100, headers)
    assert large == small, f"query counts grew with the rows: 10 rows {small}, 100 rows {large}"
