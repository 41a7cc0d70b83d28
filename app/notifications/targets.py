"""Where a notice goes: the customer's notice addresses and webhook, or in a drill only the drill targets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parseaddr

from app.datamap.models import Contact, Controller
from app.notifications.models import WebhookEndpointState

CONTACT_ORDER = ("dpo", "privacy", "security", "legal", "escalation")  # whose address stands in for notify_emails
NO_DRILL_TARGET = ("drill notice not sent: set DRILL_EMAIL and/or DRILL_WEBHOOK_URL; a drill never goes to "
                   "real contacts")


@dataclass
class Targets:
    """The email recipients and webhook of one notice, and why a channel was left out."""

    emails: list[str] = field(default_factory=list)
    webhook_url: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def error(self) -> str:
        """Why the notice cannot be sent at all ("" when it can)."""
        if self.emails or self.webhook_url:
            return ""
        return "; ".join(self.notes) or "no contact: no notice address and no webhook on file"


def _valid(address: str) -> bool:
    return "@" in parseaddr(address)[1]


def _split(value) -> list[str]:
    items = value.split(",") if isinstance(value, str) else (value or ())
    return [str(item).strip() for item in items if str(item).strip()]


def recipient_name(contacts: Sequence[Contact]) -> str | None:
    """The person a customer notice is addressed to: its DPO, else the privacy or security contact."""
    for role in CONTACT_ORDER[:3]:
        for contact in contacts:
            if str(contact.role) == role and contact.name.strip():
                return contact.name.strip()
    return None


def customer_targets(controller: Controller, contacts: Sequence[Contact],
                     endpoint: WebhookEndpointState | None) -> Targets:
    """The customer's own targets: notice addresses (or contacts' addresses) and its signed webhook."""
    targets = Targets()
    emails = [e.strip() for e in controller.notify_emails or [] if e and e.strip()]
    if not emails:
        ranked = sorted((c for c in contacts if c.email.strip()),
                        key=lambda c: CONTACT_ORDER.index(str(c.role)) if str(c.role) in CONTACT_ORDER else 99)
        emails = [c.email.strip() for c in ranked[:1]]
    bad = [e for e in emails if not _valid(e)]
    targets.emails = [e for e in emails if _valid(e)]
    if bad:
        targets.notes.append(f"not an email address: {', '.join(bad)}")
    url = (controller.webhook_url or "").strip()
    if url:
        if not (controller.webhook_secret or "").strip():
            targets.notes.append("webhook not used: the customer's webhook has no signing secret")
        elif endpoint is not None and endpoint.url == url:
            targets.notes.append(f"webhook not used: it answered 410 Gone on {endpoint.disabled_at:%Y-%m-%d %H:%M} UTC "
                                 "and stays disabled until its URL changes")
        else:
            targets.webhook_url = url
    if not targets.emails and not targets.webhook_url and not targets.notes:
        targets.notes.append(f"no contact: {controller.key} has no notice address, no contact email and no webhook")
    return targets


def drill_targets(config: Mapping) -> Targets:
    """A drill's only targets: DRILL_EMAIL and DRILL_WEBHOOK_URL (never a customer's)."""
    targets = Targets(emails=[e for e in _split(config.get("DRILL_EMAIL")) if _valid(e)],
                      webhook_url=(config.get("DRILL_WEBHOOK_URL") or None))
    if not targets.emails and not targets.webhook_url:
        targets.notes.append(NO_DRILL_TARGET)
    return targets


def drill_secret(config: Mapping) -> str | None:
    """The secret drill webhooks are signed with."""
    return config.get("DRILL_WEBHOOK_SECRET") or config.get("PSIRT_WEBHOOK_SECRET") or None
