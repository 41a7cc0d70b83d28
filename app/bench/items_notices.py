"""Items c, d and e: drafting notices beside bare Jinja2, delivery by email and webhook beside bare loops."""

from __future__ import annotations

import gc
import json
import smtplib
import time
from email.message import EmailMessage

import sqlalchemy as sa
from sqlmodel import select

from app.bench.timing import median_seconds


class NoticeItems:
    """The notification measurements of a Bench."""

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
