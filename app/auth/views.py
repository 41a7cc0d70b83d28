"""Sign in and sign out (throttled, audited, with a fresh session), and the admins' audit log."""

from __future__ import annotations

from datetime import datetime
from math import ceil
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from werkzeug.exceptions import BadRequest

from app.auth import audit, throttle
from app.auth.forms import LoginForm
from app.auth.permissions import Permission, declare
from app.auth.security import client_ip
from app.auth.service import authenticate
from app.core import time
from app.core.errors import InputError
from app.core.pagination import PageRequest
from app.core.time import iso
from app.db import get_session

bp = Blueprint("auth", __name__)
WRONG = "Email or password is wrong."


def _safe_next(target: str | None) -> str:
    # Only same-site relative paths: an open redirect would make phishing links look like ours.
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("web.index")


def _paused(until: datetime, now: datetime) -> str:
    # The same words whether or not the account exists: unknown emails are paused too.
    minutes = max(1, ceil((until - now).total_seconds() / 60))
    return (f"Too many failed sign-ins for this account or from this address. Sign-in is paused; try again in "
            f"{minutes} minute{'s' if minutes != 1 else ''}.")


@bp.route("/login", methods=["GET", "POST"])
@declare(Permission.public)
def login():
    """Show the sign-in form and sign a user in."""
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 422 if request.method == "POST" else 200
    db, now, ip = get_session(), time.now(), client_ip()
    email = throttle.normalise_email(form.email.data)
    rules = throttle.ThrottleRules.from_config(current_app.config)
    paused = throttle.locked_until(session=db, email=email, ip=ip, now=now, rules=rules)
    if paused:
        # Not counted as another failure and no password check: the pause ends on time whatever is tried.
        audit.record(session=db, action=audit.SIGNIN_FAILED, now=now, actor=email, target=email, ip=ip,
                     details={"reason": "paused", "until": iso(paused)})
        db.commit()
        flash(_paused(paused, now), "error")
        return render_template("auth/login.html", form=form), 429
    user = authenticate(session=db, email=email, password=form.password.data)
    if user is None:
        paused = throttle.record_attempt(session=db, email=email, ip=ip, ok=False, now=now, rules=rules)
        audit.record(session=db, action=audit.SIGNIN_FAILED, now=now, actor=email, target=email, ip=ip,
                     details={"reason": "wrong email or password"})
        if paused:
            audit.record(session=db, action=audit.SIGNIN_LOCKED, now=now, actor=email, target=email, ip=ip,
                         details={"until": iso(paused), "window_seconds": int(rules.window.total_seconds()),
                                  "account_limit": rules.account_failures, "ip_limit": rules.ip_failures})
        db.commit()
        flash(WRONG, "error")
        return render_template("auth/login.html", form=form), 401
    throttle.record_attempt(session=db, email=email, ip=ip, ok=True, now=now, rules=rules)
    audit.record(session=db, action=audit.SIGNIN_OK, now=now, actor=user.email, target=user.email, ip=ip)
    db.commit()
    # A fresh session on sign-in: nothing planted before (fixation) survives, and the CSRF token is new.
    session.clear()
    login_user(user)
    return redirect(_safe_next(request.args.get("next")))


@bp.post("/logout")
@declare(Permission.public)
def logout():
    """Sign out."""
    if current_user.is_authenticated:
        db = get_session()
        audit.record(session=db, action=audit.SIGNOUT, now=time.now(), actor=current_user.email,
                     target=current_user.email, ip=client_ip())
        db.commit()
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.get("/admin/audit")
@declare(Permission.audit_read)
def audit_log():
    """The audit log, newest first, filterable by action and actor."""
    try:
        page = PageRequest.parse(request.args, default_size=current_app.config["PAGE_SIZE"],
                                 max_size=current_app.config["MAX_PAGE_SIZE"])
    except InputError as exc:
        raise BadRequest(str(exc)) from None
    action, actor = request.args.get("action", "").strip(), request.args.get("actor", "").strip()
    db = get_session()
    return render_template("auth/audit.html", page=audit.list_events(session=db, page=page, action=action,
                                                                      actor=actor),
                           action=action, actor=actor, actions=audit.actions(session=db))
