"""Delivery channels (email, signed webhook): the only code that touches the network.

Every channel reports each attempt as a DeliveryResult and never raises for a delivery problem,
so the outbox can record the attempt and decide between retry, escalation and success.
"""

from __future__ import annotations

from dataclasses import dataclass

DETAIL_LIMIT = 500  # enough for an SMTP reply or HTTP status line; attempt rows stay small


def truncate_detail(text: str, limit: int = DETAIL_LIMIT) -> str:
    """Return text on one line, cut to limit characters with an ellipsis when longer."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass(frozen=True, kw_only=True)
class DeliveryResult:
    """The outcome of one delivery attempt of one message to one target."""

    ok: bool
    permanent: bool  # retrying cannot help (SMTP 5xx, HTTP 4xx but 408/429, 410, SSRF refusal)
    detail: str  # SMTP reply code and text, or HTTP status and reason, truncated
    target: str  # recipient addresses or the webhook URL, for the attempt record
    status_code: int | None = None  # SMTP reply code or HTTP status, when the peer answered
    retry_after_seconds: float | None = None  # the peer asked us to wait this long (Retry-After)
    disable_endpoint: bool = False  # 410 Gone: the receiver wants no more deliveries
    refused: tuple[str, ...] = ()  # recipients the SMTP server refused although others accepted

    def __post_init__(self) -> None:
        if self.ok and (self.permanent or self.disable_endpoint):
            raise ValueError("a successful delivery cannot be permanent or disable the endpoint")
        object.__setattr__(self, "detail", truncate_detail(self.detail))

    @property
    def retryable(self) -> bool:
        """True when the attempt failed but a later attempt may succeed."""
        return not self.ok and not self.permanent

    @classmethod
    def success(cls, target: str, detail: str, **extra) -> DeliveryResult:
        """A delivered message."""
        return cls(ok=True, permanent=False, target=target, detail=detail, **extra)

    @classmethod
    def transient(cls, target: str, detail: str, **extra) -> DeliveryResult:
        """A failure worth retrying later."""
        return cls(ok=False, permanent=False, target=target, detail=detail, **extra)

    @classmethod
    def permanent_failure(cls, target: str, detail: str, **extra) -> DeliveryResult:
        """A failure that retrying cannot fix; a person has to act."""
        return cls(ok=False, permanent=True, target=target, detail=detail, **extra)
