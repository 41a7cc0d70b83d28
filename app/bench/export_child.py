"""The exporting process of bench item g: `python -m app.bench.export_child URL REF OUT`; prints seconds and peak RSS.

Run as its own process so its peak RSS (ru_maxrss) is the export's alone, not the bench's.
"""

from __future__ import annotations

import json
import resource
import sys
import time


def _peak_rss_mb() -> float:
    """This process's peak RSS in MB: VmHWM, which starts afresh at exec (ru_maxrss can carry the
    high-water mark of the forking parent across exec on Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    """Stream the incident's CSV timeline export to OUT and report {"seconds", "bytes", "peak_rss_mb"}."""
    url, ref, out = sys.argv[1:4]
    from sqlmodel import Session, select

    from app.db import make_engine
    from app.exports.csv_export import generate
    from app.exports.options import ExportOptions
    from app.exports.scoping import build_scope
    from app.incidents.models import Incident
    from app.bench.generate import base_time

    engine = make_engine(url)
    started = time.perf_counter()
    size = 0
    with Session(engine) as session, open(out, "w", encoding="utf-8", newline="") as fh:
        incident = session.exec(select(Incident).where(Incident.ref == ref)).one()
        scope = build_scope(session=session, incident=incident, options=ExportOptions(fmt="csv"))
        for chunk in generate(session=session, scope=scope, now=base_time()):
            fh.write(chunk)
            size += len(chunk)
    seconds = time.perf_counter() - started
    peak = _peak_rss_mb()
    print(json.dumps({"seconds": seconds, "bytes": size, "peak_rss_mb": round(peak, 1)}))


if __name__ == "__main__":
    main()
