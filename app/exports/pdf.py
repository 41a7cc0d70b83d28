"""HTML to PDF with WeasyPrint, loading nothing from outside: every report is self-contained."""

from __future__ import annotations


def html_to_pdf(html: str) -> bytes:
    """Render self-contained HTML to PDF bytes; URLs in it are never fetched (no network, no local files)."""
    # Imported here: WeasyPrint loads Pango at import, which only the PDF path needs.
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    # No protocol allowed: a URL that slipped into user text cannot make the server fetch anything.
    fetcher = URLFetcher(allowed_protocols=(), allow_redirects=False)
    return HTML(string=html, base_url=None, url_fetcher=fetcher).write_pdf()
