"""app/core/redaction.py: emails, phone numbers, IPv4/IPv6 and configured patterns; what must stay."""

import pytest

from app.core.redaction import Redactor, redact
from app.exports.scoping import LeakGuard


@pytest.mark.parametrize("text, expected, count", [
    ("Mail dpo@acme-health.example now", "Mail [redacted email] now", 1),
    ("Call +49 30 5550 1234 or (030) 555-01234", "Call [redacted phone] or [redacted phone]", 2),
    ("from 192.0.2.10 and 198.51.100.0/24", "from [redacted ip] and [redacted ip]", 2),
    ("v6 2001:db8::1, fe80::1%eth0 and ::1", "v6 [redacted ip], [redacted ip] and [redacted ip]", 3),
    ("tel:+4930555012345", "tel:[redacted phone]", 1),
])
def test_personal_data_is_redacted(text, expected, count):
    assert redact(text) == (expected, count)


@pytest.mark.parametrize("text", [
    "INC-2026-0001 declared at 2026-03-28T19:00:00Z", "12000 subjects, 48,000 records", "ENISA 3.25 (high)",
    "seq 12:30:45", "hash 65c2d090077ff35c6cb053f0afe37896067bdd04d4dd18089aa2fcaf05593b07",
    "version 2.1 of the map", "due 2026-03-02 10:00 +01:00", "GDPR Art. 33(2)", "at 2026-11-30 13:35:39.123456",
    "took 1234567.89 s",
])
def test_ordinary_text_stays(text):
    assert redact(text) == (text, 0)


def test_configured_patterns_and_nested_values():
    redactor = Redactor([r"CUST-\d{6}", r"(?i)ticket #\d+"])
    text, found = redactor.redact_counted("CUST-123456 opened Ticket #77 from 10.1.2.3")
    assert text == "[redacted pattern] opened [redacted pattern] from [redacted ip]"
    assert found.as_dict() == {"total": 3, "by_kind": {"ip": 1, "pattern": 2}}
    value, tally = redactor.redact_value({"a": ["x@y.example", {"b": "CUST-000001"}], "n": 5})
    assert value == {"a": ["[redacted email]", {"b": "[redacted pattern]"}], "n": 5} and tally.total == 2


def test_leak_guard_replaces_other_customers_but_keeps_the_own_name():
    guard = LeakGuard(["acme", "acme-health-eu", "Bright Bank Ltd", "brightbank"], own=["acme-health", "Acme Health GmbH"])
    text, count = guard.scrub("Acme Health GmbH and ACME told BRIGHT bank ltd; acme-health-eu too; brightbank-x")
    # Conservative at word edges: "brightbank-x" still names brightbank, so it goes too.
    assert text == ("Acme Health GmbH and [another customer] told [another customer]; [another customer] too; "
                    "[another customer]-x")
    assert count == 4


def test_redact_patterns_config_is_checked(app):
    from app.exports.views import redact_patterns

    with app.app_context():
        app.config["REDACT_PATTERNS"] = ["CUST-\\d+"]
        assert redact_patterns() == ["CUST-\\d+"]
        app.config["REDACT_PATTERNS"] = ["(unclosed"]
        with pytest.raises(ValueError, match="REDACT_PATTERNS"):
            redact_patterns()
