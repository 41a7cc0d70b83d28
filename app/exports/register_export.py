"""The breach register (Art. 33(5) GDPR) as CSV and PDF: every incident of a period with decision and notice times."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime

from sqlmodel import Session

from app.exports.charts import bar_chart
from app.exports.csv_export import neutralise
from app.exports.metrics import SETTLED, controller_notices
from app.flows.register import Register, entry_document

KINDS = ("supervisory_authority", "data_subjects", "controller")
COLUMNS = ("section", "ref", "title", "status", "incident_type", "breach_types", "drill", "detected_at", "aware_at",
           "contained_at", "closed_at", "customers", "est_subjects", "est_records", "data_categories",
           "special_categories", "vulnerable_subjects", "assessment", "enisa_score", "enisa_band",
           "decision_notify_sa", "decision_communicate_subjects", "overridden", "rationale", "recommendation_reasons",
           "status_rationale",
           *[f"{k}_{field}" for k in KINDS for field in ("state", "notified", "of", "first_notified_at")],
           "controllers_last_notified_at")


def _yes(value) -> str:
    return "" if value is None else "yes" if value else "no"


def last_controller_notice(*, session: Session, register: Register) -> dict[int, datetime]:
    """Per incident: when the last customer was notified (the first time each was)."""
    ids = [e.incident.id for e in register.breaches + register.not_breaches]
    last: dict[int, datetime] = {}
    for ob in controller_notices(session=session, incident_ids=ids):
        if ob.status in SETTLED and ob.met_at is not None:
            last[ob.incident_id] = max(ob.met_at, last.get(ob.incident_id, ob.met_at))
    return last


def rows(*, session: Session, register: Register) -> Iterator[list]:
    """The register as rows of COLUMNS: breaches first, then incidents ruled not to be personal data breaches."""
    last = last_controller_notice(session=session, register=register)
    for section, entries in (("breach", register.breaches), ("not_a_breach", register.not_breaches)):
        for entry in entries:
            d = entry_document(entry)
            impact, decision = d["impact"] or {}, d["decision"] or {}
            notices = [v for k in KINDS for v in (
                d["notified"].get(k, {}).get("state", "none"), d["notified"].get(k, {}).get("notified", ""),
                d["notified"].get(k, {}).get("of", ""), d["notified"].get(k, {}).get("first_at") or "")]
            when = last.get(entry.incident.id)
            yield [section, d["ref"], d["title"], d["status"], d["incident_type"], ";".join(d["breach_types"]),
                   _yes(d["drill"]), d["detected_at"], d["aware_at"] or "", d["contained_at"] or "",
                   d["closed_at"] or "", impact.get("controllers", ""), impact.get("est_subjects", ""),
                   impact.get("est_records", ""), ";".join(impact.get("data_categories", [])),
                   _yes(impact.get("special_categories")), _yes(impact.get("vulnerable_subjects")),
                   decision.get("assessment_seq", ""), decision.get("score", ""), decision.get("band", ""),
                   _yes(decision.get("notify_supervisory_authority")),
                   _yes(decision.get("communicate_to_data_subjects")), _yes(decision.get("overridden")),
                   decision.get("rationale") or "", " | ".join(decision.get("reasons", [])),
                   d["status_rationale"] or "", *notices,
                   when.isoformat().replace("+00:00", "Z") if when else ""]


def generate_csv(*, session: Session, register: Register) -> Iterator[str]:
    """The register as CSV text chunks, formula injection neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows(session=session, register=register):
        writer.writerow([neutralise(v) for v in row])
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def register_report_context(*, session: Session, register: Register, metrics: dict, now: datetime) -> dict:
    """What the register PDF shows: entries, the period's numbers and two charts."""
    return {"register": register, "metrics": metrics, "generated_at": now,
            "last_notice": last_controller_notice(session=session, register=register),
            "charts": [(title, bar_chart(list(metrics[key].items()), title=title, unit=" breaches"))
                       for key, title in (("incidents_by_type", "Breaches by incident type"),
                                          ("incidents_by_data_category", "Breaches by data category"))]}
