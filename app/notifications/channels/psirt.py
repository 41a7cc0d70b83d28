"""The PSIRT channel: reminders about notification clocks go to our own team by email and/or signed webhook."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr

from app.config import host_set
from app.notifications.channels import DeliveryResult
from app.notifications.channels.email import OutgoingEmail, SmtpSettings, send_batch
from app.notifications.channels.webhook import post_signed, webhook_session

log = logging.getLogger(__name__)

NO_CHANNEL = "no PSIRT channel configured (set PSIRT_EMAIL and/or PSIRT_WEBHOOK_URL)"
_warned_no_channel = False  # warn once per process, not once per reminder


def _addresses(value) -> list[str]:
    """Recipients from a comma-separated string or a list."""
    items = value.split(",") if isinstance(value, str) else (value or ())
    return [str(item).strip() for item in items if str(item).strip()]


def psirt_targets(config: Mapping, *, drill: bool) -> tuple[list[str], str | None]:
    """The email recipients and webhook URL for a reminder; drills prefer DRILL_EMAIL / DRILL_WEBHOOK_URL."""
    emails = _addresses(config.get("DRILL_EMAIL")) if drill else []
    url = (config.get("DRILL_WEBHOOK_URL") or None) if drill else None
    return emails or _addresses(config.get("PSIRT_EMAIL")), url or config.get("PSIRT_WEBHOOK_URL") or None


@dataclass(frozen=True)
class PsirtMessage:
    """One reminder for the PSIRT, as app.clock.reminders.describe() words it."""

    subject: str
    text: str
    payload: dict
    drill: bool = False


def send_to_psirt(config: Mapping, *, subject: str, text: str, payload: dict, now: datetime,
                  drill: bool) -> list[DeliveryResult]:
    """Send one reminder to the PSIRT on every configured channel; one DeliveryResult per channel."""
    return send_many_to_psirt(config, [PsirtMessage(subject, text, payload, drill)], now=now)[0]


def send_many_to_psirt(config: Mapping, messages: Sequence[PsirtMessage], *,
                       now: datetime) -> list[list[DeliveryResult]]:
    """Send several reminders (emails over one SMTP connection); per message, one DeliveryResult per channel."""
    global _warned_no_channel
    results: list[list[DeliveryResult]] = [[] for _ in messages]
    outgoing: list[tuple[int, OutgoingEmail]] = []
    hooks: list[tuple[int, str]] = []
    settings, settings_error = _smtp_settings(config)
    for index, message in enumerate(messages):
        emails, url = psirt_targets(config, drill=message.drill)
        if not emails and not url:
            if not _warned_no_channel:
                log.warning("reminders cannot reach anyone: %s", NO_CHANNEL)
                _warned_no_channel = True
            results[index].append(DeliveryResult.permanent_failure("psirt", NO_CHANNEL))
            continue
        if emails:
            try:
                if settings_error:
                    raise ValueError(settings_error)
                outgoing.append((index, _email(settings, message, to=emails, now=now)))
            except ValueError as exc:
                # A configuration mistake: retrying every tick would not fix it, so it is final.
                results[index].append(DeliveryResult.permanent_failure(
                    ", ".join(emails), f"email not sent, bad mail settings: {exc}"))
        if url:
            hooks.append((index, url))
    if outgoing:
        try:
            sent = send_batch(settings, [e for _, e in outgoing])
        except ValueError as exc:  # a malformed message is refused before anything is sent
            sent = [DeliveryResult.permanent_failure(", ".join(e.to), f"email not sent: {exc}") for _, e in outgoing]
        for (index, _), result in zip(outgoing, sent):
            results[index].append(result)
    if hooks:
        session = webhook_session()
        try:
            for index, url in hooks:
                results[index].append(_webhook(config, messages[index], url=url, now=now, session=session))
        finally:
            session.close()
    return results


def _key(message: PsirtMessage) -> str:
    # The same reminder keeps the same id across retries, so a duplicate after a crash is recognisable.
    return str(message.payload.get("id") or "reminder")


def _smtp_settings(config: Mapping) -> tuple[SmtpSettings | None, str]:
    try:
        return SmtpSettings.from_config(config), ""
    except ValueError as exc:
        return None, str(exc)


def _email(settings: SmtpSettings, message: PsirtMessage, *, to: list[str], now: datetime) -> OutgoingEmail:
    sender = settings.mail_from or "breachline@localhost"
    for address in (sender, *to):
        if "@" not in parseaddr(address)[1]:
            raise ValueError(f"not an email address: {address!r}")
    domain = sender.rpartition("@")[2].strip(">") or "breachline.invalid"
    key = _key(message)
    headers = {"X-Breachline-Reminder": key, **({"X-Breachline-Drill": "yes"} if message.drill else {})}
    return OutgoingEmail(message_id=f"<{key}@{domain}>", sender=sender, to=to, subject=message.subject,
                         text=message.text, date=now, headers=headers)


def _webhook(config: Mapping, message: PsirtMessage, *, url: str, now: datetime, session) -> DeliveryResult:
    secret = config.get("PSIRT_WEBHOOK_SECRET")
    if not secret:
        return DeliveryResult.permanent_failure(url, "PSIRT_WEBHOOK_SECRET is not set; webhooks are always signed")
    body = json.dumps(message.payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return post_signed(url, secret, _key(message), body, now=now,
                       allowed_hosts=host_set(config.get("WEBHOOK_ALLOWED_HOSTS")), session=session)
