"""Sign-in sessions, CSRF, bearer tokens and the one permission check every request passes."""

from __future__ import annotations

from flask import Flask, current_app, g, redirect, request, url_for
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect

from app.auth.models import User
from app.auth.permissions import Permission, is_write, permissions_of
from app.core import time
from app.db import get_session

login_manager = LoginManager()
csrf = CSRFProtect()
API_PREFIX = "/api/"


def init_app(app: Flask) -> None:
    """Wire Flask-Login, CSRF and the permission check into the app."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    csrf.init_app(app)
    app.before_request(_enforce_permission)
    app.context_processor(_permissions_context)


def _permissions_context() -> dict:
    # Templates show or hide actions by permission; the server still checks every request.
    role = current_user.role if current_user.is_authenticated else None
    return {"current_permissions": {str(p) for p in permissions_of(role)} if role else set()}


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    session = get_session()
    user = session.get(User, int(user_id))
    if user is None or not user.active:
        return None
    # Detached with its columns loaded: a rollback later in the request must not expire current_user.
    session.expunge(user)
    return user


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
        from flask import render_template
        return render_template("errors/403.html", permission=needed), 403
    return None


def _check_api(needed: Permission):
    from app.core.problems import problem
    from app.auth.service import user_for_token

    if needed == Permission.public:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return problem(401, "Unauthorized", "send Authorization: Bearer <token>",
                       headers={"WWW-Authenticate": 'Bearer realm="breachline"'})
    session = get_session()
    found = user_for_token(session=session, token=token.strip(), now=time.now())
    if found is None:
        return problem(401, "Unauthorized", "the token is unknown, revoked or expired",
                       headers={"WWW-Authenticate": 'Bearer realm="breachline", error="invalid_token"'})
    user, api_token = found
    session.commit()  # keep last_used_at even if the request later fails
    g.api_user, g.api_token = user, api_token
    if needed not in permissions_of(user.role):
        return problem(403, "Forbidden", f"role {user.role} lacks permission {needed}")
    if is_write(needed) and "write" not in api_token.scopes.split():
        return problem(403, "Forbidden", "this token has no write scope")
    return None
