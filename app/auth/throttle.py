"""Sign-in throttling: too many failures per account or per client address pause sign-in for a while.

Counted in the database, so every gunicorn worker and every host behind the load balancer sees the
same counts (an in-memory limiter would let each worker allow its own five tries).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, delete, func, select

from app.auth.models import LoginAttempt

KEEP = timedelta(days=1)  # attempts older than this (and than window + lockout) are pruned


@dataclass(frozen=True)
class ThrottleRules:
    """How many failures within the window pause sign-in, and for how long."""

    account_failures: int = 5
    ip_failures: int = 20  # higher: an office or VPN shares one address
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)

    @classmethod
    def from_config(cls, config) -> "ThrottleRules":
        """Rules from LOGIN_* configuration keys."""
        return cls(account_failures=int(config.get("LOGIN_MAX_FAILURES_ACCOUNT", 5)),
                   ip_failures=int(config.get("LOGIN_MAX_FAILURES_IP", 20)),
                   window=timedelta(seconds=int(config.get("LOGIN_FAILURE_WINDOW_SECONDS", 900))),
                   lockout=timedelta(seconds=int(config.get("LOGIN_LOCKOUT_SECONDS", 900))))


def normalise_email(email: str) -> str:
    """The account key attempts are counted under."""
    return (email or "").strip().lower()[:254]


def _locked_until(times: list[datetime], limit: int, rules: ThrottleRules) -> datetime | None:
    # Any `limit` failures within one window trip a lock that lasts `lockout` from the last of them.
    until = None
    for i in range(limit - 1, len(times)):
        if times[i] - times[i - limit + 1] <= rules.window:
            until = times[i] + rules.lockout
    return until


def _failures(session: Session, column, value: str, since: datetime) -> list[datetime]:
    return list(session.exec(select(LoginAttempt.at).where(column == value, LoginAttempt.ok.is_(False),
                                                             LoginAttempt.at > since).order_by(LoginAttempt.at)))


def locked_until(*, session: Session, email: str, ip: str, now: datetime, rules: ThrottleRules) -> datetime | None:
    """Until when sign-in for this account or this address is paused, or None when it is not."""
    horizon = now - rules.window - rules.lockout
    email = normalise_email(email)
    # A success resets the account's count (not the address's: one valid account must not unlock a spray).
    last_ok = session.exec(select(func.max(LoginAttempt.at)).where(LoginAttempt.email == email,
                                                                    LoginAttempt.ok.is_(True))).one()
    account_since = max(horizon, last_ok) if last_ok else horizon
    candidates = [_locked_until(_failures(session, LoginAttempt.email, email, account_since),
                                rules.account_failures, rules)]
    if ip:
        candidates.append(_locked_until(_failures(session, LoginAttempt.ip, ip, horizon), rules.ip_failures, rules))
    until = max((c for c in candidates if c is not None), default=None)
    return until if until is not None and until > now else None


def record_attempt(*, session: Session, email: str, ip: str, ok: bool, now: datetime,
                   rules: ThrottleRules) -> datetime | None:
    """Record an attempt; for a failure, returns until when sign-in is now paused (None: not paused)."""
    session.exec(delete(LoginAttempt).where(LoginAttempt.at < now - max(KEEP, rules.window + rules.lockout)))
    session.add(LoginAttempt(at=now, email=normalise_email(email), ip=(ip or "")[:64], ok=ok))
    session.flush()
    return None if ok else locked_until(session=session, email=email, ip=ip, now=now, rules=rules)
