"""Browser-test fixtures: the app served on 127.0.0.1, a real SMTP server, a signature-checking webhook
receiver, Debian's Chromium driven by Playwright, axe-core, and step screenshots kept on failure.

Chromium comes from Debian (`apt-get install chromium`, see .ci/run); Playwright never downloads a
browser here. A headless root run on a closed network needs exactly the flags in CHROMIUM_ARGS.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from e2e_support import ARTIFACTS, AXE, CHROMIUM, CHROMIUM_ARGS, PASSWORD, ROOT, WEBHOOK_SECRET


def pytest_collection_modifyitems(config, items):
    """Browser tests need Debian's Chromium: skip without it, except in CI where that is a failure."""
    if Path(CHROMIUM).exists() or os.environ.get("CI"):
        return  # in CI a missing browser fails the launch, loudly
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=f"no Chromium at {CHROMIUM}: apt-get install chromium"))


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- Playwright on Debian's Chromium ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright's launch arguments, pointed at /usr/bin/chromium (Playwright adds a fresh user-data dir)."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS,
            "headless": True, "timeout": 60_000}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """Every page: 1280x800, the viewer in Berlin (times must show in their zone, UTC on hover)."""
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}, "timezone_id": "Europe/Berlin",
            "locale": "en-GB"}


# --- screenshots: each step, kept on failure; the gallery keeps chosen ones -------------------------------


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Remember each phase's report on the item, so fixtures can tell a failed test at teardown."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


class Steps:
    """Screenshot after every step into a scratch folder; on failure the folder goes to test-artifacts/e2e/."""

    def __init__(self, scratch: Path, gallery: Path | None):
        self.scratch, self.gallery, self.n, self.last = scratch, gallery, 0, "start"

    def shot(self, page, name: str, *, gallery: str | None = None, full_page: bool = False) -> None:
        """Screenshot `page` as step NN-name; with `gallery` and a gallery folder, keep a copy there too."""
        self.n += 1
        self.last = name
        page.screenshot(path=str(self.scratch / f"{self.n:02d}-{name}.png"), full_page=full_page)
        if gallery and self.gallery is not None:
            target = self.gallery / f"{gallery}.png"
            page.screenshot(path=str(target), full_page=False, type="png")
            _shrink_png(target)


def _shrink_png(path: Path) -> None:
    """Quantise a screenshot to a 256-colour palette (UI screenshots lose nothing visible, ~4x smaller)."""
    try:
        from PIL import Image
    except ImportError:  # Pillow comes with WeasyPrint; without it the PNG stays as Chromium wrote it
        return
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, optimize=True)


@pytest.fixture
def steps(request, tmp_path):
    """The step recorder; keeps its screenshots under test-artifacts/e2e/<test>/ when the test fails (or always,
    with BREACHLINE_KEEP_STEPS=1)."""
    gallery = os.environ.get("BREACHLINE_SCREENSHOTS")
    gallery_dir = (ROOT / gallery) if gallery and not os.path.isabs(gallery) else (Path(gallery) if gallery else None)
    if gallery_dir is not None:
        gallery_dir.mkdir(parents=True, exist_ok=True)
    scratch = tmp_path / "steps"
    scratch.mkdir()
    recorder = Steps(scratch, gallery_dir)
    yield recorder
    rep = getattr(request.node, "rep_call", None)
    if (rep is not None and rep.failed) or os.environ.get("BREACHLINE_KEEP_STEPS"):
        target = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(scratch, target)


@pytest.fixture
def shoot_on_failure(request, steps):
    """Register pages to screenshot at the moment a test fails (after its last recorded step)."""
    pages = []
    yield pages.append
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        for i, page in enumerate(pages):
            try:
                page.screenshot(path=str(steps.scratch / f"zz-failure-{i}.png"), full_page=True)
            except Exception:  # the page may be gone with the failure; keep the earlier steps
                pass
        target = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(steps.scratch, target)


@pytest.fixture
def csp_watch():
    """Register pages whose console must show no Content-Security-Policy refusal (no inline code anywhere);
    checked when the test ends."""
    refused: list[str] = []

    def watch(page) -> None:
        def on_console(message):
            if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
                refused.append(f"{page.url}: {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: refused.append(f"{page.url}: script error: {error}"))

    yield watch
    assert not refused, "the page refused inline code or a script failed:\n" + "\n".join(refused)


# --- axe-core ---------------------------------------------------------------------------------------------


@dataclass
class AxeResults:
    """axe-core violations per checked page."""

    pages: dict[str, list[dict]] = field(default_factory=dict)

    def serious(self) -> dict[str, list[str]]:
        """Per page, the serious and critical violations as readable lines."""
        out: dict[str, list[str]] = {}
        for name, violations in self.pages.items():
            lines = [f"{v['impact']}: {v['id']} ({v['help']}) at "
                     + "; ".join(", ".join(n["target"]) if isinstance(n["target"][0], str) else str(n["target"])
                                 for n in v["nodes"][:5])
                     for v in violations if v.get("impact") in ("serious", "critical")]
            if lines:
                out[name] = lines
        return out


def run_axe(page, name: str, results: AxeResults) -> list[dict]:
    """Inject the vendored axe-core and run it (WCAG 2.x A and AA rules plus best practice) on the page."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated over the DevTools protocol: the page's CSP (script-src 'self') rightly refuses a script tag.
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    violations = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']},
            resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => ({target: n.target, html: n.html.slice(0, 300), summary: n.failureSummary}))}));
    }""")
    results.pages[name] = violations
    return violations


@pytest.fixture
def axe():
    """Collects axe results; call `axe(page, name)` on each page, then assert `not axe.results.serious()`."""
    results = AxeResults()

    def check(page, name: str) -> list[dict]:
        return run_axe(page, name, results)

    check.results = results
    return check


# --- the receivers ----------------------------------------------------------------------------------------


class Inbox:
    """aiosmtpd handler keeping every message it is given."""

    def __init__(self):
        self.messages: list[tuple[str, list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 2.0.0 queued"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        """Messages addressed to `address`."""
        return [m for _, rcpts, m in self.messages if address in rcpts]


@pytest.fixture
def smtp_inbox():
    """A real SMTP server (aiosmtpd) on 127.0.0.1; yields (inbox, port)."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


@dataclass
class Hook:
    """One webhook request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool


class WebhookReceiver:
    """A customer's webhook endpoint: answers 204 to correctly signed requests, 401 to the rest."""

    def __init__(self, secret: str):
        self.secret = secret
        self.requests: list[Hook] = []
        self.base = ""

    def handler(self):
        from app.notifications.channels.webhook import verify

        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                ok = verify(receiver.secret, self.headers, body, datetime.now(timezone.utc))
                receiver.requests.append(Hook(self.path, dict(self.headers.items()), body, ok))
                self.send_response(204 if ok else 401)
                self.send_header("Content-Length", "0")
                self.send_header("Connection", "close")
                self.end_headers()

        return Handler


@pytest.fixture
def webhook_receiver():
    """A real HTTP receiver on 127.0.0.1 that checks Standard Webhooks signatures with WEBHOOK_SECRET."""
    receiver = WebhookReceiver(WEBHOOK_SECRET)
    server = ThreadingHTTPServer(("127.0.0.1", 0), receiver.handler())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    receiver.base = f"http://127.0.0.1:{server.server_address[1]}"
    yield receiver
    server.shutdown()
    server.server_close()
    thread.join(5)


# --- the app, served ----------------------------------------------------------------------------------------


@dataclass
class LiveServer:
    """The running app, its URL and its Flask object (for the CLI runner and direct checks)."""

    app: object
    url: str

    def cli(self, *args: str):
        """Run a `breachline` command against the served app's database; returns the click Result."""
        result = self.app.test_cli_runner().invoke(args=list(args))
        assert result.exit_code == 0, f"breachline {' '.join(args)} failed:\n{result.output}\n{result.exception!r}"
        return result


@pytest.fixture
def live_server(tmp_path, smtp_inbox, webhook_receiver):
    """create_app on a fresh migrated SQLite file, CSRF on, SMTP and webhooks to the local receivers, served
    by werkzeug on 127.0.0.1 in a thread; users admin@ (drafts) and lead@ (approves)."""
    from werkzeug.serving import make_server

    from app import create_app
    from app.auth.service import create_user
    from app.datamap.service import sync_taxonomy
    from app.db import make_engine, session_scope
    from app.migrations import upgrade
    from app.migrations.models import metadata

    _, smtp_port = smtp_inbox
    db_url = f"sqlite:///{tmp_path / 'e2e.db'}"
    engine = make_engine(db_url)
    upgrade(engine)
    metadata.create_all(engine)  # tables of work in progress whose migration is not written yet
    engine.dispose()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app({"DATABASE_URL": db_url, "SECRET_KEY": "e2e-secret-key-not-for-production",
                      "WTF_CSRF_ENABLED": True, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": smtp_port,
                      "SMTP_SECURITY": "none", "SMTP_TIMEOUT": 10, "MAIL_FROM": "psirt@breachline.test",
                      "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1", "PUBLIC_BASE_URL": url,
                      "COMPANY_NAME": "Northwind Cloud GmbH", "COMPANY_CONTROLLER_KEY": "northwind",
                      "PSIRT_EMAIL": "psirt@breachline.test"})
    app.instance_path = str(tmp_path / "instance")
    now = datetime.now(timezone.utc)
    with app.app_context():
        with session_scope() as session:
            sync_taxonomy(session=session)
        with session_scope() as session:
            create_user(session=session, email="admin@breachline.test", name="Ada Admin", role="admin",
                        password=PASSWORD, now=now)
            create_user(session=session, email="lead@breachline.test", name="Lee Lead", role="lead",
                        password=PASSWORD, now=now)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LiveServer(app, url)
    server.shutdown()
    thread.join(5)
    app.extensions["breachline.engine"].dispose()

