"""Engine and session handling: one session per request, command or job; entry points commit."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import sqlalchemy as sa
from flask import Flask, current_app, g
from sqlmodel import Session

ENGINE_KEY = "breachline.engine"


def make_engine(url: str, echo: bool = False) -> sa.Engine:
    """Create an engine; SQLite gets foreign keys, WAL and a busy timeout on every connection."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # Python's sqlite3 opens transactions lazily; let SQLAlchemy see real BEGINs instead.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # IMMEDIATE takes the write lock at the start, so claims never deadlock on upgrade.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("immediate") else "BEGIN")

        return engine
    return sa.create_engine(url, echo=echo, pool_pre_ping=True)


def init_app(app: Flask) -> None:
    """Attach an engine to the app (no connection is made here) and close sessions after requests."""
    app.extensions[ENGINE_KEY] = make_engine(app.config["DATABASE_URL"], app.config.get("SQL_ECHO", False))
    app.teardown_appcontext(_close_session)


def engine(app: Flask | None = None) -> sa.Engine:
    """Return the app's engine."""
    return (app or current_app).extensions[ENGINE_KEY]


def get_session() -> Session:
    """Return the session of the current request or command, opening it on first use."""
    if "db_session" not in g:
        g.db_session = Session(engine(), expire_on_commit=False)
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


@contextmanager
def session_scope(app: Flask | None = None) -> Iterator[Session]:
    """A session for a command or job: commits on success, rolls back on error."""
    session = Session(engine(app), expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def immediate_session(engine: sa.Engine) -> Iterator[Session]:
    """One job transaction, committed on success; on SQLite it opens with BEGIN IMMEDIATE."""
    with engine.connect() as conn:
        # Taking SQLite's write lock up front means a second process waits (busy timeout) instead of
        # failing when its read snapshot cannot be upgraded; PostgreSQL ignores the flag.
        conn.info["immediate"] = True
        try:
            with Session(bind=conn, expire_on_commit=False) as session:
                try:
                    yield session
                    session.commit()
                except BaseException:
                    session.rollback()
                    raise
        finally:
            conn.info.pop("immediate", None)  # info lives on the pooled connection: do not leak it
