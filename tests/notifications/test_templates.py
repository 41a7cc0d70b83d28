"""Message templates (every kind x locale x phase, full and sparse), the sandbox, and the webhook payload schema."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from pydantic import ValidationError

from app.notifications.payload import (ContentItem, NotificationFacts, build_webhook_payload, load_schema,
                                       serialise_payload)
from app.notifications.render import (MessageContext, TemplateProblem, normalise_locale, render_message,
                                      template_names)

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)
KINDS = ("processor_to_controller", "authority_report", "data_subject")
LOCALES = ("en", "de")
PHASES = ("initial", "update", "final")
TO_FOLLOW = {"en": "to follow", "de": "wird nachgereicht"}
P2C_TEXT = "notifications/processor_to_controller/en.txt"

FACTS = {  # a complete processor -> controller notice: every Art. 33(3) item known
    "notification_id": "ntf-42",
    "incident_ref": "INC-2026-0007",
    "phase": "initial",
    "issued_at": NOW,
    "aware_at": NOW - timedelta(hours=5),
    "organisation_name": "Breachline Demo SaaS GmbH",
    "controller": {"key": "acme-health", "name": "Acme Health AG"},
    "nature": {"breach_types": ["confidentiality", "availability"],
               "description": "An attacker used a stolen API key to export <records> from the reporting service.",
               "occurred_from": NOW - timedelta(days=2), "occurred_to": NOW - timedelta(hours=20),
               "detected_at": NOW - timedelta(hours=8), "contained_at": NOW - timedelta(hours=4), "ongoing": False},
    "categories_and_counts": {
        "data_categories": [{"key": "user.contact.email", "name": "Email"},
                            {"key": "user.health_and_medical", "name": "Health and Medical Data", "art9": True}],
        "subject_categories": [{"key": "patient", "name": "Patient", "vulnerable": True}],
        "est_subjects": 12000, "est_records": 48500},
    "contact_point": {"name": "Jane Roe", "role": "Data Protection Officer", "email": "dpo@breachline.example.org",
                      "phone": "+49 30 1234567"},
    "likely_consequences": "Targeted phishing; disclosure of health information to unknown third parties.",
    "measures": {"taken": ["Revoked the stolen API key"], "proposed": ["Enforce IP allow-lists for API keys"],
                 "recommended": ["Warn the affected patients about phishing"]},
    "advice": {"summary": "High risk: health data of patients was exfiltrated.", "enisa_score": 3.5,
               "enisa_band": "high", "notify_supervisory_authority": True, "communicate_to_data_subjects": True,
               "reasons": ["Special category data (Art. 9)", "Exfiltration confirmed in egress logs"]},
    "acknowledgement_url": "https://breachline.example.org/ack/7f3a9c",
}
FOLLOW_UP = {"previous_notification_id": "ntf-41", "previous_issued_at": NOW - timedelta(hours=6),
             "controller_aware_at": NOW - timedelta(hours=6),
             "changes_since_last": [{"item": "est_subjects", "summary": "Now about 12,000 patients instead of 8,000."}]}
AUTHORITY = {"authority_name": "Berliner Beauftragte für Datenschutz und Informationsfreiheit",
             "due_at": NOW + timedelta(hours=67), "member_states": ["DE", "AT"], "data_subjects_informed": "planned",
             "data_subjects_informed_detail": "Letters go out on 3 March 2026."}


def full_context(kind: str, phase: str, **extra) -> dict:
    context = {**FACTS, "phase": phase, "recipient_name": "Dr. Eva Muster", "recipient_timezone": "Europe/Berlin"}
    if phase != "initial":
        context.update(FOLLOW_UP)
    if kind == "authority_report":
        context.update(AUTHORITY)
    return {**context, **extra}


def sparse_context(phase: str, **extra) -> dict:
    context = {"incident_ref": "INC-2026-0008"}
    if phase != "initial":
        context["previous_notification_id"] = "ntf-1"
    return {**context, **extra}


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_template_renders_with_full_facts(kind, locale, phase):
    message = render_message(kind, locale, phase, full_context(kind, phase))
    assert message.subject and "\n" not in message.subject
    assert "DRILL" not in message.subject + message.text + message.html
    for body in (message.text, message.html):
        assert "INC-2026-0007" in body
        assert "Jane Roe" in body and "dpo@breachline.example.org" in body  # Art. 33(3)(b)
        assert "Targeted phishing" in body  # (c)
        assert "Revoked the stolen API key" in body  # (d)
        assert "Health and Medical Data" in body  # (a) categories
        assert "stolen API key to export" in body  # (a) nature
        assert "Warn the affected patients" in body
    assert "<records>" in message.text and "&lt;records&gt;" in message.html, "HTML escaped, text verbatim"
    assert "<records>" not in message.html
    if kind != "data_subject":
        grouped = "12,000" if locale == "en" else "12.000"
        assert grouped in message.text and grouped in message.html  # (a) approximate numbers
        assert ("48,500" if locale == "en" else "48.500") in message.text
        assert "Art. 9" in message.text
        assert "Europe/Berlin (+01:00)" in message.text and "UTC (+00:00)" in message.text


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_template_renders_with_sparse_facts_as_to_follow(kind, locale, phase):
    message = render_message(kind, locale, phase, sparse_context(phase))
    assert message.subject and "INC-2026-0008" in message.text
    assert TO_FOLLOW[locale] in message.text and TO_FOLLOW[locale] in message.html


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", KINDS)
def test_drill_is_marked_in_subject_and_body(kind, locale):
    message = render_message(kind, locale, "initial", full_context(kind, "initial", drill=True))
    assert "DRILL" in message.subject
    assert message.text.count("DRILL") >= 2, "top and bottom of the text"
    assert "DRILL" in message.html


@pytest.mark.parametrize("kind", KINDS)
def test_german_locale_gives_german_text(kind):
    message = render_message(kind, "de-DE", "initial", full_context(kind, "initial"))
    english = render_message(kind, "en", "initial", full_context(kind, "initial"))
    assert message.text != english.text
    assert "Mit freundlichen Grüßen" in message.text or "Verantwortlicher" in message.text
    if kind == "data_subject":
        assert "personenbezogene Daten" in message.text and "Was können Sie tun?" in message.html
    else:
        assert "Verletzung des Schutzes personenbezogener Daten" in message.subject
        assert "verletzung des schutzes personenbezogener daten" in message.text.lower()
        assert "Art. 33 Abs. 3 lit. a DSGVO" in message.text
    assert "28.02.2026, 09:30 UTC (+00:00)" in message.text, "German date format, UTC with offset"


def test_unknown_locale_falls_back_to_english():
    assert normalise_locale("fr-FR") == "en" and normalise_locale("de_AT") == "de" and normalise_locale(None) == "en"
    context = full_context("processor_to_controller", "initial")
    assert render_message("processor_to_controller", "fr", "initial", context) == \
        render_message("processor_to_controller", "en", "initial", context)


def test_processor_notice_reminds_the_controller_of_its_own_deadline():
    initial = render_message("processor_to_controller", "en", "initial", full_context("processor_to_controller", "initial"))
    assert "Your period starts when you receive this notice" in initial.text
    assert "2026-03-05 09:30 UTC (+00:00)" in initial.text  # issued_at + 72 h
    update = render_message("processor_to_controller", "en", "update", full_context("processor_to_controller", "update"))
    assert "2026-03-05 03:30 UTC (+00:00)" in update.text, "counted from the first notice, not this update"
    assert "2026-03-02 04:30 UTC (+00:00)" in initial.text  # our awareness time
    assert "https://breachline.example.org/ack/7f3a9c" in initial.text and 'href="https://breachline' in initial.html


@pytest.mark.parametrize("kind", ("processor_to_controller", "authority_report"))
def test_changes_since_last_notice_only_in_update_and_final(kind):
    initial = render_message(kind, "en", "initial", full_context(kind, "initial"))
    assert "CHANGES SINCE" not in initial.text.upper() and "CHANGED SINCE" not in initial.text.upper()
    for phase in ("update", "final"):
        message = render_message(kind, "en", phase, full_context(kind, phase))
        assert "Now about 12,000 patients instead of 8,000." in message.text
        assert "Now about 12,000 patients instead of 8,000." in message.html


def test_sparse_notice_lists_what_is_still_to_follow():
    message = render_message("processor_to_controller", "en", "initial", sparse_context("initial"))
    assert "STILL TO FOLLOW (Art. 33(4) GDPR)" in message.text
    for label in ("Likely consequences of the breach", "Approximate number of data subjects concerned",
                  "Contact point for further information", "Measures taken or proposed"):
        assert label in message.text
    final = render_message("processor_to_controller", "de", "final", sparse_context("final"))
    assert "NICHT FESTSTELLBARE ANGABEN" in final.text


def test_authority_report_gives_reasons_for_delay_only_when_late():
    on_time = render_message("authority_report", "en", "initial", full_context("authority_report", "initial"))
    assert "REASONS FOR THE DELAY" not in on_time.text
    late_context = full_context("authority_report", "initial", due_at=NOW - timedelta(hours=2))
    late = render_message("authority_report", "en", "initial", late_context)
    assert "after the end of the 72-hour period" in late.text and "I. REASONS FOR THE DELAY" in late.text
    assert "I. REASONS FOR THE DELAY (Art. 33(1) GDPR)\nto follow" in late.text
    explained = render_message("authority_report", "de", "initial",
                               {**late_context, "reasons_for_delay": "Die forensische Analyse dauerte an."})
    assert "BEGRÜNDUNG DER VERZÖGERUNG" in explained.text and "Die forensische Analyse dauerte an." in explained.text
    assert "Berliner Beauftragte" in explained.text and "DE, AT" in explained.text


def test_an_undefined_variable_names_itself_and_the_template():
    with pytest.raises(TemplateProblem) as caught:
        render_message("processor_to_controller", "en", "initial", sparse_context("initial"),
                       overrides={P2C_TEXT: "Dear customer,\n{{ incident_reference }}\n"})
    assert caught.value.template == P2C_TEXT and caught.value.line == 2
    assert "incident_reference" in str(caught.value) and P2C_TEXT in str(caught.value)


def test_an_undefined_variable_in_the_html_part_is_caught():
    with pytest.raises(TemplateProblem, match="'nature_text' is undefined"):
        render_message("data_subject", "de", None, sparse_context("initial"),
                       overrides={"notifications/data_subject/de.html": "<p>{{ nature_text }}</p>"})


@pytest.mark.parametrize("source", [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ measures.taken.append('injected') }}",
])
def test_the_sandbox_blocks_unsafe_access(source):
    with pytest.raises(TemplateProblem, match="sandbox|undefined"):
        render_message("processor_to_controller", "en", "initial", sparse_context("initial"),
                       overrides={P2C_TEXT: source})


def test_dict_keys_and_dict_methods_read_as_in_plain_jinja():
    # The sandbox's dict shortcut must not turn a method name into a key or let a key hide a method.
    text = render_message("processor_to_controller", "en", "initial", sparse_context("initial"), overrides={
        P2C_TEXT: "{{ measures.taken | length }} {{ measures.keys() | list | sort | join(',') }}"})
    assert text.text == "0 proposed,recommended,taken"


def test_syntax_errors_and_bad_context_are_template_problems():
    with pytest.raises(TemplateProblem, match="syntax error") as caught:
        render_message("processor_to_controller", "en", "initial", sparse_context("initial"),
                       overrides={P2C_TEXT: "ok\n{% if %}\n"})
    assert caught.value.line == 2
    with pytest.raises(TemplateProblem, match="issued_at"):
        render_message("processor_to_controller", "en", "initial", {**sparse_context("initial"),
                                                                    "issued_at": datetime(2026, 3, 2, 9, 30)})
    with pytest.raises(TemplateProblem, match="incident_refs"):
        render_message("processor_to_controller", "en", "initial", {"incident_ref": "X", "incident_refs": "Y"})
    with pytest.raises(TemplateProblem, match="phase 'update'"):
        render_message("processor_to_controller", "en", "initial", {**sparse_context("update"), "phase": "update"})
    with pytest.raises(TemplateProblem, match="time zone"):
        render_message("processor_to_controller", "en", "initial", {"incident_ref": "X", "recipient_timezone": "Mars/Base"})


def test_user_edited_templates_render_with_the_same_facts():
    message = render_message("processor_to_controller", "de", "update", full_context("processor_to_controller", "update"),
                             overrides={"notifications/processor_to_controller/de.subject.txt":
                                        "Ergänzung zu {{ incident_ref }}\n{{ controller.name }}",
                                        "notifications/processor_to_controller/de.html": "<b>{{ nature.description }}</b>"})
    assert message.subject == "Ergänzung zu INC-2026-0007 Acme Health AG"
    assert message.html == "<b>An attacker used a stolen API key to export &lt;records&gt; from the reporting service.</b>"
    assert template_names("authority_report", "de-CH")["text"] == "notifications/authority_report/de.txt"


def test_notification_facts_fit_the_message_context():
    assert set(NotificationFacts.model_fields) <= set(MessageContext.model_fields)
    facts = full_context("processor_to_controller", "update")
    facts.pop("recipient_name"), facts.pop("recipient_timezone")
    build_webhook_payload(**facts)  # the same dict drafts the email and the webhook
    render_message("processor_to_controller", "en", "update", facts)


# --- Webhook payload -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def validator():
    schema = load_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


def _payload_facts(**overrides) -> dict:
    return {**FACTS, **overrides}


SPARSE_FACTS = {"notification_id": "ntf-1", "incident_ref": "INC-2026-0008", "phase": "initial", "issued_at": NOW,
                "organisation_name": "Breachline Demo SaaS GmbH", "controller": {"key": "acme"}}


@pytest.mark.parametrize("facts", [
    pytest.param(_payload_facts(), id="full"),
    pytest.param(SPARSE_FACTS, id="sparse"),
    pytest.param(_payload_facts(drill=True), id="drill"),
    pytest.param(_payload_facts(phase="update", language="de", **FOLLOW_UP), id="update"),
    pytest.param({**SPARSE_FACTS, "phase": "final", "previous_notification_id": "ntf-0"}, id="sparse-final"),
])
def test_every_payload_validates_against_the_published_schema(validator, facts):
    payload = build_webhook_payload(**facts)
    errors = sorted(validator.iter_errors(payload), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    body = serialise_payload(payload)
    assert json.loads(body) == payload
    assert body == json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def test_payload_content():
    full = build_webhook_payload(**_payload_facts(drill=True))
    assert full["type"] == "breach.notification" and full["schema_version"] == "1.0"
    assert full["timestamp"] == "2026-03-02T09:30:00Z"
    data = full["data"]
    assert data["drill"] is True and data["missing"] == [] and data["phase"] == "initial"
    assert data["processor_aware_at"] == "2026-03-02T04:30:00Z"
    assert data["controller_deadline"] == {"hours": 72, "projected_from": "2026-03-02T09:30:00Z",
                                           "projected_due_at": "2026-03-05T09:30:00Z", "starts_on_receipt": True}
    assert data["categories_and_counts"]["data_categories"][1] == {
        "key": "user.health_and_medical", "name": "Health and Medical Data", "art9": True, "art10": False}
    assert data["advice"]["enisa_band"] == "high"
    sparse = build_webhook_payload(**SPARSE_FACTS)["data"]
    assert sparse["missing"] == [item.value for item in ContentItem]
    assert sparse["contact_point"] is None and sparse["advice"] is None and sparse["likely_consequences"] is None
    blank = build_webhook_payload(**{**SPARSE_FACTS, "likely_consequences": "  ", "measures": {"taken": [""]}})
    assert "likely_consequences" in blank["data"]["missing"] and "measures" in blank["data"]["missing"]


def test_invalid_facts_are_rejected_naming_the_field():
    with pytest.raises(ValidationError, match="previous"):
        build_webhook_payload(**_payload_facts(phase="update"))
    with pytest.raises(ValidationError, match="no previous notice"):
        build_webhook_payload(**_payload_facts(previous_notification_id="ntf-0"))
    with pytest.raises(ValidationError, match="issued_at"):
        build_webhook_payload(**_payload_facts(issued_at=datetime(2026, 3, 2, 9, 30)))
    with pytest.raises(ValidationError, match="extra_field"):
        build_webhook_payload(**_payload_facts(extra_field=1))
    with pytest.raises(ValidationError, match="est_subjects"):
        build_webhook_payload(**_payload_facts(categories_and_counts={"est_subjects": -1}))


def test_schema_is_closed_and_documents_every_field():
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False

    undocumented = []

    def walk(node, path):
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                if "description" not in sub:
                    undocumented.append(f"{path}.{name}")
                walk(sub, f"{path}.{name}")
            for key in ("items", "oneOf", "anyOf", "allOf", "$defs"):
                if key in node:
                    walk(node[key], f"{path}/{key}")
            if node.get("type") == "object" and "additionalProperties" not in node:
                undocumented.append(f"{path} (object without additionalProperties)")
        elif isinstance(node, list):
            for i, sub in enumerate(node):
                walk(sub, f"{path}[{i}]")

    walk(schema, "")
    assert not undocumented, undocumented
