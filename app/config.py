"""Configuration: defaults, then instance/breachline.cfg, then BREACHLINE_* environment, then test config."""

from __future__ import annotations

import secrets
from pathlib import Path

from flask import Flask

ENV_PREFIX = "BREACHLINE"
INSTANCE_CONFIG = "breachline.cfg"


class Defaults:
    """Built-in defaults; every key can be overridden by the instance file or the environment."""

    DATABASE_URL: str | None = None  # None: SQLite file in the instance folder
    SECRET_KEY: str | None = None  # None: generated once and kept in the instance folder
    COMPANY_NAME = "Our company"
    COMPANY_CONTROLLER_KEY: str | None = None  # the data-map controller that is our own company
    COMPANY_FLAGS: list[str] = []  # e.g. ["nis2_entity"]: company-level facts regimes depend on
    PAGE_SIZE = 50
    MAX_PAGE_SIZE = 500
    MAX_CONTENT_LENGTH = 64 * 1024 * 1024  # data-map uploads can be large
    WTF_CSRF_TIME_LIMIT = None  # CSRF token lives as long as the session
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    SQL_ECHO = False
    # Where reminders about notification clocks go (the PSIRT itself); drills use DRILL_* when set.
    PSIRT_EMAIL: str | None = None
    PSIRT_WEBHOOK_URL: str | None = None
    PSIRT_WEBHOOK_SECRET: str | None = None
    DRILL_EMAIL: str | None = None
    DRILL_WEBHOOK_URL: str | None = None
    WEBHOOK_ALLOWED_HOSTS: str = ""  # comma-separated hosts webhooks may reach despite the SSRF guard
    SMTP_HOST = "localhost"
    SMTP_PORT: int | None = None  # None: 25, 587 or 465 by SMTP_SECURITY
    SMTP_SECURITY = "none"  # none | starttls | ssl
    SMTP_USERNAME: str | None = None
    SMTP_PASSWORD: str | None = None
    SMTP_TIMEOUT = 30  # seconds per socket operation
    MAIL_FROM = "breachline@localhost"
    SCHEDULER_INTERVAL_SECONDS = 30
    SCHEDULER_BATCH_SIZE = 100  # reminders claimed per tick
    SCHEDULER_LEASE_SECONDS = 300  # a claim older than this is a crashed worker's and is taken over


def load_config(app: Flask, test_config: dict | None) -> None:
    """Apply the configuration layers to app.config in their documented order."""
    app.config.from_object(Defaults)
    app.config.from_pyfile(INSTANCE_CONFIG, silent=True)
    app.config.from_prefixed_env(ENV_PREFIX)
    if test_config:
        app.config.update(test_config)
    app.config["WEBHOOK_ALLOWED_HOSTS"] = host_set(app.config.get("WEBHOOK_ALLOWED_HOSTS"))
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = f"sqlite:///{Path(app.instance_path) / 'breachline.db'}"
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))


def host_set(value) -> set[str]:
    """A host allow-list from a comma-separated string (file, environment) or a list, as a set."""
    items = value.split(",") if isinstance(value, str) else (value or ())
    return {str(item).strip().lower() for item in items if str(item).strip()}


def _instance_secret(instance: Path) -> str:
    """Return the secret key kept in the instance folder, creating it on first use."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key
