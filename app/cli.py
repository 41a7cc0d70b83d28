"""The `breachline` command: Flask's CLI over app:create_app plus Breachline's own commands."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from app.core import time
from app.core.errors import Conflict, InputError, NotFound
from app.db import engine, session_scope


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def init_database(app) -> None:
    """Apply migrations and seed the taxonomy (idempotent)."""
    from app.datamap.service import sync_taxonomy
    from app.migrations import upgrade

    upgrade(engine(app))
    with session_scope(app) as session:
        sync_taxonomy(session=session)


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Create or upgrade the database schema (safe to run again)."""
    init_database(current_app)
    click.echo(f"database ready: {_safe_url(current_app.config['DATABASE_URL'])}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@click.group("users")
def users_group() -> None:
    """Manage staff accounts."""


@users_group.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice(["viewer", "responder", "lead", "admin"]))
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="prompted for when absent")
@with_appcontext
def users_create(email: str, name: str, role: str, password: str) -> None:
    """Create a user."""
    from app.auth.service import create_user

    try:
        with session_scope() as session:
            user = create_user(session=session, email=email, name=name, role=role, password=password, now=time.now())
            click.echo(f"created {user.role} {user.email}")
    except (InputError, Conflict) as exc:
        _fail(str(exc))


@users_group.command("set-password")
@click.option("--email", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="prompted for when absent")
@with_appcontext
def users_set_password(email: str, password: str) -> None:
    """Set a user's password; every browser session signed in with the old one ends."""
    from app.auth import audit
    from app.auth.service import set_password, user_by_email

    try:
        with session_scope() as session:
            user = user_by_email(session=session, email=email)
            set_password(session=session, user=user, password=password)
            audit.record(session=session, action=audit.PASSWORD_CHANGED, now=time.now(), actor="cli",
                         target=user.email)
    except (NotFound, InputError) as exc:
        _fail(str(exc))
    click.echo(f"password changed for {user.email}; their other sessions are signed out")


@click.group("tokens")
def tokens_group() -> None:
    """Manage API tokens."""


@tokens_group.command("create")
@click.option("--email", required=True)
@click.option("--name", default="", help="what the token is for")
@click.option("--days", type=click.IntRange(1, 3650), default=None,
              help="expire after N days (default API_TOKEN_DEFAULT_DAYS, 90)")
@click.option("--read-only", is_flag=True, help="only the read scope")
@click.option("--calendar", is_flag=True, help="a calendar token: opens /calendar/<token>.ics and nothing else")
@with_appcontext
def tokens_create(email: str, name: str, days: int | None, read_only: bool, calendar: bool) -> None:
    """Create an API token: the token alone on stdout (shown once), its expiry and scopes on stderr."""
    from datetime import timedelta

    from app.auth import audit
    from app.auth.service import create_token, user_by_email

    now = time.now()
    days = days or int(current_app.config.get("API_TOKEN_DEFAULT_DAYS") or 0) or None
    scopes = "calendar" if calendar else "read" if read_only else "read write"  # calendar: issue 6
    try:
        with session_scope() as session:
            user = user_by_email(session=session, email=email)
            token, plaintext = create_token(session=session, user=user, now=now, name=name, scopes=scopes,
                                            expires_at=now + timedelta(days=days) if days else None)
            audit.record(session=session, action=audit.TOKEN_CREATED, now=now, actor="cli", target=token.prefix,
                         details={"user": user.email, "name": name, "scopes": scopes,
                                  "expires_at": time.iso(token.expires_at)})
    except NotFound as exc:
        _fail(str(exc))
    click.echo(plaintext)
    expiry = f"expires {token.expires_at:%Y-%m-%d %H:%M} UTC ({days} days)" if token.expires_at else "never expires"
    click.echo(f"token {token.prefix}… for {user.email}: scopes {scopes}; {expiry}", err=True)


@tokens_group.command("revoke")
@click.option("--email", required=True)
@click.option("--token", default=None, help="the token or its shown prefix; all of the user's tokens when absent")
@with_appcontext
def tokens_revoke(email: str, token: str | None) -> None:
    """Revoke API tokens."""
    from app.auth import audit
    from app.auth.service import revoke_tokens, user_by_email

    now = time.now()
    try:
        with session_scope() as session:
            user = user_by_email(session=session, email=email)
            count = revoke_tokens(session=session, user=user, now=now, token=token)
            if count:
                audit.record(session=session, action=audit.TOKEN_REVOKED, now=now, actor="cli",
                             target=token[:10] if token else "all", details={"user": user.email, "count": count})
    except NotFound as exc:
        _fail(str(exc))
    if token and count == 0:
        _fail("no live token of that user matches")
    click.echo(f"revoked {count} token(s)")


@click.group("datamap")
def datamap_group() -> None:
    """Import and export the data map."""


@datamap_group.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--assignments", type=click.Path(dir_okay=False), default=None,
              help="CSV assigning customers and counts to the systems of a Fides manifest")
@click.option("--actor", default="cli", help="who is importing (recorded on the version)")
@with_appcontext
def datamap_import(path: str, assignments: str | None, actor: str) -> None:
    """Import a data map (YAML/JSON, CSV, or Fides manifest + --assignments); all or nothing."""
    from app.datamap.importer import import_map, parse_file

    try:
        extra = None
        if assignments:
            try:
                extra = (assignments, Path(assignments).read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError) as exc:
                _fail(f"{assignments}: cannot read file: {exc}")
        parsed = parse_file(path, assignments=extra)
        with session_scope() as session:
            result = import_map(parsed, session=session, actor=actor, now=time.now(), source=Path(path).name)
    except InputError as exc:
        _fail(f"nothing was imported:\n{exc}")
    summary = f"{result.controllers} controllers, {result.systems} systems, {result.records} processing records"
    if result.changed:
        click.echo(f"imported: {summary}; new data-map version {result.version.id} ({result.version.content_hash[:12]})")
    else:
        click.echo(f"unchanged: {summary}; the data map already had this content")


@datamap_group.command("export")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json", "csv"]), default="yaml")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="file (default stdout)")
@click.option("--include-secrets", is_flag=True, help="include webhook secrets (treat the file as a credential)")
@with_appcontext
def datamap_export(fmt: str, output: str | None, include_secrets: bool) -> None:
    """Export the data map."""
    import json

    from app.datamap.exporter import canonical_map, to_csv_rows, to_yaml
    from app.db import get_session

    from app.auth import audit

    session = get_session()
    document = canonical_map(session=session, include_secrets=include_secrets)
    audit.record(session=session, action=audit.EXPORT_PREFIX + "datamap", now=time.now(), actor="cli",
                 target=output or "stdout", details={"format": fmt, "include_secrets": include_secrets})
    session.commit()
    if fmt == "yaml":
        chunks = [to_yaml(document)]
    elif fmt == "json":
        chunks = [json.dumps(document, indent=2, ensure_ascii=False) + "\n"]
    else:
        chunks = to_csv_rows(document)
    out = open(output, "w", encoding="utf-8", newline="") if output else sys.stdout
    try:
        for chunk in chunks:
            out.write(chunk)
    finally:
        if output:
            out.close()


@click.command("demo")
@click.option("--port", default=5000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--no-serve", is_flag=True, help="prepare the demo database and exit")
@click.option("--no-scheduler", "embed_scheduler", flag_value=False, default=True,
              help="do not run reminders and deliveries inside the demo process")
@with_appcontext
def demo_command(port: int, host: str, no_serve: bool, embed_scheduler: bool) -> None:
    """Migrate, load the demo data map, create a demo admin, print credentials and serve the app."""
    from app.demo import prepare_demo

    credentials = prepare_demo(current_app)
    if not no_serve:
        # The demo server speaks plain http: a Secure cookie would never come back and sign-in would fail.
        # Only this process changes; deployments behind HTTPS keep SESSION_COOKIE_SECURE on.
        current_app.config["SESSION_COOKIE_SECURE"] = False
        current_app.config["REMEMBER_COOKIE_SECURE"] = False
    click.echo(f"Breachline demo on {_safe_url(current_app.config['DATABASE_URL'])}")
    for user in credentials:
        click.echo(f"  sign in as {user['email']} / {user['password']}  ({user['role']})")
    click.echo(f"  open http://{host}:{port}/")
    if not no_serve:
        _serve_demo(current_app._get_current_object(), host, port, embed_scheduler)


def _serve_demo(app, host: str, port: int, embed_scheduler: bool) -> None:
    """Serve the demo in this process, with the scheduler in a thread (DESIGN.md: only the demo embeds it)."""
    import threading

    from werkzeug.serving import run_simple

    from app.scheduler import run_scheduler

    if embed_scheduler:
        interval = int(app.config["SCHEDULER_INTERVAL_SECONDS"])
        threading.Thread(target=run_scheduler, args=(app, interval), kwargs={"worker": "demo"}, daemon=True,
                         name="breachline-scheduler").start()
        click.echo(f"  reminders and deliveries: embedded scheduler, every {interval} s")
    # app.run() refuses to start inside a CLI command; werkzeug's server is what it would have used.
    run_simple(host, port, app, use_reloader=False, use_debugger=False, threaded=True)


@click.command("scheduler")
@click.option("--once", is_flag=True, help="run one tick, print a summary and exit")
@click.option("--interval", type=click.IntRange(1, 3600), default=None,
              help="seconds between ticks (default SCHEDULER_INTERVAL_SECONDS)")
@click.option("--worker", default=None, help="name recorded on claims (default host:pid)")
@with_appcontext
def scheduler_command(once: bool, interval: int | None, worker: str | None) -> None:
    """Fire due reminders: every interval (its own process, never inside the web app), or once."""
    import logging

    from app.scheduler import default_worker, run_scheduler, run_tick

    app = current_app._get_current_object()
    worker = worker or default_worker()
    if once:
        click.echo(run_tick(app, now=time.now(), worker=worker).summary())
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_scheduler(app, interval or int(app.config["SCHEDULER_INTERVAL_SECONDS"]), worker=worker)


@click.group("timeline")
def timeline_group() -> None:
    """Check incident timelines."""


@timeline_group.command("verify")
@click.argument("ref", required=False)
@click.option("--file", "file_", type=click.Path(dir_okay=False, exists=True), default=None,
              help="verify an exported JSON timeline offline, without the database")
@with_appcontext
def timeline_verify(ref: str | None, file_: str | None) -> None:
    """Verify the hash chain of an incident (REF) or of an exported file; names the first broken event."""
    from app.timeline import service as timeline

    if bool(ref) == bool(file_):
        _fail("give either an incident reference or --file")
    if file_:
        import json

        from app.timeline.offline import verify_export

        # Issue 6: per-customer exports have gaps by design; they verify as "partial", event by event.
        try:
            check = verify_export(json.loads(Path(file_).read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as exc:
            _fail(f"{file_}: not a Breachline timeline export: {exc}")
        if not check.ok:
            _fail(f"{file_}: {check.message()}")
        click.echo(f"{file_}: {check.message()}")
        return
    else:
        from app.db import get_session
        from app.incidents.service import get_by_ref

        try:
            incident = get_by_ref(session=get_session(), ref=ref)
        except NotFound as exc:
            _fail(str(exc))
        check = timeline.verify_incident(session=get_session(), incident_id=incident.id)
        label = incident.ref
    if check.ok:
        click.echo(f"{label}: chain intact, {check.count} events, head {check.head_hash}")
    else:
        _fail(f"{label}: chain BROKEN at event {check.broken_seq}: {check.reason}")


COMMANDS = [init_db_command, users_group, tokens_group, datamap_group, demo_command, scheduler_command,
            timeline_group]
from app.bench import bench_command  # noqa: E402  issue 8: `breachline bench`
COMMANDS.append(bench_command)  # issue 8
from app.subjects.cli import retention_group, subjects_group  # noqa: E402  issue 10
COMMANDS += [subjects_group, retention_group]  # issue 10


def register_commands(app) -> None:
    """Add Breachline's commands to app.cli (so `flask`, `breachline` and test runners all see them)."""
    for command in COMMANDS:
        app.cli.add_command(command)


def create_app(*args, **kwargs):
    """Factory used by the console script (imported lazily to keep `app` importable alone)."""
    from app import create_app as factory

    return factory(*args, **kwargs)


cli = FlaskGroup(create_app=create_app, help="Breachline: breach incident response tracker.")


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="breachline")
