"""Signed webhook delivery following Standard Webhooks 1.0 (https://www.standardwebhooks.com).

Each POST carries `webhook-id` (the notification's stable id, the receiver's idempotency key),
`webhook-timestamp` (integer Unix seconds of this attempt) and `webhook-signature`
(`v1,<base64 HMAC-SHA256 over "{id}.{timestamp}." + body>` with the endpoint's secret).

Receivers verify like `verify()` below: recompute the HMAC over the raw body bytes exactly as
received (never re-serialised JSON), compare in constant time with each space-separated `v1,`
signature, and reject timestamps more than five minutes from their clock.

Secrets: `whsec_<base64>` (the spec's serialisation; the key is the decoded bytes) or, for
secrets issued elsewhere, a raw string whose UTF-8 bytes are the key. Issue new secrets with
`generate_secret()` so receivers using the Standard Webhooks libraries, which base64-decode every
secret, derive the same key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import math
import secrets as secrets_module
from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from app.core.time import UTC, require_aware
from app.notifications.channels import DeliveryResult
from app.notifications.channels.ssrf import UnresolvableTarget, UnsafeTarget, vet_webhook_target

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
USER_AGENT = "Breachline-Webhooks/1"
DEFAULT_TIMEOUT = (3.05, 10)  # (connect, read) seconds; never unbounded
DEFAULT_TOLERANCE = 300  # seconds either side of the receiver's clock (Standard Webhooks: 5 min)
PIN_ATTRIBUTE = "breachline_pinned_address"  # set on a PreparedRequest: connect here, not via DNS
DRAIN_LIMIT = 4096  # bytes of an answer's body read so its connection can be reused


def generate_secret(nbytes: int = 32) -> str:
    """Return a new random endpoint secret in the whsec_<base64> form (24..64 bytes)."""
    if not 24 <= nbytes <= 64:
        raise ValueError("Standard Webhooks secrets are 24 to 64 random bytes")
    return SECRET_PREFIX + base64.b64encode(secrets_module.token_bytes(nbytes)).decode("ascii")


def signing_key(secret: str) -> bytes:
    """Return the HMAC key of a secret: base64-decoded after whsec_, else the UTF-8 bytes."""
    if not isinstance(secret, str) or not secret:
        raise ValueError("the webhook secret is empty")
    if secret.startswith(SECRET_PREFIX):
        encoded = secret[len(SECRET_PREFIX):]
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("the webhook secret is not valid base64 after 'whsec_'") from None
        if not key:
            raise ValueError("the webhook secret is empty after 'whsec_'")
        return key
    return secret.encode("utf-8")


def _check_msg_id(msg_id: str) -> None:
    """Reject ids that could make two different (id, timestamp, body) triples sign alike."""
    if not msg_id or "." in msg_id or any(ch.isspace() or ord(ch) < 32 for ch in msg_id):
        raise ValueError(f"webhook id must be non-empty, without '.', spaces or control characters: {msg_id!r}")


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Return the Standard Webhooks signature `v1,<base64 HMAC-SHA256>` of one message."""
    _check_msg_id(msg_id)
    if not isinstance(body, bytes):
        raise TypeError("sign the exact body bytes that are sent, not a str or dict")
    content = f"{msg_id}.{int(timestamp)}.".encode() + body
    digest = hmac.new(signing_key(secret), content, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: datetime,
           tolerance: int = DEFAULT_TOLERANCE) -> bool:
    """Return True when the headers carry a valid v1 signature of body within the time tolerance."""
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    msg_id = lowered.get("webhook-id", "")
    raw_timestamp = lowered.get("webhook-timestamp", "")
    signatures = lowered.get("webhook-signature", "")
    if not (msg_id and raw_timestamp and signatures):
        return False
    try:
        timestamp = int(raw_timestamp)
    except ValueError:
        return False
    if abs(require_aware(now, "now").timestamp() - timestamp) > tolerance:
        return False  # too old (replay) or too far in the future
    if isinstance(body, str):
        body = body.encode("utf-8")
    try:
        expected = base64.b64decode(sign(secret, msg_id, timestamp, body).split(",", 1)[1])
    except ValueError:
        return False
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version != SIGNATURE_VERSION:
            continue  # e.g. v1a (asymmetric) or a future scheme: not ours to check
        try:
            given = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(expected, given):
            return True
    return False


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Return the seconds a Retry-After header asks for (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # HTTP-dates are always GMT
    return max(0.0, (when - require_aware(now, "now")).total_seconds())


class PinningAdapter(HTTPAdapter):
    """Connects to the address the SSRF guard vetted instead of resolving the host a second time.

    TLS still sends the URL's host name (SNI) and checks the certificate against it, so pinning
    changes where we connect, never whom we accept. Requests without a pin behave as usual.
    """

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        """Swap the host for the pinned address; keep the name for SNI and certificate checks."""
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        pinned = getattr(request, PIN_ATTRIBUTE, None)
        if pinned and pinned != host_params["host"]:
            if host_params["scheme"] == "https":
                pool_kwargs["server_hostname"] = host_params["host"]
                pool_kwargs["assert_hostname"] = host_params["host"]
            host_params["host"] = pinned
        return host_params, pool_kwargs


def webhook_session(pool_size: int = 10) -> requests.Session:
    """Return a session for webhook delivery: address pinning, no proxies or netrc from the environment."""
    session = requests.Session()
    # Environment proxies would resolve the host themselves and bypass the pin; an operator who
    # wants an egress proxy (e.g. smokescreen) configures session.proxies explicitly.
    session.trust_env = False
    # pool_size: connections kept per host, one per thread posting at the same time.
    session.mount("https://", PinningAdapter(pool_maxsize=pool_size))
    session.mount("http://", PinningAdapter(pool_maxsize=pool_size))
    return session


def _is_ip_literal(host: str) -> bool:
    """True when host is an IP address rather than a name."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _classify(response: requests.Response, url: str, now: datetime) -> DeliveryResult:
    """Turn an HTTP response into a result: only 2xx is success (Standard Webhooks)."""
    code = response.status_code
    detail = f"HTTP {code} {response.reason or ''}".strip()
    if 200 <= code < 300:
        return DeliveryResult.success(url, detail, status_code=code)
    retry_after = parse_retry_after(response.headers.get("Retry-After"), now)
    if 300 <= code < 400:
        location = response.headers.get("Location", "")
        return DeliveryResult.permanent_failure(
            url, f"{detail}: redirect to {location!r} not followed; update the endpoint URL", status_code=code)
    if code == 410:
        return DeliveryResult.permanent_failure(url, f"{detail}: receiver asked us to stop; endpoint disabled",
                                                status_code=code, disable_endpoint=True)
    if code in (408, 429) or code >= 500:
        return DeliveryResult.transient(url, detail, status_code=code, retry_after_seconds=retry_after)
    return DeliveryResult.permanent_failure(url, detail, status_code=code)


def _release(response: requests.Response) -> None:
    """Give the connection back for the next webhook when the answer has a small declared body, else close it."""
    # stream=True: the body is never read unasked, so a hostile receiver cannot make us download. A
    # closed connection costs a new TCP (and TLS) handshake per webhook, though, so an empty or small
    # body (at most DRAIN_LIMIT bytes, by its Content-Length) is read and the connection kept alive.
    length = response.headers.get("Content-Length", "")
    if response.status_code in (204, 304) or (length.isdigit() and int(length) <= DRAIN_LIMIT):
        try:
            response.raw.drain_conn()
            response.raw.release_conn()
            return
        except Exception:  # noqa: BLE001 - a broken connection is simply not reused
            pass
    response.close()


def post_signed(url: str, secret: str, msg_id: str, body: bytes, *, now: datetime, allowed_hosts: set[str],
                timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
                session: requests.Session | None = None) -> DeliveryResult:
    """POST body to url with Standard Webhooks headers after the SSRF guard; never raises for delivery problems."""
    # The guard runs first and nothing is sent to a refused target. The connection goes to the vetted
    # address when the session is a webhook_session() (the default); another session resolves the host
    # again, leaving a DNS-rebinding window as long as the time between the two lookups. Redirects are
    # not followed: a 3xx is a permanent failure that asks for the endpoint URL to be updated.
    _check_msg_id(msg_id)
    if not isinstance(body, bytes):
        raise TypeError("post the exact body bytes that were signed")
    timestamp = math.floor(require_aware(now, "now").timestamp())
    try:
        signature = sign(secret, msg_id, timestamp, body)
    except ValueError as exc:
        return DeliveryResult.permanent_failure(url, f"cannot sign: {exc}")
    try:
        vetted = vet_webhook_target(url, allowed_hosts)
    except UnresolvableTarget as exc:
        return DeliveryResult.transient(url, f"not sent: {exc.reason}")
    except UnsafeTarget as exc:
        return DeliveryResult.permanent_failure(url, f"refused by SSRF guard, not sent: {exc.reason}")
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature,
               "content-type": "application/json", "user-agent": USER_AGENT}
    own_session = session is None
    session = session or webhook_session()
    try:
        try:
            prepared = session.prepare_request(requests.Request("POST", url, data=body, headers=headers))
            if not _is_ip_literal(vetted.host):
                setattr(prepared, PIN_ATTRIBUTE, vetted.addresses[0])
                # The connection is opened to an IP; the Host header must still name the site.
                prepared.headers["Host"] = urlsplit(prepared.url).netloc
            response = session.send(prepared, timeout=timeout, allow_redirects=False, stream=True)
        except requests.Timeout as exc:
            return DeliveryResult.transient(url, f"timeout: {type(exc).__name__}: {exc}")
        except requests.ConnectionError as exc:
            return DeliveryResult.transient(url, f"connection failed: {type(exc).__name__}: {exc}")
        except requests.RequestException as exc:
            return DeliveryResult.permanent_failure(url, f"request not sendable: {type(exc).__name__}: {exc}")
        try:
            return _classify(response, url, now)
        finally:
            _release(response)
    finally:
        if own_session:
            session.close()
