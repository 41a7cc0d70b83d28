"""Sign-in throttling: failures per account and per client address pause sign-in, with a generic message,
and every failure, pause and success lands in the audit log."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlmodel import select

from app.auth import throttle
from app.auth.models import AuditEvent, LoginAttempt

PASSWORD = "correct horse battery"
PAUSED = "Sign-in is paused"


@pytest.fixture
def strict(app):
    app.config.update(LOGIN_MAX_FAILURES_ACCOUNT=3, LOGIN_MAX_FAILURES_IP=5, LOGIN_FAILURE_WINDOW_SECONDS=900,
                      LOGIN_LOCKOUT_SECONDS=900)
    return app


def _login(client, email: str, password: str, ip: str = "198.51.100.7"):
    return client.post("/login", data={"email": email, "password": password}, environ_base={"REMOTE_ADDR": ip})


def _actions(session) -> list[tuple[str, str]]:
    session.rollback()  # a fresh snapshot: requests commit on their own connections
    return [(e.action, e.actor) for e in session.exec(select(AuditEvent).order_by(AuditEvent.id))]


def _age_attempts(app, minutes: int) -> None:
    """Move every recorded attempt back in time, as if `minutes` had passed (time is injected, not slept)."""
    table = LoginAttempt.__table__
    with app.extensions["breachline.engine"].begin() as conn:
        for row_id, at in conn.execute(sa.select(table.c.id, table.c.at)).all():
            conn.execute(sa.update(table).where(table.c.id == row_id).values(at=at - timedelta(minutes=minutes)))


def test_account_lockout_pauses_even_the_right_password_and_is_audited(strict, client, quick_user, session):
    user = quick_user("responder", email="rita@example.org")
    for _ in range(3):
        wrong = _login(client, user.email, "not the password")
        assert wrong.status_code == 401 and "Email or password is wrong." in wrong.get_data(as_text=True)
    paused = _login(client, user.email, PASSWORD)
    assert paused.status_code == 429 and PAUSED in paused.get_data(as_text=True)
    assert "try again in 15 minutes" in paused.get_data(as_text=True)
    assert client.get("/dashboard").status_code == 302, "a paused sign-in must not create a session"
    actions = _actions(session)
    assert actions.count(("signin.failed", user.email)) == 4  # three wrong passwords and the paused attempt
    assert actions.count(("signin.locked", user.email)) == 1
    session.rollback()
    locked = session.exec(select(AuditEvent).where(AuditEvent.action == "signin.locked")).one()
    assert locked.ip == "198.51.100.7" and locked.details["account_limit"] == 3
    assert PASSWORD not in str(session.exec(select(AuditEvent.details)).all())

    _age_attempts(strict, minutes=16)
    ok = _login(client, user.email, PASSWORD)
    assert ok.status_code == 302 and client.get("/dashboard").status_code == 200
    assert _actions(session)[-1] == ("signin.ok", user.email)


def _flash(response) -> str:
    return re.search(r'class="flash flash-error"[^>]*>([^<]+)<', response.get_data(as_text=True)).group(1)


def test_unknown_accounts_are_paused_with_the_same_words(strict, client, quick_user):
    """No account enumeration: an unknown email gets the same answers, pause included, as a real one."""
    user = quick_user("viewer", email="vera@example.org")
    answers = {}
    for email, ip in (("nobody@example.org", "192.0.2.10"), (user.email, "192.0.2.11")):
        wrong = [_login(client, email, "guess", ip=ip) for _ in range(3)]
        paused = _login(client, email, "guess", ip=ip)
        answers[email] = ([(r.status_code, _flash(r)) for r in wrong], (paused.status_code, _flash(paused)))
    assert answers["nobody@example.org"] == answers[user.email]
    assert answers[user.email][1][0] == 429


def test_one_address_trying_many_accounts_is_paused(strict, client, quick_user):
    user = quick_user("viewer", email="vera@example.org")
    for i in range(5):
        assert _login(client, f"user{i}@example.org", "guess").status_code == 401
    assert _login(client, user.email, PASSWORD).status_code == 429  # the address is paused, whoever it names
    other_address = _login(client, user.email, PASSWORD, ip="203.0.113.9")
    assert other_address.status_code == 302


def test_a_success_resets_the_account_count(strict, client, quick_user):
    user = quick_user("viewer", email="vera@example.org")
    for _ in range(2):
        _login(client, user.email, "nope")
    assert _login(client, user.email, PASSWORD).status_code == 302
    client.post("/logout")
    for _ in range(2):
        assert _login(client, user.email, "nope", ip="192.0.2.1").status_code == 401
    assert _login(client, user.email, PASSWORD, ip="192.0.2.2").status_code == 302


def test_lock_arithmetic(session):
    """Failures spread wider than the window do not lock; `limit` within it lock for `lockout` after the last."""
    rules = throttle.ThrottleRules(account_failures=3, ip_failures=100, window=timedelta(minutes=15),
                                   lockout=timedelta(minutes=15))
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    for minutes in (0, 10, 20):  # never three within 15 minutes
        throttle.record_attempt(session=session, email="a@example.org", ip="", ok=False,
                                now=t0 + timedelta(minutes=minutes), rules=rules)
    assert throttle.locked_until(session=session, email="a@example.org", ip="", now=t0 + timedelta(minutes=21),
                                 rules=rules) is None
    until = throttle.record_attempt(session=session, email="A@Example.org ", ip="", ok=False,
                                    now=t0 + timedelta(minutes=25), rules=rules)
    assert until == t0 + timedelta(minutes=40)  # 10, 20, 25 are within 15 minutes: locked 15 after the last
    assert throttle.locked_until(session=session, email="a@example.org", ip="", now=t0 + timedelta(minutes=39),
                                 rules=rules) == until
    assert throttle.locked_until(session=session, email="a@example.org", ip="", now=t0 + timedelta(minutes=40),
                                 rules=rules) is None
