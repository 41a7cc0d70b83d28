"""`breachline subjects ...` and `breachline retention run`: the command-line side of issue 10."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from app.core import time
from app.core.errors import Conflict, Forbidden, InputError, NotFound


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(1)


def _actor(email: str):
    from app.flows.incident import Actor

    return Actor(f"cli:{email}", "lead")


@click.group("subjects")
def subjects_group() -> None:
    """Affected-subject lists (pseudonymised), access and erasure requests, key rotation."""


@subjects_group.command("import")
@click.argument("ref")
@click.argument("controller_key")
@click.argument("file_", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@click.option("--by", "by", required=True, help="the lead's email, for the timeline")
@with_appcontext
def subjects_import(ref: str, controller_key: str, file_: str, by: str) -> None:
    """Import FILE (CSV: identifier,email) as the subjects of CONTROLLER_KEY in incident REF."""
    from app.db import session_scope
    from app.flows import subjects as flows
    from app.incidents.service import get_by_ref
    from app.subjects.pseudonym import KeyRing

    try:
        with session_scope() as session:
            result = flows.import_list(session=session, incident=get_by_ref(session=session, ref=ref),
                                       controller=flows.controller_of(session=session, key=controller_key),
                                       csv_text=Path(file_).read_text(encoding="utf-8-sig"),
                                       ring=KeyRing.from_config(current_app.config), actor=_actor(by), now=time.now())
    except InputError as exc:
        _fail("; ".join(f"{file_}: {p}" for p in exc.problems))
    except (Conflict, NotFound, Forbidden) as exc:
        _fail(str(exc))
    click.echo(json.dumps(result.as_dict()))


@subjects_group.command("access")
@click.option("--identifier", prompt=True, hide_input=True, help="prompted (hidden) so it stays out of shell history")
@click.option("--by", "by", required=True)
@with_appcontext
def subjects_access(identifier: str, by: str) -> None:
    """Print, as JSON, everything held about the subject with this identifier."""
    from app.db import session_scope
    from app.flows import subjects as flows
    from app.subjects.pseudonym import KeyRing

    try:
        with session_scope() as session:
            document = flows.access_export(session=session, identifier=identifier,
                                           ring=KeyRing.from_config(current_app.config), actor=_actor(by),
                                           now=time.now())
    except (Conflict, NotFound, Forbidden) as exc:
        _fail(str(exc))
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))


@subjects_group.command("erase")
@click.option("--identifier", prompt=True, hide_input=True)
@click.option("--mode", type=click.Choice(["erase", "pseudonymise"]), default="erase")
@click.option("--reason", default="", help="the request's reference (no personal data)")
@click.option("--by", "by", required=True)
@with_appcontext
def subjects_erase(identifier: str, mode: str, reason: str, by: str) -> None:
    """Erase or pseudonymise the subject with this identifier everywhere."""
    from app.db import session_scope
    from app.flows import subjects as flows
    from app.subjects.pseudonym import KeyRing

    try:
        with session_scope() as session:
            n = flows.erase(session=session, identifier=identifier, mode=mode, reason=reason,
                            ring=KeyRing.from_config(current_app.config), actor=_actor(by), now=time.now())
    except (Conflict, NotFound, Forbidden) as exc:
        _fail(str(exc))
    click.echo(f"{n} subject row(s) {mode}d")


@subjects_group.command("rotate-key")
@click.option("--new-key", default=None, help="the new key (default: the configured current key)")
@click.option("--key-id", default=None, help="its id (default: SUBJECT_PSEUDONYM_KEY_ID)")
@click.option("--identifiers", "identifiers_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="CSV with the original identifiers (e.g. from the controller): those rows move to the new key now")
@with_appcontext
def subjects_rotate_key(new_key: str | None, key_id: str | None, identifiers_file: str | None) -> None:
    """Re-key subject pseudonyms: rows whose identifiers are given move now; the rest stay findable under old keys.

    HMAC is one-way, so rows cannot be re-keyed without their identifiers. Keep the old key in
    SUBJECT_PSEUDONYM_KEYS until this command reports no rows under it (retention erases them in time).
    """
    from app.db import session_scope
    from app.subjects import service
    from app.subjects.pseudonym import KeyRing

    try:
        ring = KeyRing.from_config(current_app.config)
    except Conflict as exc:
        _fail(str(exc))
    if new_key:
        if len(new_key) < 16:
            _fail("the new key must be at least 16 characters long")
        kid = key_id or f"k{len(ring.keys) + 1}"
        if kid in ring.keys and ring.keys[kid] != new_key:
            _fail(f"key id {kid!r} already names a different key")
        ring = KeyRing(keys={**ring.keys, kid: new_key}, current=kid)
    moved = 0
    with session_scope() as session:
        if identifiers_file:
            with open(identifiers_file, encoding="utf-8-sig", newline="") as handle:
                reader = csv.DictReader(handle)
                column = next((c for c in (reader.fieldnames or []) if c.strip().lower() in service.ID_COLUMNS), None)
                if column is None:
                    _fail(f"{identifiers_file}: line 1: no identifier column")
                identifiers = [row[column].strip() for row in reader if (row.get(column) or "").strip()]
            moved = service.rekey(session=session, ring=ring, identifiers=identifiers)
        per_key = service.rows_per_key(session=session)
    click.echo(f"current key: {ring.current}; {moved} row(s) moved to it")
    for kid, n in sorted(per_key.items()):
        click.echo(f"  {kid}: {n} row(s)" + ("" if kid == ring.current else " (old key: keep it in the ring)"))
    retired = sorted(k for k in ring.keys if k != ring.current and k not in per_key)
    if retired:
        click.echo(f"no rows under {', '.join(retired)}: these keys may leave SUBJECT_PSEUDONYM_KEYS")
    if new_key:
        click.echo(f"configure: SUBJECT_PSEUDONYM_KEYS with {ring.current!r} added, SUBJECT_PSEUDONYM_KEY_ID="
                   f"{ring.current}", err=True)


@click.group("retention")
def retention_group() -> None:
    """The retention policy for personal data the tracker holds."""


@retention_group.command("run")
@click.option("--dry-run", is_flag=True, help="show what would change; change nothing")
@with_appcontext
def retention_run(dry_run: bool) -> None:
    """Apply the retention policy now (the scheduler does this once a day)."""
    from app.db import session_scope
    from app.flows import subjects as flows
    from app.subjects.retention import RetentionSettings

    with session_scope() as session:
        plan = flows.run_retention(session=session, settings=RetentionSettings.from_config(current_app.config),
                                   now=time.now(), actor="cli", dry_run=dry_run)
        if dry_run:
            session.rollback()
    click.echo(("would change: " if dry_run else "changed: ") + json.dumps(plan.as_dict(), indent=2))
