"""Constants and helpers shared by the browser tests (imported by name; pytest puts tests/e2e on sys.path)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
CHROMIUM = os.environ.get("BREACHLINE_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "correct horse battery"
WEBHOOK_SECRET = "whsec_ZTJlLWJyZWFjaGxpbmUtd2ViaG9vay1zZWNyZXQtMzI="


def sign_in(page, base: str, email_address: str, password: str = PASSWORD) -> None:
    """Sign in through the login form, as a person would."""
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email_address)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/dashboard$"))
