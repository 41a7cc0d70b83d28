"""Per-customer exports: one customer's slice only, never another customer's name, key or numbers; partial verification."""

import json
import re

import pytest

from export_support import customers, declare, import_map, lead_headers, pdf_text, settle_customer  # noqa: F401

HEX = re.compile(r"[0-9a-f]{16,64}")
ITEMS = customers(32)
TARGET, LATE = ITEMS[0], ITEMS[1]


def _forbidden(target: dict) -> list[str]:
    """Every other customer's name, key and numbers (plain and with thousands separators), and the totals."""
    words = []
    for c in ITEMS:
        if c is target:
            continue
        words += [c["name"], c["key"], c["name"].lower(), c["email"]]
        for n in (c["subjects"], c["records"]):
            words += [str(n), f"{n:,}"]
    total = sum(c["subjects"] for c in ITEMS)
    return words + [str(total), f"{total:,}"]


def _assert_clean(text: str, target: dict) -> None:
    text = HEX.sub("", text)  # hashes are hex: a count could appear in one by chance
    leaks = [w for w in _forbidden(target) if w in text]
    assert not leaks, f"other customers leaked: {leaks[:5]}"


@pytest.fixture
def incident(app, client, runner, tmp_path, lead_headers):  # noqa: F811
    import_map(runner, tmp_path, ITEMS)
    # Incident-wide free text that names other customers and carries personal data.
    ref = declare(client, lead_headers, title=f"Shared database exposed ({ITEMS[7]['name']} first)",
                  summary=f"Reported by {ITEMS[9]['key']} via {ITEMS[9]['email']}")
    client.post(f"/api/v1/incidents/{ref}/timeline", headers=lead_headers,
                json={"summary": f"Called {ITEMS[5]['name']} on +49 30 5550 1234; attacker 203.0.113.7 and 2001:db8::7; "
                                 f"{TARGET['name']} informed"})
    token = settle_customer(app, ref, TARGET["key"], hours_after_aware=5)
    settle_customer(app, ref, LATE["key"], hours_after_aware=30,
                    delay_reasons=f"{LATE['name']} mailbox bounced; reached dpo@{LATE['key']}.example")
    return ref, token


def _get(client, headers, ref, key, fmt, extra=""):
    response = client.get(f"/api/v1/incidents/{ref}/timeline?format={fmt}&controller={key}{extra}", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:400]
    return response


@pytest.mark.pdf
def test_every_format_holds_only_the_customers_own_slice(client, incident, lead_headers, tmp_path):
    ref, _ = incident
    for fmt in ("json", "csv", "html"):
        text = _get(client, lead_headers, ref, TARGET["key"], fmt).get_data(as_text=True)
        _assert_clean(text, TARGET)
        assert TARGET["name"] in text and (f"{TARGET['subjects']:,}" in text or str(TARGET["subjects"]) in text
                                           or fmt != "html")
    pdf = tmp_path / "customer.pdf"
    pdf.write_bytes(_get(client, lead_headers, ref, TARGET["key"], "pdf").data)
    text = pdf_text(pdf)
    _assert_clean(text, TARGET)
    assert "Quokka Amber Holdings 00" in text and "7,300,000" in text


def test_json_slice_content_redaction_and_partial_verification(client, runner, incident, lead_headers, tmp_path):
    ref, _ = incident
    response = _get(client, lead_headers, ref, TARGET["key"], "json")
    document = json.loads(response.data)
    assert document["scope"]["controller"]["key"] == TARGET["key"] and document["chain"]["complete"] is False
    own_id = document["scope"]["controller"]["id"]
    assert {e["controller_id"] for e in document["events"]} <= {None, own_id}
    kinds = {e["kind"]: e for e in document["events"]}
    assert kinds["impact.changed"]["withheld"] is True and kinds["impact.changed"]["details"] == {}
    note = kinds["note"]
    assert "[redacted phone]" in note["summary"] and note["summary"].count("[redacted ip]") == 2
    assert "[another customer]" in note["summary"] and TARGET["name"] in note["summary"]
    assert "[another customer]" in document["incident"]["title"]
    by_kind = document["summary"]["redactions"]["by_kind"]
    assert by_kind["ip"] == 2 and by_kind["phone"] == 1 and by_kind["other_customer"] >= 2
    path = tmp_path / "customer.json"
    path.write_bytes(response.data)
    result = runner.invoke(args=["timeline", "verify", "--file", str(path)])
    assert result.exit_code == 0, result.output
    assert "partial export:" in result.output and "hashes individually valid, chain has gaps at" in result.output
    # Events delivered unaltered still prove their content: changing one is caught.
    intact = next(e for e in document["events"] if e["kind"] == "obligation.met")
    intact["summary"] += "!"
    path.write_text(json.dumps(document))
    result = runner.invoke(args=["timeline", "verify", "--file", str(path)])
    assert result.exit_code == 1 and "altered" in result.output


def test_customer_report_shows_its_obligations_notice_and_ack(client, incident, lead_headers):
    ref, _ = incident
    html = _get(client, lead_headers, ref, TARGET["key"], "html", "&tz=Europe/Berlin").get_data(as_text=True)
    assert "Notify the controller of the personal data breach — Quokka Amber Holdings 00" in html
    assert "2026-03-01 16:00 +01:00" in html  # met 5 h after awareness (10:00 UTC), shown in Berlin time
    assert "2026-03-01 17:00 +01:00" in html  # acknowledged an hour later
    assert "Redactions" in html and 'id="chain"' in html
    late = _get(client, lead_headers, ref, LATE["key"], "html").get_data(as_text=True)
    _assert_clean(late, LATE)
    assert "mailbox bounced" in late and "[redacted email]" in late and "late</span> by 6 h 0 min" in late


def test_turning_redaction_off_is_for_leads(client, incident, make_user, token_for, lead_headers):
    ref, _ = incident
    responder = token_for(make_user("responder"))
    refused = client.get(f"/api/v1/incidents/{ref}/timeline?format=json&controller={TARGET['key']}&redact=0",
                         headers=responder)
    assert refused.status_code == 403 and "lead" in refused.get_json()["detail"]
    document = json.loads(_get(client, lead_headers, ref, TARGET["key"], "json", "&redact=0").data)
    note = next(e for e in document["events"] if e["kind"] == "note")
    assert "203.0.113.7" in note["summary"] and "[another customer]" in note["summary"]  # isolation stays on
    unknown = client.get(f"/api/v1/incidents/{ref}/timeline?format=json&controller=nobody", headers=lead_headers)
    assert unknown.status_code == 404


@pytest.mark.pdf
def test_acknowledgement_link_serves_the_customers_report_once_enabled(app, client, incident, tmp_path):
    ref, token = incident
    assert client.get(f"/ack/{token}/report").status_code == 404  # CUSTOMER_EXPORT_ENABLED is off by default
    app.config.update(ACK_LINK_DAYS=3650)  # the link was signed in March 2026
    assert f"/ack/{token}/report" not in client.get(f"/ack/{token}").get_data(as_text=True)
    app.config["CUSTOMER_EXPORT_ENABLED"] = True
    assert f"/ack/{token}/report?format=pdf" in client.get(f"/ack/{token}").get_data(as_text=True)
    response = client.get(f"/ack/{token}/report?format=html")
    assert response.status_code == 200
    _assert_clean(response.get_data(as_text=True), TARGET)
    pdf = client.get(f"/ack/{token}/report?format=pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    (tmp_path / "ack.pdf").write_bytes(pdf.data)
    _assert_clean(pdf_text(tmp_path / "ack.pdf"), TARGET)
    # The link decides who it is for: asking for another customer changes nothing, a forged token is refused.
    other = client.get(f"/ack/{token}/report?format=json&controller={ITEMS[3]['key']}&redact=0")
    document = json.loads(other.data)
    assert document["scope"]["controller"]["key"] == TARGET["key"] and document["scope"]["redaction"] is True
    assert client.get(f"/ack/{token[:-2]}xx/report").status_code == 404
