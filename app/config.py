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
    # Secure by default (HTTPS deployments, and it turns on HSTS); `breachline demo` turns it off for its
    # plain-http loopback server. Set BREACHLINE_SESSION_COOKIE_SECURE=false only for local http development.
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    PROXY_FIX_X_FOR = 0  # reverse proxies in front of the app whose X-Forwarded-For/-Proto to trust (0: none)
    # Sign-in throttling: this many failures within the window pause sign-in for the lockout time.
    LOGIN_MAX_FAILURES_ACCOUNT = 5
    LOGIN_MAX_FAILURES_IP = 20  # per client address; higher because an office or VPN shares one
    LOGIN_FAILURE_WINDOW_SECONDS = 15 * 60
    LOGIN_LOCKOUT_SECONDS = 15 * 60
    API_TOKEN_DEFAULT_DAYS = 90  # `breachline tokens create` without --days; 0: tokens never expire by default
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
    # Notifications (issue 4): approval, delivery retries, acknowledgement links, the outbox dispatcher.
    ALLOW_SELF_APPROVAL = False  # True: the drafter may approve their own notices (no four eyes)
    DELIVERY_RETRY_HOURS = 24  # retry a failing delivery this long, then fail it and escalate to the PSIRT
    DELIVERY_BACKOFF_BASE_SECONDS = 30  # exponential backoff with full jitter from here ...
    DELIVERY_BACKOFF_CAP_SECONDS = 3600  # ... up to this; a Retry-After header is honoured
    ACK_LINK_DAYS = 30  # acknowledgement links expire after this many days
    ACK_FLAG_AFTER_HOURS = 24  # flag customers who have not confirmed receipt after this long
    PUBLIC_BASE_URL = "http://localhost:5000"  # acknowledgement links in notices point here
    DRILL_WEBHOOK_SECRET: str | None = None  # signs drill webhooks (default: PSIRT_WEBHOOK_SECRET)
    DISPATCH_BATCH_SIZE = 100  # outbox rows claimed per batch (emails of a batch share one SMTP connection)
    DISPATCH_MAX_BATCHES = 10  # batches per dispatch pass (per tick)
    DISPATCH_LEASE_SECONDS = 300  # an outbox claim older than this belongs to a crashed dispatcher
    # Exports (issue 6): per-customer reports, redaction of free text, the PDF size cap.
    CUSTOMER_EXPORT_ENABLED = False  # True: customers download their own report from the acknowledgement page
    REDACT_PATTERNS: list[str] = []  # extra regexes redacted from customer exports (env: a JSON list)
    EXPORT_PDF_MAX_EVENTS = 5000  # a PDF is rendered whole: longer timelines export as HTML, CSV or JSON
    # Privacy of the tracker itself (issue 10): subject pseudonym keys, retention periods. Rotation: add a key to
    # SUBJECT_PSEUDONYM_KEYS {id: key} (env: JSON), point SUBJECT_PSEUDONYM_KEY_ID at it, keep old ids until
    # `breachline subjects rotate-key` reports no rows under them.
    SUBJECT_PSEUDONYM_KEY: str | None = None  # HMAC key of subject identifiers (id SUBJECT_PSEUDONYM_KEY_ID)
    SUBJECT_PSEUDONYM_KEY_ID = "k1"  # the key new pseudonyms are made with
    SUBJECT_PSEUDONYM_KEYS: dict[str, str] = {}  # the key ring: every key lookups try
    SUBJECT_CONTACT_GRACE_DAYS = 7  # subject addresses are nulled this long after delivery
    RETENTION_SUBJECT_CONTACT_DAYS = 30  # ... and at the latest this long after the incident closed
    RETENTION_FREE_TEXT_DAYS = 3 * 365  # closed incidents' free text shown redacted after this long
    RETENTION_RUN_EVERY_HOURS = 24  # the scheduler runs retention at most this often
    INTAKE_SOURCES: dict[str, str] = {}  # issue 7: alert intake, source name -> HMAC secret (env: a JSON object)
    INTAKE_TOLERANCE_SECONDS = 300  # signed alert timestamps older or newer than this are refused (replay)


def load_config(app: Flask, test_config: dict | None) -> None:
    """Apply the configuration layers to app.config in their documented order."""
    app.config.from_object(Defaults)
    app.config.from_pyfile(INSTANCE_CONFIG, silent=True)
    app.config.from_prefixed_env(ENV_PREFIX)
    if test_config:
        app.config.update(test_config)
    app.config["WEBHOOK_ALLOWED_HOSTS"] = host_set(app.config.get("WEBHOOK_ALLOWED_HOSTS"))
    app.config.setdefault("REMEMBER_COOKIE_SECURE", app.config["SESSION_COOKIE_SECURE"])
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
