"""The data map as one canonical document: export to YAML/CSV and the content hash that names a version."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import defaultdict
from typing import Iterator

import yaml
from sqlmodel import Session, select

from app.datamap.formats.csvmap import COLUMNS
from app.datamap.models import (Contact, Controller, ControllerJurisdiction, ProcessingDataCategory,
                                ProcessingRecord, ProcessingSubjectCategory, System)


def canonical_map(*, session: Session, include_secrets: bool = False) -> dict:
    """The whole map as the canonical document, sorted so equal maps give equal output."""
    jurisdictions: dict[int, list[str]] = defaultdict(list)
    for cid, code in session.exec(select(ControllerJurisdiction.controller_id, ControllerJurisdiction.code)):
        jurisdictions[cid].append(code)
    contacts: dict[int, list[dict]] = defaultdict(list)
    for c in session.exec(select(Contact).order_by(Contact.controller_id, Contact.role, Contact.email, Contact.name)):
        contacts[c.controller_id].append({"role": str(c.role), "name": c.name, "email": c.email, "phone": c.phone})
    controllers, keys = [], {}
    for c in session.exec(select(Controller).order_by(Controller.key)):
        keys[c.id] = c.key
        controllers.append(_controller_doc(c, sorted(jurisdictions[c.id]), contacts[c.id], include_secrets))
    systems, system_keys = [], {}
    for s in session.exec(select(System).order_by(System.key)):
        system_keys[s.id] = s.key
        systems.append({"key": s.key, "name": s.name, "description": s.description, "owner": s.owner,
                        "region": s.region})
    cats: dict[int, list[str]] = defaultdict(list)
    for rid, key in session.exec(select(ProcessingDataCategory.record_id, ProcessingDataCategory.category_key)):
        cats[rid].append(key)
    subs: dict[int, list[str]] = defaultdict(list)
    for rid, key in session.exec(select(ProcessingSubjectCategory.record_id, ProcessingSubjectCategory.subject_key)):
        subs[rid].append(key)
    processing = [
        {"controller": keys[r.controller_id], "system": system_keys[r.system_id], "role": str(r.role),
         "data_categories": sorted(cats[r.id]), "subject_categories": sorted(subs[r.id]),
         "est_subjects": r.est_subjects, "est_records": r.est_records, "region": r.region}
        for r in session.exec(select(ProcessingRecord))
    ]
    processing.sort(key=lambda p: (p["controller"], p["system"], p["role"]))
    return {"controllers": controllers, "systems": systems, "processing": processing}


def _controller_doc(c: Controller, jurisdictions: list[str], contacts: list[dict], include_secrets: bool) -> dict:
    doc = {"key": c.key, "name": c.name, "country": c.country, "jurisdictions": jurisdictions, "sector": c.sector,
           "locale": c.locale, "timezone": c.timezone}
    if c.notify_within_hours is not None:
        doc["contract"] = {"notify_within_hours": c.notify_within_hours}
    elif c.notify_within_business_days is not None:
        doc["contract"] = {"notify_within_business_days": c.notify_within_business_days,
                           "holiday_country": c.holiday_country}
    doc["contacts"] = contacts
    channels: dict = {"email": sorted(c.notify_emails or [])}
    if c.webhook_url:
        channels["webhook"] = {"url": c.webhook_url}
        if include_secrets and c.webhook_secret:
            channels["webhook"]["secret"] = c.webhook_secret
    doc["channels"] = channels
    return doc


def _by_key(document: dict) -> dict[str, dict]:
    return {"controllers": {c["key"]: c for c in document["controllers"]},
            "systems": {s["key"]: s for s in document["systems"]},
            "processing": {(p["controller"], p["system"], p["role"]): p for p in document["processing"]}}


def compare_maps(before: dict, after: dict) -> dict[str, dict[str, int]]:
    """Per section (controllers, systems, processing) how many entries were added, changed, removed, unchanged."""
    old, new = _by_key(before), _by_key(after)
    summary = {}
    for section in ("controllers", "systems", "processing"):
        a, b = old[section], new[section]
        changed = sum(1 for key in a.keys() & b.keys() if a[key] != b[key])
        summary[section] = {"added": len(b.keys() - a.keys()), "changed": changed,
                            "removed": len(a.keys() - b.keys()), "unchanged": len(a.keys() & b.keys()) - changed}
    return summary


def content_hash(document: dict) -> str:
    """SHA-256 over the canonical JSON of a map document (secrets are never part of it)."""
    payload = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def to_yaml(document: dict) -> str:
    """Render a map document as canonical YAML."""
    header = "# Breachline data map (canonical format; see README 'Data-map formats')\n"
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=120)


def to_csv_rows(document: dict) -> Iterator[str]:
    """Render a map document as CSV lines, one row per processing record."""
    controllers = {c["key"]: c for c in document["controllers"]}
    systems = {s["key"]: s for s in document["systems"]}
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for p in document["processing"]:
        c, s = controllers[p["controller"]], systems[p["system"]]
        contract = c.get("contract", {})
        writer.writerow({
            "controller": c["key"], "controller_name": c["name"], "country": c["country"],
            "jurisdictions": ";".join(c["jurisdictions"]), "sector": c["sector"], "locale": c["locale"],
            "timezone": c["timezone"], "notify_within_hours": contract.get("notify_within_hours", ""),
            "notify_within_business_days": contract.get("notify_within_business_days", ""),
            "holiday_country": contract.get("holiday_country", ""),
            "notify_emails": ";".join(c["channels"]["email"]),
            "webhook_url": c["channels"].get("webhook", {}).get("url", ""),
            "contacts": ";".join("|".join((k["role"], k["name"], k["email"], k["phone"])) for k in c["contacts"]),
            "system": s["key"], "system_name": s["name"], "system_description": s["description"],
            "system_owner": s["owner"], "system_region": s["region"], "role": p["role"],
            "data_categories": ";".join(p["data_categories"]),
            "subject_categories": ";".join(p["subject_categories"]),
            "est_subjects": p["est_subjects"], "est_records": p["est_records"], "region": p["region"],
        })
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.getvalue():
        yield buffer.getvalue()
