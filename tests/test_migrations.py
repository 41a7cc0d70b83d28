"""Migrations build exactly the schema the models describe, and init-db is idempotent."""

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app import create_app
from app.db import make_engine
from app.migrations import current_heads, upgrade
from app.migrations.models import metadata
from tests_support import pg_url_or_skip


def _schema_diff(url: str):
    engine = make_engine(url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
        return diff, current_heads(engine)
    finally:
        engine.dispose()


def test_migrations_match_models_on_sqlite(tmp_path):
    diff, heads = _schema_diff(f"sqlite:///{tmp_path / 'm.db'}")
    assert diff == [], f"models and migrations differ; generate a migration: {diff}"
    assert len(heads) == 1


def test_init_db_is_idempotent(tmp_path):
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'i.db'}", "SECRET_KEY": "x"})
    runner = app.test_cli_runner()
    first = runner.invoke(args=["init-db"])
    second = runner.invoke(args=["init-db"])
    assert first.exit_code == 0 and second.exit_code == 0, (first.output, second.output)
    assert "database ready" in second.output
    with app.extensions["breachline.engine"].connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM data_category").scalar_one() == 85


@pytest.mark.postgres
def test_migrations_match_models_on_postgres():
    from sqlalchemy.engine import make_url

    url = make_url(pg_url_or_skip())
    # A database of its own, so the suite's database (in use by other tests) is not touched.
    admin = make_engine(url.render_as_string(hide_password=False)).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS breachline_migtest_{os.getpid()} WITH (FORCE)")
        conn.exec_driver_sql(f"CREATE DATABASE breachline_migtest_{os.getpid()}")
    admin.dispose()
    diff, heads = _schema_diff(url.set(database=f"breachline_migtest_{os.getpid()}").render_as_string(hide_password=False))
    assert diff == [], f"models and migrations differ on PostgreSQL: {diff}"
    assert len(heads) == 1
