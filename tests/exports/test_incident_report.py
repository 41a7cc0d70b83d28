"""The HTML and PDF incident report: every section, server-side charts, the viewer's time zone, a PDF that renders."""

import re

import pytest

from export_support import customers, declare, import_map, lead_headers, page_ink, pdf_text, settle_customer  # noqa: F401


@pytest.fixture
def incident(app, client, runner, tmp_path, lead_headers):  # noqa: F811
    items = customers(6)
    import_map(runner, tmp_path, items)
    ref = declare(client, lead_headers, drill=True)
    settle_customer(app, ref, items[0]["key"], hours_after_aware=2)
    settle_customer(app, ref, items[1]["key"], hours_after_aware=40, delay_reasons="Contract address outdated")
    return ref


def test_html_report_has_every_section_and_inline_charts(client, incident, lead_headers):
    response = client.get(f"/api/v1/incidents/{incident}/timeline?format=html&tz=America/Los_Angeles",
                          headers=lead_headers)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    html = response.get_data(as_text=True)
    for section in ("cover", "impact", "obligations", "notifications", "assessment", "timeline", "chain"):
        assert f'id="{section}"' in html, section
    assert "DRILL" in html
    # Charts are inline SVG: no script, no external resource of any kind.
    assert html.count("<svg") == 2 and "Affected customers by data category" in html
    assert "<script" not in html and not re.search(r'(src|href)="(https?:)?//', html)
    # Times in the viewer's zone with the offset printed (awareness 10:00 UTC is 02:00 in Los Angeles, PST).
    assert "2026-03-01 02:00 -08:00" in html
    assert "late</span> by 16 h 0 min" in html and "Contract address outdated" in html
    assert "chain intact" in html


@pytest.mark.pdf
def test_pdf_opens_and_its_first_page_is_not_blank(client, incident, lead_headers, tmp_path):
    response = client.get(f"/api/v1/incidents/{incident}/timeline?format=pdf", headers=lead_headers)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    path = tmp_path / "report.pdf"
    path.write_bytes(response.data)
    ink, total = page_ink(path, tmp_path, page=1)
    assert total > 100_000 and ink > 0.005 * total, (ink, total)
    text = pdf_text(path)
    assert incident in text and "+00:00" in text and "Integrity of the timeline" in text


@pytest.mark.pdf
def test_pdf_refuses_timelines_beyond_its_cap(app, client, incident, lead_headers):
    app.config["EXPORT_PDF_MAX_EVENTS"] = 3
    response = client.get(f"/api/v1/incidents/{incident}/timeline?format=pdf", headers=lead_headers)
    assert response.status_code == 422 and response.get_json()["errors"][0]["field"] == "format"
    assert "use format=html, csv or json" in response.get_json()["errors"][0]["message"]


@pytest.mark.pdf
def test_pdf_never_fetches_urls_in_user_text(tmp_path):
    from PIL import Image  # installed with WeasyPrint

    from app.exports.pdf import html_to_pdf
    from weasyprint import HTML

    image = tmp_path / "local.png"
    Image.new("RGB", (40, 40), "red").save(image)
    html = f'<p>x</p><img src="file://{image}"><link rel="stylesheet" href="http://127.0.0.1:9/x.css">'
    assert b"/Subtype /Image" in HTML(string=html).write_pdf()  # WeasyPrint's default would read the file
    assert b"/Subtype /Image" not in html_to_pdf(html)  # ours reads nothing outside the HTML
