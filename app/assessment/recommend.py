"""Notify / do-not-notify recommendation for one personal data breach, written as a list of rules.

Sources: GDPR Art. 33 and 34; EDPB Guidelines 9/2022 (which keep WP250 and its Annex B examples);
EDPB Guidelines 01/2021, cited as "EDPB 01/2021 case N". Each breach type present is an aspect.
`no_risk` rules show an aspect unlikely to result in a risk; the SA is notified while any aspect
is left. `high_risk` rules name the aspects they stem from; the data subjects are told when one
holds for an aspect left that no Art. 34(3) `exempt` rule covers. The DPO decides; this explains.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.assessment import enisa
from app.assessment.enisa import (AvailabilityLoss, Band, ConfidentialityLoss, Identifiability,
                                  IntegrityLoss, Severity)
from app.core.numbers import COUNT_MAX
from app.datamap.taxonomy import EnisaType, taxonomy

# Breachline's working thresholds, not numbers from the law. Restore: EDPB 01/2021 case 1 took "a
# few hours" (not notified), case 2 five working days (notified). Recipients: case 9 had one; WP250
# Annex B example 9 (a 1,000+ mailing list) is notifiable. Volume: case 11 (100,000 customers).
QUICK_RESTORE_HOURS = 24
FEW_RECIPIENTS = 5
LARGE_SCALE_SUBJECTS = 10_000


class BreachType(StrEnum):
    """Breach types of WP250 and EDPB Guidelines 9/2022; one breach can be several."""

    confidentiality = "confidentiality"  # unauthorised or accidental disclosure of, or access to, data
    integrity = "integrity"  # unauthorised or accidental alteration
    availability = "availability"  # loss of access to, or destruction of, data (temporary included)


class Exfiltration(StrEnum):
    """Whether data left the controller's control."""

    yes = "yes"
    no = "no"  # ruled out, e.g. by complete egress logs for the whole window
    unknown = "unknown"  # not ruled out: always treated as possible exfiltration


class Encryption(StrEnum):
    """Protection of the affected data at the time of the breach."""

    none = "none"
    weak = "weak"  # outdated algorithm or short key: treated as none
    state_of_the_art_key_safe = "state_of_the_art_key_safe"  # unintelligible to the holder, Art. 34(3)(a)
    state_of_the_art_key_compromised = "state_of_the_art_key_compromised"  # key exposed too: treated as none


class Backup(StrEnum):
    """Backup of the affected data."""

    none = "none"
    partial = "partial"
    full = "full"


class Recipient(StrEnum):
    """Who received or may hold the data."""

    none = "none"  # nobody is known to have received or accessed the data
    trusted = "trusted"  # identified and bound to confidentiality (partner, professional secrecy)
    untrusted = "untrusted"  # identified, no such duty (wrong customer, former employee)
    unknown = "unknown"  # identity unknown: attacker, thief, anyone on the internet


class AssessmentInput(BaseModel):
    """The facts an assessor establishes about one breach."""

    model_config = ConfigDict(extra="forbid")

    breach_types: list[BreachType] = Field(min_length=1)
    data_categories: list[str]  # fideslang data category keys
    subjects_count: int = Field(ge=0, le=COUNT_MAX)
    vulnerable_subjects: bool
    malicious: bool
    exfiltration: Exfiltration
    encryption: Encryption
    backup: Backup
    restored_within_hours: float | None = Field(default=None, ge=0)  # None: not (yet) restored
    recipient: Recipient
    recipients_count: int | None = Field(default=None, ge=0, le=COUNT_MAX)  # None: not known
    recovery_confirmed: bool  # recipients confirmed deletion or returned the data
    identifiability: Identifiability
    dpc_adjustment: int = Field(default=0, ge=-3, le=3)  # ENISA contextual adjustment, whole steps

    @field_validator("data_categories")
    @classmethod
    def _known_categories(cls, keys: list[str]) -> list[str]:
        known = taxonomy().data_categories
        unknown = [k for k in keys if k not in known]
        if unknown:
            noun = "category" if len(unknown) == 1 else "categories"
            raise ValueError(f"unknown data {noun} {', '.join(repr(k) for k in unknown)}: "
                             "use a fideslang key such as 'user.contact.email'")
        return keys


class EnisaScore(BaseModel):
    """The ENISA numbers of one assessment."""

    dpc: Decimal
    ei: Decimal
    cb: Decimal
    score: Decimal
    band: Band


class AssessmentResult(BaseModel):
    """The recommendation: two decisions, the ENISA score and the reasons behind them."""

    enisa: EnisaScore
    enisa_explanations: dict[str, str]  # dpc / ei / cb / se -> what it is and why this value
    notify_supervisory_authority: bool
    communicate_to_data_subjects: bool
    document_internally: Literal[True] = True  # Art. 33(5): every breach goes in the register
    reasons: list[str]


@dataclass(frozen=True)
class Facts:
    """What the rules look at, derived once from the input."""

    inp: AssessmentInput
    types: frozenset[BreachType]  # selected types plus confidentiality when exfiltration is possible
    special: tuple[str, ...]  # Art. 9 category names
    criminal: tuple[str, ...]  # Art. 10 category names
    fraud_enabling: tuple[str, ...]  # financial data, identity documents, credentials
    vulnerable: bool
    unintelligible: bool
    party: Recipient  # who may hold the data, exfiltration taken into account
    possible_exfiltration: bool
    restored_quickly: bool
    severity: Severity

    @property
    def recipients(self) -> str:
        """The number of recipients in words."""
        n = self.inp.recipients_count
        return f"{n} recipient{'s' if n != 1 else ''}" if n is not None else "an unknown number of recipients"

    @property
    def few_recipients(self) -> bool:
        """A known, small number of recipients."""
        return self.inp.recipients_count is not None and self.inp.recipients_count <= FEW_RECIPIENTS

    @property
    def ordinary_data(self) -> bool:
        """No special categories, criminal, financial, ID or credential data, no vulnerable people."""
        return not (self.special or self.criminal or self.fraud_enabling or self.vulnerable)


def derive(inp: AssessmentInput) -> Facts:
    """Derive the facts the rules use, including the ENISA grades."""
    cats = [taxonomy().data_categories[k] for k in inp.data_categories]
    possible = inp.exfiltration is not Exfiltration.no
    types = set(inp.breach_types)
    if possible or inp.recipient is not Recipient.none:
        types.add(BreachType.confidentiality)
    party = inp.recipient
    if party is Recipient.none and possible:
        party = Recipient.unknown  # data left (or may have left) and nobody knows who holds it
    restored = (inp.backup is Backup.full and inp.restored_within_hours is not None
                and inp.restored_within_hours <= QUICK_RESTORE_HOURS)
    severity = enisa.severity(inp.data_categories, inp.dpc_adjustment, inp.identifiability,
                              *_grades(types, inp, party, restored), inp.malicious)
    return Facts(
        inp=inp, types=frozenset(types),
        special=tuple(c.name for c in cats if c.art9),
        criminal=tuple(c.name for c in cats if c.art10),
        fraud_enabling=tuple(c.name for c in cats
                             if c.enisa_type is EnisaType.financial or c.government_id or c.credentials),
        vulnerable=inp.vulnerable_subjects or any(c.vulnerable for c in cats),
        unintelligible=inp.encryption is Encryption.state_of_the_art_key_safe,
        party=party, possible_exfiltration=possible, restored_quickly=restored, severity=severity)


def _grades(types: set[BreachType], inp: AssessmentInput, party: Recipient,
            restored: bool) -> tuple[ConfidentialityLoss, IntegrityLoss, AvailabilityLoss]:
    """Map the facts to ENISA's confidentiality, integrity and availability grades."""
    if BreachType.confidentiality not in types:
        conf = ConfidentialityLoss.none
    elif party is Recipient.none:
        conf = ConfidentialityLoss.exposed_no_evidence
    elif party is not Recipient.unknown and inp.recipients_count is not None:
        conf = ConfidentialityLoss.known_recipients
    else:
        conf = ConfidentialityLoss.unknown_recipients
    integ = (IntegrityLoss.none if BreachType.integrity not in types
             else IntegrityLoss.recovered_before_use if restored
             else IntegrityLoss.misused_unrecoverable if inp.backup is Backup.none
             else IntegrityLoss.misused_recoverable)
    avail = (AvailabilityLoss.none if BreachType.availability not in types
             else AvailabilityLoss.recoverable if restored
             else AvailabilityLoss.full_no_backup if inp.backup is Backup.none and inp.restored_within_hours is None
             else AvailabilityLoss.temporary)
    return conf, integ, avail


Cond = Callable[[Facts], bool]
Text = Callable[[Facts], str]
C, I, A = BreachType.confidentiality, BreachType.integrity, BreachType.availability
ONLY_C, ONLY_I, ONLY_A = frozenset({C}), frozenset({I}), frozenset({A})
EVERY = frozenset(BreachType)  # stems from the data itself, whatever happened to it


class Effect(StrEnum):
    """What a rule does when its condition holds."""

    no_risk = "no_risk"  # these aspects are unlikely to result in a risk: no Art. 33 notification for them
    exempt = "exempt"  # Art. 34(3)(a)/(b): these aspects no longer make a high risk likely
    high_risk = "high_risk"  # likely high risk through these aspects (Art. 34(1))
    note = "note"  # an interpretation the DPO should see; decides nothing


@dataclass(frozen=True)
class Rule:
    """Condition -> effect on some breach aspects, with the reason text a DPO reads."""

    effect: Effect
    aspects: frozenset[BreachType]
    when: Cond
    reason: Text


def _hours(f: Facts) -> str:
    return f"{enisa.fmt(Decimal(str(f.inp.restored_within_hours)))} h"


# The rules, in the order their reasons are read. Mitigations first: what takes a risk away.
MITIGATIONS: list[Rule] = [
    Rule(Effect.no_risk, ONLY_C, lambda f: f.unintelligible, lambda f: (
        "The data was encrypted with a state-of-the-art algorithm and the key was not compromised, so "
        "whoever obtained it cannot read it: the disclosure is unlikely to result in a risk and Art. "
        "34(3)(a) GDPR exempts communication (EDPB 01/2021 cases 1, 6 and 10; WP250 Annex B example 1).")),
    Rule(Effect.no_risk, ONLY_C, lambda f: (
        f.party is Recipient.trusted and f.inp.recovery_confirmed and f.few_recipients
        and not (f.special or f.criminal) and not f.inp.malicious), lambda f: (
        f"The data reached only {f.recipients}, trusted and bound to confidentiality, who confirmed "
        "deletion; no special categories were involved: unlikely to result in a risk (EDPB 01/2021 case 9).")),
    Rule(Effect.no_risk, ONLY_C, lambda f: (
        f.party is Recipient.untrusted and f.inp.recovery_confirmed and f.few_recipients
        and f.ordinary_data and not f.inp.malicious), lambda f: (
        "Ordinary data (no financial data, identity documents, credentials, special categories or "
        f"vulnerable people) reached {f.recipients} by mistake and was returned or deleted: unlikely "
        "to result in a risk (EDPB 01/2021 case 13).")),
    Rule(Effect.exempt, ONLY_C, lambda f: (
        f.party is Recipient.trusted and f.inp.recovery_confirmed and not f.inp.malicious), lambda f: (
        "Art. 34(3)(b) GDPR: the trusted recipient(s) confirmed deletion, a subsequent measure after "
        "which a high risk is no longer likely (EDPB 01/2021 case 9). The SA is still notified because "
        "of the kind of data or the number of recipients.")),
    Rule(Effect.no_risk, ONLY_A, lambda f: (
        f.restored_quickly and not (f.special or f.criminal or f.vulnerable)), lambda f: (
        f"Access to the data was restored within {_hours(f)} with a full backup in place, and neither "
        "special categories nor vulnerable people are involved: the outage is unlikely to result in a risk "
        "(EDPB 01/2021 case 1; WP250 Annex B example 3, a brief outage).")),
    Rule(Effect.exempt, ONLY_A, lambda f: f.restored_quickly, lambda f: (
        f"Art. 34(3)(b) GDPR: availability was restored from a full backup within {_hours(f)}, so the "
        "outage no longer makes a high risk likely; the SA is still notified because for patients, "
        "children or special categories even a short outage can cause harm (EDPB 01/2021 case 3).")),
    Rule(Effect.no_risk, ONLY_I, lambda f: f.restored_quickly and not f.inp.malicious, lambda f: (
        f"The altered data was restored from a full backup within {_hours(f)} and nobody acted with "
        "malice, so it was recovered before use (ENISA 2013, CB integrity 0).")),
]

_PARTY = {
    Recipient.none: "was exposed, with no evidence that anyone accessed it",
    Recipient.trusted: "was disclosed to {n} bound to confidentiality, but not every condition of EDPB "
                       "01/2021 case 9 holds (few recipients, confirmed deletion, no special categories)",
    Recipient.untrusted: "was disclosed to {n}, identified but without a duty of confidentiality",
    Recipient.unknown: "may be held by an unidentified party",
}

# Why a live aspect carries a risk: Art. 33(1) makes notification the default.
RISKS: dict[BreachType, Text] = {
    C: lambda f: (
        f"Confidentiality: the personal data {_PARTY[f.party].format(n=f.recipients)} and was not "
        "protected by state-of-the-art encryption with a safe key; the disclosure is not shown to be "
        "unlikely to result in a risk (Art. 33(1) GDPR; EDPB Guidelines 9/2022)."),
    A: lambda f: (
        "Availability: " + (
            "even with a quick restore, loss of access to special categories or to data about vulnerable "
            "people can delay care or decisions about them (EDPB 01/2021 case 3; WP250 Annex B example 8)."
            if f.restored_quickly else
            f"the data was not restored from a full backup within {QUICK_RESTORE_HOURS} h "
            f"(backup: {f.inp.backup.value}, restored: "
            f"{_hours(f) if f.inp.restored_within_hours is not None else 'not yet'}); a loss of "
            "availability that is not quickly remedied is a risk (EDPB 01/2021 case 2).")),
    I: lambda f: (
        "Integrity: altered data " + (
            "was restored, but a malicious actor may have used or relied on it before the restore"
            if f.restored_quickly else "was not restored from a full backup quickly"
        ) + " (ENISA 2013, CB integrity; WP250 on integrity breaches)."),
}

# High-risk triggers: what makes a breach likely to result in a high risk (Art. 34(1)).
TRIGGERS: list[Rule] = [
    Rule(Effect.high_risk, EVERY, lambda f: bool(f.special), lambda f: (
        f"Special categories of data (Art. 9 GDPR: {', '.join(f.special)}) are affected: EDPB Guidelines "
        "01/2021 treat such breaches as likely high risk (cases 3, 12 and 14).")),
    Rule(Effect.high_risk, EVERY, lambda f: bool(f.criminal), lambda f: (
        f"Data on criminal convictions and offences (Art. 10 GDPR: {', '.join(f.criminal)}) is affected: "
        "exposure or loss can lead to discrimination and reputational damage (Recital 85), a likely high risk.")),
    Rule(Effect.high_risk, ONLY_C, lambda f: (
        bool(f.fraud_enabling) and f.party in (Recipient.untrusted, Recipient.unknown)), lambda f: (
        f"Financial data, identity documents or credentials ({', '.join(f.fraud_enabling)}) may be in the "
        "hands of an untrusted or unknown party: fraud and identity theft become possible, a likely high "
        "risk (EDPB 01/2021 cases 7 and 17; Recital 85).")),
    Rule(Effect.high_risk, EVERY, lambda f: f.vulnerable, lambda f: (
        "Vulnerable people (children, patients or others less able to protect themselves) are affected: "
        "WP250 and EDPB 01/2021 (case 3) weigh this towards high risk.")),
    Rule(Effect.high_risk, ONLY_C, lambda f: (
        f.inp.malicious and f.possible_exfiltration and f.party is Recipient.unknown), lambda f: (
        "The data was, or may have been, taken deliberately by an unidentified party: its use for phishing, "
        "fraud or identity theft cannot be ruled out, a likely high risk (EDPB 01/2021 cases 4, 5 and 11).")),
    Rule(Effect.high_risk, EVERY, lambda f: f.severity.band in (Band.high, Band.very_high), lambda f: (
        f"The ENISA severity is {enisa.fmt(f.severity.score)} ({f.severity.band.value.replace('_', ' ')}); "
        "ENISA 2013 reads high and very high as a likely high risk to individuals.")),
]

# Notes: interpretations of the input that the DPO should see next to the decision.
NOTES: list[Rule] = [
    Rule(Effect.note, EVERY, lambda f: f.inp.exfiltration is Exfiltration.unknown, lambda f: (
        "Exfiltration could not be ruled out, so it is treated as possible exfiltration, never as 'no': "
        "data can leave without a trace in the logs (EDPB 01/2021 case 1, para. 19).")),
    Rule(Effect.note, EVERY, lambda f: C in f.types and C not in f.inp.breach_types, lambda f: (
        "Confidentiality was not selected, but the data may have left our control or reached a recipient, "
        "so the breach is also assessed as a confidentiality breach (WP250: one breach can be several types).")),
    Rule(Effect.note, EVERY, lambda f: C in f.types and f.inp.encryption is Encryption.weak, lambda f: (
        "The encryption was not state of the art, so the data is treated as unencrypted: Art. 34(3)(a) "
        "needs data that is unintelligible to anyone not authorised to access it.")),
    Rule(Effect.note, EVERY, lambda f: (
        C in f.types and f.inp.encryption is Encryption.state_of_the_art_key_compromised), lambda f: (
        "The key was compromised together with the data, so the data is treated as unencrypted "
        "(WP250: encryption protects only while the key is safe).")),
    Rule(Effect.note, EVERY, lambda f: f.party is Recipient.untrusted and f.inp.malicious, lambda f: (
        "The data is with an identified person acting deliberately: the controller cannot rule out misuse, "
        "so this is a risk, but a known recipient is not by itself a high risk (EDPB 01/2021 case 8).")),
    Rule(Effect.note, EVERY, lambda f: f.inp.subjects_count >= LARGE_SCALE_SUBJECTS, lambda f: (
        f"{f.inp.subjects_count:,} people are affected: ENISA weighs the number of individuals after the "
        "formula and EDPB 01/2021 (case 11) treats a large volume as aggravating.")),
    Rule(Effect.note, EVERY, lambda f: (
        f.vulnerable and f.inp.dpc_adjustment <= 0 and f.severity.dpc.value < 4), lambda f: (
        "Vulnerable people are affected but the ENISA DPC was not raised: ENISA allows up to +3 for "
        "vulnerable groups; consider a contextual adjustment.")),
]

DOCUMENT = ("Record the breach in the breach register with its facts, effects and remedial action, "
            "whatever the notification decision (Art. 33(5) GDPR).")


def assess(inp: AssessmentInput) -> AssessmentResult:
    """Recommend whether to notify the SA and tell the data subjects, with reasons."""
    f = derive(inp)
    reasons = [DOCUMENT] + [n.reason(f) for n in NOTES if n.when(f)]
    if not inp.data_categories and inp.subjects_count == 0:
        reasons.append("No personal data and no data subjects are recorded: this is not a personal data "
                       "breach (Art. 4(12) GDPR), so Art. 33 and 34 do not apply; other regimes (NIS2, "
                       "DORA) may. Re-assess as soon as personal data is found to be involved.")
        return _result(f, False, False, reasons)

    fired = [r for r in MITIGATIONS + TRIGGERS if r.aspects & f.types and r.when(f)]
    no_risk = _aspects(fired, Effect.no_risk) & f.types
    exempt = no_risk | _aspects(fired, Effect.exempt)
    live = f.types - no_risk
    notify = bool(live)
    reasons += [r.reason(f) for r in fired if r.effect is Effect.no_risk]
    reasons += [RISKS[a](f) for a in BreachType if a in live]
    if notify:
        reasons.append("Notify the supervisory authority without undue delay and within 72 hours of becoming "
                       "aware (Art. 33(1) GDPR); what is not yet known may follow in phases (Art. 33(4)).")
    else:
        reasons.append("Notification to the supervisory authority is not required: every aspect of the breach "
                       "is unlikely to result in a risk (Art. 33(1) GDPR). Keep this reasoning in the register "
                       "(Art. 33(5)) and re-assess if new facts emerge.")

    high = [r for r in fired if r.effect is Effect.high_risk]
    effective = [r for r in high if (r.aspects & live) - exempt]
    communicate = notify and bool(effective)
    for r in high:
        tail = "" if r in effective else " It does not lead to communication here: see the mitigating measures."
        reasons.append(r.reason(f) + tail)
    if high:
        reasons += [r.reason(f) for r in fired if r.effect is Effect.exempt and r.aspects & live]
    if communicate:
        reasons.append("Communicate the breach to the data subjects without undue delay, in clear and plain "
                       "language, with at least the content of Art. 33(3)(b)-(d) (Art. 34(1)-(2) GDPR).")
        reasons.append("If contacting each person would involve disproportionate effort, Art. 34(3)(c) allows "
                       "a public communication instead; that is the DPO's call and is not automated here.")
    elif high:
        reasons.append("Communication to the data subjects is not required: the factors that point to a high "
                       "risk are neutralised as described above (Art. 34(3) GDPR).")
    else:
        reasons.append("Communication to the data subjects is not required: nothing points to a high risk "
                       "(Art. 34(1) GDPR); informing them voluntarily remains possible.")
    reasons.append(f.severity.score_explanation)
    return _result(f, notify, communicate, reasons)


def _aspects(rules: list[Rule], effect: Effect) -> frozenset[BreachType]:
    return frozenset(a for r in rules if r.effect is effect for a in r.aspects)


def _result(f: Facts, notify: bool, communicate: bool, reasons: list[str]) -> AssessmentResult:
    s = f.severity
    return AssessmentResult(
        enisa=EnisaScore(dpc=s.dpc.value, ei=s.ei.value, cb=s.cb.value, score=s.score, band=s.band),
        enisa_explanations=s.explanations, notify_supervisory_authority=notify,
        communicate_to_data_subjects=communicate, reasons=reasons)
