"""CSRF: every state-changing browser route refuses a POST without a token; every POST form carries one."""

from __future__ import annotations

import re
from pathlib import Path

from secsupport import csrf_token_of, routes_of, sign_in_as

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def test_every_browser_post_without_a_token_is_refused(app, world):
    app.config["WTF_CSRF_ENABLED"] = True  # the test config turns it off; production never does
    posts = [(endpoint, url) for method, endpoint, url, _ in routes_of(app, world)
             if method == "POST" and not url.startswith("/api/")]
    assert len(posts) > 15, posts
    wrong = []
    for endpoint, url in posts:
        client = app.test_client()
        sign_in_as(client, world.users["admin"])  # allowed everywhere: only the missing token can refuse it
        response = client.post(url, data={"title": "x"})
        if response.status_code != 400 or "CSRF" not in response.get_data(as_text=True):
            wrong.append(f"POST {url} ({endpoint}) without a CSRF token answered {response.status_code}")
    assert not wrong, "\n".join(wrong)


def test_a_post_with_the_token_passes_and_a_foreign_token_does_not(app, world):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    sign_in_as(client, world.users["lead"])
    page = client.get(f"/incidents/{world.ref}").get_data(as_text=True)
    token = csrf_token_of(page)
    ok = client.post(f"/incidents/{world.ref}/notes", data={"summary": "Called the DPO", "csrf_token": token})
    assert ok.status_code == 302
    other = app.test_client()
    sign_in_as(other, world.users["responder"])
    foreign = other.post(f"/incidents/{world.ref}/notes", data={"summary": "forged", "csrf_token": token})
    assert foreign.status_code == 400, "a token from another session must not be accepted"


def test_every_post_form_in_the_templates_carries_a_csrf_token():
    wrong = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        for match in re.finditer(r"<form\b[^>]*>(.*?)</form>", text, flags=re.S | re.I):
            tag = match.group(0)[: match.group(0).index(">") + 1]
            if not re.search(r'method="post"', tag, flags=re.I):
                continue
            if "csrf_token()" not in match.group(1) and "hidden_tag()" not in match.group(1):
                line = text[: match.start()].count("\n") + 1
                wrong.append(f"{path.relative_to(TEMPLATES.parent)}:{line}: POST form without csrf_token")
    assert not wrong, "\n".join(wrong)
