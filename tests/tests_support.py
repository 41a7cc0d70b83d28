"""Small helpers shared by tests (imported by name; pytest puts tests/ on sys.path)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa


def pg_url_or_skip() -> str:
    """The PostgreSQL URL from BREACHLINE_DATABASE_URL, or skip the test."""
    url = os.environ.get("BREACHLINE_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        if os.environ.get("BREACHLINE_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL is required here (BREACHLINE_REQUIRE_POSTGRES=1) but BREACHLINE_DATABASE_URL is unset")
        pytest.skip("needs BREACHLINE_DATABASE_URL=postgresql+psycopg://...")
    return url


@contextmanager
def counting(engine) -> Iterator[list[str]]:
    """Collect every SQL statement the engine sends while the block runs (for bounded-query tests)."""
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
