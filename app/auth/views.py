"""Sign in and sign out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import login_user, logout_user

from app.auth.forms import LoginForm
from app.auth.permissions import Permission, declare
from app.auth.service import authenticate
from app.db import get_session

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    # Only same-site relative paths: an open redirect would make phishing links look like ours.
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("web.index")


@bp.route("/login", methods=["GET", "POST"])
@declare(Permission.public)
def login():
    """Show the sign-in form and sign a user in."""
    form = LoginForm()
    if form.validate_on_submit():
        db = get_session()
        user = authenticate(session=db, email=form.email.data, password=form.password.data)
        if user is not None:
            db.commit()
            session.clear()  # a fresh session on sign-in: no fixation
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        flash("Email or password is wrong.", "error")
    return render_template("auth/login.html", form=form), 401 if request.method == "POST" else 200


@bp.post("/logout")
@declare(Permission.public)
def logout():
    """Sign out."""
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))
