"""The assessment form: its fields with their help text, and turning a post into the API's input models."""

from __future__ import annotations

from dataclasses import dataclass

from werkzeug.datastructures import MultiDict

from app.assessment.enisa import Identifiability
from app.assessment.recommend import Backup, BreachType, Encryption, Exfiltration, Recipient

CHECKBOXES = ("vulnerable_subjects", "malicious", "recovery_confirmed")
OPTIONAL_NUMBERS = ("restored_within_hours", "recipients_count")
DECISIONS = {"": None, "yes": True, "no": False}  # "": follow the recommendation


@dataclass(frozen=True)
class FieldSpec:
    """One input of the form: how it is shown and what it means for the assessment."""

    name: str
    label: str
    kind: str  # checks, keys, number, checkbox, select
    help: str
    choices: tuple[str, ...] = ()
    # The ENISA factor (dpc, ei, cb) whose explanation is shown beside this input: one input per factor,
    # since CB alone depends on six inputs and the same paragraph six times hides what differs.
    factor: str | None = None


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("data_categories", "Data categories (fideslang keys, one per line)", "keys",
              "The highest ENISA type among them sets the base DPC; special categories (Art. 9), criminal data "
              "(Art. 10), financial data, identity documents and credentials weigh towards high risk.", (), "dpc"),
    FieldSpec("dpc_adjustment", "ENISA contextual adjustment of the DPC", "select",
              "Whole steps within ENISA's range for the data type: raise it when the data allows profiling or "
              "concerns vulnerable groups, lower it when it gives no real insight or was already public.",
              ("-3", "-2", "-1", "0", "1", "2", "3")),
    FieldSpec("identifiability", "Ease of identification", "select",
              "How easily the people can be identified from the data: negligible 0.25, limited 0.5, "
              "significant 0.75, maximum 1 (ENISA EI).", tuple(Identifiability), "ei"),
    FieldSpec("subjects_count", "Number of data subjects", "number",
              "Estimated people affected. ENISA weighs volume after the formula; a large number aggravates "
              "(EDPB 01/2021 case 11)."),
    FieldSpec("vulnerable_subjects", "Vulnerable people affected (children, patients, ...)", "checkbox",
              "Weighs towards high risk (WP250; EDPB 01/2021 case 3)."),
    FieldSpec("breach_types", "Breach types", "checks",
              "Confidentiality: disclosure or access; integrity: alteration; availability: loss or destruction, "
              "temporary included. One breach can be several (WP250).", tuple(BreachType), "cb"),
    FieldSpec("malicious", "Malicious intent", "checkbox",
              "A deliberate act (attack, theft, insider) adds 0.5 to CB and makes misuse more likely."),
    FieldSpec("exfiltration", "Did data leave our control?", "select",
              "'unknown' is treated as possible exfiltration, never as 'no': data can leave without a trace in "
              "the logs (EDPB 01/2021 case 1).", tuple(Exfiltration)),
    FieldSpec("recipient", "Who received or may hold the data", "select",
              "trusted: identified and bound to confidentiality; untrusted: identified without such a duty; "
              "unknown: attacker, thief, anyone on the internet.", tuple(Recipient)),
    FieldSpec("recipients_count", "Number of unintended recipients (empty: not known)", "number",
              "A known, small number of recipients lowers the ENISA confidentiality grade."),
    FieldSpec("recovery_confirmed", "Recipients confirmed deletion or returned the data", "checkbox",
              "A subsequent measure that can make a high risk no longer likely (Art. 34(3)(b); EDPB 01/2021 case 9)."),
    FieldSpec("encryption", "Encryption of the affected data", "select",
              "Only state-of-the-art encryption with a safe key makes data unintelligible (Art. 34(3)(a)); weak "
              "encryption or a compromised key counts as none.", tuple(Encryption)),
    FieldSpec("backup", "Backup of the affected data", "select",
              "A full backup restored quickly can make an availability breach unlikely to result in a risk.",
              tuple(Backup)),
    FieldSpec("restored_within_hours", "Hours until access was restored (empty: not yet)", "number",
              "Within 24 h from a full backup counts as a quick restore (EDPB 01/2021 cases 1 and 2)."),
)


def _keys(form: MultiDict, name: str) -> list[str]:
    values = []
    for item in form.getlist(name):
        values += [k.strip() for k in item.replace(",", "\n").splitlines() if k.strip()]
    return values


def assessment_fields(form: MultiDict) -> dict:
    """The facts of a form post, as raw values for AssessmentInput (which names what is wrong)."""
    data: dict = {"breach_types": form.getlist("breach_types"), "data_categories": _keys(form, "data_categories")}
    for name in CHECKBOXES:
        data[name] = form.get(name) == "on"
    for name in ("subjects_count", "exfiltration", "encryption", "backup", "recipient", "identifiability"):
        data[name] = form.get(name, "").strip()
    for name in OPTIONAL_NUMBERS:
        raw = form.get(name, "").strip()
        data[name] = raw or None
    data["dpc_adjustment"] = form.get("dpc_adjustment", "").strip() or 0
    return data


def decision_fields(form: MultiDict) -> tuple[dict, str]:
    """The decision of a form post (missing answers follow the recommendation) and the rationale."""
    decision = {name: DECISIONS.get(form.get(name, ""), form.get(name))
                for name in ("notify_supervisory_authority", "communicate_to_data_subjects")}
    return decision, form.get("rationale", "")
