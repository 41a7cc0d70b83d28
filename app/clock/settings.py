"""What the clock is configured with: company facts, internal targets, regimes, and each customer's contract terms."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from app.clock.deadlines import DeadlineKind, DeadlineRule
from app.clock.regimes import Recipient, Regime, load_regimes
from app.datamap.models import Controller

REGIME_DIR = Path(__file__).resolve().parents[2] / "playbooks" / "regimes"

# Internal targets where the law sets no number (REGULATORY.md §4: "never an invented number"):
# customers get 24 h because their own 72 h Art. 33(1) clock starts with our notice.
DEFAULT_TARGET_HOURS: dict[str, int] = {str(Recipient.CONTROLLER): 24, "default": 72}

# Stages that a risk decision "unlikely to result in a risk" (Art. 33(1)) makes not required.
# Other regimes' thresholds differ (serious harm, significant harm) and stay open until a lead decides.
SA_RISK_STAGES: frozenset[tuple[str, str]] = frozenset({("gdpr-art33", "notify-sa"), ("uk-gdpr", "notify-ico")})


def load_default_regimes() -> dict[str, Regime]:
    """Load the repository's playbooks/regimes/*.yaml."""
    return load_regimes(REGIME_DIR)


@dataclass(frozen=True)
class ClockSettings:
    """What the clock needs besides the incident: regimes, company facts and internal targets."""

    regimes: dict[str, Regime]
    company_flags: frozenset[str] = frozenset()
    company_controller_key: str | None = None  # the data-map controller that is our own company
    # Hours for the internal target of a no-fixed-deadline stage, by recipient kind ("default" for
    # the rest); an int applies to all. A stage's own internal_target_hours wins over this.
    default_target_hours: int | dict[str, int] = field(default_factory=lambda: dict(DEFAULT_TARGET_HOURS))
    target_overrides: dict[str, int] = field(default_factory=dict)  # "regime/stage" -> hours, beats the YAML
    sa_risk_stages: frozenset[tuple[str, str]] = SA_RISK_STAGES

    def __post_init__(self) -> None:
        object.__setattr__(self, "company_flags", frozenset(self.company_flags))

    def target_hours(self, recipient_kind: str) -> int:
        """Default internal-target hours for a recipient kind."""
        if isinstance(self.default_target_hours, int):
            return self.default_target_hours
        table = self.default_target_hours
        return table.get(recipient_kind, table.get("default", DEFAULT_TARGET_HOURS["default"]))

    @classmethod
    def from_config(cls, config: Mapping, *, regimes: dict[str, Regime]) -> ClockSettings:
        """Build from app configuration keys COMPANY_FLAGS, COMPANY_CONTROLLER_KEY, CLOCK_TARGET_HOURS, ..."""
        return cls(regimes=regimes, company_flags=frozenset(config.get("COMPANY_FLAGS") or ()),
                   company_controller_key=config.get("COMPANY_CONTROLLER_KEY") or None,
                   default_target_hours=config.get("CLOCK_TARGET_HOURS") or dict(DEFAULT_TARGET_HOURS),
                   target_overrides=dict(config.get("CLOCK_TARGET_OVERRIDES") or {}))


def split_country(code: str) -> tuple[str, str | None]:
    """Split "US-CA" into ("US", "CA") for the holiday calendar."""
    country, _, subdivision = code.partition("-")
    return country, subdivision or None


def contract_rule(controller: Controller) -> DeadlineRule | None:
    """The customer's contractual notice period (DPA, Art. 28(3)(f)), or None if it names none."""
    if controller.notify_within_hours:
        return DeadlineRule(hours=controller.notify_within_hours)
    if controller.notify_within_business_days:
        country, subdivision = split_country(controller.holiday_country or controller.country)
        return DeadlineRule(business_days=controller.notify_within_business_days, holiday_country=country,
                            holiday_subdivision=subdivision)
    return None


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}{'' if n == 1 else 's'}"


def describe_rule(rule: DeadlineRule, *, contract: bool = False) -> str:
    """Human text of a rule: "72 hours", "3 business days (BR)", "without undue delay (contract: none)"."""
    tag = " (contract)" if contract else ""
    kind = rule.kind
    if kind is DeadlineKind.HOURS:
        return _plural(rule.hours, "hour") + tag
    if kind is DeadlineKind.CALENDAR_DAYS:
        return _plural(rule.calendar_days, "calendar day") + tag
    if kind is DeadlineKind.MONTHS:
        return _plural(rule.months, "month") + tag
    if kind is DeadlineKind.BUSINESS_DAYS:
        code = rule.holiday_country + (f"-{rule.holiday_subdivision}" if rule.holiday_subdivision else "")
        return f"{_plural(rule.business_days, 'business day')} ({code}{', contract' if contract else ''})"
    if kind is DeadlineKind.CONTRACT:
        return "per contract"
    return "without undue delay (" + ("contract: none" if contract else "no fixed deadline") + ")"
