"""Security headers on every response, and pages that work under a CSP without inline script or style."""

from __future__ import annotations

import re
from pathlib import Path

from app.auth.security import CONTENT_SECURITY_POLICY
from secsupport import routes_of, sign_in_as

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
# Standalone documents, not app pages: e-mail messages, and exported reports that carry their own CSP.
DOCUMENTS = ("notifications/_layout.html", "notifications/authority_report/", "notifications/data_subject/",
             "notifications/processor_to_controller/", "notifications/_i18n/", "exports/report.html",
             "exports/register.html", "exports/_report_style.html")
INLINE = [
    (re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"<style\b", re.I), "<style> element"),
    (re.compile(r"\sstyle\s*=", re.I), "style= attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "on*= event handler"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


def _check_headers(response, secure: bool = True) -> list[str]:
    wanted = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "X-Content-Type-Options": "nosniff",
              "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"}
    wrong = [f"{name}: {response.headers.get(name)!r}" for name, value in wanted.items()
             if response.headers.get(name) != value]
    if "camera=()" not in response.headers.get("Permissions-Policy", ""):
        wrong.append("Permissions-Policy missing")
    if secure and "max-age=" not in response.headers.get("Strict-Transport-Security", ""):
        wrong.append("HSTS missing")
    return wrong


def test_the_policy_is_the_agreed_one():
    for directive in ("default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
                      "frame-ancestors 'none'", "base-uri 'self'", "form-action 'self'", "object-src 'none'"):
        assert directive in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY and "unsafe-eval" not in CONTENT_SECURITY_POLICY


def test_every_kind_of_response_carries_the_headers(app, client, world):
    anonymous = {
        "login page": client.get("/login"),
        "redirect to login": client.get("/dashboard"),
        "static file": client.get("/static/style.css"),
        "health": client.get("/healthz"),
        "api 401 problem": client.get("/api/v1/incidents"),
        "api 404 problem": client.get("/api/v1/nothing"),
        "page 404": client.get("/nothing-here"),
        "api json": client.get("/api/v1/incidents", headers=world.tokens["viewer"]),
    }
    sign_in_as(client, world.users["viewer"])
    anonymous["signed-in page"] = client.get(f"/incidents/{world.ref}")
    anonymous["403 page"] = client.get("/datamap/import")
    wrong = [f"{name}: {problem}" for name, response in anonymous.items() for problem in _check_headers(response)]
    assert not wrong, "\n".join(wrong)
    assert anonymous["signed-in page"].headers["Cache-Control"] == "no-store"


def test_templates_have_no_inline_script_style_or_handlers():
    wrong = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        rel = path.relative_to(TEMPLATES).as_posix()
        if rel.startswith(DOCUMENTS):
            continue
        text = path.read_text()
        for pattern, what in INLINE:
            for match in pattern.finditer(text):
                wrong.append(f"templates/{rel}:{text[: match.start()].count(chr(10)) + 1}: {what}")
    assert not wrong, "the CSP would block these; move them to app/static:\n" + "\n".join(wrong)


def test_every_rendered_page_works_under_the_policy(app, world):
    """Render every page an admin can GET (SVG charts and macros included) and look for inline code."""
    wrong, pages = [], 0
    for method, endpoint, url, _ in routes_of(app, world):
        if method != "GET" or url.startswith("/api/"):
            continue
        client = app.test_client()
        sign_in_as(client, world.users["admin"])
        response = client.get(url)
        body = response.get_data(as_text=True)
        response.close()
        if response.mimetype != "text/html" or "Content-Security-Policy" not in response.headers:
            continue
        if response.headers["Content-Security-Policy"] != CONTENT_SECURITY_POLICY:
            continue  # a standalone export document with its own, stricter policy
        pages += 1
        for pattern, what in INLINE:
            if pattern.search(body):
                wrong.append(f"GET {url} ({endpoint}): {what}: {pattern.search(body).group(0)[:80]}")
    assert pages > 10 and not wrong, "\n".join(wrong)
