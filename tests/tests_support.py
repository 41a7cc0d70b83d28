"""Small helpers shared by tests (imported by name; pytest puts tests/ on sys.path)."""

from __future__ import annotations

import os

import pytest


def pg_url_or_skip() -> str:
    """The PostgreSQL URL from BREACHLINE_DATABASE_URL, or skip the test."""
    url = os.environ.get("BREACHLINE_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        if os.environ.get("BREACHLINE_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL is required here (BREACHLINE_REQUIRE_POSTGRES=1) but BREACHLINE_DATABASE_URL is unset")
        pytest.skip("needs BREACHLINE_DATABASE_URL=postgresql+psycopg://...")
    return url
