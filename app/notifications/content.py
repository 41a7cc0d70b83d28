"""What a notice says: the incident's shared facts, one recipient's own slice, completeness and changes.

Isolation is structural: the per-recipient part of a notice is built from that recipient's impact
row only, and our advice is re-assessed on that slice (the incident-wide recommendation's reasons
quote totals and categories across all customers). The shared free texts are scanned once for the
names and keys of affected customers, so a slip in a description cannot reach another customer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from pydantic import ValidationError

from app.assessment.recommend import AssessmentInput, assess
from app.datamap.taxonomy import taxonomy
from app.incidents.models import ImpactRow, Incident, IncidentStatus
from app.notifications.models import NoticeFacts
from app.notifications.payload import BreachContent, ChangeItem, ContentItem
from app.notifications.render import MessageKind, normalise_locale

# A regime stage's required_content slug -> the content items it stands for.
REQUIRED_ITEMS: dict[str, tuple[ContentItem, ...]] = {
    **{item.value: (item,) for item in ContentItem},
    "nature": (ContentItem.nature, ContentItem.breach_types, ContentItem.occurrence_period),
    "categories_and_counts": (ContentItem.data_categories, ContentItem.subject_categories,
                              ContentItem.est_subjects, ContentItem.est_records),
}
# Stage templates (playbooks/regimes) -> message kinds; other templates have no message here yet.
TEMPLATE_KINDS = {"notifications/processor_to_controller": MessageKind.processor_to_controller,
                  "notifications/authority_notification": MessageKind.authority_report,
                  "notifications/authority_update": MessageKind.authority_report,
                  "notifications/subject_notice": MessageKind.data_subject}
# Recipients a kind is drafted for: processor notices go to customers, the rest are our own duties.
KIND_RECIPIENTS = {MessageKind.processor_to_controller: {"controller"},
                   MessageKind.authority_report: {"supervisory_authority"},
                   MessageKind.data_subject: {"data_subjects"}}
SETTLED_STATUSES = {IncidentStatus.contained, IncidentStatus.notifying, IncidentStatus.closed}


@dataclass
class SharedFacts:
    """The facts every notice of one incident shares, validated once."""

    incident_ref: str
    drill: bool
    organisation_name: str
    aware_at: datetime | None
    nature: dict
    contact_point: dict | None
    likely_consequences: str | None
    measures: dict
    authority_name: str | None = None
    member_states: list[str] = field(default_factory=list)
    data_subjects_informed: str | None = None
    assessment_inputs: dict | None = None  # latest risk assessment, re-assessed per recipient


def shared_facts(*, incident: Incident, facts: NoticeFacts | None, organisation_name: str,
                 company_contact: dict | None, assessment_inputs: dict | None) -> SharedFacts:
    """The incident's shared facts: the incident record plus the notice facts and our contact point."""
    f = facts or NoticeFacts(incident_id=incident.id)
    ongoing = False if incident.contained_at or incident.status in SETTLED_STATUSES else None
    nature = {"breach_types": list(incident.breach_types or []),
              "description": (f.description or incident.summary or "").strip() or None,
              "occurred_from": incident.occurred_from, "occurred_to": incident.occurred_to,
              "detected_at": incident.detected_at, "contained_at": incident.contained_at, "ongoing": ongoing}
    contact = company_contact
    if f.contact_name.strip():
        contact = {"name": f.contact_name.strip(), "role": f.contact_role.strip() or None,
                   "email": f.contact_email.strip() or None, "phone": f.contact_phone.strip() or None}
    return SharedFacts(
        incident_ref=incident.ref, drill=incident.drill, organisation_name=organisation_name,
        aware_at=incident.aware_at, nature=nature, contact_point=contact,
        likely_consequences=f.likely_consequences.strip() or None,
        measures={"taken": list(f.measures_taken), "proposed": list(f.measures_proposed),
                  "recommended": list(f.measures_recommended)},
        authority_name=f.authority_name.strip() or None, member_states=list(f.member_states),
        data_subjects_informed=f.data_subjects_informed or None, assessment_inputs=assessment_inputs)


def shared_texts(shared: SharedFacts) -> list[str]:
    """The free texts every notice repeats, for the mention check."""
    texts = [shared.nature.get("description") or "", shared.likely_consequences or "", shared.authority_name or ""]
    texts += [m for items in shared.measures.values() for m in items]
    if shared.contact_point:
        texts += [str(v) for v in shared.contact_point.values() if v]
    return texts


def slice_counts(rows: Iterable[ImpactRow]) -> dict:
    """Categories and counts of one recipient's impact rows (one row per customer; our own rows summed)."""
    tax = taxonomy()
    rows = list(rows)
    data_keys = sorted({k for r in rows for k in r.data_categories})
    subject_keys = sorted({k for r in rows for k in r.subject_categories})
    data = []
    for key in data_keys:
        info = tax.data_categories.get(key)
        data.append({"key": key, "name": info.name if info else key, "art9": bool(info and info.art9),
                     "art10": bool(info and info.art10)})
    subjects = []
    for key in subject_keys:
        info = tax.subject_categories.get(key)
        subjects.append({"key": key, "name": info.name if info else key, "vulnerable": bool(info and info.vulnerable)})
    return {"data_categories": data, "subject_categories": subjects,
            "est_subjects": sum(r.est_subjects for r in rows) if rows else None,
            "est_records": sum(r.est_records for r in rows) if rows else None}


@lru_cache(maxsize=4096)
def _assess_cached(inputs_json: str) -> dict | None:
    try:
        result = assess(AssessmentInput.model_validate(json.loads(inputs_json)))
    except (ValidationError, ValueError):
        return None
    return {"enisa_score": float(result.enisa.score), "enisa_band": result.enisa.band.value,
            "notify_supervisory_authority": result.notify_supervisory_authority,
            "communicate_to_data_subjects": result.communicate_to_data_subjects,
            "reasons": list(result.reasons)}


def recipient_advice(shared: SharedFacts, counts: dict, rows: list[ImpactRow], locale: str) -> dict | None:
    """Our risk assessment re-run on this recipient's own data only; None before any assessment."""
    if not shared.assessment_inputs:
        return None
    inputs = dict(shared.assessment_inputs)
    inputs["data_categories"] = [c["key"] for c in counts["data_categories"]]
    inputs["subjects_count"] = counts["est_subjects"] or 0
    inputs["vulnerable_subjects"] = bool(inputs.get("vulnerable_subjects")) and any(r.vulnerable_subjects for r in rows)
    advice = _assess_cached(json.dumps(inputs, sort_keys=True, default=str))
    if advice is None:
        return None
    summary = ("Our assessment of the breach for the personal data we process on your behalf."
               if locale != "de" else "Unsere Einschätzung der Verletzung für die Daten, die wir in Ihrem Auftrag verarbeiten.")
    return {"summary": summary, **advice}


def content_of(shared: SharedFacts, counts: dict, advice: dict | None) -> dict:
    """The notice's content as JSON-ready facts: what is compared for 'changed since the last notice'."""
    return content_and_gaps(shared, counts, advice)[0]


def content_and_gaps(shared: SharedFacts, counts: dict, advice: dict | None) -> tuple[dict, set[str]]:
    """content_of() and the content items it leaves empty (for completeness(), without validating twice)."""
    content = BreachContent.model_validate({"nature": shared.nature, "categories_and_counts": counts,
                                           "contact_point": shared.contact_point,
                                           "likely_consequences": shared.likely_consequences,
                                           "measures": shared.measures})
    return ({**content.model_dump(mode="json", exclude={"missing"}), "advice": advice},
            {item.value for item in content.missing_items()})


def completeness(required: list[str], content: dict, empty: set[str] | None = None) -> tuple[list[str], list[str]]:
    """(present, missing) items of a stage's required content; unknown slugs cannot be checked: missing."""
    if empty is None:
        empty = {item.value for item in BreachContent.model_validate(
            {k: v for k, v in content.items() if k != "advice"}).missing_items()}
    present, missing = [], []
    for slug in required:
        if slug == "reasons_for_delay":
            continue  # owed only when late; asked for at approval
        items = REQUIRED_ITEMS.get(slug)
        if items is None:
            missing.append(slug)
            continue
        for item in items:
            (missing if item.value in empty else present).append(item.value)
    return list(dict.fromkeys(present)), list(dict.fromkeys(missing))


class MentionGuard:
    """Finds names and keys of affected customers in text, ignoring one's own (case-insensitive, whole words)."""

    def __init__(self, names: dict[int, tuple[str, str]]):
        self.owner: dict[str, int] = {}
        for cid, (key, name) in names.items():
            for term in (key, name):
                if term and len(term.strip()) >= 3:
                    self.owner.setdefault(term.strip().lower(), cid)
        terms = sorted(self.owner, key=len, reverse=True)
        self.pattern = (re.compile(r"(?<!\w)(" + "|".join(re.escape(t) for t in terms) + r")(?!\w)", re.IGNORECASE)
                        if terms else None)

    def mentioned(self, texts: Iterable[str]) -> dict[int, str]:
        """Controller id -> the term found, over all texts."""
        found: dict[int, str] = {}
        if self.pattern is None:
            return found
        for text in texts:
            for match in self.pattern.finditer(text or ""):
                found.setdefault(self.owner[match.group(1).lower()], match.group(1))
        return found


LABELS = {
    "en": {"description": "The description of what happened was updated.", "types": "Type of breach: {old} → {new}.",
           "period": "Time of the breach: {old} → {new}.", "contained": "The breach was contained at {new}.",
           "uncontained": "The breach is no longer considered contained.", "added": "added: {items}",
           "removed": "no longer affected: {items}", "number": "{old} → {new}", "contact": "New contact point: {new}.",
           "consequences": "Our view of the likely consequences was updated.", "measures": "New measures: {items}.",
           "advice": "Our assessment changed: {old} → {new}.", "none": "none"},
    "de": {"description": "Die Beschreibung des Vorfalls wurde aktualisiert.", "types": "Art der Verletzung: {old} → {new}.",
           "period": "Zeitraum der Verletzung: {old} → {new}.", "contained": "Die Verletzung wurde am {new} eingedämmt.",
           "uncontained": "Die Verletzung gilt nicht mehr als eingedämmt.", "added": "hinzugekommen: {items}",
           "removed": "nicht mehr betroffen: {items}", "number": "{old} → {new}",
           "contact": "Neue Kontaktstelle: {new}.", "consequences": "Unsere Einschätzung der wahrscheinlichen Folgen wurde aktualisiert.",
           "measures": "Neue Maßnahmen: {items}.", "advice": "Unsere Einschätzung hat sich geändert: {old} → {new}.",
           "none": "keine"},
}


def _num(value, locale: str) -> str:
    if value is None:
        return "?"
    return f"{int(value):,}".replace(",", "." if locale == "de" else ",")


def _time(value: str | None) -> str:
    return "?" if not value else value.replace("T", " ")[:16] + " UTC"


def changes_between(old: dict, new: dict, locale: str) -> list[dict]:
    """What changed from the facts of the last delivered notice to these facts, as Change dicts."""
    loc = normalise_locale(locale)
    t = LABELS[loc]
    changes: list[dict] = []
    add = lambda item, summary: changes.append({"item": item.value, "summary": summary})  # noqa: E731
    on, nn = old.get("nature") or {}, new.get("nature") or {}
    if on.get("description") != nn.get("description"):
        add(ChangeItem.nature, t["description"])
    if sorted(on.get("breach_types") or []) != sorted(nn.get("breach_types") or []):
        add(ChangeItem.breach_types, t["types"].format(old=", ".join(on.get("breach_types") or []) or t["none"],
                                                       new=", ".join(nn.get("breach_types") or []) or t["none"]))
    if (on.get("occurred_from"), on.get("occurred_to")) != (nn.get("occurred_from"), nn.get("occurred_to")):
        add(ChangeItem.occurrence_period, t["period"].format(
            old=f"{_time(on.get('occurred_from'))} – {_time(on.get('occurred_to'))}",
            new=f"{_time(nn.get('occurred_from'))} – {_time(nn.get('occurred_to'))}"))
    if on.get("contained_at") != nn.get("contained_at"):
        add(ChangeItem.containment, t["contained"].format(new=_time(nn["contained_at"])) if nn.get("contained_at")
            else t["uncontained"])
    oc, nc = old.get("categories_and_counts") or {}, new.get("categories_and_counts") or {}
    for name, item in (("data_categories", ChangeItem.data_categories),
                       ("subject_categories", ChangeItem.subject_categories)):
        before = {c["key"]: c["name"] for c in oc.get(name) or []}
        after = {c["key"]: c["name"] for c in nc.get(name) or []}
        parts = []
        if added := [after[k] for k in sorted(set(after) - set(before))]:
            parts.append(t["added"].format(items=", ".join(added)))
        if removed := [before[k] for k in sorted(set(before) - set(after))]:
            parts.append(t["removed"].format(items=", ".join(removed)))
        if parts:
            add(item, "; ".join(parts) + ".")
    for name, item in (("est_subjects", ChangeItem.est_subjects), ("est_records", ChangeItem.est_records)):
        if oc.get(name) != nc.get(name):
            add(item, t["number"].format(old=_num(oc.get(name), loc), new=_num(nc.get(name), loc)))
    if old.get("contact_point") != new.get("contact_point") and new.get("contact_point"):
        add(ChangeItem.contact_point, t["contact"].format(new=new["contact_point"]["name"]))
    if old.get("likely_consequences") != new.get("likely_consequences"):
        add(ChangeItem.likely_consequences, t["consequences"])
    om, nm = old.get("measures") or {}, new.get("measures") or {}
    fresh = [m for part in ("taken", "proposed", "recommended") for m in nm.get(part) or []
             if m not in (om.get(part) or [])]
    if fresh:
        add(ChangeItem.measures, t["measures"].format(items="; ".join(fresh)))
    oa, na = old.get("advice") or {}, new.get("advice") or {}
    if (oa.get("enisa_band"), oa.get("notify_supervisory_authority")) != (na.get("enisa_band"),
                                                                          na.get("notify_supervisory_authority")):
        show = lambda a: f"{a.get('enisa_score')} ({a.get('enisa_band')})" if a else t["none"]  # noqa: E731
        add(ChangeItem.advice, t["advice"].format(old=show(oa), new=show(na)))
    return changes

