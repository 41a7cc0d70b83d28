"""Real receivers for delivery tests: an aiosmtpd mailbox and an HTTP webhook receiver that checks signatures.

Both run in the test process (threads), so they stay up while a test kills and restarts dispatcher processes.
"""

from __future__ import annotations

import collections
import email
import email.policy
import json
import socket
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from app.notifications.channels.webhook import verify


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """A real SMTP server on 127.0.0.1; refuses recipients starting with 'bounce'; can be stopped and restarted."""

    def __init__(self, port: int | None = None, delay: float = 0.0):
        self.port = port or free_port()
        self.delay = delay  # seconds DATA takes: a slow server holds the dispatcher mid-batch
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[list[str]] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("bounce"):
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            import asyncio

            await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)  # who the SMTP envelope named, for assertions
        with self._lock:
            self.messages.append(message)
            self.envelopes.append(list(envelope.rcpt_tos))
        return "250 2.0.0 queued"

    def start(self) -> Mailbox:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def ids(self) -> collections.Counter:
        """Messages received per Message-ID."""
        return self.per_header("Message-ID")

    def per_header(self, name: str) -> collections.Counter:
        """Messages received per value of one header."""
        with self._lock:
            return collections.Counter(str(m[name]) for m in self.messages)

    def subjects(self) -> list[str]:
        """The subjects received, sorted."""
        with self._lock:
            return sorted(str(m["Subject"]) for m in self.messages)


class Receiver:
    """An HTTP receiver on 127.0.0.1: checks Standard Webhooks signatures, answers scripted statuses."""

    def __init__(self, secrets: dict[str, str] | None = None, delay: float = 0.0):
        self.secrets = dict(secrets or {})  # path -> secret
        self.delay = delay
        self.now: datetime = datetime.now(timezone.utc)  # the injected time signatures are checked against
        self.script: dict[str, list[tuple[int, dict]]] = collections.defaultdict(list)  # path -> responses to give
        self.default = 200
        self.hits: list[dict] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if receiver.delay:
                    time.sleep(receiver.delay)
                headers = {k.lower(): v for k, v in self.headers.items()}
                secret = receiver.secrets.get(self.path)
                valid = bool(secret) and verify(secret, headers, body, now=receiver.now)
                with receiver._lock:
                    scripted = receiver.script[self.path].pop(0) if receiver.script[self.path] else None
                    receiver.hits.append({"path": self.path, "id": headers.get("webhook-id"), "valid": valid,
                                          "headers": headers, "body": body})
                status, extra = scripted or (receiver.default if valid else 401, {})
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def ids(self, valid_only: bool = True) -> collections.Counter:
        """Hits per webhook-id (only correctly signed ones by default)."""
        with self._lock:
            return collections.Counter(h["id"] for h in self.hits if h["valid"] or not valid_only)

    def payloads(self) -> list[dict]:
        with self._lock:
            return [json.loads(h["body"]) for h in self.hits if h["valid"]]
