"""The documented deployment under load: two gunicorn workers and two `breachline scheduler` processes on PostgreSQL.

Issue 8: 200 incidents, 2,000 notifications driven through the HTTP API of real gunicorn workers; two scheduler
processes (one leads through the advisory lock, the other stands by) fire every reminder once and deliver every
notification once to a real SMTP server and a real webhook receiver running in this test process.

Time is not injected here (these are separate processes on the real clock); reminders are made to come due a few
seconds after each declaration by declaring with an `aware_at` just under half the customer's 24 h contract ago: the
"50% of the window" reminder of each customer obligation falls due `REMINDER_LEAD` seconds later.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time as walltime
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
import yaml
from sqlmodel import Session

from app.db import make_engine
from app.timeline.service import verify_incident

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notifications"))
from receivers import Mailbox, Receiver, free_port  # noqa: E402  (the notification tests' real receivers)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
UTC = timezone.utc
SYSTEMS, CUSTOMERS_PER_SYSTEM, INCIDENTS = 20, 10, 200
NOTICES = INCIDENTS * CUSTOMERS_PER_SYSTEM  # one per customer in scope: 2,000
CONTRACT_HOURS = 24
REMINDER_LEAD = 2  # seconds from a declaration until its obligations' 50% reminders come due
DRIVERS = 12  # client threads; a sync gunicorn worker serves one request at a time, so they mostly queue
DRIVE_DEADLINE = 360  # seconds for driving all incidents (about 2-3 minutes here, on a shared 2-core machine)
DELIVERY_DEADLINE = 300  # seconds for the last notices to go out after that
MAIL_DOMAIN = "breachline.example.org"
PASSWORD = "correct horse battery staple"
# Worker pid, method, path, status, seconds. "|", not spaces: the personal-data log filter (issue 10) takes
# "201 0.0479" (and gunicorn's default "201 1234") for a phone number and redacts it.
ACCESS_FORMAT = "%(p)s|%(m)s|%(U)s|%(s)s|%(L)s"
SECRET_KEY = "multiprocess-test-secret-key-0123456789"


def webhook_secret(key: str) -> str:
    """Each customer's own signing secret (whsec_ + base64 of 32 bytes)."""
    return "whsec_" + base64.b64encode(hashlib.sha256(f"breachline-{key}".encode()).digest()).decode()


def customer_key(system: int, n: int) -> str:
    return f"cust-{system:02d}-{n:02d}"


def data_map(hook_base: str) -> dict:
    """20 systems with 10 customers each; even customers take email only, odd ones a signed webhook only."""
    controllers, systems, processing = [], [], []
    for s in range(SYSTEMS):
        systems.append({"key": f"sys-{s:02d}", "name": f"Tenant shard {s:02d}", "region": "eu-central-1"})
        for n in range(CUSTOMERS_PER_SYSTEM):
            key = customer_key(s, n)
            channels = ({"email": [f"dpo@{key}.example"]} if n % 2 == 0 else
                        {"webhook": {"url": f"{hook_base}/hooks/{key}", "secret": webhook_secret(key)}})
            controllers.append({"key": key, "name": f"Customer {s:02d}/{n:02d} GmbH", "country": "DE",
                                "jurisdictions": ["EU"], "timezone": "Europe/Berlin",
                                "contract": {"notify_within_hours": CONTRACT_HOURS}, "channels": channels})
            processing.append({"controller": key, "system": f"sys-{s:02d}", "role": "processor",
                               "data_categories": ["user.contact.email", "user.name"],
                               "subject_categories": ["customer"], "est_subjects": 1000 + n,
                               "est_records": 5000 + n})
    return {"controllers": controllers, "systems": systems, "processing": processing}


class ReminderMailbox(Mailbox):
    """The real SMTP mailbox, also counting reminder emails per incident reference (their subject starts with it)."""

    def __init__(self):
        super().__init__()
        self.reminders_by_ref: collections.Counter = collections.Counter()

    async def handle_DATA(self, server, session, envelope):
        answer = await super().handle_DATA(server, session, envelope)
        with self._lock:  # no await since super() appended: the last message is this one
            message = self.messages[-1]
            if message["X-Breachline-Reminder"]:
                self.reminders_by_ref[str(message["Subject"]).split(":", 1)[0]] += 1
        return answer

    def split(self) -> tuple[collections.Counter, collections.Counter, int]:
        """(reminders per X-Breachline-Reminder id, notices per Message-ID, anything else)."""
        reminders, notices, other = collections.Counter(), collections.Counter(), 0
        with self._lock:
            for m in self.messages:
                if m["X-Breachline-Reminder"]:
                    reminders[str(m["X-Breachline-Reminder"])] += 1
                elif str(m["Message-ID"]).startswith("<notification-"):
                    notices[str(m["Message-ID"])] += 1
                else:
                    other += 1
        return reminders, notices, other

    def reminders_for(self, ref: str) -> int:
        with self._lock:
            return self.reminders_by_ref[ref]


class LiveReceiver(Receiver):
    """The real webhook receiver, checking signature timestamps against the real clock (the senders use it too)."""

    @property
    def now(self) -> datetime:
        return datetime.now(UTC)

    @now.setter
    def now(self, value) -> None:  # Receiver.__init__ sets a fixed time; this receiver has none
        pass


class Stack:
    """The processes this test starts, with their logs; fails with every log's tail when one is not right."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.procs: dict[str, subprocess.Popen] = {}
        self.stopped: set[str] = set()  # stopped on purpose: no longer expected to run

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def start(self, name: str, args: list[str], env: dict) -> subprocess.Popen:
        out = self.log(name).open("w")
        # A process group of its own: teardown ends gunicorn's workers with their master.
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        self.procs[name] = proc
        return proc

    def text(self, name: str) -> str:
        path = self.log(name)
        return path.read_text(errors="replace") if path.exists() else ""

    def tails(self, lines: int = 25) -> str:
        parts = []
        for name in sorted({p.stem for p in self.logs.glob("*.log")}):
            tail = "\n".join(self.text(name).splitlines()[-lines:])
            proc = self.procs.get(name)
            state = "" if proc is None else f" (pid {proc.pid}, exit code {proc.poll()})"
            parts.append(f"--- {name}{state}:\n{tail}")
        return "\n".join(parts)

    def check_alive(self) -> None:
        dead = [name for name, proc in self.procs.items() if name not in self.stopped and proc.poll() is not None]
        if dead:
            pytest.fail(f"process(es) {', '.join(dead)} exited early\n{self.tails()}")

    def wait_for(self, condition, what: str, timeout: float) -> None:
        deadline = walltime.monotonic() + timeout
        while not condition():
            self.check_alive()
            if walltime.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{self.tails()}")
            walltime.sleep(0.1)

    def stop(self, name: str, timeout: float = 30) -> int:
        proc = self.procs[name]
        self.stopped.add(name)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{name} did not stop within {timeout:.0f} s of SIGTERM\n{self.tails()}")

    def kill_all(self) -> None:
        for proc in self.procs.values():
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the group this test created for it
            except ProcessLookupError:
                pass
            proc.wait(timeout=30)


@pytest.fixture
def stack(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = Stack(logs)
    try:
        yield procs
    finally:
        procs.kill_all()


@pytest.fixture
def mailbox():
    box = ReminderMailbox().start()
    yield box
    box.stop()


@pytest.fixture
def receiver():
    server = LiveReceiver().start()
    yield server
    server.stop()


def gunicorn_command() -> list[str]:
    """The README's `gunicorn`, or fail/skip with how to install it."""
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        message = "gunicorn is not installed: pip install -e '.[deploy]' (README, Deployment)"
        if os.environ.get("BREACHLINE_REQUIRE_POSTGRES") == "1" or os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    found = shutil.which("gunicorn")
    return [found] if found else [sys.executable, "-m", "gunicorn"]


def deployment_env(database_url: str, mailbox: Mailbox) -> dict:
    """One environment for every process, as the README asks (same database, same secret key)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BREACHLINE_")}
    env.update({
        "BREACHLINE_DATABASE_URL": database_url,
        "BREACHLINE_SECRET_KEY": SECRET_KEY,
        "BREACHLINE_COMPANY_NAME": "Ourco Cloud GmbH",
        "BREACHLINE_PUBLIC_BASE_URL": f"https://{MAIL_DOMAIN}",
        "BREACHLINE_SMTP_HOST": "127.0.0.1",
        "BREACHLINE_SMTP_PORT": str(mailbox.port),
        "BREACHLINE_SMTP_TIMEOUT": "20",
        "BREACHLINE_MAIL_FROM": f"Breachline PSIRT <psirt@{MAIL_DOMAIN}>",
        "BREACHLINE_PSIRT_EMAIL": f"psirt@{MAIL_DOMAIN}",
        "BREACHLINE_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",  # the receiver is on loopback (SSRF guard)
        "BREACHLINE_SCHEDULER_INTERVAL_SECONDS": "1",  # `breachline scheduler` ticks every second
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    })
    return env


def cli(env: dict, *args: str) -> str:
    """Run `breachline ARGS` as an operator would; returns stdout."""
    result = subprocess.run(["breachline", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"breachline {' '.join(args[:2])} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_two_web_workers_and_two_schedulers_deliver_2000_notices_and_fire_2000_reminders_once(
        database_url, mailbox, receiver, stack, tmp_path):
    started = walltime.monotonic()
    gunicorn = gunicorn_command()
    env = deployment_env(database_url, mailbox)
    receiver.secrets = {f"/hooks/{customer_key(s, n)}": webhook_secret(customer_key(s, n))
                        for s in range(SYSTEMS) for n in range(CUSTOMERS_PER_SYSTEM)}

    # The README's deployment: the schema first, then two web workers and two schedulers, started together
    # (the schedulers elect their leader between them) ...
    cli(env, "init-db")
    port = free_port()
    access_log = tmp_path / "logs" / "access.log"
    stack.start("gunicorn", [*gunicorn, "-w", "2", "-b", f"127.0.0.1:{port}", "--access-logfile", str(access_log),
                             "--access-logformat", ACCESS_FORMAT, "app:create_app()"], env)
    for name in ("scheduler-a", "scheduler-b"):
        stack.start(name, ["breachline", "scheduler"], env)
    base = f"http://127.0.0.1:{port}"

    # ... while they boot: the data map, the people and their API tokens.
    map_file = tmp_path / "datamap.yaml"
    map_file.write_text(yaml.safe_dump(data_map(receiver.url(""))))
    assert "200 controllers, 20 systems, 200 processing records" in cli(env, "datamap", "import", str(map_file))
    tokens = {}
    for role in ("responder", "lead"):
        cli(env, "users", "create", "--email", f"{role}@example.org", "--name", role.title(), "--role", role,
            "--password", PASSWORD)
        token = cli(env, "tokens", "create", "--email", f"{role}@example.org").strip()
        tokens[role] = {"Authorization": f"Bearer {token}"}

    def serving() -> bool:
        try:
            return requests.get(f"{base}/healthz", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    stack.wait_for(lambda: len(re.findall(r"Booting worker with pid: \d+", stack.text("gunicorn"))) >= 2 and serving(),
                   "gunicorn to boot two workers and answer /healthz", 90)
    boot_pids = {int(p) for p in re.findall(r"Booting worker with pid: (\d+)", stack.text("gunicorn"))}
    names = ("scheduler-a", "scheduler-b")
    stack.wait_for(lambda: any("scheduler: leader" in stack.text(n) for n in names)
                   and any("scheduler: standby" in stack.text(n) for n in names),
                   "one scheduler to lead and the other to stand by", 90)
    ready_at, stack_ready = walltime.monotonic(), datetime.now(UTC)

    # Drive 200 incidents through the API: declare (responder), wait for its reminders, draft (responder),
    # approve every draft (lead, not the drafter).
    local = threading.local()
    drive_deadline = walltime.monotonic() + DRIVE_DEADLINE
    reminder_waits: list[float] = []

    def http() -> requests.Session:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        return local.session

    def call(method: str, path: str, role: str, expected: tuple[int, ...], **kwargs) -> dict | list:
        response = http().request(method, f"{base}{path}", headers=tokens[role], timeout=60, **kwargs)
        if response.status_code not in expected:
            logs = f"\n{stack.tails()}" if response.status_code >= 500 else ""
            pytest.fail(f"{method} {path}: {response.status_code} {response.text[:500]}{logs}")
        return response.json()

    def drive(i: int) -> tuple[str, list[str]]:
        declared_at = datetime.now(UTC)
        aware_at = declared_at - timedelta(hours=CONTRACT_HOURS / 2) + timedelta(seconds=REMINDER_LEAD)
        incident = call("POST", "/api/v1/incidents", "responder", (201,), json={
            "title": f"Tenant shard {i % SYSTEMS:02d} exposed ({i})", "incident_type": "web-app-exfiltration",
            "summary": "An attacker exported tenant data through a leaked API key.",
            "breach_types": ["confidentiality"], "detected_at": (aware_at - timedelta(hours=1)).isoformat(),
            "aware_at": aware_at.isoformat(), "scope": {"systems": [f"sys-{i % SYSTEMS:02d}"]}})
        ref = incident["ref"]
        # The PSIRT is reminded first (the 50% reminders come due REMINDER_LEAD s after the declaration) ...
        waited = walltime.monotonic()
        while mailbox.reminders_for(ref) < CUSTOMERS_PER_SYSTEM:
            stack.check_alive()
            assert walltime.monotonic() < drive_deadline, f"{ref}: reminders never arrived\n{stack.tails()}"
            walltime.sleep(0.05)
        reminder_waits.append(walltime.monotonic() - waited)
        # ... then drafts one notice per customer in scope, and a lead approves each.
        drafts = call("POST", f"/api/v1/incidents/{ref}/notifications", "responder", (201,))
        assert len(drafts) == CUSTOMERS_PER_SYSTEM and {d["status"] for d in drafts} == {"draft"}, drafts
        assert {d["kind"] for d in drafts} == {"processor_to_controller"}
        for d in drafts:
            approved = call("POST", f"/api/v1/notifications/{d['id']}/approve", "lead", (200,))
            assert approved["status"] in {"queued", "delivered"}, approved["status"]
        return ref, [d["uid"] for d in drafts]

    with ThreadPoolExecutor(DRIVERS) as pool:
        futures = [pool.submit(drive, i) for i in range(INCIDENTS)]
        try:
            results = [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            raise
    driven_at = walltime.monotonic()
    refs = [ref for ref, _ in results]
    uids = {uid for _, batch in results for uid in batch}
    assert len(refs) == len(set(refs)) == INCIDENTS and len(uids) == NOTICES

    engine = make_engine(database_url)
    try:
        def scalar(sql: str):
            with engine.connect() as conn:
                return conn.execute(sa.text(sql)).scalar_one()

        def everything_out() -> bool:
            _, notices, _ = mailbox.split()
            return (len(notices) + len(receiver.ids()) >= NOTICES
                    and scalar("SELECT count(*) FROM notification WHERE status = 'delivered'") == NOTICES)

        stack.wait_for(everything_out, f"{NOTICES} notices delivered", DELIVERY_DEADLINE)
        delivered_at = walltime.monotonic()
        stack.check_alive()  # gunicorn and both schedulers ran the whole time

        # One leader for the whole run, the other standing by.
        leads = {n: stack.text(n).count("scheduler: leader") for n in names}
        assert sorted(leads.values()) == [0, 1], f"leader elections: {leads}\n{stack.tails()}"
        leader = next(n for n in names if leads[n])
        standby = next(n for n in names if n != leader)
        workers = {n: re.search(r"scheduler (\S+): ticking every 1 s", stack.text(n)).group(1) for n in names}
        tick_line = r"^.* tick \S+ {}: claimed .*$"
        # The standby takes over within an interval when the leader stops, and finds nothing left to do.
        assert stack.stop(leader) == 0, f"{leader} did not exit cleanly\n{stack.tails()}"
        stack.wait_for(lambda: re.search(tick_line.format(re.escape(workers[standby])), stack.text(standby), re.M),
                       "the standby scheduler to take over and tick", 30)
        for name in (standby, "gunicorn"):
            assert stack.stop(name) == 0, f"{name} did not exit cleanly\n{stack.tails()}"
        stopped = datetime.now(UTC)
        logs = {n: stack.text(n) for n in names}
        assert logs[leader].count("scheduler: leader") == 1 and logs[standby].count("scheduler: leader") == 1
        before, after = logs[standby].split("scheduler: leader", 1)
        assert "scheduler: standby" in before and not re.search(tick_line.format(".*"), before, re.M), \
            "the standby ticked while the other scheduler led"
        takeover_ticks = re.findall(tick_line.format(re.escape(workers[standby])), after, re.M)
        assert takeover_ticks and all("claimed 0, fired 0, failed 0; dispatch_outbox: {'claimed': 0}" in line
                                      for line in takeover_ticks), takeover_ticks
        ticks = re.findall(tick_line.format(re.escape(workers[leader])), logs[leader], re.M)
        assert ticks and not [line for line in ticks if "error" in line.lower()], stack.tails(60)
        assert not [line for n in names for line in logs[n].splitlines() if " ERROR " in line], stack.tails(60)

        with engine.connect() as conn:
            q = lambda sql, **p: conn.execute(sa.text(sql), p).all()  # noqa: E731

            # Notifications: every one delivered exactly once, by one attempt of the leader, its obligation met then.
            rows = q("SELECT n.uid, n.status, n.delivered_at, o.status AS ob_status, o.met_at"
                     " FROM notification n JOIN obligation o ON o.id = n.obligation_id")
            assert len(rows) == NOTICES and {r.uid for r in rows} == uids
            assert {r.status for r in rows} == {"delivered"} and {r.ob_status for r in rows} == {"met"}
            assert all(r.met_at == r.delivered_at for r in rows)
            attempts = q("SELECT a.notification_id, a.outcome, a.worker, a.channel FROM delivery_attempt a")
            assert len(attempts) == NOTICES and {a.outcome for a in attempts} == {"delivered"}
            assert {a.worker for a in attempts} == {workers[leader]}
            channels = collections.Counter(a.channel for a in attempts)
            assert channels == {"email": NOTICES // 2, "webhook": NOTICES // 2}, channels
            assert not q("SELECT id FROM notification_outbox WHERE status <> 'delivered' OR attempts <> 1")
            delivered_events = collections.Counter(r[0] for r in q(
                "SELECT details->>'uid' FROM timeline_event WHERE kind = 'notification.delivered'"))
            assert set(delivered_events) == uids and set(delivered_events.values()) == {1}

            # Reminders: the 2,000 that came due during the run fired exactly once each (row, mail, timeline).
            fired = q("SELECT r.id, r.label, r.due_at, r.fired_at, r.claimed_by, r.cancelled, o.met_at, i.created_at"
                      " FROM reminder r JOIN obligation o ON o.id = r.obligation_id"
                      " JOIN incident i ON i.id = o.incident_id WHERE r.fired_at IS NOT NULL")
            assert len(fired) == NOTICES, f"{len(fired)} reminders fired"
            assert {r.label for r in fired} == {"50% of the window used"} and not any(r.cancelled for r in fired)
            assert {r.claimed_by for r in fired} == {workers[leader]}
            # Each came due during the run (most a moment after their declaration committed; under load a request
            # can queue longer than REMINDER_LEAD), fired once due, and before its notice went out.
            assert all(stack_ready < r.due_at <= r.fired_at < r.met_at for r in fired), [
                r for r in fired if not stack_ready < r.due_at <= r.fired_at < r.met_at][:3]
            came_due_later = sum(r.created_at < r.due_at for r in fired)
            assert not q("SELECT id FROM reminder WHERE fired_at IS NULL AND NOT cancelled AND due_at <= :t",
                         t=stopped), "a due reminder was never fired"
            assert not q("SELECT id FROM reminder WHERE fired_at IS NULL AND claimed_at IS NOT NULL"
                         " AND NOT cancelled"), "a reminder was left claimed but unrecorded"
            fired_events = collections.Counter(int(r[0]) for r in q(
                "SELECT details->>'reminder_id' FROM timeline_event WHERE kind = 'reminder.fired'"))
            fired_ids = {r.id for r in fired}
            assert set(fired_events) == fired_ids and set(fired_events.values()) == {1}

            incident_ids = [r[0] for r in q("SELECT id FROM incident")]
            recipients = dict(q("SELECT uid, recipient_key FROM notification"))
        assert len(incident_ids) == INCIDENTS

        # What the receivers got: nothing missing, nothing twice, nothing else.
        reminder_mail, notice_mail, other_mail = mailbox.split()
        assert set(reminder_mail) == {f"reminder-{i}" for i in fired_ids} and set(reminder_mail.values()) == {1}
        hooks = receiver.ids(valid_only=False)
        assert all(h["valid"] for h in receiver.hits), "every webhook was correctly signed and timely"
        assert set(notice_mail.values()) == {1} and set(hooks.values()) == {1}, "a notice arrived twice"
        assert {m[len("<notification-"):].split("@")[0] for m in notice_mail} | set(hooks) == uids
        assert len(notice_mail) == len(hooks) == NOTICES // 2 and other_mail == 0
        # ... and each went to its own customer; reminders only to the PSIRT.
        with mailbox._lock:
            to = {str(m["X-Breachline-Reminder"] or m["Message-ID"]): str(m["To"]) for m in mailbox.messages}
        for key, address in to.items():
            if key.startswith("reminder-"):
                assert address == f"psirt@{MAIL_DOMAIN}", (key, address)
            else:
                assert address == f"dpo@{recipients[key[len('<notification-'):].split('@')[0]]}.example", (key, address)
        assert all(h["path"] == f"/hooks/{recipients[h['id']]}" for h in receiver.hits)

        with Session(engine) as session:
            broken = [i for i in incident_ids if not verify_incident(session=session, incident_id=i).ok]
        assert not broken, f"timeline chains broken: {broken[:5]}"
    finally:
        engine.dispose()

    # Both web workers served the API (gunicorn's access log names the worker pid of every request).
    served = collections.Counter()
    statuses = collections.Counter()
    for line in access_log.read_text().splitlines():
        pid, method, path, status, _ = line.split("|")
        if path.startswith("/api/v1/"):
            served[int(pid.strip("<>"))] += 1
            statuses[status] += 1
    assert set(served) == boot_pids and len(served) == 2, (served, boot_pids)
    assert sum(served.values()) == INCIDENTS * 2 + NOTICES and set(statuses) <= {"200", "201"}, statuses
    assert min(served.values()) >= sum(served.values()) // 10, f"one worker did almost everything: {served}"

    waits = sorted(reminder_waits)
    print(f"\nmultiprocess: {INCIDENTS} incidents, {NOTICES} notices {dict(channels)}, {len(fired_ids)} reminders fired"
          f" ({came_due_later} came due after their declaration committed); API requests per worker pid"
          f" {dict(served)}; leader {leader} ({workers[leader]}, {len(ticks)} ticks), then {standby} after the leader"
          f" stopped ({len(takeover_ticks)} idle ticks); setup {ready_at - started:.1f} s, drive"
          f" {driven_at - ready_at:.1f} s, delivery tail {delivered_at - driven_at:.1f} s, total"
          f" {walltime.monotonic() - started:.1f} s; reminder wait median {waits[len(waits) // 2]:.1f} s,"
          f" max {waits[-1]:.1f} s; CPU: this test process {resource.getrusage(resource.RUSAGE_SELF).ru_utime:.0f} s,"
          f" its children {resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime:.0f} s")
