"""Delivery channels against real servers: aiosmtpd on 127.0.0.1 and an HTTP(S) receiver in a thread."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import socket
import ssl
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from app.notifications.channels import DeliveryResult
from app.notifications.channels.email import (OutgoingEmail, SmtpSecurity, SmtpSettings, build_message,
                                              notification_message_id, send_batch)
from app.notifications.channels.ssrf import UnsafeTarget, check_webhook_target, vet_webhook_target
from app.notifications.channels.webhook import (generate_secret, parse_retry_after, post_signed, sign, verify,
                                                webhook_session)

SECRET = "whsec_" + base64.b64encode(b"breachline-test-key-32-bytes-long").decode()
BODY = b'{"data":{"incident_ref":"INC-2026-0001"},"type":"breach.notification"}'
LOCAL = {"127.0.0.1"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- SMTP ------------------------------------------------------------------------------------------------


class RecordingHandler:
    """aiosmtpd handler: counts EHLOs, refuses bounce*/later* recipients, keeps every message."""

    def __init__(self):
        self.ehlo_count = 0
        self.messages: list[tuple[tuple, str, list[str], bytes]] = []  # (peer, mail_from, rcpt_tos, content)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.ehlo_count += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("bounce"):
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        if address.startswith("later"):
            return "451 4.3.0 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((session.peer, envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 queued"


@pytest.fixture
def smtp_server():
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, SmtpSettings(host="127.0.0.1", port=controller.port, timeout=5, local_hostname="breachline.test")
    controller.stop()


def outgoing(n: int, now: datetime, to: list[str] | None = None, **extra) -> OutgoingEmail:
    return OutgoingEmail(message_id=notification_message_id(n, "breachline.example.org"),
                         sender="Breachline PSIRT <psirt@breachline.example.org>",
                         to=to or [f"dpo{n}@customer.example"], subject=f"Meldung {n}: Verletzung – Übung",
                         text=f"Plain text body {n}", html=f"<p>HTML body {n}</p>", date=now, **extra)


def parse(content: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(content, policy=email.policy.default)


def test_a_batch_goes_over_one_connection_with_our_message_ids(smtp_server, now):
    handler, settings = smtp_server
    emails = [outgoing(n, now) for n in (1, 2, 3)]
    results = send_batch(settings, emails)
    assert [r.ok for r in results] == [True, True, True]
    assert all(r.status_code == 250 and not r.permanent for r in results)
    assert handler.ehlo_count == 1, "one SMTP session for the whole batch"
    assert len({peer for peer, *_ in handler.messages}) == 1, "every message came over the same connection"
    for n, (_, mail_from, rcpt_tos, content) in zip((1, 2, 3), handler.messages):
        message = parse(content)
        assert mail_from == "psirt@breachline.example.org"
        assert rcpt_tos == [f"dpo{n}@customer.example"]
        assert message["Message-ID"] == f"<notification-{n}@breachline.example.org>"
        assert message["Subject"] == f"Meldung {n}: Verletzung – Übung"
        assert message["Date"] == format_datetime(now)
        assert message.get_content_type() == "multipart/alternative"
        parts = {part.get_content_type(): part.get_content() for part in message.iter_parts()}
        assert parts["text/plain"].strip() == f"Plain text body {n}"
        assert parts["text/html"].strip() == f"<p>HTML body {n}</p>"


def test_a_resend_carries_the_same_message_id(smtp_server, now):
    handler, settings = smtp_server
    send_batch(settings, [outgoing(7, now)])
    send_batch(settings, [outgoing(7, now + timedelta(minutes=5))])
    ids = [parse(content)["Message-ID"] for *_, content in handler.messages]
    assert ids == ["<notification-7@breachline.example.org>"] * 2


def test_text_only_message_is_not_multipart(now):
    message = build_message(OutgoingEmail(message_id="<notification-9@x.example>", sender="a@x.example",
                                          to=["b@y.example"], subject="s", text="only text", date=now,
                                          headers={"X-Breachline-Drill": "yes"}))
    assert message.get_content_type() == "text/plain"
    assert message["X-Breachline-Drill"] == "yes"


def test_smtp_down_gives_transient_results_for_every_message(now):
    settings = SmtpSettings(host="127.0.0.1", port=free_port(), timeout=2)
    results = send_batch(settings, [outgoing(n, now) for n in (1, 2, 3)])
    assert len(results) == 3
    for result in results:
        assert not result.ok and not result.permanent and result.retryable
        assert "connection failed" in result.detail


def test_550_for_one_recipient_is_permanent_for_that_message_only(smtp_server, now):
    handler, settings = smtp_server
    emails = [outgoing(1, now), outgoing(2, now, to=["bounce@customer.example"]), outgoing(3, now)]
    results = send_batch(settings, emails)
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].permanent and results[1].status_code == 550
    assert "550" in results[1].detail and "bounce@customer.example" in results[1].detail
    assert handler.ehlo_count == 1, "the refusal did not cost the session"
    assert [rcpts for _, _, rcpts, _ in handler.messages] == [["dpo1@customer.example"], ["dpo3@customer.example"]]


def test_4xx_refusal_is_transient(smtp_server, now):
    _, settings = smtp_server
    [result] = send_batch(settings, [outgoing(1, now, to=["later@customer.example"])])
    assert not result.ok and not result.permanent and result.status_code == 451


def test_partial_refusal_is_delivered_and_names_the_refused(smtp_server, now):
    handler, settings = smtp_server
    [result] = send_batch(settings, [outgoing(1, now, to=["dpo@customer.example", "bounce@customer.example"])])
    assert result.ok and result.refused == ("bounce@customer.example",)
    assert handler.messages[0][2] == ["dpo@customer.example"]


def test_starttls_required_but_not_offered_is_permanent_and_sends_nothing(smtp_server, now):
    handler, settings = smtp_server
    plain_server = SmtpSettings(host=settings.host, port=settings.port, security=SmtpSecurity.starttls, timeout=5)
    results = send_batch(plain_server, [outgoing(1, now), outgoing(2, now)])
    assert all(r.permanent and not r.ok for r in results)
    assert handler.messages == []


def test_malformed_message_raises_before_connecting(smtp_server, now):
    handler, settings = smtp_server
    with pytest.raises(ValueError):
        send_batch(settings, [outgoing(1, now), OutgoingEmail(
            message_id="<notification-2@x.example>", sender="a@x.example", to=["b@y.example"],
            subject="injected\nBcc: victim@example.org", text="t", date=now)])
    assert handler.ehlo_count == 0 and handler.messages == []


def test_outgoing_email_validates_its_fields(now):
    with pytest.raises(ValueError, match="message_id"):
        OutgoingEmail(message_id="no-brackets", sender="a@x", to=["b@y"], subject="s", text="t", date=now)
    with pytest.raises(ValueError, match="recipient"):
        OutgoingEmail(message_id="<a@b>", sender="a@x", to=[], subject="s", text="t", date=now)
    with pytest.raises(ValueError, match="naive"):
        OutgoingEmail(message_id="<a@b>", sender="a@x", to=["b@y"], subject="s", text="t", date=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="message-id"):
        OutgoingEmail(message_id="<a@b>", sender="a@x", to=["b@y"], subject="s", text="t", date=now,
                      headers={"Message-ID": "<other@b>"})


def test_smtp_settings_from_config_and_password_never_in_repr():
    assert SmtpSettings.from_config({}) == SmtpSettings(host="localhost", port=25, security=SmtpSecurity.none)
    ssl_settings = SmtpSettings.from_config({"SMTP_HOST": "mail.example.org", "SMTP_SECURITY": "SSL",
                                             "SMTP_USERNAME": "psirt", "SMTP_PASSWORD": "hunter2-secret",
                                             "MAIL_FROM": "psirt@example.org"})
    assert (ssl_settings.port, ssl_settings.security, ssl_settings.mail_from) == (465, SmtpSecurity.ssl,
                                                                                  "psirt@example.org")
    assert SmtpSettings.from_config({"SMTP_SECURITY": "starttls"}).port == 587
    assert SmtpSettings.from_config({"SMTP_PORT": "2525"}).port == 2525
    assert "hunter2-secret" not in repr(ssl_settings) and "hunter2-secret" not in str(ssl_settings)
    with pytest.raises(ValueError, match="SMTP_SECURITY"):
        SmtpSettings.from_config({"SMTP_SECURITY": "tls-please"})
    with pytest.raises(ValueError, match="SMTP_PORT"):
        SmtpSettings.from_config({"SMTP_PORT": "smtp"})


def test_delivery_result_rules():
    assert DeliveryResult.transient("t", "x").retryable
    assert not DeliveryResult.permanent_failure("t", "x").retryable
    assert len(DeliveryResult.transient("t", "y" * 5000).detail) == 500
    with pytest.raises(ValueError):
        DeliveryResult(ok=True, permanent=True, detail="x", target="t")


# --- Webhook signatures ----------------------------------------------------------------------------------


def test_signature_known_answer_from_the_standard_webhooks_test_suite():
    # The published vector of the Standard Webhooks reference libraries.
    assert sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                b'{"test": 2432232314}') == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_matches_an_independently_computed_hmac():
    key = b"independent-key-material-0123456789"
    secret = "whsec_" + base64.b64encode(key).decode()
    expected = hmac.new(key, b"ntf-42.1772443800." + BODY, hashlib.sha256).digest()
    assert sign(secret, "ntf-42", 1772443800, BODY) == "v1," + base64.b64encode(expected).decode()
    raw = hmac.new(b"plain shared secret", b"ntf-42.1772443800." + BODY, hashlib.sha256).digest()
    assert sign("plain shared secret", "ntf-42", 1772443800, BODY) == "v1," + base64.b64encode(raw).decode()


def test_verify_accepts_only_an_untampered_fresh_message(now):
    ts = int(now.timestamp())
    headers = {"Webhook-Id": "ntf-1", "Webhook-Timestamp": str(ts), "Webhook-Signature": sign(SECRET, "ntf-1", ts, BODY)}
    assert verify(SECRET, headers, BODY, now)
    assert not verify(SECRET, headers, BODY + b" ", now), "tampered body"
    assert not verify(generate_secret(), headers, BODY, now), "other secret"
    assert not verify(SECRET, headers, BODY, now + timedelta(seconds=301)), "too old: replay"
    assert not verify(SECRET, headers, BODY, now - timedelta(seconds=301)), "from the future"
    assert verify(SECRET, headers, BODY, now + timedelta(seconds=300))
    assert not verify(SECRET, {**headers, "Webhook-Id": "ntf-2"}, BODY, now), "id is signed too"
    assert not verify(SECRET, {k: v for k, v in headers.items() if k != "Webhook-Signature"}, BODY, now)
    assert not verify(SECRET, {**headers, "Webhook-Timestamp": "soon"}, BODY, now)
    rotated = f"v1a,bm90LWNoZWNrZWQ= v1,{base64.b64encode(b'old key sig').decode()} {headers['Webhook-Signature']}"
    assert verify(SECRET, {**headers, "Webhook-Signature": rotated}, BODY, now), "any one valid v1 signature"


def test_sign_rejects_ids_with_dots_and_bad_secrets():
    with pytest.raises(ValueError):
        sign(SECRET, "a.b", 1, BODY)
    with pytest.raises(ValueError):
        sign("whsec_not*base64", "a", 1, BODY)
    with pytest.raises(TypeError):
        sign(SECRET, "a", 1, BODY.decode())
    assert generate_secret().startswith("whsec_") and len(base64.b64decode(generate_secret()[6:])) == 32


def test_retry_after_both_forms(now):
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=90), usegmt=True), now) == 0.0
    assert parse_retry_after("tomorrow-ish", now) is None
    assert parse_retry_after(None, now) is None


# --- Webhook delivery against a real receiver ------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool


class Receiver:
    """What the test HTTP server saw, and a gate that holds the slow endpoint's answer."""

    def __init__(self, now: datetime):
        self.now = now
        self.requests: list[Received] = []
        self.release = threading.Event()

    def handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                ok = verify(SECRET, self.headers, body, receiver.now)
                receiver.requests.append(Received(self.path, dict(self.headers.items()), body, ok))
                extra: dict[str, str] = {}
                if self.path == "/ok":
                    status = 200 if ok else 401
                elif self.path == "/fail":
                    status = 500
                elif self.path == "/gone":
                    status = 410
                elif self.path == "/limited":
                    status, extra = 429, {"Retry-After": "120"}
                elif self.path == "/busy":
                    status = 503
                    extra = {"Retry-After": format_datetime(receiver.now + timedelta(seconds=90), usegmt=True)}
                elif self.path == "/moved":
                    status, extra = 302, {"Location": "/ok"}
                elif self.path == "/slow":
                    receiver.release.wait(10)  # held until the test is done; the client gave up long before
                    status = 200
                elif self.path == "/timeout-408":
                    status = 408
                else:
                    status = 400
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.send_header("Connection", "close")
                self.end_headers()

        return Handler


def serve(receiver: Receiver, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None):
    """Start a threaded HTTP(S) server for the receiver; return (server, thread)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server_class = type("Server", (ThreadingHTTPServer,), {"address_family": family})
    server = server_class((host, 0), receiver.handler())
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture
def receiver(now):
    recv = Receiver(now)
    server, thread = serve(recv)
    recv.base = f"http://127.0.0.1:{server.server_address[1]}"
    yield recv
    recv.release.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


def deliver(receiver: Receiver, path: str, now: datetime, **kwargs) -> DeliveryResult:
    kwargs.setdefault("allowed_hosts", LOCAL)
    return post_signed(receiver.base + path, SECRET, "ntf-42", BODY, now=now, **kwargs)


def test_200_is_delivered_with_standard_webhooks_headers(receiver, now):
    result = deliver(receiver, "/ok", now)
    assert result.ok and result.status_code == 200 and result.target == receiver.base + "/ok"
    [seen] = receiver.requests
    assert seen.verified and seen.body == BODY
    headers = {k.lower(): v for k, v in seen.headers.items()}
    assert headers["webhook-id"] == "ntf-42"
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert headers["webhook-signature"] == sign(SECRET, "ntf-42", int(now.timestamp()), BODY)
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "Breachline-Webhooks/1"


def test_500_is_transient(receiver, now):
    result = deliver(receiver, "/fail", now)
    assert not result.ok and result.retryable and result.status_code == 500 and "500" in result.detail


def test_410_is_permanent_and_disables_the_endpoint(receiver, now):
    result = deliver(receiver, "/gone", now)
    assert result.permanent and result.disable_endpoint and result.status_code == 410


def test_429_and_503_carry_retry_after(receiver, now):
    limited = deliver(receiver, "/limited", now)
    assert limited.retryable and limited.status_code == 429 and limited.retry_after_seconds == 120.0
    busy = deliver(receiver, "/busy", now)
    assert busy.retryable and busy.status_code == 503 and busy.retry_after_seconds == 90.0


def test_other_4xx_is_permanent_but_408_is_transient(receiver, now):
    assert deliver(receiver, "/unknown", now).permanent
    assert deliver(receiver, "/timeout-408", now).retryable


def test_302_is_a_failure_and_not_followed(receiver, now):
    result = deliver(receiver, "/moved", now)
    assert not result.ok and result.permanent and result.status_code == 302
    assert [r.path for r in receiver.requests] == ["/moved"], "the redirect target was never requested"


def test_slow_receiver_times_out_as_transient(receiver, now):
    result = deliver(receiver, "/slow", now, timeout=(2, 0.2))
    assert not result.ok and result.retryable and "timeout" in result.detail.lower()


def test_nothing_listening_is_transient(now):
    result = post_signed(f"http://127.0.0.1:{free_port()}/hook", SECRET, "ntf-1", BODY, now=now, allowed_hosts=LOCAL)
    assert result.retryable and "connection failed" in result.detail


def test_ssrf_refusal_is_permanent_and_sends_nothing(receiver, now):
    port = receiver.base.rsplit(":", 1)[1]
    for url in (f"https://127.0.0.1:{port}/ok", f"http://127.0.0.1:{port}/ok", "https://169.254.169.254/latest/meta-data/"):
        result = post_signed(url, SECRET, "ntf-1", BODY, now=now, allowed_hosts=set())
        assert result.permanent and not result.disable_endpoint and "SSRF" in result.detail, url
    assert receiver.requests == []


def test_unresolvable_host_is_transient(monkeypatch, now):
    def no_dns(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    result = post_signed("https://hooks.customer.example/x", SECRET, "ntf-1", BODY, now=now, allowed_hosts=set())
    assert result.retryable and "does not resolve" in result.detail


def test_connection_goes_to_the_vetted_address_without_a_second_lookup(receiver, monkeypatch, now):
    # No DNS server can run here, so the resolver is the one stand-in: it maps a test name to 127.0.0.1.
    real_getaddrinfo = socket.getaddrinfo
    lookups: list[str] = []

    def resolver(host, *args, **kwargs):
        lookups.append(host)
        return real_getaddrinfo("127.0.0.1" if host == "hooks.customer.test" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    port = receiver.base.rsplit(":", 1)[1]
    result = post_signed(f"http://hooks.customer.test:{port}/ok", SECRET, "ntf-1", BODY, now=now,
                         allowed_hosts={"hooks.customer.test"})
    assert result.ok, result.detail
    assert lookups.count("hooks.customer.test") == 1, "resolved once by the guard, then pinned"
    assert receiver.requests[0].headers["Host"] == f"hooks.customer.test:{port}"


# --- HTTPS with the pinned address: the certificate is still checked against the host name -------------


def _self_signed(tmp_path, name: str):
    """Write a self-signed certificate for name; return (cert_path, key_path)."""
    crypto = pytest.importorskip("cryptography")  # noqa: F841
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    wall_clock = datetime.now(timezone.utc)  # TLS checks validity against the real clock
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(wall_clock - timedelta(days=1)).not_valid_after(wall_clock + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.mark.parametrize("cert_name, expect_ok", [("localhost", True), ("someone-else.test", False)])
def test_https_through_the_pin_keeps_certificate_checks(tmp_path, now, cert_name, expect_ok):
    cert_path, key_path = _self_signed(tmp_path, cert_name)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert_path, key_path)
    first_address = socket.getaddrinfo("localhost", 443, type=socket.SOCK_STREAM)[0][4][0]
    recv = Receiver(now)
    server, thread = serve(recv, host=first_address, tls=tls)
    session = webhook_session()
    session.verify = str(cert_path)
    try:
        result = post_signed(f"https://localhost:{server.server_address[1]}/ok", SECRET, "ntf-1", BODY, now=now,
                             allowed_hosts={"localhost"}, session=session, timeout=(2, 5))
    finally:
        session.close()
        server.shutdown()
        server.server_close()
        thread.join(5)
    if expect_ok:
        assert result.ok, result.detail
        assert recv.requests[0].verified
    else:
        assert not result.ok and result.retryable and "certificate" in result.detail.lower()
        assert recv.requests == []


# --- SSRF guard ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "https://127.0.0.1/hook",
    "https://localhost/hook",
    "https://[::1]/hook",
    "https://10.0.0.5/hook",
    "https://172.16.3.4/hook",
    "https://192.168.1.10/hook",
    "https://169.254.169.254/latest/meta-data/",  # cloud metadata
    "https://100.100.100.200/",  # CGNAT range, e.g. Alibaba Cloud metadata
    "https://0.0.0.0/hook",
    "https://224.0.0.1/hook",
    "https://[fd00:ec2::254]/",  # IPv6 ULA, e.g. AWS IPv6 metadata
    "https://[fe80::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",  # IPv4-mapped loopback
    "https://2130706433/hook",  # 127.0.0.1 as one decimal number
])
def test_non_public_targets_are_refused_without_allow_list(url):
    with pytest.raises(UnsafeTarget, match="non-public"):
        check_webhook_target(url, set())


@pytest.mark.parametrize("url, reason", [
    ("http://hooks.customer.example/x", "https"),
    ("ftp://hooks.customer.example/x", "scheme"),
    ("https://user:secret@hooks.customer.example/x", "credentials"),
    ("https:///nohost", "no host"),
    ("https://hooks.customer.example:99999/x", "malformed"),
    ("https://hooks.customer.example/x y", "spaces"),
    ("", "empty"),
])
def test_malformed_or_plain_http_targets_are_refused(url, reason):
    with pytest.raises(UnsafeTarget, match=reason):
        check_webhook_target(url, set())


def test_allow_listed_hosts_may_be_internal_and_plain_http():
    check_webhook_target("http://127.0.0.1:8080/hook", {"127.0.0.1"})
    check_webhook_target("https://LOCALHOST./hook", {"localhost"})
    vetted = vet_webhook_target("http://127.0.0.1:8080/hook", {"127.0.0.1"})
    assert vetted.allow_listed and vetted.addresses == ("127.0.0.1",) and vetted.port == 8080
    with pytest.raises(UnsafeTarget, match="credentials"):
        check_webhook_target("http://u:p@127.0.0.1/hook", {"127.0.0.1"})


def test_public_addresses_pass():
    check_webhook_target("https://8.8.8.8/hook", set())
    check_webhook_target("https://[2606:4700:4700::1111]:8443/hook", set())


def test_smtps_with_an_untrusted_certificate_sends_nothing(tmp_path, now):
    cert_path, key_path = _self_signed(tmp_path, "localhost")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert_path, key_path)
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), ssl_context=tls)
    controller.start()
    try:
        results = send_batch(SmtpSettings(host="127.0.0.1", port=controller.port, security=SmtpSecurity.ssl, timeout=5),
                             [outgoing(1, now), outgoing(2, now)])
    finally:
        controller.stop()
    assert all(r.retryable and "certificate" in r.detail.lower() for r in results)
    assert handler.messages == []
