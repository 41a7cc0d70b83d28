"""Email delivery over SMTP: one connection per batch, one DeliveryResult per message.

The Message-ID is ours and stable (`<notification-<id>@<domain>>`), so a re-send after a crash
between "server accepted" and "we recorded it" carries the same id and the recipient's mail
system can recognise the duplicate.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, parseaddr
from enum import StrEnum

from app.core.time import require_aware
from app.notifications.channels import DeliveryResult

log = logging.getLogger(__name__)

MESSAGE_ID = re.compile(r"^<[^<>@\s]+@[^<>@\s]+>$")
# Headers build_message owns; an extra header must not silently replace them.
OWN_HEADERS = {"message-id", "from", "to", "subject", "date", "mime-version", "content-type",
               "content-transfer-encoding", "cc", "bcc"}


class SmtpSecurity(StrEnum):
    """How the SMTP connection is protected."""

    none = "none"  # plain SMTP: only for a relay on the same host or a trusted network
    starttls = "starttls"  # plain connect, then STARTTLS (required, never optional)
    ssl = "ssl"  # implicit TLS from the first byte (SMTPS, usually port 465)


DEFAULT_PORTS = {SmtpSecurity.none: 25, SmtpSecurity.starttls: 587, SmtpSecurity.ssl: 465}


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to reach the SMTP server; the password never appears in repr or logs."""

    host: str = "localhost"
    port: int = 25
    security: SmtpSecurity = SmtpSecurity.none
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0  # seconds per socket operation, not for the whole batch
    mail_from: str | None = None  # default sender address (MAIL_FROM)
    local_hostname: str | None = None  # EHLO name; None: the host's FQDN

    @classmethod
    def from_config(cls, config: Mapping) -> SmtpSettings:
        """Build settings from SMTP_* keys and MAIL_FROM; missing keys give localhost:25 without TLS."""
        # Keys: SMTP_HOST, SMTP_PORT (default by security: 25/587/465), SMTP_SECURITY, SMTP_USERNAME,
        # SMTP_PASSWORD, SMTP_TIMEOUT, SMTP_LOCAL_HOSTNAME, MAIL_FROM.
        raw_security = str(config.get("SMTP_SECURITY") or "none").strip().lower()
        try:
            security = SmtpSecurity(raw_security)
        except ValueError:
            raise ValueError(f"SMTP_SECURITY must be one of none, starttls, ssl (got {raw_security!r})") from None
        raw_port = config.get("SMTP_PORT")
        try:
            port = int(raw_port) if raw_port not in (None, "") else DEFAULT_PORTS[security]
        except (TypeError, ValueError):
            raise ValueError(f"SMTP_PORT must be a port number (got {raw_port!r})") from None
        if not 0 < port < 65536:
            raise ValueError(f"SMTP_PORT must be between 1 and 65535 (got {port})")
        raw_timeout = config.get("SMTP_TIMEOUT")
        try:
            timeout = float(raw_timeout) if raw_timeout not in (None, "") else 30.0
        except (TypeError, ValueError):
            raise ValueError(f"SMTP_TIMEOUT must be a number of seconds (got {raw_timeout!r})") from None
        return cls(host=str(config.get("SMTP_HOST") or "localhost"), port=port, security=security,
                   username=config.get("SMTP_USERNAME") or None, password=config.get("SMTP_PASSWORD") or None,
                   timeout=timeout, mail_from=config.get("MAIL_FROM") or None,
                   local_hostname=config.get("SMTP_LOCAL_HOSTNAME") or None)


def notification_message_id(notification_id: int | str, domain: str) -> str:
    """Return the stable Message-ID of a notification: <notification-<id>@<domain>>."""
    return f"<notification-{notification_id}@{domain}>"


@dataclass(frozen=True, kw_only=True)
class OutgoingEmail:
    """One message to send; every field is decided by the caller, nothing is read from the clock."""

    message_id: str  # stable, ours: <notification-<id>@<domain>>
    sender: str
    to: list[str]
    subject: str
    text: str
    date: datetime  # the Date header: when the message was composed (aware)
    html: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # extra headers, e.g. Reply-To, X-Breachline-Drill

    def __post_init__(self) -> None:
        if not MESSAGE_ID.match(self.message_id):
            raise ValueError(f"message_id must look like <local@domain> (got {self.message_id!r})")
        if not self.to:
            raise ValueError(f"{self.message_id}: at least one recipient is required")
        require_aware(self.date, "OutgoingEmail.date")
        clash = OWN_HEADERS & {name.lower() for name in self.headers}
        if clash:
            raise ValueError(f"{self.message_id}: extra headers may not set {', '.join(sorted(clash))}")


def build_message(email: OutgoingEmail) -> EmailMessage:
    """Build the MIME message: text, plus multipart/alternative with HTML when given."""
    message = EmailMessage(policy=SMTP_POLICY)
    # The policy rejects CR/LF in header values, so a crafted subject cannot inject headers.
    message["Message-ID"] = email.message_id
    message["Date"] = format_datetime(require_aware(email.date))
    message["From"] = email.sender
    message["To"] = ", ".join(email.to)
    message["Subject"] = email.subject
    for name, value in email.headers.items():
        message[name] = value
    message.set_content(email.text, subtype="plain", charset="utf-8")
    if email.html is not None:
        message.add_alternative(email.html, subtype="html", charset="utf-8")
    return message


def _envelope_address(address: str) -> str:
    """Return the bare addr-spec of a header-style address ("Name <a@b>" -> "a@b")."""
    _, addr_spec = parseaddr(address)
    if "@" not in addr_spec:
        raise ValueError(f"not an email address: {address!r}")
    return addr_spec


def _reply(code: int | None, text: bytes | str | None) -> str:
    """Format an SMTP reply as 'code text' for the attempt record."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return f"{code} {text or ''}".strip() if code is not None else (text or "")


def _by_code(target: str, code: int, text: bytes | str, **extra) -> DeliveryResult:
    """A failed result from an SMTP reply code: 5xx permanent, anything else transient."""
    detail = _reply(code, text)
    if 500 <= code < 600:
        return DeliveryResult.permanent_failure(target, detail, status_code=code, **extra)
    return DeliveryResult.transient(target, detail, status_code=code if code > 0 else None, **extra)


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    """Open, secure and authenticate one SMTP connection; SMTP and socket errors propagate."""
    # Building a TLS context loads the CA store (~50 ms): only when the connection will use TLS.
    context = ssl.create_default_context() if settings.security is not SmtpSecurity.none else None
    if settings.security is SmtpSecurity.ssl:
        smtp = smtplib.SMTP_SSL(settings.host, settings.port, local_hostname=settings.local_hostname,
                                timeout=settings.timeout, context=context)
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, local_hostname=settings.local_hostname,
                            timeout=settings.timeout)
    try:
        smtp.ehlo()
        if settings.security is SmtpSecurity.starttls:
            # starttls raises SMTPNotSupportedError when the server does not offer it: we never
            # fall back to clear text with personal data in the body.
            smtp.starttls(context=context)
            smtp.ehlo()
        if settings.username:
            smtp.login(settings.username, settings.password or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def _session_failure(target: str, exc: BaseException) -> DeliveryResult:
    """The result for a message that could not be attempted because the session failed."""
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryResult.permanent_failure(target, f"server does not support a required extension: {exc}")
    if isinstance(exc, smtplib.SMTPResponseException):
        return _by_code(target, exc.smtp_code, exc.smtp_error)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return DeliveryResult.transient(target, f"TLS certificate not accepted: {exc.verify_message or exc}")
    return DeliveryResult.transient(target, f"connection failed: {type(exc).__name__}: {exc}")


def _flattened(email: OutgoingEmail, envelope: tuple[str, list[str]]) -> bytes | EmailMessage:
    """The message as the bytes send_message would send, or the message itself when it needs SMTPUTF8."""
    message = build_message(email)
    try:
        "".join([envelope[0], *envelope[1]]).encode("ascii")
    except UnicodeEncodeError:
        return message  # international addresses: send_message negotiates SMTPUTF8 with the server
    # What smtplib's send_message does for an ASCII envelope: flatten with the message's policy
    # (CRLF line ends); our messages carry no Bcc or Resent- headers for it to strip.
    return message.as_bytes()


def _send_one(smtp: smtplib.SMTP, email: OutgoingEmail, message: bytes | EmailMessage,
              envelope: tuple[str, list[str]]) -> DeliveryResult:
    """Send one message on an open session; connection-level errors propagate to the caller."""
    target = ", ".join(email.to)
    try:
        if isinstance(message, bytes):
            refused = smtp.sendmail(envelope[0], envelope[1], message)
        else:
            refused = smtp.send_message(message, from_addr=envelope[0], to_addrs=envelope[1])
    except smtplib.SMTPRecipientsRefused as exc:
        # Every recipient refused; smtplib already reset the transaction, the session goes on.
        replies = exc.recipients
        codes = [code for code, _ in replies.values()]
        detail = "; ".join(f"{addr}: {_reply(code, text)}" for addr, (code, text) in replies.items())
        refused_all = tuple(replies)
        if codes and all(500 <= c < 600 for c in codes):
            return DeliveryResult.permanent_failure(target, detail, status_code=codes[0], refused=refused_all)
        code = next((c for c in codes if not 500 <= c < 600), None)
        return DeliveryResult.transient(target, detail, status_code=code, refused=refused_all)
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
        return _by_code(target, exc.smtp_code, exc.smtp_error)
    if refused:
        # Accepted for some recipients: delivered, but the refused ones are worth a look.
        detail = "accepted; refused " + "; ".join(f"{a}: {_reply(c, t)}" for a, (c, t) in refused.items())
        return DeliveryResult.success(target, detail, status_code=250, refused=tuple(refused))
    return DeliveryResult.success(target, "250 accepted", status_code=250)


def send_batch(settings: SmtpSettings, emails: Sequence[OutgoingEmail]) -> list[DeliveryResult]:
    """Send the emails over one SMTP connection and return one result per email, in order."""
    # Never raises for a delivery problem: a failed connection or login gives every remaining message
    # a failed result (transient, or permanent for 5xx replies), so the outbox can record each attempt.
    # A malformed message is a programming error and raises ValueError before anything is sent.
    # Build every message first: a programming error must not strike halfway through a batch.
    # Only the flattened bytes are kept: a batch of message objects alive at once survived into the
    # garbage collector's oldest generation, whose full passes then cost as much as the sending.
    envelopes = [(_envelope_address(e.sender), [_envelope_address(a) for a in e.to]) for e in emails]
    messages = [_flattened(email, envelope) for email, envelope in zip(emails, envelopes)]
    results: list[DeliveryResult] = []
    if not emails:
        return results
    log.info("smtp: sending %d message(s) via %s:%d (%s)", len(emails), settings.host, settings.port,
             settings.security.value)
    try:
        smtp = _connect(settings)
    except (smtplib.SMTPException, OSError) as exc:
        return [_session_failure(", ".join(e.to), exc) for e in emails]
    try:
        for email, message, envelope in zip(emails, messages, envelopes):
            try:
                results.append(_send_one(smtp, email, message, envelope))
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                # The session is gone: this message's fate is unknown, so it is retried (same
                # Message-ID); the rest were never tried.
                results.extend(_session_failure(", ".join(e.to), exc) for e in emails[len(results):])
                break
            except smtplib.SMTPResponseException as exc:
                results.append(_by_code(", ".join(email.to), exc.smtp_code, exc.smtp_error))
            except smtplib.SMTPException as exc:
                results.append(DeliveryResult.transient(", ".join(email.to), f"{type(exc).__name__}: {exc}"))
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            # The messages were already accepted or failed; a failed QUIT changes nothing.
            smtp.close()
    return results
