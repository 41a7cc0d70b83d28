"""Users, roles and API tokens."""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import JSON, Field, SQLModel

from app.core.time import UTCDateTime


class Role(StrEnum):
    """Roles in rising order of power; each includes the permissions of the ones below."""

    viewer = "viewer"  # reads incidents and the data map
    responder = "responder"  # records and works incidents
    lead = "lead"  # approves notifications and risk decisions
    admin = "admin"  # manages users, tokens and configuration

    @property
    def rank(self) -> int:
        """Position in the role order (viewer 0 .. admin 3)."""
        return list(Role).index(self)

    def at_least(self, other: "Role") -> bool:
        """True when this role includes other."""
        return self.rank >= Role(other).rank


class UserBase(SQLModel):
    """Fields shared by user models."""

    email: str = Field(max_length=254, sa_column_kwargs={"unique": True}, index=True)
    name: str = Field(max_length=200)
    role: Role = Field(default=Role.viewer, sa_type=sa.String(16))


class User(UserBase, table=True):
    """A member of staff who signs in to Breachline."""

    id: int | None = Field(default=None, primary_key=True)
    password_hash: str = Field(max_length=255)
    active: bool = True
    created_at: datetime = Field(sa_type=UTCDateTime)

    # Flask-Login protocol
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        # "<id>:<key>": the key changes with the password, so a password change ends every other session.
        return f"{self.id}:{self.session_key}"

    @property
    def session_key(self) -> str:
        """A digest of the password hash that signed-in sessions carry (Django's session auth hash idea)."""
        return hashlib.sha256(b"breachline-session\0" + self.password_hash.encode()).hexdigest()[:32]


class UserCreate(UserBase):
    """Input for creating a user."""

    password: str = Field(min_length=8, max_length=1024)


class UserRead(UserBase):
    """A user as shown by the API."""

    id: int


class ApiToken(SQLModel, table=True):
    """A bearer token for the JSON API; only its SHA-256 digest is stored."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    prefix: str = Field(max_length=16)  # first characters, so a person can tell tokens apart
    name: str = Field(default="", max_length=200)
    scopes: str = Field(default="read write", max_length=100)  # space-separated, as in OAuth
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuditEvent(SQLModel, table=True):
    """One security-relevant event: a sign-in, a token use, an export, a permission denial."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    actor: str = Field(default="", max_length=254, index=True)  # email, "anonymous", "cli"
    action: str = Field(max_length=60, index=True)  # signin.ok, token.used, export.datamap, permission.denied ...
    target: str = Field(default="", max_length=500)  # what it was about: an email, a token prefix, a path
    ip: str | None = Field(default=None, max_length=64)
    details: dict = Field(default_factory=dict, sa_type=JSON)


class LoginAttempt(SQLModel, table=True):
    """One sign-in attempt, counted per account and per client address for throttling."""

    __tablename__ = "login_attempt"
    __table_args__ = (sa.Index("ix_login_attempt_email_at", "email", "at"),
                      sa.Index("ix_login_attempt_ip_at", "ip", "at"))

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    email: str = Field(max_length=254)  # as typed (lower-cased): unknown accounts are throttled the same way
    ip: str = Field(default="", max_length=64)
    ok: bool = False
