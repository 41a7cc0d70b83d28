"""Sign-in sessions, CSRF, bearer tokens, security headers and the one permission check every request passes."""

from __future__ import annotations

import hmac

from flask import Flask, Response, current_app, g, redirect, render_template, request, url_for
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect

from app.auth import audit
from app.auth.models import User
from app.auth.permissions import Permission, is_write, permissions_of
from app.core import time
from app.core.redact import add_literal_secrets, install_log_masking
from app.db import get_session

login_manager = LoginManager()
csrf = CSRFProtect()
API_PREFIX = "/api/"
# No inline script or style anywhere: templates load countdown.js and style.css from /static.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'")
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
HSTS = "max-age=31536000; includeSubDomains"


def init_app(app: Flask) -> None:
    """Wire Flask-Login, CSRF, the permission check, security headers and log masking into the app."""
    install_log_masking()
    add_literal_secrets(*(app.config.get(k) for k in ("SMTP_PASSWORD", "PSIRT_WEBHOOK_SECRET", "SECRET_KEY")))
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    csrf.init_app(app)
    app.before_request(_enforce_permission)
    app.after_request(_security_headers)
    app.context_processor(_permissions_context)
    hops = int(app.config.get("PROXY_FIX_X_FOR") or 0)
    if hops:
        # Behind a reverse proxy the client address and scheme come from X-Forwarded-*; trust exactly `hops` proxies.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)


def _permissions_context() -> dict:
    # Templates show or hide actions by permission; the server still checks every request.
    role = current_user.role if current_user.is_authenticated else None
    return {"current_permissions": {str(p) for p in permissions_of(role)} if role else set()}


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    ident, _, key = (user_id or "").partition(":")
    if not ident.isdigit() or not key:
        return None  # a session from before session keys, or forged: sign in again
    session = get_session()
    user = session.get(User, int(ident))
    if user is None or not user.active or not hmac.compare_digest(key, user.session_key):
        return None  # the password changed since this session signed in
    # Detached with its columns loaded: a rollback later in the request must not expire current_user.
    session.expunge(user)
    return user


def client_ip() -> str:
    """The client's address (the proxy's view when PROXY_FIX_X_FOR is set)."""
    return (request.remote_addr or "")[:64]


def is_api_request() -> bool:
    """True when the request is for the JSON API (bearer auth, problem+json errors)."""
    return request.path.startswith(API_PREFIX)


def current_actor() -> User | None:
    """The user behind this request: the bearer token's user for the API, the session's otherwise."""
    if is_api_request():
        return g.get("api_user")
    return current_user if current_user.is_authenticated else None


def view_permission(endpoint: str | None) -> Permission | None:
    """The permission declared by the view behind an endpoint (static files are public)."""
    if endpoint is None:
        return None
    if endpoint == "static":
        return Permission.public
    view = current_app.view_functions.get(endpoint)
    return getattr(view, "permission", None)


def _record_denial(actor: str, needed: Permission, reason: str) -> None:
    # Committed at once: the denied request does no other work that could roll it back.
    session = get_session()
    audit.record(session=session, action=audit.PERMISSION_DENIED, now=time.now(), actor=actor,
                 target=f"{request.method} {request.path}"[:500], ip=client_ip(),
                 details={"permission": str(needed), "endpoint": request.endpoint, "reason": reason})
    session.commit()


def _enforce_permission():
    from app.core.problems import problem

    needed = view_permission(request.endpoint)
    if request.endpoint is None:
        return None  # 404/405: let Flask answer
    if needed is None:
        # Fail closed: a route that forgot to declare its permission is unusable, and a test catches it.
        return (problem(403, "Forbidden", f"route {request.endpoint} declares no permission")
                if is_api_request() else ("Forbidden: route declares no permission", 403))
    if is_api_request():
        return _check_api(needed)
    if needed == Permission.public:
        return None
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if needed not in permissions_of(current_user.role):
        _record_denial(current_user.email, needed, f"role {current_user.role}")
        return render_template("errors/403.html", permission=needed), 403
    return None


def _check_api(needed: Permission):
    from app.core.problems import problem
    from app.auth.service import mark_token_used, user_for_token

    if needed == Permission.public:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return problem(401, "Unauthorized", "send Authorization: Bearer <token>",
                       headers={"WWW-Authenticate": 'Bearer realm="breachline"'})
    session, now = get_session(), time.now()
    found = user_for_token(session=session, token=token.strip(), now=now)
    if found is None:
        return problem(401, "Unauthorized", "the token is unknown, revoked or expired",
                       headers={"WWW-Authenticate": 'Bearer realm="breachline", error="invalid_token"'})
    user, api_token = found
    if mark_token_used(session=session, token=api_token, now=now):
        audit.record(session=session, action=audit.TOKEN_USED, now=now, actor=user.email, target=api_token.prefix,
                     ip=client_ip(), details={"name": api_token.name, "path": request.path})
    session.commit()  # keep last_used_at and the audit row even if the request later fails
    g.api_user, g.api_token = user, api_token
    if needed not in permissions_of(user.role):
        _record_denial(user.email, needed, f"role {user.role}")
        return problem(403, "Forbidden", f"role {user.role} lacks permission {needed}")
    if is_write(needed) and "write" not in api_token.scopes.split():
        _record_denial(user.email, needed, f"token {api_token.prefix} has no write scope")
        return problem(403, "Forbidden", "this token has no write scope")
    if "read" not in api_token.scopes.split():  # issue 6: calendar tokens open the calendar feed only
        _record_denial(user.email, needed, f"token {api_token.prefix} has no read scope")
        return problem(403, "Forbidden", "this token has no read scope (a calendar token opens only its feed)")
    return None


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        headers.setdefault("Strict-Transport-Security", HSTS)
    if request.endpoint != "static":
        # Breach details must not linger in shared browser or proxy caches after sign-out.
        headers.setdefault("Cache-Control", "no-store")
    return response
