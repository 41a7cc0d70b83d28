"""Every page escapes user text: XSS payloads in every free-text field we can reach never come back raw."""

from __future__ import annotations

import pytest

from mapdata import SMALL_MAP
from secsupport import declare_incident, routes_of, sign_in_as

RAW = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>")


def payload(mark: str) -> str:
    """A marked payload: a script tag, an attribute break-out and a template expression."""
    return f'{mark} <script>alert(1)</script> "><img src=x onerror=alert(1)> {{{{7*7}}}}'


def escaped(mark: str) -> str:
    """How Jinja's autoescaping renders payload(mark)."""
    return f"{mark} &lt;script&gt;alert(1)&lt;/script&gt; &#34;&gt;&lt;img src=x onerror=alert(1)&gt; {{{{7*7}}}}"


EXFILTRATED = {
    "breach_types": ["confidentiality"], "data_categories": ["user.name", "user.financial.bank_account"],
    "subjects_count": 40, "vulnerable_subjects": False, "malicious": True, "exfiltration": "yes",
    "encryption": "none", "backup": "none", "restored_within_hours": None, "recipient": "unknown",
    "recipients_count": None, "recovery_confirmed": False, "identifiability": "maximum", "dpc_adjustment": 0,
}


@pytest.fixture
def poisoned(app, client, runner, world, quick_user, tmp_path):
    """A world whose every reachable free-text field holds a payload; returns (admin with a payload name, ref)."""
    lead = world.tokens["lead"]
    dirty_map = (SMALL_MAP.replace("name: Acme Health GmbH", f"name: '{payload('xctrl')}'")
                 .replace("name: Billing,", f"name: '{payload('xsys')}',"))
    path = tmp_path / "dirty.yaml"
    path.write_text(dirty_map)
    assert runner.invoke(args=["datamap", "import", str(path)]).exit_code == 0
    ref = declare_incident(client, lead, title=payload("xtitle"), summary=payload("xsummary"),
                           scope={"systems": ["billing", "patient-portal"]})
    assert client.post(f"/api/v1/incidents/{ref}/timeline", json={"summary": payload("xnote")},
                       headers=lead).status_code == 201
    status = client.post(f"/api/v1/incidents/{ref}/status", json={"status": "investigating",
                                                                  "rationale": payload("xstatus")}, headers=lead)
    assert status.status_code == 200, status.get_json()
    assessed = client.post(f"/api/v1/incidents/{ref}/assessments", headers=lead, json={
        "inputs": EXFILTRATED, "decision": {"communicate_to_data_subjects": False},
        "rationale": payload("xrationale")})
    assert assessed.status_code == 201, assessed.get_json()
    task = client.get(f"/api/v1/incidents/{ref}/tasks", headers=lead).get_json()["items"][0]
    done = client.post(f"/api/v1/incidents/{ref}/tasks/{task['id']}/complete", headers=lead,
                       json={"note": payload("xtask"), "outcome": "done"})
    assert done.status_code == 200, done.get_json()
    # The email box of the sign-in form is free text too, and a failure lands in the audit log.
    client.post("/login", data={"email": payload("xlogin"), "password": "whatever"})
    admin = quick_user("admin", email="xss-admin@example.org", name=payload("xuser"))
    world.ref = ref
    return admin, ref


EXPECTED = {  # page -> marks whose escaped form it must show
    "/incidents": ["xtitle", "xuser"],
    "/dashboard": ["xtitle"],
    "/incidents/{ref}": ["xtitle", "xsummary", "xnote", "xstatus", "xtask", "xctrl"],
    "/incidents/{ref}/assessment": ["xrationale"],
    "/register": ["xtitle", "xrationale"],
    "/datamap/controllers": ["xctrl"],
    "/datamap/controllers/acme-health": ["xctrl"],
    "/datamap/systems": ["xsys"],
    "/datamap/systems/billing": ["xsys"],
    "/admin/audit": ["xlogin"],
}


def test_pages_show_the_escaped_payloads(app, poisoned):
    admin, ref = poisoned
    client = app.test_client()
    sign_in_as(client, admin)
    missing = []
    for url, marks in EXPECTED.items():
        url = url.format(ref=ref)
        response = client.get(url)
        assert response.status_code == 200, url
        page = response.get_data(as_text=True)
        for raw in RAW:
            assert raw not in page, f"{url} shows a raw payload: {raw}"
        missing += [f"{url}: {mark}" for mark in marks if escaped(mark) not in page]
        assert "alert(1)&gt; 49" not in page, f"{url} evaluated a template expression from user text"
    assert not missing, "pages that should show a field do not show its escaped form:\n" + "\n".join(missing)


def test_no_page_or_api_answer_ever_returns_a_raw_payload(app, world, poisoned):
    """Every GET route (pages, exports, API) around the poisoned incident, as the admin."""
    admin, _ = poisoned
    wrong, seen = [], 0
    for method, endpoint, url, _ in routes_of(app, world):
        if method != "GET":
            continue
        client = app.test_client()
        headers = {}
        if url.startswith("/api/"):
            headers = world.tokens["admin"]
        else:
            sign_in_as(client, admin)
        response = client.get(url, headers=headers)
        body = response.get_data(as_text=True)
        response.close()
        seen += 1
        if response.mimetype in ("text/html", "image/svg+xml"):
            wrong += [f"GET {url} ({endpoint}) shows {raw}" for raw in RAW if raw in body]
    assert seen > 30 and not wrong, "\n".join(wrong)
