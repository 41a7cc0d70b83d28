"""Helpers shared by the security tests (imported by name; fixtures live in this folder's conftest.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import sqlalchemy as sa
from werkzeug.routing.converters import AnyConverter

ROLES = ("viewer", "responder", "lead", "admin")
PROBLEM = "application/problem+json"
AWARE = "2026-03-01T08:00:00Z"


@dataclass
class World:
    """What the security tests act on."""

    users: dict  # role -> User
    tokens: dict  # role -> Authorization header (read write)
    ref: str  # an unrestricted incident every role can see
    controller_key: str = "acme-health"
    system_key: str = "billing"
    extra: dict = field(default_factory=dict)


def sign_in_as(client, user) -> None:
    """Put the user's session in the client's cookie without the (argon2-slow, throttled) login form."""
    with client.session_transaction() as sess:
        sess["_user_id"] = user.get_id()
        sess["_fresh"] = True


def declare_incident(client, headers, title: str = "Billing database exposed", **extra) -> str:
    """Declare an incident through the API; returns its reference."""
    body = {"title": title, "incident_type": "ransomware", "breach_types": ["confidentiality"],
            "detected_at": "2026-03-01T07:00:00Z", "aware_at": AWARE, "scope": {"systems": ["billing"]}, **extra}
    response = client.post("/api/v1/incidents", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["ref"]


def csrf_token_of(html: str) -> str:
    """The CSRF token in a rendered form."""
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    assert match, "no csrf_token in the page"
    return match.group(1)


# Routes whose URL arguments cannot be built from the fixture world, with the reason. Keep this short.
UNBUILDABLE: dict[str, str] = {}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _row_id(app, ref: str, name: str) -> int | None:
    """The id of a row of the table called like the argument (notification_id -> notification), preferring the
    fixture incident's rows."""
    from app.migrations.models import metadata

    incident_id = None
    with app.extensions["breachline.engine"].connect() as conn:
        incident_id = conn.execute(sa.text("SELECT id FROM incident WHERE ref = :r"), {"r": ref}).scalar()
        for table_name in (name, f"incident_{name}", f"{name}s"):
            table = metadata.tables.get(table_name)
            if table is None or "id" not in table.c:
                continue
            query = sa.select(sa.func.min(table.c.id))
            if "incident_id" in table.c:
                query = query.where(table.c.incident_id == incident_id)
            found = conn.execute(query).scalar()
            if found is None and "incident_id" in table.c:
                found = conn.execute(sa.select(sa.func.min(table.c.id))).scalar()  # another incident's row
            if found is not None:
                return found
    return None


def _url_values(app, world, rule) -> dict | None:
    values = {}
    for arg in sorted(rule.arguments):
        converter = rule._converters.get(arg)
        if isinstance(converter, AnyConverter):
            values[arg] = sorted(converter.items)[0]
        elif arg == "ref":
            values[arg] = world.ref
        elif arg == "key":
            values[arg] = world.system_key if "/systems/" in rule.rule else world.controller_key
        elif arg in ("controller_key", "controller"):
            values[arg] = world.controller_key
        elif arg in ("system_key", "system"):
            values[arg] = world.system_key
        elif arg == "fmt":
            values[arg] = "yaml" if "datamap" in rule.rule else "json"
        elif arg == "regime_id":
            values[arg] = "gdpr-art33"
        elif arg == "user_id":
            values[arg] = world.users["responder"].id
        elif arg == "token":
            values[arg] = "made-up-token"
        elif arg.endswith("_id"):
            values[arg] = _row_id(app, world.ref, arg[: -len("_id")])
            if values[arg] is None:
                return None
        else:
            return None
    return values


def routes_of(app, world):
    """(method, endpoint, url, permission) for every routed method, building URLs from the world."""
    found, missing = [], []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        values = _url_values(app, world, rule)
        if values is None:
            if rule.endpoint not in UNBUILDABLE:
                missing.append(f"{rule.rule} ({rule.endpoint})")
            continue
        with app.test_request_context():
            url = app.url_map.bind("localhost").build(rule.endpoint, values)
        permission = app.view_functions[rule.endpoint].permission
        for method in sorted(set(rule.methods) & set(METHODS)):
            found.append((method, rule.endpoint, url, permission))
    assert not missing, ("cannot build URL arguments for: " + ", ".join(missing)
                         + " — teach _url_values the argument or list the route in UNBUILDABLE with the reason")
    return found
