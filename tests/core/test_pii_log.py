"""The personal-data log cleaning: contacts go, operational facts (addresses, status codes, sizes) stay."""

import logging

import pytest

from app.core.pii_log import install_pii_log_filter

ACCESS = ('192.168.100.200 - - [30/Nov/2026:15:47:40 +0000] "GET /api/v1/incidents?email=dpo@acme.example '
          'HTTP/1.1" 200 8123 "-" "python-requests/2.32.3"')


@pytest.fixture
def records(caplog):
    install_pii_log_filter()
    caplog.set_level(logging.INFO)
    return caplog


@pytest.mark.parametrize("logger", ["gunicorn.access", "werkzeug"])
def test_access_lines_keep_address_status_and_size_but_lose_emails(records, logger):
    logging.getLogger(logger).info("%s", ACCESS)
    line = records.records[-1].getMessage()
    assert line.startswith("192.168.100.200 - - ") and '" 200 8123 "-"' in line
    assert "dpo@acme.example" not in line and "[redacted email]" in line


def test_application_records_lose_phones_and_emails_but_keep_addresses(records):
    logging.getLogger("app.test").warning("call +49 30 5550 1234 or mail dpo@acme.example from 192.168.100.200")
    line = records.records[-1].getMessage()
    assert line == "call [redacted phone] or mail [redacted email] from 192.168.100.200"
