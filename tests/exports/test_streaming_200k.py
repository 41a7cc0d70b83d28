"""Streaming: a 200,000-event timeline exports as CSV and JSON with memory that does not grow with the events."""

import json
import time
import tracemalloc
from datetime import timedelta

import pytest
import sqlalchemy as sa

from export_support import customers, declare, import_map, lead_headers  # noqa: F401

EVENTS = 200_000
PEAK_LIMIT = 50 * 1024 * 1024  # bytes; the export itself is ~100 MB of text


@pytest.fixture
def big_incident(app, client, runner, tmp_path, lead_headers):  # noqa: F811
    """An incident whose chain is continued to 200,000 events by bulk SQL (hashes computed here)."""
    from app.timeline.models import TimelineEvent, TimelineHead
    from app.timeline.service import event_hash

    import_map(runner, tmp_path, customers(2))
    ref = declare(client, lead_headers)
    engine = app.extensions["breachline.engine"]
    with engine.begin() as conn:
        incident_id = conn.execute(sa.text("SELECT id FROM incident WHERE ref = :r"), {"r": ref}).scalar_one()
        head_seq, head_hash = conn.execute(sa.text("SELECT seq, hash FROM timeline_head WHERE incident_id = :i"),
                                           {"i": incident_id}).one()
        start = conn.execute(sa.select(sa.func.max(TimelineEvent.recorded_at))
                             .where(TimelineEvent.incident_id == incident_id)).scalar_one()
        rows, previous = [], head_hash
        for seq in range(head_seq + 1, EVENTS + 1):
            at = start + timedelta(seconds=seq)
            fields = {"seq": seq, "occurred_at": at, "recorded_at": at, "kind": "note", "actor": "bulk@example.org",
                      "summary": f"Log line {seq}: =cmd analysed", "details": {"n": seq}, "controller_id": None,
                      "prev_hash": previous}
            previous = event_hash(fields)
            rows.append({**fields, "incident_id": incident_id, "hash": previous})
        for chunk in range(0, len(rows), 20_000):
            conn.execute(sa.insert(TimelineEvent.__table__), rows[chunk:chunk + 20_000])
        conn.execute(sa.update(TimelineHead.__table__).where(TimelineHead.__table__.c.incident_id == incident_id)
                     .values(seq=EVENTS, hash=previous))
    return ref, previous


def _consume(client, headers, url) -> tuple[int, bytes, bytes]:
    """Read a streamed response chunk by chunk, keeping only its size, first and last bytes."""
    response = client.get(url, headers=headers, buffered=False)
    assert response.status_code == 200
    size, first, last = 0, b"", b""
    for chunk in response.response:
        chunk = chunk.encode() if isinstance(chunk, str) else chunk
        size += len(chunk)
        first = first or chunk[:2000]
        last = (last + chunk)[-4000:]
    response.close()
    return size, first, last


@pytest.mark.slow
def test_200k_events_stream_with_flat_memory(client, big_incident, lead_headers, record_property):
    ref, head = big_incident
    url = f"/api/v1/incidents/{ref}/timeline?format="
    started, cpu = time.perf_counter(), time.process_time()
    size, first, last = _consume(client, lead_headers, url + "csv")
    csv_seconds, csv_cpu = time.perf_counter() - started, time.process_time() - cpu
    assert first.startswith(b"message,datetime,timestamp,timestamp_desc")
    assert b"export.summary" in last and head.encode() in last and b"chain intact" in last

    results = {"csv_seconds": round(csv_seconds, 1), "csv_cpu_seconds": round(csv_cpu, 1), "csv_mb": round(size / 1e6, 1)}
    for fmt in ("csv", "json"):
        tracemalloc.start()
        try:
            size, first, last = _consume(client, lead_headers, url + fmt)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        results[f"{fmt}_peak_mb"] = round(peak / 1e6, 1)
        assert peak < PEAK_LIMIT, f"{fmt}: peak {peak / 1e6:.1f} MB for a {size / 1e6:.0f} MB export"
    summary = json.loads(last[last.rindex(b'"summary":') + len(b'"summary":'):].rstrip(b"\n")[:-1])
    assert summary["events"] == EVENTS and summary["verification"]["ok"] is True
    for key, value in results.items():
        record_property(key, value)
    print(f"\n200,000-event export: {results}")
