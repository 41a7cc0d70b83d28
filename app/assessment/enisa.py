"""ENISA 2013 breach severity (SE = DPC x EI + CB) as pure functions with explanations.

Source: ENISA, "Recommendations for a methodology of the assessment of severity of personal data
breaches", working document v1.0, December 2013 (REGULATORY.md §3). Arithmetic is Decimal so that
a score of exactly 2.0 lands in "medium" and is never 1.9999.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from app.datamap.taxonomy import DataCategoryInfo, EnisaType, taxonomy

__all__ = [
    "EnisaType", "Identifiability", "ConfidentialityLoss", "IntegrityLoss", "AvailabilityLoss",
    "Band", "Factor", "Severity", "ADJUSTMENT_RANGE", "base_type", "dpc", "ei", "cb", "band",
    "severity", "fmt",
]


class Identifiability(StrEnum):
    """How easily the people behind the breached data can be identified (ENISA EI)."""

    negligible = "negligible"  # 0.25: practically impossible to link the data to a person
    limited = "limited"  # 0.5: possible only with additional data that is hard to obtain
    significant = "significant"  # 0.75: possible with some effort, e.g. by combining public sources
    maximum = "maximum"  # 1: the data names the person directly (full name, ID number, photo)


class ConfidentialityLoss(StrEnum):
    """ENISA CB grade for loss of confidentiality."""

    none = "none"  # not a confidentiality breach
    exposed_no_evidence = "exposed_no_evidence"  # 0: exposed, no evidence of illegal processing
    known_recipients = "known_recipients"  # +0.25: disclosed to a known number of recipients
    unknown_recipients = "unknown_recipients"  # +0.5: disclosed to an unknown number of recipients


class IntegrityLoss(StrEnum):
    """ENISA CB grade for loss of integrity."""

    none = "none"  # not an integrity breach
    recovered_before_use = "recovered_before_use"  # 0: altered, but recovered before any use
    misused_recoverable = "misused_recoverable"  # +0.25: possibly used while wrong, recoverable
    misused_unrecoverable = "misused_unrecoverable"  # +0.5: possibly used while wrong, not recoverable


class AvailabilityLoss(StrEnum):
    """ENISA CB grade for loss of availability."""

    none = "none"  # not an availability breach
    recoverable = "recoverable"  # 0: recoverable without difficulty
    temporary = "temporary"  # +0.25: temporarily unavailable
    full_no_backup = "full_no_backup"  # +0.5: fully lost, no backup to recover from


class Band(StrEnum):
    """ENISA severity level: low < 2 <= medium < 3 <= high < 4 <= very_high."""

    low = "low"
    medium = "medium"
    high = "high"
    very_high = "very_high"


# Whole-step contextual adjustment allowed per base type, REGULATORY.md §3; each range keeps the
# final DPC inside 1..4 by construction (simple 1..4, behavioural 1..4, financial 1..4, ...).
ADJUSTMENT_RANGE: dict[EnisaType, tuple[int, int]] = {
    EnisaType.simple: (0, 3),
    EnisaType.behavioural: (-1, 2),
    EnisaType.financial: (-2, 1),
    EnisaType.sensitive: (-3, 0),
}

_EI = {
    Identifiability.negligible: Decimal("0.25"),
    Identifiability.limited: Decimal("0.5"),
    Identifiability.significant: Decimal("0.75"),
    Identifiability.maximum: Decimal("1"),
}
_EI_WHY = {
    Identifiability.negligible: "it is practically impossible to link the data to a person",
    Identifiability.limited: "the people can be identified only with additional data that is hard to obtain",
    Identifiability.significant: "the people can be identified with some effort, e.g. by combining sources",
    Identifiability.maximum: "the data identifies the people directly",
}
_CONFIDENTIALITY = {
    ConfidentialityLoss.none: (Decimal("0"), "no loss of confidentiality"),
    ConfidentialityLoss.exposed_no_evidence: (Decimal("0"), "data exposed, no evidence of illegal processing"),
    ConfidentialityLoss.known_recipients: (Decimal("0.25"), "disclosed to a known number of recipients"),
    ConfidentialityLoss.unknown_recipients: (Decimal("0.5"), "disclosed to an unknown number of recipients"),
}
_INTEGRITY = {
    IntegrityLoss.none: (Decimal("0"), "no loss of integrity"),
    IntegrityLoss.recovered_before_use: (Decimal("0"), "altered but recovered before use"),
    IntegrityLoss.misused_recoverable: (Decimal("0.25"), "altered and possibly used, recoverable"),
    IntegrityLoss.misused_unrecoverable: (Decimal("0.5"), "altered and possibly used, not recoverable"),
}
_AVAILABILITY = {
    AvailabilityLoss.none: (Decimal("0"), "no loss of availability"),
    AvailabilityLoss.recoverable: (Decimal("0"), "recoverable without difficulty"),
    AvailabilityLoss.temporary: (Decimal("0.25"), "temporarily unavailable"),
    AvailabilityLoss.full_no_backup: (Decimal("0.5"), "fully lost with no backup"),
}
_MALICIOUS = Decimal("0.5")
_BAND_FLOORS = ((Decimal("4"), Band.very_high), (Decimal("3"), Band.high), (Decimal("2"), Band.medium))


@dataclass(frozen=True)
class Factor:
    """One ENISA factor: its value and a sentence saying what it is and why it has this value."""

    value: Decimal
    explanation: str


@dataclass(frozen=True)
class Severity:
    """The three factors, the score and its band."""

    dpc: Factor
    ei: Factor
    cb: Factor
    score: Decimal
    band: Band
    score_explanation: str

    @property
    def explanations(self) -> dict[str, str]:
        """Per-factor explanations, keyed dpc / ei / cb / se, for display beside each input."""
        return {"dpc": self.dpc.explanation, "ei": self.ei.explanation, "cb": self.cb.explanation,
                "se": self.score_explanation}


def fmt(value: Decimal) -> str:
    """Render a Decimal without trailing zeros or exponent (2.00 -> 2, 0.50 -> 0.5)."""
    return format(value.normalize(), "f")


def _signed(n: int) -> str:
    return f"{n:+d}" if n else "0"


def _lookup(keys: Iterable[str]) -> list[DataCategoryInfo]:
    known = taxonomy().data_categories
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise ValueError(f"unknown data categories: {', '.join(unknown)}")
    return [known[k] for k in keys]


def base_type(data_categories: Iterable[str]) -> tuple[EnisaType, str]:
    """Return the ENISA base type of a set of fideslang categories and why (highest type wins)."""
    cats = _lookup(list(data_categories))
    # ENISA: credentials take the type of what they give access to. The data map does not say
    # what each credential unlocks, so we assume it unlocks the other data affected in the same
    # breach (same systems), and "simple" when credentials are all that is affected (ENISA's own
    # example: a music-store login). The assessor raises the DPC when a credential opens more.
    others = [c for c in cats if not c.credentials]
    creds = [c for c in cats if c.credentials]
    if not cats:
        return EnisaType.simple, "no data category recorded yet, so ENISA's lowest type (simple) is assumed"
    top = max((c.enisa_type for c in others), key=lambda t: t.base_score, default=EnisaType.simple)
    drivers = [c.key for c in others if c.enisa_type == top]
    why = f"{top.value} data is the most severe type affected"
    if drivers:
        why += f" ({', '.join(drivers)})"
    if creds and not others:
        why = (f"only credentials are affected ({', '.join(c.key for c in creds)}); they take the type of what "
               "they give access to, and with no other data in this breach that is assumed to be simple")
    elif creds:
        why += (f"; credentials ({', '.join(c.key for c in creds)}) take the type of what they give access to, "
                f"assumed here to be the other data in this breach ({top.value})")
    return top, why


def dpc(data_categories: Iterable[str], adjustment: int = 0) -> Factor:
    """Data processing context: base score of the highest type plus the assessor's adjustment."""
    if not -3 <= adjustment <= 3:
        raise ValueError(f"DPC adjustment must be between -3 and +3, got {adjustment}")
    kind, why = base_type(data_categories)
    low, high = ADJUSTMENT_RANGE[kind]
    applied = min(max(adjustment, low), high)
    value = min(max(kind.base_score + applied, 1), 4)
    text = f"DPC {value}: base {kind.base_score} because {why}"
    if applied:
        text += f"; assessor's contextual adjustment {applied:+d}"
    if applied != adjustment:
        text += (f"; the requested adjustment {adjustment:+d} is outside ENISA's range for {kind.value} "
                 f"data ({_signed(low)}..{_signed(high)}), so {_signed(applied)} was applied")
    return Factor(Decimal(value), text + " (ENISA 2013, DPC, final score within 1..4).")


def ei(identifiability: Identifiability) -> Factor:
    """Ease of identification: 0.25, 0.5, 0.75 or 1."""
    level = Identifiability(identifiability)
    value = _EI[level]
    return Factor(value, f"EI {fmt(value)} ({level.value}): {_EI_WHY[level]} (ENISA 2013, EI).")


def cb(confidentiality: ConfidentialityLoss, integrity: IntegrityLoss, availability: AvailabilityLoss,
       malicious: bool) -> Factor:
    """Circumstances of the breach: the C, I and A grades plus 0.5 for malicious intent, summed."""
    parts = [("confidentiality", *_CONFIDENTIALITY[ConfidentialityLoss(confidentiality)]),
             ("integrity", *_INTEGRITY[IntegrityLoss(integrity)]),
             ("availability", *_AVAILABILITY[AvailabilityLoss(availability)])]
    if malicious:
        parts.append(("malicious intent", _MALICIOUS, "the breach was deliberate"))
    else:
        parts.append(("malicious intent", Decimal("0"), "no sign of deliberate action"))
    total = sum((value for _, value, _ in parts), Decimal("0"))
    detail = "; ".join(f"{name} +{fmt(value)} ({why})" for name, value, why in parts)
    return Factor(total, f"CB {fmt(total)}: {detail} (ENISA 2013, CB).")


def band(score: Decimal) -> Band:
    """Map a score to its band; the lower bound of each band is inclusive."""
    for floor, level in _BAND_FLOORS:
        if score >= floor:
            return level
    return Band.low


def severity(data_categories: Iterable[str], adjustment: int, identifiability: Identifiability,
             confidentiality: ConfidentialityLoss, integrity: IntegrityLoss,
             availability: AvailabilityLoss, malicious: bool) -> Severity:
    """Compute SE = DPC x EI + CB with its band and every factor's explanation."""
    d, e, c = dpc(data_categories, adjustment), ei(identifiability), cb(confidentiality, integrity,
                                                                         availability, malicious)
    score = d.value * e.value + c.value
    level = band(score)
    text = (f"SE = DPC {fmt(d.value)} x EI {fmt(e.value)} + CB {fmt(c.value)} = {fmt(score)}, "
            f"severity {level.value.replace('_', ' ')} (bands: low < 2 <= medium < 3 <= high < 4 <= very high; "
            "the number of people and whether the data was unintelligible are weighed after the formula; "
            "ENISA 2013).")
    return Severity(dpc=d, ei=e, cb=c, score=score, band=level, score_explanation=text)
