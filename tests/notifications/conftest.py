"""Fixtures for notification tests: a real SMTP mailbox and a real webhook receiver on 127.0.0.1."""

from __future__ import annotations

import pytest
from receivers import Mailbox, Receiver


@pytest.fixture
def mailbox():
    box = Mailbox().start()
    yield box
    box.stop()


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()
