"""What the notification services read from the app configuration, parsed once per request or pass."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.clock.regimes import Regime

TRUE = {"1", "true", "yes", "on"}


def flag(value: Any) -> bool:
    """A boolean from config (a bool, or text from the environment)."""
    return value if isinstance(value, bool) else str(value or "").strip().lower() in TRUE


@dataclass(frozen=True)
class NoticeSettings:
    """Configuration of drafting, approval, delivery and acknowledgement."""

    regimes: dict[str, Regime]
    secret_key: str
    organisation_name: str = "Our company"
    company_controller_key: str | None = None
    public_base_url: str = "http://localhost:5000"  # acknowledgement links point here
    allow_self_approval: bool = False
    retry_hours: float = 24.0  # DELIVERY_RETRY_HOURS: then failed and escalated
    backoff_base_seconds: float = 30.0
    backoff_cap_seconds: float = 3600.0
    ack_link_days: int = 30
    ack_flag_after_hours: float = 24.0
    batch_size: int = 100  # outbox rows claimed per batch
    max_batches: int = 10  # batches per dispatch pass
    lease_seconds: int = 300  # a claim older than this belongs to a crashed dispatcher and is taken over
    webhook_concurrency: int = 8  # webhooks of a batch posted at the same time
    config: Mapping = field(default_factory=dict, repr=False)  # SMTP, webhook, PSIRT and drill keys

    @classmethod
    def from_config(cls, config: Mapping, *, regimes: dict[str, Regime]) -> NoticeSettings:
        """Build from ALLOW_SELF_APPROVAL, DELIVERY_RETRY_HOURS, ACK_LINK_DAYS, ACK_FLAG_AFTER_HOURS, ..."""
        def number(key: str, default: float) -> float:
            raw = config.get(key)
            try:
                return float(raw) if raw not in (None, "") else default
            except (TypeError, ValueError):
                raise ValueError(f"{key} must be a number (got {raw!r})") from None

        return cls(regimes=regimes, secret_key=str(config.get("SECRET_KEY") or ""),
                   organisation_name=str(config.get("COMPANY_NAME") or "Our company"),
                   company_controller_key=config.get("COMPANY_CONTROLLER_KEY") or None,
                   public_base_url=str(config.get("PUBLIC_BASE_URL") or "http://localhost:5000"),
                   allow_self_approval=flag(config.get("ALLOW_SELF_APPROVAL")),
                   retry_hours=number("DELIVERY_RETRY_HOURS", 24.0),
                   backoff_base_seconds=number("DELIVERY_BACKOFF_BASE_SECONDS", 30.0),
                   backoff_cap_seconds=number("DELIVERY_BACKOFF_CAP_SECONDS", 3600.0),
                   ack_link_days=int(number("ACK_LINK_DAYS", 30)),
                   ack_flag_after_hours=number("ACK_FLAG_AFTER_HOURS", 24.0),
                   batch_size=int(number("DISPATCH_BATCH_SIZE", 100)),
                   max_batches=int(number("DISPATCH_MAX_BATCHES", 10)),
                   lease_seconds=int(number("DISPATCH_LEASE_SECONDS", 300)),
                   webhook_concurrency=max(1, int(number("WEBHOOK_CONCURRENCY", 8))), config=config)
