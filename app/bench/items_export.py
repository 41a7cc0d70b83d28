"""Item g: the CSV export of a long timeline beside sqlite3 -csv or psql COPY."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta

import sqlalchemy as sa

from app.bench.generate import bulk_insert, loading
from app.bench.results import GOALS
from app.bench.timing import median_seconds


class ExportItems:
    """The timeline export measurement of a Bench."""

    def item_g(self) -> None:
        from app.timeline.models import TimelineHead
        from app.timeline.service import event_hash

        n = self.sizes["events"]
        incident_id, ref = self.incident("Bench g: long timeline", [1])
        started = time.perf_counter()
        with loading(self.engine) as conn:
            head_seq, previous = conn.execute(sa.text("SELECT seq, hash FROM timeline_head WHERE incident_id = :i"),
                                              {"i": incident_id}).one()
            sqlite = conn.dialect.name == "sqlite"

            def events():
                nonlocal previous
                for seq in range(head_seq + 1, n + 1):
                    at = self.now + timedelta(seconds=seq)
                    fields = {"seq": seq, "occurred_at": at, "recorded_at": at, "kind": "note",
                              "actor": "bench@bench.example", "summary": f"Log line {seq}: host 10.0.{seq % 255}.1 "
                              "queried the tenant API", "details": {"n": seq}, "controller_id": None,
                              "prev_hash": previous}
                    previous = event_hash(fields)
                    stamp = at.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else at
                    yield (incident_id, seq, stamp, stamp, "note", fields["actor"], fields["summary"],
                           json.dumps(fields["details"]), None, fields["prev_hash"], previous)

            bulk_insert(conn, "timeline_event", ("incident_id", "seq", "occurred_at", "recorded_at", "kind", "actor",
                                                 "summary", "details", "controller_id", "prev_hash", "hash"), events())
            conn.execute(sa.update(TimelineHead.__table__).where(TimelineHead.__table__.c.incident_id == incident_id)
                         .values(seq=n, hash=previous))
        self.log(f"g: {n:,} timeline events hashed and loaded in {time.perf_counter() - started:.1f} s")
        with tempfile.TemporaryDirectory(prefix="breachline-bench-") as tmp:
            out = os.path.join(tmp, "export.csv")

            def product():
                done = subprocess.run([sys.executable, "-m", "app.bench.export_child", self.url, ref, out],
                                      capture_output=True, text=True, check=True)
                return json.loads(done.stdout.strip().splitlines()[-1])

            def bare():
                query = ("SELECT seq, occurred_at, recorded_at, kind, actor, summary, details, controller_id, "
                         f"prev_hash, hash FROM timeline_event WHERE incident_id = {int(incident_id)} ORDER BY seq")
                if self.engine.dialect.name == "sqlite":
                    path = sa.engine.make_url(self.url).database
                    with open(out, "wb") as fh:
                        subprocess.run(["sqlite3", "-csv", "-header", path, query], stdout=fh, check=True)
                else:
                    url = sa.engine.make_url(self.url).set(drivername="postgresql")
                    with open(out, "wb") as fh:
                        subprocess.run(["psql", "-X", "-q", url.render_as_string(hide_password=False), "-c",
                                        f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER)"], stdout=fh, check=True)

            reps = self.sizes["slow_reps"]
            # The export's own time, measured inside the child after its imports: a web worker or a
            # CLI export pays interpreter start-up once, not per export. The CLI baseline's start-up is ~ms.
            runs = [product() for _ in range(reps)]
            value = statistics.median(r["seconds"] for r in runs)
            baseline = median_seconds(bare, reps)
        peak = max(r["peak_rss_mb"] for r in runs)
        ratio_ok = value / baseline <= GOALS["g"]
        self.add("g", value, baseline, "s", peak=peak, met=ratio_ok and peak < 200,
                 note=f"{runs[-1]['bytes'] / 1e6:.0f} MB of CSV; peak RSS {peak} MB (limit 200)")
