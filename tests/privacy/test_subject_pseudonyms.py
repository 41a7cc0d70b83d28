"""Pseudonyms: found with the key, not without it or with a wrong one; rotation keeps old rows findable."""

from __future__ import annotations

import pytest
from sqlmodel import select

from privacy_world import KEY, OTHER_KEY


def _incident_with_subjects(app, now, rows=(("CUST-1", "a@x.example"), ("CUST-2", "")), config=None):
    from app.subjects.pseudonym import KeyRing
    from app.subjects import service
    from app.subjects.models import SubjectImportRow
    from notice_world import build_world, configure, session_of

    configure(app)
    world = build_world(app, now, 1)
    with session_of(app) as session:
        ring = KeyRing.from_config(config or app.config)
        service.import_rows(session=session, ring=ring, incident_id=world.incident_id,
                            controller_id=world.customers[0].id, actor="lead@example.org", now=now,
                            rows=[SubjectImportRow(identifier=i, contact=c or None) for i, c in rows])
        session.commit()
    return world


def test_pseudonym_is_keyed_normalised_and_not_the_identifier():
    from app.subjects.pseudonym import pseudonym

    assert pseudonym("  Cust-1 ", KEY) == pseudonym("cust-1", KEY)
    assert pseudonym("cust-1", KEY) != pseudonym("cust-1", OTHER_KEY)
    assert "cust" not in pseudonym("cust-1", KEY).lower()


def test_found_with_the_key_and_not_without_it(keyed, now):
    from app.core.errors import Conflict
    from app.subjects import service
    from app.subjects.pseudonym import KeyRing
    from notice_world import session_of

    _incident_with_subjects(keyed, now)
    with session_of(keyed) as session:
        right = KeyRing.from_config(keyed.config)
        assert len(service.find(session=session, ring=right, identifier="cust-1")) == 1
        wrong = KeyRing({"k1": OTHER_KEY}, "k1")
        assert service.find(session=session, ring=wrong, identifier="CUST-1") == []
        assert service.find(session=session, ring=right, identifier="CUST-3") == []
    with pytest.raises(Conflict, match="SUBJECT_PSEUDONYM_KEY"):
        KeyRing.from_config({})


def test_identifier_is_stored_nowhere_in_the_database(keyed, now):
    _incident_with_subjects(keyed, now)
    import sqlalchemy as sa

    from app.migrations.models import metadata

    with keyed.extensions["breachline.engine"].connect() as conn:
        dump = "\n".join(str(tuple(row)) for table in metadata.sorted_tables
                          for row in conn.execute(sa.select(table)))
    assert dump and "CUST-1" not in dump and "cust-1" not in dump


def test_rotation_keeps_old_rows_findable_and_moves_them_when_the_identifier_is_seen(keyed, now, runner, tmp_path):
    from app.subjects import service
    from app.subjects.models import AffectedSubject
    from app.subjects.pseudonym import KeyRing
    from notice_world import session_of

    world = _incident_with_subjects(keyed, now)
    keyed.config.update({"SUBJECT_PSEUDONYM_KEYS": {"k1": KEY, "k2": OTHER_KEY}, "SUBJECT_PSEUDONYM_KEY_ID": "k2",
                         "SUBJECT_PSEUDONYM_KEY": None})
    ring = KeyRing.from_config(keyed.config)
    assert ring.current == "k2"
    with session_of(keyed) as session:
        found = service.find(session=session, ring=ring, identifier="CUST-2")
        assert [s.key_id for s in found] == ["k1"]  # still findable under the old key
    # Re-importing the identifier moves the row to the new key (no duplicate).
    from app.subjects.models import SubjectImportRow
    with session_of(keyed) as session:
        result = service.import_rows(session=session, ring=ring, incident_id=world.incident_id,
                                     controller_id=world.customers[0].id, actor="lead", now=now,
                                     rows=[SubjectImportRow(identifier="cust-1")])
        session.commit()
        assert result.rekeyed == 1 and result.added == 0
    # The command moves the rows whose identifiers it is given, and says which keys are still needed.
    ids = tmp_path / "ids.csv"
    ids.write_text("identifier\nCUST-2\n")
    out = runner.invoke(args=["subjects", "rotate-key", "--identifiers", str(ids)])
    assert out.exit_code == 0, out.output
    assert "1 row(s) moved" in out.output and "no rows under k1" in out.output
    with session_of(keyed) as session:
        assert {s.key_id for s in session.exec(select(AffectedSubject))} == {"k2"}
        assert service.find(session=session, ring=KeyRing({"k1": KEY}, "k1"), identifier="CUST-2") == []
        assert len(service.find(session=session, ring=ring, identifier="CUST-2")) == 1


def test_rotate_key_with_a_new_key_on_the_command_line(keyed, now, runner, tmp_path):
    _incident_with_subjects(keyed, now)
    ids = tmp_path / "ids.csv"
    ids.write_text("identifier\nCUST-1\n")
    out = runner.invoke(args=["subjects", "rotate-key", "--new-key", OTHER_KEY, "--key-id", "k2",
                              "--identifiers", str(ids)])
    assert out.exit_code == 0, out.output
    assert "current key: k2; 1 row(s) moved" in out.output
    assert "k1: 1 row(s) (old key: keep it in the ring)" in out.output
    assert OTHER_KEY not in out.output
    short = runner.invoke(args=["subjects", "rotate-key", "--new-key", "short"])
    assert short.exit_code == 1 and "16 characters" in short.output
