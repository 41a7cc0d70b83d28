"""Shared fixtures: app, client, runner, session, now, users and tokens, on SQLite or PostgreSQL."""

from __future__ import annotations

import gc
import os
import shutil
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from app import create_app
from app.db import make_engine
from app.migrations import upgrade
from mapdata import SMALL_MAP

PG_URL = os.environ.get("BREACHLINE_DATABASE_URL", "")
ON_POSTGRES = PG_URL.startswith("postgresql")
PASSWORD = "correct horse battery"
_RUN_DATABASE = f"breachline_test_{os.getpid()}"


def _admin_engine(url: str):
    from sqlalchemy.engine import make_url

    return make_engine(make_url(url).render_as_string(hide_password=False)).execution_options(
        isolation_level="AUTOCOMMIT")


def pytest_configure(config):
    """On PostgreSQL, give this test run a database of its own, so parallel runs never share tables."""
    global PG_URL
    if not ON_POSTGRES or os.environ.get("BREACHLINE_TEST_DATABASE_CREATED"):
        return
    from sqlalchemy.engine import make_url

    admin = _admin_engine(PG_URL)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {_RUN_DATABASE} WITH (FORCE)")
        conn.exec_driver_sql(f"CREATE DATABASE {_RUN_DATABASE}")
    admin.dispose()
    config._breachline_base_url = PG_URL
    PG_URL = make_url(PG_URL).set(database=_RUN_DATABASE).render_as_string(hide_password=False)
    # Subprocesses started by tests (schedulers, dispatchers) inherit the run's database.
    os.environ["BREACHLINE_DATABASE_URL"] = PG_URL
    os.environ["BREACHLINE_TEST_DATABASE_CREATED"] = "1"


def pytest_unconfigure(config):
    """Drop this run's PostgreSQL database."""
    base = getattr(config, "_breachline_base_url", None)
    if base:
        admin = _admin_engine(base)
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {_RUN_DATABASE} WITH (FORCE)")
        admin.dispose()


def pytest_collection_modifyitems(config, items):
    """Skip `postgres` tests without PostgreSQL, unless CI demands them (then they fail loudly)."""
    _skip_pdf_without_tools(items)
    if ON_POSTGRES:
        return
    if os.environ.get("BREACHLINE_REQUIRE_POSTGRES") == "1":
        raise pytest.UsageError("BREACHLINE_REQUIRE_POSTGRES=1 but BREACHLINE_DATABASE_URL is not a PostgreSQL URL")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(pytest.mark.skip(reason="needs BREACHLINE_DATABASE_URL=postgresql+psycopg://..."))


def _pdf_tools_available() -> bool:
    """WeasyPrint loads Pango at import; the PDF tests also need pdftoppm (poppler-utils)."""
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError):
        return False
    return shutil.which("pdftoppm") is not None


def _skip_pdf_without_tools(items) -> None:
    # A fresh machine with only Python and pip has no Pango: skip PDF tests there, but never in CI,
    # where .ci/run installs the libraries and a missing one must fail loudly.
    if os.environ.get("CI") or not any("pdf" in item.keywords for item in items) or _pdf_tools_available():
        return
    for item in items:
        if "pdf" in item.keywords:
            item.add_marker(pytest.mark.skip(reason="PDF tests need Pango and poppler-utils (see .ci/run)"))


@pytest.fixture(scope="session")
def _template_db(tmp_path_factory):
    """A migrated database made once per run: a SQLite file to copy, or the PostgreSQL schema."""
    if ON_POSTGRES:
        engine = make_engine(PG_URL)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        _migrate(engine)
        engine.dispose()
        return PG_URL
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    _migrate(engine)
    engine.dispose()
    return path


def _migrate(engine) -> None:
    """Apply migrations, then create tables that models define but no migration has yet.

    Work in progress can add models before its migration exists; test_migrations.py fails until the
    migration catches up, so the gap never lands unnoticed.
    """
    from app.migrations.models import metadata

    upgrade(engine)
    metadata.create_all(engine)


@pytest.fixture
def database_url(_template_db, tmp_path):
    """A clean, migrated database for one test."""
    if ON_POSTGRES:
        yield PG_URL
        engine = make_engine(PG_URL)
        with engine.begin() as conn:
            # Issue 8: a test that leaves a streamed response unread keeps its session (and an
            # AccessShare lock) open; TRUNCATE would wait for it forever. Its test is over: end it.
            conn.exec_driver_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                                 "AND state IN ('idle in transaction', 'idle in transaction (aborted)')")
            tables = [r[0] for r in conn.exec_driver_sql(
                "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename <> 'alembic_version'")]
            if tables:
                conn.exec_driver_sql(f"TRUNCATE {', '.join(chr(34) + t + chr(34) for t in tables)} RESTART IDENTITY CASCADE")
        engine.dispose()
        return
    path = tmp_path / "breachline.db"
    shutil.copy(_template_db, path)
    yield f"sqlite:///{path}"


@pytest.fixture
def now() -> datetime:
    """A fixed 'now' for tests that inject time."""
    return datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)


@pytest.fixture
def app(database_url, tmp_path):
    """The app on a clean database with the taxonomy seeded."""
    from app.datamap.service import sync_taxonomy
    from app.db import session_scope

    application = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
                              "WTF_CSRF_ENABLED": False})
    application.instance_path = str(tmp_path / "instance")
    with application.app_context():
        with session_scope() as session:
            sync_taxonomy(session=session)
    yield application
    # Streamed responses a test did not read hold a pooled connection until garbage-collected. Collect
    # here, where a finaliser may run safely, not later inside another test's setup (CPython 3.11.7
    # raises "AST constructor recursion depth mismatch" when a finaliser fails inside ast.parse).
    gc.collect()
    application.extensions["breachline.engine"].dispose()


@pytest.fixture
def client(app):
    """A test client."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner bound to the app."""
    return app.test_cli_runner()


@pytest.fixture
def session(app):
    """A database session of its own; committed work is visible to the client."""
    from sqlmodel import Session

    # No app context is kept pushed: the test client's requests must get their own (and close their session).
    with Session(app.extensions["breachline.engine"], expire_on_commit=False) as s:
        yield s


@pytest.fixture
def make_user(app, now):
    """Create a user with a role; returns the User."""
    from app.auth.service import create_user
    from app.db import session_scope

    def _make(role: str = "responder", email: str | None = None, name: str | None = None):
        with app.app_context(), session_scope() as s:
            return create_user(session=s, email=email or f"{role}@example.org", name=name or role.title(),
                               role=role, password=PASSWORD, now=now)

    return _make


@pytest.fixture
def login(client):
    """Sign a user in through the real login form."""

    def _login(user, password: str = PASSWORD):
        response = client.post("/login", data={"email": user.email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)
        return response

    return _login


@pytest.fixture
def token_for(app, now):
    """Create an API token for a user; returns the Authorization header dict."""
    from app.auth.models import User
    from app.auth.service import create_token
    from app.db import session_scope

    def _token(user, scopes: str = "read write", expires_at=None):
        with app.app_context(), session_scope() as s:
            _, plaintext = create_token(session=s, user=s.get(User, user.id), now=now, scopes=scopes,
                                        expires_at=expires_at)
        return {"Authorization": f"Bearer {plaintext}"}

    return _token


@pytest.fixture
def count_rows(app):
    """Number of rows in a table, for 'nothing was written' checks."""

    def _count(table: str) -> int:
        with app.extensions["breachline.engine"].connect() as conn:
            # Quoted (issue 8): on PostgreSQL a bare `user` is CURRENT_USER, so "FROM user" counts one row.
            return conn.execute(sa.text(f'SELECT count(*) FROM "{table}"')).scalar_one()

    return _count


@pytest.fixture
def mapped(runner, tmp_path):
    """The small data map (tests/mapdata.py) imported through the CLI."""
    path = tmp_path / "map.yaml"
    path.write_text(SMALL_MAP)
    result = runner.invoke(args=["datamap", "import", str(path)])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="session")
def _password_hash() -> str:
    """The argon2 hash of the test password, computed once (hashing costs about a second here)."""
    from app.auth.service import hash_password

    return hash_password(PASSWORD)


@pytest.fixture
def quick_user(app, now, _password_hash):
    """Like make_user (same password), without paying for argon2 on every user."""
    from app.auth.models import Role, User
    from app.db import session_scope

    def _make(role: str = "responder", email: str | None = None, name: str | None = None) -> User:
        with app.app_context(), session_scope() as s:
            user = User(email=email or f"{role}@example.org", name=name or role.title(), role=Role(role),
                        password_hash=_password_hash, created_at=now)
            s.add(user)
            s.flush()
            return user

    return _make
