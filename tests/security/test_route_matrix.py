"""Every route x every role (and anonymous): allowed -> not 401/403, denied -> 403, anonymous -> login or 401."""

from __future__ import annotations

from app.auth.permissions import Permission, is_write, permissions_of
from secsupport import PROBLEM, ROLES, routes_of, sign_in_as

# Routes that answer 401/403 for a request that passed the permission layer, because they carry their
# own credential in the URL or body (the matrix sends a made-up one). Keep this short too.
OWN_CREDENTIAL: dict[str, str] = {
    "notifications.ack_page": "public acknowledgement link: a made-up signed token is refused by the view",
    "notifications.ack_submit": "public acknowledgement link: a made-up signed token is refused by the view",
    "api.intake_alert": "alert intake: authenticated by its own HMAC signature headers, which the matrix lacks",
}


def _allowed(role: str | None, permission: Permission) -> bool:
    if permission == Permission.public:
        return True
    return role is not None and permission in permissions_of(role)


def _request(client, method: str, url: str, headers: dict | None = None):
    kwargs = {"headers": headers or {}}
    if url.startswith("/api/") and method != "GET":
        kwargs["json"] = {}
    response = client.open(url, method=method, **kwargs)
    response.get_data()  # drain streamed exports inside their own request context
    response.close()
    return response


def test_route_role_matrix(app, world):
    routes = routes_of(app, world)
    assert len(routes) > 40, "the matrix found suspiciously few routes"
    wrong, checked = [], 0
    for method, endpoint, url, permission in routes:
        api = url.startswith("/api/")
        for role in (None, *ROLES):
            client = app.test_client()
            headers = {}
            if role and api:
                headers = world.tokens[role]
            elif role:
                sign_in_as(client, world.users[role])
            response = _request(client, method, url, headers)
            status, checked = response.status_code, checked + 1
            who = role or "anonymous"
            if _allowed(role, permission):
                if status in (401, 403) and endpoint not in OWN_CREDENTIAL:
                    wrong.append(f"{who} {method} {url} ({permission}): allowed but got {status}")
            elif role is None:
                if api and (status != 401 or response.mimetype != PROBLEM):
                    wrong.append(f"anonymous {method} {url}: expected a 401 problem, got {status}")
                if not api and (status != 302 or "/login" not in response.headers.get("Location", "")):
                    wrong.append(f"anonymous {method} {url}: expected a redirect to /login, got {status}")
            elif status != 403 or (api and response.mimetype != PROBLEM):
                wrong.append(f"{who} {method} {url} ({permission}): denied but got {status}")
            if status >= 500:
                wrong.append(f"{who} {method} {url}: server error {status}")
    assert not wrong, f"{len(wrong)} of {checked} checks failed:\n" + "\n".join(wrong)
    print(f"route x role matrix: {len(routes)} routes x {len(ROLES) + 1} roles = {checked} checks")


def test_read_only_token_is_refused_every_write_route(app, world, token_for):
    """Scopes: a read-only token passes every read route and is refused (403 problem) on every write route."""
    read_only = token_for(world.users["admin"], scopes="read")
    wrong = []
    for method, endpoint, url, permission in routes_of(app, world):
        if not url.startswith("/api/") or permission == Permission.public:
            continue
        response = _request(app.test_client(), method, url, read_only)
        if is_write(permission) and response.status_code != 403:
            wrong.append(f"{method} {url} ({permission}): read-only token got {response.status_code}")
        if not is_write(permission) and response.status_code in (401, 403):
            wrong.append(f"{method} {url} ({permission}): read-only token refused a read")
    assert not wrong, "\n".join(wrong)


def test_every_permission_is_granted_to_some_role_and_admin_has_all():
    for permission in Permission:
        assert permission in permissions_of("admin"), permission
    assert Permission.audit_read not in permissions_of("lead")
    assert Permission.incident_restrict in permissions_of("lead")
    assert Permission.incident_restrict not in permissions_of("responder")
    assert is_write(Permission.incident_restrict) and not is_write(Permission.audit_read)
