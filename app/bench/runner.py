"""The bench: generate a map, then measure items a-h each beside a baseline computed in the same run."""

from __future__ import annotations

import gc
import json
import os
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from typing import Callable

import sqlalchemy as sa
from sqlmodel import Session, select

from app.bench.generate import (SCALES, SCOPE_SYSTEMS, MapShape, add_records, analyze, base_time, bulk_insert,
                                create_base, loading)

GOALS = {"a": 1.5, "b": 1.2, "c": 2.0, "d": 1.5, "e": 2.0, "f": 5.0, "g": 2.0, "h": 2.0}
TITLES = {
    "a": "impact analysis, 50 systems vs bare SQL aggregate",
    "b": "impact analysis, full map vs 1/10 of it (same scope)",
    "c": "drafting notifications vs bare Jinja2 + bulk insert",
    "d": "email delivery vs bare smtplib loop (one connection)",
    "e": "webhook delivery vs bare requests.Session loop",
    "f": "dashboard p50 vs one-indexed-query route",
    "g": "CSV timeline export vs sqlite3 -csv / COPY",
    "h": "scheduler tick (100 due) vs the indexed due query",
}
ITEMS = tuple(GOALS)
# Per scale: repetitions, and the sizes that the issue fixes for "large" (about 1/100 for "small").
SIZES = {
    "large": {"reps": 5, "slow_reps": 1, "draft": 10_000, "deliver": 2_000, "dashboard": 10_000,
              "events": 1_000_000, "reminders": 100_000, "due": 100, "requests": 40},
    "small": {"reps": 5, "slow_reps": 3, "draft": 100, "deliver": 50, "dashboard": 100,
              "events": 10_000, "reminders": 1_000, "due": 100, "requests": 40},
}


@dataclass
class Result:
    """One line of the table and of the JSON file."""

    id: str
    title: str
    value: float | None
    baseline: float | None
    ratio: float | None
    goal: float
    met: bool
    unit: str
    peak_rss_mb: float | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)

    def public(self) -> dict:
        """The JSON form the issue specifies."""
        data = asdict(self)
        data.pop("note")
        data.pop("extra")
        return data


def median_seconds(fn: Callable[[], object], reps: int, *, before: Callable[[], object] | None = None) -> float:
    """Median wall time of `fn` over `reps` runs; `before` runs untimed ahead of each."""
    samples = []
    for _ in range(reps):
        if before is not None:
            before()
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def paired_medians(product: Callable[[], object], baseline: Callable[[], object], reps: int, *,
                   before: Callable[[], object] | None = None) -> tuple[float, float]:
    """Median wall times of `product` and `baseline`, run alternately so the machine's load affects both alike."""
    first, second = [], []
    for _ in range(reps):
        for fn, samples in ((product, first), (baseline, second)):
            if before is not None and fn is product:
                before()
            started = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - started)
    return statistics.median(first), statistics.median(second)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


class Bench:
    """One bench run over one database."""

    def __init__(self, url: str, scale: str, only: set[str], echo: Callable[[str], None] = print):
        self.url, self.scale, self.only, self.echo = url, scale, only, echo
        self.sizes = SIZES[scale]
        self.shape = MapShape(**SCALES[scale])
        self.results: list[Result] = []
        self.procs: list[subprocess.Popen] = []
        self.now = base_time()
        self.smtp_port = free_port()
        self.hook_port = free_port()

    # -- setup ---------------------------------------------------------------------------------------------
    def log(self, message: str) -> None:
        self.echo(f"[{time.strftime('%H:%M:%S')}] {message}")

    def start(self) -> None:
        import logging

        from app import create_app

        # Item h fires reminders with no PSIRT channel configured on purpose: keep the log quiet.
        logging.getLogger("app.scheduler").setLevel(logging.CRITICAL)
        from app.cli import init_database
        self.app = create_app({"DATABASE_URL": self.url, "SECRET_KEY": "bench-secret", "WTF_CSRF_ENABLED": False,
                               "SESSION_COOKIE_SECURE": False, "REMEMBER_COOKIE_SECURE": False,
                               "MAIL_FROM": "Breachline PSIRT <psirt@bench.example>",
                               "PUBLIC_BASE_URL": "https://breachline.bench.example",
                               "COMPANY_NAME": "Bench Cloud GmbH", "WEBHOOK_ALLOWED_HOSTS": {"127.0.0.1"},
                               "SMTP_HOST": "127.0.0.1", "SMTP_PORT": self.smtp_port, "SMTP_TIMEOUT": 30,
                               "LOGIN_THROTTLE_ENABLED": False})
        self._add_trivial_route()
        self.engine = self.app.extensions["breachline.engine"]
        init_database(self.app)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.procs.append(subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l",
                                            f"127.0.0.1:{self.smtp_port}", "-c", "aiosmtpd.handlers.Sink"], env=env,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        self.procs.append(subprocess.Popen([sys.executable, "-m", "app.bench.receiver", str(self.hook_port)],
                                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait_port(self.smtp_port)
        _wait_port(self.hook_port)

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if getattr(self, "engine", None) is not None:
            self.engine.dispose()

    def _add_trivial_route(self) -> None:
        from app.auth.permissions import Permission, declare

        @declare(Permission.incident_read)
        def bench_one_query():
            from app.db import get_session

            # One indexed query, the floor any page pays: the first open incidents by the status index.
            rows = get_session().execute(sa.text("SELECT id, ref FROM incident WHERE status = 'investigating' "
                                                 "ORDER BY id LIMIT 20")).all()
            return {"incidents": [r[1] for r in rows]}

        self.app.add_url_rule("/_bench/one-query", "bench_one_query", bench_one_query)

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # -- data --------------------------------------------------------------------------------------------------
    def generate(self, phase: int) -> None:
        started = time.perf_counter()
        with loading(self.engine) as conn:
            if phase == 1:
                create_base(conn, self.shape, webhook_base=f"http://127.0.0.1:{self.hook_port}/hooks")
                self.next_record = add_records(conn, self.shape, phase=1, start_id=1)
            else:
                self.next_record = add_records(conn, self.shape, phase=2, start_id=self.next_record)
        analyze(self.engine)
        with self.engine.connect() as conn:
            records = conn.execute(sa.text("SELECT count(*) FROM processing_record")).scalar_one()
        self.log(f"data map phase {phase}: {records:,} processing records in {time.perf_counter() - started:.1f} s")

    def incident(self, title: str, systems: list[int], controllers: list[int] | None = None, **kw) -> tuple[int, str]:
        """Declare an incident through the real flow (impact, obligations, timeline)."""
        from app.clock.settings import ClockSettings
        from app.flows import incident as incident_flows
        from app.incidents.models import IncidentCreate, ScopeIn

        with self.app.app_context(), self.session() as session:
            keys = [f"sys-{i:05d}" for i in systems]
            ctl_keys = [f"ctl-{i:06d}" for i in controllers] if controllers else []
            data = IncidentCreate(title=title, incident_type="web-app-exfiltration", summary="Bench incident.",
                                  breach_types=["confidentiality"],
                                  detected_at=(self.now - timedelta(hours=3)).isoformat(),
                                  aware_at=(self.now - timedelta(hours=2)).isoformat(),
                                  scope=ScopeIn(systems=keys, controllers=ctl_keys), **kw)
            settings = ClockSettings.from_config(self.app.config, regimes=self.regimes())
            incident = incident_flows.declare(session=session, data=data, now=self.now, settings=settings,
                                              actor=incident_flows.Actor("responder@bench.example", "responder"))
            session.commit()
            return incident.id, incident.ref

    def regimes(self):
        from app import runtime

        with self.app.app_context():
            return runtime.regimes()

    # -- items ----------------------------------------------------------------------------------------------
    def add(self, item: str, value, baseline, unit: str, *, peak=None, note: str = "", met=None, **extra) -> Result:
        ratio = round(value / baseline, 2) if value is not None and baseline else None
        goal = GOALS[item]
        if met is None:
            met = ratio is not None and ratio <= goal
        result = Result(item, TITLES[item], _round(value), _round(baseline), ratio, goal, bool(met), unit, peak,
                        note, extra)
        self.results.append(result)
        self.log(f"{item}: {result.value} vs {result.baseline} {unit} -> ratio {ratio} (goal <= {goal}) "
                 f"{'met' if met else 'NOT met'}{' ' + note if note else ''}")
        return result

    def load_reference(self) -> float:
        """Fastest time of a fixed, map-independent workload: 20 database round trips and a CPU loop."""

        def work():
            with self.engine.connect() as conn:
                for _ in range(20):
                    conn.exec_driver_sql("SELECT 1").all()
            sum(i * i for i in range(200_000))

        samples = []
        for _ in range(3 * self.sizes["reps"]):
            started = time.perf_counter()
            work()
            samples.append(time.perf_counter() - started)
        return min(samples)  # like the b measurements it scales

    @property
    def b_reps(self) -> int:
        """Runs per map size for item b."""
        return 5 * self.sizes["reps"]

    def impact_fastest(self, incident_id: int) -> float:
        """The fastest of b_reps impact analyses of the incident (after one warm-up)."""
        from app.incidents.impact import compute_impact

        samples = []
        for _ in range(self.b_reps + 1):
            with self.session() as s:
                started = time.perf_counter()
                compute_impact(session=s, incident_id=incident_id)
                samples.append(time.perf_counter() - started)
        return min(samples[1:])

    def impact_pair(self, incident_id: int, reps: int | None = None) -> tuple[float, float]:
        from app.incidents.impact import compute_impact

        def product():
            with self.session() as s:
                compute_impact(session=s, incident_id=incident_id)

        def bare():
            with self.engine.connect() as conn:
                conn.execute(sa.text(
                    "SELECT pr.controller_id, pr.role, sum(pr.est_subjects), sum(pr.est_records) "
                    "FROM processing_record pr JOIN incident_system s ON s.system_id = pr.system_id "
                    "WHERE s.incident_id = :i GROUP BY pr.controller_id, pr.role"), {"i": incident_id}).all()
                conn.execute(sa.text(
                    "SELECT pr.controller_id, c.category_key, sum(pr.est_subjects) "
                    "FROM processing_record pr JOIN incident_system s ON s.system_id = pr.system_id "
                    "JOIN processing_data_category c ON c.record_id = pr.id "
                    "WHERE s.incident_id = :i GROUP BY pr.controller_id, c.category_key"), {"i": incident_id}).all()

        product()  # warm caches the same way for both
        bare()
        return paired_medians(product, bare, reps or self.sizes["reps"])

    def run(self) -> list[Result]:
        self.start()
        try:
            self.generate(1)
            b_scope = list(range(1, SCOPE_SYSTEMS + 1))
            if "b" in self.only:
                b_id, _ = self.incident("Bench b: constant scope", b_scope)
                b_small = self.impact_fastest(b_id)
                ref_small = self.load_reference()
            self.generate(2)
            if "b" in self.only:
                b_large = self.impact_fastest(b_id)
                ref_large = self.load_reference()
                with self.engine.connect() as conn:
                    scoped = conn.execute(sa.text("SELECT count(*) FROM processing_record WHERE system_id <= :n"),
                                          {"n": SCOPE_SYSTEMS}).scalar_one()
                # The two map sizes cannot be measured at the same moment; on a shared machine the load
                # changes in between. Each side is the fastest of many runs (the least disturbed one, for
                # a deterministic piece of work); a map-independent reference (round trips plus a fixed
                # CPU loop), measured right after each side, shows what load change remains.
                raw = b_large / b_small
                factor = ref_large / ref_small
                self.add("b", b_large, b_small, "s", met=0.8 <= raw <= 1.2,
                         note=f"{scoped:,} records in scope at both map sizes; fastest of {self.b_reps} runs each; "
                              f"the machine's load factor between the two measurements was {factor:.2f} "
                              f"(ratio / factor = {raw / factor:.2f})")
            a_scope = list(range(SCOPE_SYSTEMS + 1, 2 * SCOPE_SYSTEMS + 1))
            if "a" in self.only:
                a_id, _ = self.incident("Bench a: 50 systems", a_scope)
                value, baseline = self.impact_pair(a_id)
                self.add("a", value, baseline, "s")
            if "c" in self.only:
                self.item_c(a_scope)
            if "d" in self.only or "e" in self.only:
                self.items_de(a_scope)
            if {"f", "h"} & self.only:
                self.seed_open_incidents()
            if "f" in self.only:
                self.item_f()
            if "g" in self.only:
                self.item_g()
            if "h" in self.only:
                self.item_h()
        finally:
            self.stop()
        return self.results

    # c -----------------------------------------------------------------------------------------------------------
    def _controllers_in(self, systems: list[int], limit: int, offset: int = 0) -> list[int]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(
                "SELECT DISTINCT controller_id FROM processing_record WHERE system_id BETWEEN :a AND :b "
                "AND controller_id > 1 ORDER BY controller_id LIMIT :n OFFSET :o"),
                {"a": min(systems), "b": max(systems), "n": limit, "o": offset}).scalars())

    def notice_settings(self):
        from app.notifications.settings import NoticeSettings

        return NoticeSettings.from_config(self.app.config, regimes=self.regimes())

    def item_c(self, systems: list[int]) -> None:
        from app.flows import notifications as flows
        from app.flows.incident import Actor
        from app.incidents.models import Incident
        from app.notifications import drafting
        from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound, select_autoescape

        from app.notifications.models import Notification, NotificationVersion
        from app.notifications.render import FILTERS, TEMPLATES, RenderedMessage, template_values

        n = self.sizes["draft"]
        controllers = self._controllers_in(systems, n)
        started = time.perf_counter()
        incident_id, _ = self.incident("Bench c: drafting", systems, controllers)
        self.log(f"c: declared an incident over {len(controllers):,} controllers in "
                 f"{time.perf_counter() - started:.1f} s")
        settings = self.notice_settings()
        recorded: list[tuple] = []
        original = drafting.render_message

        def recording(kind, locale, phase, context):
            recorded.append((kind, locale, phase, dict(context)))
            return original(kind, locale, phase, context)

        drafted = [0]

        def product():
            with self.app.app_context(), self.session() as session:
                outcomes = flows.draft(session=session, incident=session.get(Incident, incident_id), now=self.now,
                                       actor=Actor("responder@bench.example", "responder"), settings=settings)
                drafted[0] = len(outcomes)
                session.rollback()  # the baseline does not keep its rows either

        drafting.render_message = recording
        try:
            product()
        finally:
            drafting.render_message = original
        contexts = recorded[:]
        reps = self.sizes["slow_reps"]
        # gc.collect() untimed before each run, product and baseline alike: the garbage of setting the item
        # up is not the measured code's, and a full collection over the bench's heap costs ~0.1-0.3 s.
        value = median_seconds(product, reps, before=gc.collect)
        table, versions = Notification.__table__, NotificationVersion.__table__
        with self.engine.connect() as conn:
            obligation_id = conn.execute(sa.text("SELECT min(id) FROM obligation WHERE incident_id = :i"),
                                         {"i": incident_id}).scalar_one()

        # Bare Jinja2 (issue 8): the same template files with the same variables, worked out before the
        # clock starts, in a plain Environment with the templates' filters: no sandbox, no validation of
        # the facts, no payload, acknowledgement link or timeline; then the bulk insert of the rows.
        env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, trim_blocks=True,
                          lstrip_blocks=True, keep_trailing_newline=True,
                          autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False,
                                                       default=False))
        env.filters.update(FILTERS)
        jobs = []
        for kind, locale, phase, context in contexts:
            names, values = template_values(kind, locale, phase, context)
            try:
                env.get_template(names["html"])
            except TemplateNotFound:
                names = {**names, "html": None}  # a text-only kind
            jobs.append((names, values))

        def bare():
            rows = [RenderedMessage(env.get_template(names["subject"]).render(values).strip(),
                                    env.get_template(names["text"]).render(values),
                                    env.get_template(names["html"]).render(values) if names["html"] else None)
                    for names, values in jobs]
            with self.engine.connect() as conn:
                with conn.begin() as tx:
                    result = conn.execute(sa.insert(table).returning(table.c.id, sort_by_parameter_order=True), [
                        {"uid": drafting.new_uid(), "incident_id": incident_id, "obligation_id": obligation_id,
                         "controller_id": None, "recipient_key": f"bench-{i}", "kind": str(kind), "phase": "initial",
                         "seq": 1, "locale": "en", "drill": False, "issued_at": self.now,
                         "drafted_by": "bench", "drafted_at": self.now, "updated_at": self.now,
                         "subject": m.subject, "text": m.text, "html": m.html}
                        for i, (m, (kind, *_rest)) in enumerate(zip(rows, contexts))])
                    ids = list(result.scalars())
                    conn.execute(sa.insert(versions), [
                        {"notification_id": nid, "version": 1, "subject": m.subject, "text": m.text, "html": m.html,
                         "edited_by": "bench", "edited_at": self.now, "note": "drafted"}
                        for nid, m in zip(ids, rows)])
                    tx.rollback()

        baseline = median_seconds(bare, reps, before=gc.collect)
        self.add("c", value, baseline, "s", note=f"{drafted[0]:,} notices drafted, {len(contexts):,} rendered")

    # d, e ----------------------------------------------------------------------------------------------------
    def _queue(self, title: str, systems: list[int], controllers: list[int]) -> int:
        from app.flows import notifications as flows
        from app.flows.incident import Actor
        from app.incidents.models import Incident
        from app.notifications.models import Notification

        incident_id, _ = self.incident(title, systems, controllers)
        settings = self.notice_settings()
        with self.app.app_context(), self.session() as session:
            incident = session.get(Incident, incident_id)
            flows.draft(session=session, incident=incident, now=self.now, settings=settings,
                        actor=Actor("responder@bench.example", "responder"))
            session.commit()
            drafts = session.exec(select(Notification).where(Notification.incident_id == incident_id,
                                                             Notification.status == "draft")).all()
            result = flows.approve_many(session=session, incident=incident,
                                        selection={d.id: d.version for d in drafts}, reasons={},
                                        actor=Actor("lead@bench.example", "lead"), now=self.now, settings=settings)
            session.commit()
            if result.refused:
                self.log(f"{title}: {len(result.refused)} approvals refused, e.g. {result.refused[0][1]}")
        return incident_id

    def _deliver(self) -> tuple[float, int]:
        from app.flows.dispatch import dispatch_pass

        settings = self.notice_settings()
        gc.collect()  # as before every measured run of c, d and e (see item_c)
        delivered, started = 0, time.perf_counter()
        with self.app.app_context():
            while True:
                report = dispatch_pass(self.engine, settings, now=self.now, worker="bench")
                delivered += report.delivered
                if not report.claimed:
                    break
        return time.perf_counter() - started, delivered

    def items_de(self, systems: list[int]) -> None:
        from app.notifications.models import OutboxItem

        n = self.sizes["deliver"]
        # The drafting item rolled its notices back, so the same customers can be reused here.
        pool = self._controllers_in(systems, 2 * n)
        email_ids, hook_ids = pool[:n], pool[n:2 * n]
        with self.engine.begin() as conn:
            conn.execute(sa.text("UPDATE controller SET webhook_url = NULL WHERE id BETWEEN :a AND :b"),
                         {"a": min(email_ids), "b": max(email_ids)})
            if hook_ids:
                conn.execute(sa.text("UPDATE controller SET notify_emails = '[]' WHERE id BETWEEN :a AND :b"),
                             {"a": min(hook_ids), "b": max(hook_ids)})
        for item, ids in (("d", email_ids), ("e", hook_ids)):
            if item not in self.only or not ids:
                continue
            started = time.perf_counter()
            incident_id = self._queue(f"Bench {item}: delivery", systems, ids)
            with self.engine.connect() as conn:
                items = conn.execute(sa.text(
                    "SELECT o.channel, o.addresses, o.url, n.subject, n.text, n.payload, n.uid, n.html FROM notification_outbox o "
                    "JOIN notification n ON n.id = o.notification_id WHERE n.incident_id = :i"),
                    {"i": incident_id}).all()
            self.log(f"{item}: {len(items):,} outbox rows queued in {time.perf_counter() - started:.1f} s")
            value, delivered = self._deliver()
            baseline = median_seconds(lambda: self._bare_email(items) if item == "d" else self._bare_webhook(items),
                                      self.sizes["slow_reps"], before=gc.collect)
            self.add(item, value, baseline, "s", note=f"{delivered:,} of {len(items):,} delivered")
        del OutboxItem

    def _bare_email(self, items) -> None:
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=30) as smtp:
            for channel, addresses, _url, subject, text, _payload, uid, html in items:
                if channel != "email":
                    continue
                message = EmailMessage()
                message["From"] = "psirt@bench.example"
                message["To"] = ", ".join(json.loads(addresses) if isinstance(addresses, str) else addresses)
                message["Subject"] = subject
                message["Message-ID"] = f"<{uid}@bench.example>"
                message.set_content(text)
                if html is not None:  # the same MIME shape as the product's messages
                    message.add_alternative(html, subtype="html")
                smtp.send_message(message)

    def _bare_webhook(self, items) -> None:
        import requests

        with requests.Session() as http:
            for channel, _addresses, url, _subject, _text, payload, _uid, _html in items:
                if channel != "webhook":
                    continue
                body = payload if isinstance(payload, str) else json.dumps(payload)
                http.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=(5, 30)).raise_for_status()

    # f, h ------------------------------------------------------------------------------------------------------
    def seed_open_incidents(self) -> None:
        from app.clock.models import Obligation
        from app.incidents.models import Incident

        n = self.sizes["dashboard"]
        started = time.perf_counter()
        incidents, obligations = [], []
        with loading(self.engine) as conn:
            top = conn.execute(sa.text("SELECT coalesce(max(id), 0) FROM incident")).scalar_one()
            for i in range(1, n + 1):
                iid = top + i
                at = self.now - timedelta(minutes=i)
                incidents.append({"id": iid, "ref": f"BEN-{i:06d}", "year": 2026, "seq": 90_000 + i,
                                  "title": f"Bench open incident {i}", "summary": "", "incident_type": "web-app-exfiltration",
                                  "status": "investigating", "status_rationale": "", "severity": "medium",
                                  "breach_types": ["confidentiality"], "flags": [], "anchors": {}, "detected_at": at,
                                  "aware_at": at, "drill": False, "restricted": i % 50 == 0, "version": 1,
                                  "created_at": at, "updated_at": at, "created_by": "bench@bench.example"})
                for k in range(3):
                    obligations.append({"incident_id": iid, "regime_id": "gdpr", "stage_id": f"stage-{k}",
                                        "title": f"Notify authority {k}", "recipient_kind": "supervisory_authority",
                                        "recipient_key": "", "anchor_name": "aware", "anchor_at": at,
                                        "due_at": at + timedelta(hours=24 * (k + 1) - (i % 97)),
                                        "status": "open", "created_at": at})
            for chunk in range(0, len(incidents), 5000):
                conn.execute(sa.insert(Incident.__table__), incidents[chunk:chunk + 5000])
            for chunk in range(0, len(obligations), 5000):
                conn.execute(sa.insert(Obligation.__table__), obligations[chunk:chunk + 5000])
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('incident', 'id'), (SELECT max(id) FROM incident))")
        analyze(self.engine)
        self.log(f"seeded {n:,} open incidents with {len(obligations):,} obligations in "
                 f"{time.perf_counter() - started:.1f} s")

    def item_f(self) -> None:
        from app.auth.service import create_user

        with self.app.app_context(), self.session() as session:
            create_user(session=session, email="lead@bench.example", name="Bench Lead", role="lead",
                        password="bench password 1234", now=self.now)
            session.commit()
        client = self.app.test_client()
        response = client.post("/login", data={"email": "lead@bench.example", "password": "bench password 1234"})
        if response.status_code != 302:
            self.add("f", None, None, "s", note=f"cannot sign in: {response.status_code}")
            return

        def get(path: str) -> float:
            started = time.perf_counter()
            answer = client.get(path)
            elapsed = time.perf_counter() - started
            if answer.status_code != 200:
                raise RuntimeError(f"{path}: HTTP {answer.status_code}")
            return elapsed

        get("/dashboard")  # warm templates and caches
        get("/_bench/one-query")
        page, floor = [], []
        for _ in range(self.sizes["requests"]):  # alternately, so a change in the machine's load hits both alike
            page.append(get("/dashboard"))
            floor.append(get("/_bench/one-query"))
        page.sort()
        floor.sort()

        def pct(samples, p):
            return samples[min(len(samples) - 1, int(round(p * (len(samples) - 1))))]

        self.add("f", pct(page, 0.5), pct(floor, 0.5), "s",
                 note=f"p95 {pct(page, 0.95):.4f} s vs {pct(floor, 0.95):.4f} s "
                      f"(ratio {pct(page, 0.95) / pct(floor, 0.95):.1f})",
                 p95=pct(page, 0.95), p95_baseline=pct(floor, 0.95))

    def item_h(self) -> None:
        from app.clock.models import Reminder
        from app.scheduler import run_tick

        total, due = self.sizes["reminders"], self.sizes["due"]
        with loading(self.engine) as conn:
            obligations = list(conn.execute(sa.text("SELECT id FROM obligation WHERE status = 'open' ORDER BY id "
                                                    "LIMIT 30000")).scalars())
            rows = []
            for i in range(total):
                at = self.now - timedelta(minutes=1 + i) if i < due else self.now + timedelta(minutes=5 + i)
                rows.append({"obligation_id": obligations[i % len(obligations)], "kind": "progress",
                             "label": "50% of the window", "due_at": at, "claimed_by": "", "cancelled": False,
                             "result": ""})
            for chunk in range(0, len(rows), 10_000):
                conn.execute(sa.insert(Reminder.__table__), rows[chunk:chunk + 10_000])
        analyze(self.engine)

        def reset():
            with self.engine.begin() as conn:
                conn.execute(sa.text("UPDATE reminder SET fired_at = NULL, claimed_at = NULL, claimed_by = '', "
                                     "result = '', cancelled = :f WHERE due_at <= :now"),
                             {"now": _bind_time(conn, self.now), "f": False})

        fired = []

        def tick():
            fired.append(run_tick(self.app, now=self.now, worker="bench").fired)

        table = Reminder.__table__
        due_query = (sa.select(table.c.id, table.c.obligation_id, table.c.due_at)
                     .where(table.c.due_at <= self.now, table.c.fired_at.is_(None), table.c.cancelled.is_(False))
                     .order_by(table.c.due_at, table.c.id).limit(100))

        def bare():
            with self.engine.connect() as conn:
                conn.execute(due_query).all()

        value, baseline = paired_medians(tick, bare, self.sizes["reps"], before=reset)
        self.add("h", value, baseline, "s", note=f"{total:,} pending, {max(fired)} fired per tick")

    # g -----------------------------------------------------------------------------------------------------------
    def item_g(self) -> None:
        from app.timeline.models import TimelineHead
        from app.timeline.service import event_hash

        n = self.sizes["events"]
        incident_id, ref = self.incident("Bench g: long timeline", [1])
        started = time.perf_counter()
        with loading(self.engine) as conn:
            head_seq, previous = conn.execute(sa.text("SELECT seq, hash FROM timeline_head WHERE incident_id = :i"),
                                              {"i": incident_id}).one()
            sqlite = conn.dialect.name == "sqlite"

            def events():
                nonlocal previous
                for seq in range(head_seq + 1, n + 1):
                    at = self.now + timedelta(seconds=seq)
                    fields = {"seq": seq, "occurred_at": at, "recorded_at": at, "kind": "note",
                              "actor": "bench@bench.example", "summary": f"Log line {seq}: host 10.0.{seq % 255}.1 "
                              "queried the tenant API", "details": {"n": seq}, "controller_id": None,
                              "prev_hash": previous}
                    previous = event_hash(fields)
                    stamp = at.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else at
                    yield (incident_id, seq, stamp, stamp, "note", fields["actor"], fields["summary"],
                           json.dumps(fields["details"]), None, fields["prev_hash"], previous)

            bulk_insert(conn, "timeline_event", ("incident_id", "seq", "occurred_at", "recorded_at", "kind", "actor",
                                                 "summary", "details", "controller_id", "prev_hash", "hash"), events())
            conn.execute(sa.update(TimelineHead.__table__).where(TimelineHead.__table__.c.incident_id == incident_id)
                         .values(seq=n, hash=previous))
        self.log(f"g: {n:,} timeline events hashed and loaded in {time.perf_counter() - started:.1f} s")
        with tempfile.TemporaryDirectory(prefix="breachline-bench-") as tmp:
            out = os.path.join(tmp, "export.csv")

            def product():
                done = subprocess.run([sys.executable, "-m", "app.bench.export_child", self.url, ref, out],
                                      capture_output=True, text=True, check=True)
                return json.loads(done.stdout.strip().splitlines()[-1])

            def bare():
                query = ("SELECT seq, occurred_at, recorded_at, kind, actor, summary, details, controller_id, "
                         f"prev_hash, hash FROM timeline_event WHERE incident_id = {int(incident_id)} ORDER BY seq")
                if self.engine.dialect.name == "sqlite":
                    path = sa.engine.make_url(self.url).database
                    with open(out, "wb") as fh:
                        subprocess.run(["sqlite3", "-csv", "-header", path, query], stdout=fh, check=True)
                else:
                    url = sa.engine.make_url(self.url).set(drivername="postgresql")
                    with open(out, "wb") as fh:
                        subprocess.run(["psql", "-X", "-q", url.render_as_string(hide_password=False), "-c",
                                        f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER)"], stdout=fh, check=True)

            reps = self.sizes["slow_reps"]
            # The export's own time, measured inside the child after its imports: a web worker or a
            # CLI export pays interpreter start-up once, not per export. The CLI baseline's start-up is ~ms.
            runs = [product() for _ in range(reps)]
            value = statistics.median(r["seconds"] for r in runs)
            baseline = median_seconds(bare, reps)
        peak = max(r["peak_rss_mb"] for r in runs)
        ratio_ok = value / baseline <= GOALS["g"]
        self.add("g", value, baseline, "s", peak=peak, met=ratio_ok and peak < 200,
                 note=f"{runs[-1]['bytes'] / 1e6:.0f} MB of CSV; peak RSS {peak} MB (limit 200)")


def _bind_time(conn, value):
    return value.replace(tzinfo=None) if conn.dialect.name == "sqlite" else value


def _round(value):
    return None if value is None else round(value, 6)


def table(results: list[Result]) -> str:
    """The printed table."""
    lines = [f"{'':2} {'item':55} {'value':>10} {'baseline':>10} {'ratio':>7} {'goal':>6} {'met':>4} {'peak MB':>8}"]
    for r in results:
        lines.append(f"{r.id:2} {r.title[:55]:55} {_fmt(r.value):>10} {_fmt(r.baseline):>10} "
                     f"{_fmt(r.ratio, 2):>7} {'<=' + str(r.goal):>6} {'yes' if r.met else 'NO':>4} "
                     f"{_fmt(r.peak_rss_mb, 1):>8}")
    for r in results:
        if r.note:
            lines.append(f"  {r.id}: {r.note}")
    return "\n".join(lines)


def _fmt(value, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


@contextmanager
def database(url: str | None):
    """The bench database: the given URL, or a temporary SQLite file removed afterwards."""
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="breachline-bench-") as tmp:
        yield f"sqlite:///{os.path.join(tmp, 'bench.db')}"
