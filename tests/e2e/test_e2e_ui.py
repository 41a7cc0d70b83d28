"""UI quality in the browser: keyboard only, visible focus, the confirmation dialog (and its no-JS fallback),
a laptop split screen (700 px), empty states and error pages checked by axe-core."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from e2e_support import ROOT, sign_in

pytestmark = pytest.mark.e2e


def seed_incident(live_server, request_context) -> str:
    """The example data map (CLI) and one incident touching it (JSON API); returns the incident's reference."""
    live_server.cli("datamap", "import", str(ROOT / "examples" / "datamap-small.yaml"))
    token = live_server.cli("tokens", "create", "--email", "admin@breachline.test").stdout.strip().splitlines()[0]
    aware = datetime.now(timezone.utc) - timedelta(hours=3)
    response = request_context.post(f"{live_server.url}/api/v1/incidents", headers={"Authorization": f"Bearer {token}"},
                                    data={"title": "Exposed bucket with patient letters",
                                          "incident_type": "cloud-storage-misconfiguration",
                                          "detected_at": (aware - timedelta(hours=1)).isoformat(),
                                          "aware_at": aware.isoformat(), "breach_types": ["confidentiality"],
                                          "scope": {"systems": ["patient-portal", "email-delivery"]}})
    assert response.status == 201, response.text()
    return response.json()["ref"]


def focus_ring(page) -> dict:
    """The focused element's outline as computed by the browser."""
    return page.evaluate("""() => { const s = getComputedStyle(document.activeElement);
        return {tag: document.activeElement.tagName, style: s.outlineStyle, width: parseFloat(s.outlineWidth)}; }""")


def test_keyboard_only_sign_in_with_visible_focus(live_server, page, axe, steps, shoot_on_failure, csp_watch):
    shoot_on_failure(page)
    csp_watch(page)
    page.goto(f"{live_server.url}/dashboard")
    expect(page).to_have_url(re.compile(r"/login"))  # signed out: sent to sign in
    expect(page.get_by_label("Email")).to_be_focused()
    page.keyboard.type("admin@breachline.test")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type("wrong password")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert").first).to_be_visible()  # a wrong password says so, and nothing else
    axe(page, "login (refused)")
    steps.shot(page, "login-refused")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_role("heading", name="Open incidents")).to_be_visible()

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box and box["x"] >= 0 and box["y"] >= 0, "the skip link must show when focused"
    for _ in range(3):
        page.keyboard.press("Tab")
        ring = focus_ring(page)
        assert ring["style"] != "none" and ring["width"] >= 2, f"no visible focus on {ring}"
    steps.shot(page, "focus-ring")
    assert not axe.results.serious(), axe.results.serious()


def test_destructive_action_asks_first_in_a_dialog(live_server, page, axe, steps, shoot_on_failure, csp_watch):
    shoot_on_failure(page)
    csp_watch(page)
    ref = seed_incident(live_server, page.request)
    sign_in(page, live_server.url, "admin@breachline.test")
    page.goto(f"{live_server.url}/incidents/{ref}")
    page.locator("summary", has_text="Change status").click()
    page.get_by_label("New status").select_option("not_a_breach")
    page.get_by_label(re.compile("Rationale")).first.fill("Bucket held only synthetic test data.")
    page.get_by_role("button", name="Change status").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(f"Change the status of {ref}?")
    expect(dialog.get_by_role("button", name="No, go back")).to_be_focused()
    axe(page, "incident page (confirmation dialog open)")
    steps.shot(page, "dialog")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.locator(".page-head .badge")).to_have_text("triage")
    page.get_by_role("button", name="Change status").click()
    dialog.get_by_role("button", name="Yes, continue").click()
    expect(page.locator(".flash-success")).to_contain_text("Status changed")
    expect(page.locator(".page-head .badge")).to_have_text("not a breach")
    assert not axe.results.serious(), axe.results.serious()


def test_without_javascript_the_form_still_works(live_server, browser, shoot_on_failure):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    shoot_on_failure(page)
    ref = seed_incident(live_server, page.request)
    sign_in(page, live_server.url, "admin@breachline.test")
    page.goto(f"{live_server.url}/incidents/{ref}")
    expect(page.locator("time[data-local]").first).to_contain_text("+00:00")  # server text: UTC, offset shown
    page.locator("summary", has_text="Change status").click()
    page.get_by_label("New status").select_option("investigating")
    page.get_by_role("button", name="Change status").click()
    expect(page.locator(".flash-success")).to_contain_text("Status changed")
    context.close()


PAGES = [("dashboard", "/dashboard"), ("incidents list", "/incidents"), ("incident page", "/incidents/{ref}"),
         ("assessment page", "/incidents/{ref}/assessment"), ("notifications review", "/incidents/{ref}/notifications"),
         ("data-map controllers list", "/datamap/controllers"),
         ("controller page", "/datamap/controllers/auenfeld-kliniken"), ("register", "/register"),
         ("declare form", "/incidents/new")]


def test_laptop_split_screen_700px(live_server, browser, axe, steps, shoot_on_failure, csp_watch):
    """At 700 px nothing but wide tables and charts (inside their own boxes) scrolls sideways."""
    context = browser.new_context(viewport={"width": 700, "height": 900}, timezone_id="Europe/Berlin")
    page = context.new_page()
    shoot_on_failure(page)
    csp_watch(page)
    ref = seed_incident(live_server, page.request)
    sign_in(page, live_server.url, "admin@breachline.test")
    for name, path in PAGES:
        response = page.goto(live_server.url + path.format(ref=ref))
        assert response.ok, f"{name}: HTTP {response.status}"
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{name} is {overflow}px wider than a 700px window"
        axe(page, f"{name} (700px)")
        steps.shot(page, name.replace(" ", "-"))
    context.close()
    assert not axe.results.serious(), axe.results.serious()


def test_empty_states_and_errors_are_clear(live_server, page, axe, steps, shoot_on_failure, csp_watch):
    shoot_on_failure(page)
    csp_watch(page)
    sign_in(page, live_server.url, "admin@breachline.test")
    for path, text in [("/dashboard", "No open incidents"), ("/incidents", "No incidents recorded yet"),
                       ("/datamap/controllers", "The data map is empty"), ("/register", "No personal data breach")]:
        page.goto(live_server.url + path)
        expect(page.locator(".empty").first).to_contain_text(text)
        axe(page, f"{path} (empty)")
    page.goto(f"{live_server.url}/datamap/import")
    page.get_by_label("Data-map file").set_input_files(files=[{"name": "broken.yaml", "mimeType": "text/yaml",
                                                               "buffer": b"controllers:\n  - key: Not A Slug\n"}])
    page.get_by_role("button", name="Import").click()
    alert = page.get_by_role("alert").first
    expect(alert).to_contain_text("Nothing was imported")
    expect(alert).to_contain_text("broken.yaml")
    axe(page, "data-map import (refused)")
    steps.shot(page, "import-refused")
    assert not axe.results.serious(), axe.results.serious()
