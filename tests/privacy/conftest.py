"""Fixtures for the privacy tests (issue 10): pseudonym keys, a real SMTP mailbox, a notified incident."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "notifications"))

from receivers import Mailbox  # noqa: E402
from privacy_world import KEY  # noqa: E402


@pytest.fixture
def mailbox():
    box = Mailbox().start()
    yield box
    box.stop()


@pytest.fixture
def keyed(app):
    """The app with a subject pseudonym key configured."""
    app.config.update({"SUBJECT_PSEUDONYM_KEY": KEY, "SUBJECT_PSEUDONYM_KEY_ID": "k1"})
    return app
