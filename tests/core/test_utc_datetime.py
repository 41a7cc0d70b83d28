"""The UTCDateTime column rejects naive values and round-trips aware ones as UTC."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import StatementError

from app.core.time import UTC, UTCDateTime, parse_aware
from app.db import make_engine
from tests_support import pg_url_or_skip  # noqa: F401  (see tests/tests_support.py)


def _roundtrip(url: str):
    engine = make_engine(url)
    meta = sa.MetaData()
    table = sa.Table("utc_probe", meta, sa.Column("id", sa.Integer, primary_key=True), sa.Column("at", UTCDateTime))
    meta.drop_all(engine)
    meta.create_all(engine)
    try:
        berlin = datetime(2026, 3, 29, 3, 30, tzinfo=ZoneInfo("Europe/Berlin"))  # just after DST starts
        with engine.begin() as conn:
            conn.execute(table.insert().values(id=1, at=berlin))
        with engine.connect() as conn:
            back = conn.execute(sa.select(table.c.at)).scalar_one()
        assert back == berlin
        assert back.tzinfo == UTC and back.utcoffset() == timedelta(0)
        assert back.isoformat() == "2026-03-29T01:30:00+00:00"
        with pytest.raises(StatementError, match="must carry a UTC offset"):
            with engine.begin() as conn:
                conn.execute(table.insert().values(id=2, at=datetime(2026, 1, 1, 12, 0)))
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() == 1
    finally:
        meta.drop_all(engine)
        engine.dispose()


def test_utc_roundtrip_sqlite(tmp_path):
    _roundtrip(f"sqlite:///{tmp_path / 'utc.db'}")


@pytest.mark.postgres
def test_utc_roundtrip_postgres():
    _roundtrip(pg_url_or_skip())


def test_parse_aware_rejects_naive_and_garbage():
    assert parse_aware("2026-03-28T20:00+01:00") == datetime(2026, 3, 28, 19, 0, tzinfo=timezone.utc)
    assert parse_aware("2026-03-28T19:00:00Z").tzinfo == UTC
    with pytest.raises(ValueError, match="must carry a UTC offset"):
        parse_aware("2026-03-28T20:00")
    with pytest.raises(ValueError, match="not an ISO 8601"):
        parse_aware("next tuesday")
