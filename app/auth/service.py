"""User and API token operations (services flush, entry points commit)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import ValidationError
from sqlmodel import Session, select

from app.auth.audit import token_use_is_new
from app.auth.models import ApiToken, Role, User, UserCreate
from app.core.errors import Conflict, InputError, NotFound, Problem

_hasher = PasswordHasher()
TOKEN_PREFIX = "bl_"
# A fixed hash to verify against when the user does not exist, so timing does not reveal emails.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    """Hash a password with argon2id."""
    return _hasher.hash(password)


def create_user(*, session: Session, email: str, name: str, role: str, password: str, now: datetime) -> User:
    """Create a user; a bad field or a taken email raises with a clear message."""
    try:
        data = UserCreate(email=email.strip().lower(), name=name.strip(), role=role, password=password)
    except ValidationError as exc:
        raise InputError([Problem(e["msg"], field=".".join(map(str, e["loc"]))) for e in exc.errors()]) from None
    if "@" not in data.email:
        raise InputError(Problem("is not an email address", field="email"))
    if session.exec(select(User).where(User.email == data.email)).first():
        raise Conflict(f"a user with email {data.email} already exists")
    user = User(email=data.email, name=data.name, role=Role(data.role),
                password_hash=hash_password(data.password), created_at=now)
    session.add(user)
    session.flush()
    return user


def user_by_email(*, session: Session, email: str) -> User:
    """Return the user with this email or raise NotFound."""
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        raise NotFound(f"no user with email {email}")
    return user


def authenticate(*, session: Session, email: str, password: str) -> User | None:
    """Return the active user whose password matches, else None (same cost either way)."""
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(*, session: Session, user: User, now: datetime, name: str = "",
                 expires_at: datetime | None = None, scopes: str = "read write") -> tuple[ApiToken, str]:
    """Create an API token; returns the row and the plaintext, which is never stored."""
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, token_hash=_digest(plaintext), prefix=plaintext[:10], name=name,
                     created_at=now, expires_at=expires_at, scopes=scopes)
    session.add(token)
    session.flush()
    return token, plaintext


def revoke_tokens(*, session: Session, user: User, now: datetime, token: str | None = None) -> int:
    """Revoke one of a user's live tokens (given as plaintext or its shown prefix), or all; returns how many."""
    query = select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    count = 0
    for row in session.exec(query):
        if token is None or row.token_hash == _digest(token) or row.prefix == token:
            row.revoked_at = now
            count += 1
    session.flush()
    return count


def user_for_token(*, session: Session, token: str, now: datetime) -> tuple[User, ApiToken] | None:
    """Return the user and token for a live bearer token, else None."""
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == _digest(token))).first()
    if row is None or row.revoked_at is not None or (row.expires_at and row.expires_at <= now):
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    return user, row


def mark_token_used(*, session: Session, token: ApiToken, now: datetime) -> bool:
    """Record that the token was used now; True for its first use in this clock hour (what the audit log keeps)."""
    first = token_use_is_new(token, now)
    token.last_used_at = now
    session.add(token)
    session.flush()
    return first


def set_password(*, session: Session, user: User, password: str) -> None:
    """Give the user a new password; every session signed in with the old one ends (see User.get_id)."""
    if not 8 <= len(password or "") <= 1024:
        raise InputError(Problem("must be 8 to 1024 characters long", field="password"))
    user.password_hash = hash_password(password)
    session.add(user)
    session.flush()
