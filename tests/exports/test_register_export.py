"""The breach register export (Art. 33(5)): CSV and PDF of a period, and the numbers a PSIRT lead reports."""

import csv
import io

import pytest

from export_support import customers, declare, import_map, lead_headers, page_ink, pdf_text, settle_customer  # noqa: F401

ITEMS = customers(4)


@pytest.fixture
def register(app, client, runner, tmp_path, lead_headers):  # noqa: F811
    import_map(runner, tmp_path, ITEMS)
    first = declare(client, lead_headers)
    second = declare(client, lead_headers, title="Second exposure", incident_type="lost-stolen-device",
                     aware_at="2026-03-10T10:00:00+00:00", detected_at="2026-03-10T09:00:00+00:00")
    outside = declare(client, lead_headers, title="Old one", aware_at="2025-12-01T10:00:00+00:00",
                      detected_at="2025-12-01T09:00:00+00:00")
    # Hours from awareness to each customer's notice: 2, 10, 30 (late: the contract says 24) and 4.
    for ref, key, hours, reasons in ((first, ITEMS[0]["key"], 2, ""), (first, ITEMS[1]["key"], 10, ""),
                                     (first, ITEMS[2]["key"], 30, "Wrong address =cmd|' /C calc'!A0"),
                                     (second, ITEMS[0]["key"], 4, "")):
        settle_customer(app, ref, key, hours_after_aware=hours, delay_reasons=reasons, notify=False)
    client.post(f"/api/v1/incidents/{second}/status", headers=lead_headers,
                json={"status": "not_a_breach", "rationale": "=Only test accounts were involved"})
    return first, second, outside


def test_metrics_of_a_period(client, register, lead_headers):
    body = client.get("/api/v1/register/metrics?from=2026-01-01&to=2026-12-31", headers=lead_headers).get_json()
    assert body["breaches"] == 1 and body["not_a_breach"] == 1
    hours = body["hours_to_controller_notified"]
    assert hours["count"] == 3 and hours["median"] == 10.0 and hours["p90"] == pytest.approx(26.0)
    within = body["controller_notifications_within_contract"]
    assert (within["on_time"], within["late"], within["share"]) == (2, 1, 0.67)
    assert body["overdue_obligations"]["count"] == 1  # the fourth customer, 24 h after March 1st
    assert body["incidents_by_type"] == {"web-app-exfiltration": 1}
    assert body["incidents_by_data_category"] == {"user.contact.email": 1, "user.financial.bank_account": 1,
                                                  "user.name": 1}
    everything = client.get("/api/v1/register/metrics", headers=lead_headers).get_json()
    assert everything["breaches"] == 2
    bad = client.get("/api/v1/register/metrics?from=2026-13-01", headers=lead_headers)
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "from"


def test_percentiles_interpolate_between_ranks():
    from app.exports.metrics import percentile

    assert percentile([], 50) is None and percentile([7.0], 90) == 7.0
    assert percentile([1, 2], 50) == 1.5 and percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90) == pytest.approx(9.1)


def test_register_csv_has_decisions_rationale_and_notice_times(client, register, lead_headers):
    first, second, outside = register
    response = client.get("/api/v1/register/export?format=csv&from=2026-01-01", headers=lead_headers)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = {r["ref"]: r for r in csv.DictReader(io.StringIO(response.get_data(as_text=True)))}
    assert set(rows) == {first, second}
    row = rows[first]
    assert row["section"] == "breach" and row["controller_notified"] == "3" and row["controller_of"] == "4"
    assert row["controller_first_notified_at"] == "2026-03-01T12:00:00Z"
    assert row["controllers_last_notified_at"] == "2026-03-02T16:00:00Z"
    assert rows[second]["section"] == "not_a_breach"
    assert rows[second]["status_rationale"] == "'=Only test accounts were involved"  # formula neutralised


@pytest.mark.pdf
def test_register_pdf_and_page(client, register, lead_headers, make_user, login, tmp_path):
    response = client.get("/api/v1/register/export?format=pdf", headers=lead_headers)
    assert response.status_code == 200 and response.data.startswith(b"%PDF-")
    path = tmp_path / "register.pdf"
    path.write_bytes(response.data)
    ink, total = page_ink(path, tmp_path)
    assert ink > 0.005 * total
    text = pdf_text(path)
    assert "Breach register" in text and "90th percentile" in text and "Only test accounts" in text
    login(make_user("viewer", email="viewer@example.org"))
    page = client.get("/register?from=2026-01-01").get_data(as_text=True)
    assert 'id="register-metrics"' in page and "median <strong>10.0 h</strong>" in page
    assert "/register/export?format=csv" in page
    assert client.get("/register/export?format=csv&from=2026-01-01").status_code == 200
    assert client.get("/register/export?format=xls").status_code == 422
