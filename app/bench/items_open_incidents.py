"""Items f and h over many open incidents: the dashboard beside a one-query route, the tick beside its query."""

from __future__ import annotations

import time
from datetime import timedelta

import sqlalchemy as sa

from app.bench.generate import analyze, loading
from app.bench.timing import paired_medians


class OpenIncidentItems:
    """The dashboard and tick measurements of a Bench, over the same seeded open incidents."""

    def seed_open_incidents(self) -> None:
        from app.clock.models import Obligation
        from app.incidents.models import Incident

        n = self.sizes["dashboard"]
        started = time.perf_counter()
        incidents, obligations = [], []
        with loading(self.engine) as conn:
            top = conn.execute(sa.text("SELECT coalesce(max(id), 0) FROM incident")).scalar_one()
            for i in range(1, n + 1):
                iid = top + i
                at = self.now - timedelta(minutes=i)
                incidents.append({"id": iid, "ref": f"BEN-{i:06d}", "year": 2026, "seq": 90_000 + i,
                                  "title": f"Bench open incident {i}", "summary": "", "incident_type": "web-app-exfiltration",
                                  "status": "investigating", "status_rationale": "", "severity": "medium",
                                  "breach_types": ["confidentiality"], "flags": [], "anchors": {}, "detected_at": at,
                                  "aware_at": at, "drill": False, "restricted": i % 50 == 0, "version": 1,
                                  "created_at": at, "updated_at": at, "created_by": "bench@bench.example"})
                for k in range(3):
                    obligations.append({"incident_id": iid, "regime_id": "gdpr", "stage_id": f"stage-{k}",
                                        "title": f"Notify authority {k}", "recipient_kind": "supervisory_authority",
                                        "recipient_key": "", "anchor_name": "aware", "anchor_at": at,
                                        "due_at": at + timedelta(hours=24 * (k + 1) - (i % 97)),
                                        "status": "open", "created_at": at})
            for chunk in range(0, len(incidents), 5000):
                conn.execute(sa.insert(Incident.__table__), incidents[chunk:chunk + 5000])
            for chunk in range(0, len(obligations), 5000):
                conn.execute(sa.insert(Obligation.__table__), obligations[chunk:chunk + 5000])
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('incident', 'id'), (SELECT max(id) FROM incident))")
        analyze(self.engine)
        self.log(f"seeded {n:,} open incidents with {len(obligations):,} obligations in "
                 f"{time.perf_counter() - started:.1f} s")

    def item_f(self) -> None:
        from app.auth.service import create_user

        with self.app.app_context(), self.session() as session:
            create_user(session=session, email="lead@bench.example", name="Bench Lead", role="lead",
                        password="bench password 1234", now=self.now)
            session.commit()
        client = self.app.test_client()
        response = client.post("/login", data={"email": "lead@bench.example", "password": "bench password 1234"})
        if response.status_code != 302:
            self.add("f", None, None, "s", note=f"cannot sign in: {response.status_code}")
            return

        def get(path: str) -> float:
            started = time.perf_counter()
            answer = client.get(path)
            elapsed = time.perf_counter() - started
            if answer.status_code != 200:
                raise RuntimeError(f"{path}: HTTP {answer.status_code}")
            return elapsed

        get("/dashboard")  # warm templates and caches
        get("/_bench/one-query")
        page, floor = [], []
        for _ in range(self.sizes["requests"]):  # alternately, so a change in the machine's load hits both alike
            page.append(get("/dashboard"))
            floor.append(get("/_bench/one-query"))
        page.sort()
        floor.sort()

        def pct(samples, p):
            return samples[min(len(samples) - 1, int(round(p * (len(samples) - 1))))]

        self.add("f", pct(page, 0.5), pct(floor, 0.5), "s",
                 note=f"p95 {pct(page, 0.95):.4f} s vs {pct(floor, 0.95):.4f} s "
                      f"(ratio {pct(page, 0.95) / pct(floor, 0.95):.1f})",
                 p95=pct(page, 0.95), p95_baseline=pct(floor, 0.95))

    def item_h(self) -> None:
        from app.clock.models import Reminder
        from app.scheduler import run_tick

        total, due = self.sizes["reminders"], self.sizes["due"]
        with loading(self.engine) as conn:
            obligations = list(conn.execute(sa.text("SELECT id FROM obligation WHERE status = 'open' ORDER BY id "
                                                    "LIMIT 30000")).scalars())
            rows = []
            for i in range(total):
                at = self.now - timedelta(minutes=1 + i) if i < due else self.now + timedelta(minutes=5 + i)
                rows.append({"obligation_id": obligations[i % len(obligations)], "kind": "progress",
                             "label": "50% of the window", "due_at": at, "claimed_by": "", "cancelled": False,
                             "result": ""})
            for chunk in range(0, len(rows), 10_000):
                conn.execute(sa.insert(Reminder.__table__), rows[chunk:chunk + 10_000])
        analyze(self.engine)

        def reset():
            with self.engine.begin() as conn:
                conn.execute(sa.text("UPDATE reminder SET fired_at = NULL, claimed_at = NULL, claimed_by = '', "
                                     "result = '', cancelled = :f WHERE due_at <= :now"),
                             {"now": _bind_time(conn, self.now), "f": False})

        fired = []

        def tick():
            fired.append(run_tick(self.app, now=self.now, worker="bench").fired)

        table = Reminder.__table__
        due_query = (sa.select(table.c.id, table.c.obligation_id, table.c.due_at)
                     .where(table.c.due_at <= self.now, table.c.fired_at.is_(None), table.c.cancelled.is_(False))
                     .order_by(table.c.due_at, table.c.id).limit(100))

        def bare():
            with self.engine.connect() as conn:
                conn.execute(due_query).all()

        value, baseline = paired_medians(tick, bare, self.sizes["reps"], before=reset)
        self.add("h", value, baseline, "s", note=f"{total:,} pending, {max(fired)} fired per tick")


def _bind_time(conn, value):
    return value.replace(tzinfo=None) if conn.dialect.name == "sqlite" else value
