"""Secrets (passwords, API tokens, webhook secrets, the SMTP password) never reach logs, exports or error pages."""

from __future__ import annotations

import io
import logging

import pytest
import sqlalchemy as sa
from sqlmodel import select

from app import create_app
from app.core.redact import mask
from app.datamap.models import Controller
from mapdata import SMALL_MAP
from secsupport import sign_in_as

SMTP_PASSWORD = "smtp-Pa55-word-do-not-log"
WEBHOOK_SECRET = "whsec_" + "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0xMjM0NTY="


def _webhook_secret(session) -> str:
    session.expire_all()
    secret = session.exec(select(Controller.webhook_secret).where(Controller.key == "acme-health")).one()
    assert secret and secret.startswith("whsec_")
    return secret


def test_log_records_are_masked_wherever_they_are_logged(app, caplog):
    app.config["SMTP_PASSWORD"] = SMTP_PASSWORD
    app2 = create_app({"TESTING": True, "DATABASE_URL": app.config["DATABASE_URL"], "SECRET_KEY": "s" * 32,
                       "SMTP_PASSWORD": SMTP_PASSWORD})  # create_app installs the masking and learns the password
    caplog.set_level(logging.DEBUG)
    log = logging.getLogger("some.library")
    log.warning("login failed: email=a@x.org password=hunter2 token %s", "bl_" + "A" * 43)
    log.info("POST body {'password': 'hunter2', 'webhook_secret': '%s'}", WEBHOOK_SECRET)
    log.error("smtp AUTH with %s refused; Authorization: Bearer abc.def.ghi", SMTP_PASSWORD)
    log.warning("signing with %s", WEBHOOK_SECRET)
    try:
        raise RuntimeError(f"delivery failed, secret={WEBHOOK_SECRET} url=https://u:hunter2@hooks.example/x")
    except RuntimeError:
        log.exception("webhook delivery crashed")
    for secret in ("hunter2", "A" * 43, WEBHOOK_SECRET, SMTP_PASSWORD, "abc.def.ghi"):
        assert secret not in caplog.text, f"{secret} reached the log"
    assert "password=***" in caplog.text and "whsec_***" in caplog.text and "bl_***" in caplog.text
    assert "webhook delivery crashed" in caplog.text and "RuntimeError" in caplog.text  # masked, not dropped
    app2.extensions["breachline.engine"].dispose()


def test_a_real_server_error_logs_and_shows_no_secret(app, world, session, caplog):
    """A database failure while importing a data map whose webhook secret is in the failing statement's
    parameters: SQLAlchemy puts them in the exception text that Flask logs; the page must stay generic."""
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer 500 the way production does
    with app.extensions["breachline.engine"].begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("CREATE FUNCTION fail_controller() RETURNS trigger LANGUAGE plpgsql AS "
                                 "$$ BEGIN RAISE EXCEPTION 'disk on fire'; END $$"))
            conn.execute(sa.text("CREATE TRIGGER fail_controller BEFORE UPDATE OF webhook_secret ON controller "
                                 "FOR EACH ROW EXECUTE FUNCTION fail_controller()"))
        else:
            conn.execute(sa.text("CREATE TRIGGER fail_controller BEFORE UPDATE OF webhook_secret ON controller "
                                 "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"))
    document = SMALL_MAP.replace('webhook: {url: "https://hooks.acme-health.example/breachline"}',
                                 f'webhook: {{url: "https://hooks.acme-health.example/breachline", '
                                 f'secret: "{WEBHOOK_SECRET}"}}')
    assert WEBHOOK_SECRET in document
    client = app.test_client()
    sign_in_as(client, world.users["lead"])
    caplog.set_level(logging.INFO)
    try:
        response = client.post("/datamap/import", data={"file": (io.BytesIO(document.encode()), "map.yaml")},
                               content_type="multipart/form-data")
    finally:
        # PostgreSQL keeps the database between tests (TRUNCATE only): the trigger must not outlive this one.
        with app.extensions["breachline.engine"].begin() as conn:
            conn.execute(sa.text("DROP TRIGGER IF EXISTS fail_controller" +
                                 (" ON controller" if conn.dialect.name == "postgresql" else "")))
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("DROP FUNCTION IF EXISTS fail_controller()"))
    page = response.get_data(as_text=True)
    assert response.status_code == 500 and "went wrong on our side" in page
    assert "disk on fire" not in page and "webhook_secret" not in page and "whsec_" not in page
    assert "disk on fire" in caplog.text, "the failure itself must still be logged"
    assert WEBHOOK_SECRET not in caplog.text and WEBHOOK_SECRET[6:30] not in caplog.text


def test_api_errors_and_login_pages_echo_no_secret(app, client, world):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    token = world.tokens["lead"]["Authorization"].split()[1]
    wrong = client.post("/login", data={"email": "lead@example.org", "password": "hunter2-typo"})
    assert wrong.status_code == 401 and "hunter2-typo" not in wrong.get_data(as_text=True)
    app.config["WTF_CSRF_ENABLED"] = True
    csrf = client.post("/login", data={"email": "lead@example.org", "password": "hunter2-typo"})
    assert csrf.status_code == 400 and "hunter2-typo" not in csrf.get_data(as_text=True)
    for response in (client.get("/api/v1/nothing", headers={"Authorization": f"Bearer {token}"}),
                     client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {token}x"})):
        assert token not in response.get_data(as_text=True)


def test_data_map_exports_leave_webhook_secrets_out_unless_asked(app, runner, world, session):
    secret = _webhook_secret(session)
    client = app.test_client()
    sign_in_as(client, world.users["viewer"])
    for fmt in ("yaml", "csv"):
        body = client.get(f"/datamap/export.{fmt}").get_data(as_text=True)
        assert "acme-health" in body and "whsec_" not in body and secret not in body
    for fmt in ("yaml", "json", "csv"):
        out = runner.invoke(args=["datamap", "export", "--format", fmt])
        assert out.exit_code == 0 and "acme-health" in out.stdout and "whsec_" not in out.stdout
    with_secrets = runner.invoke(args=["datamap", "export", "--include-secrets"])
    assert secret in with_secrets.stdout
    detail = client.get("/api/v1/controllers/acme-health", headers=world.tokens["viewer"]).get_data(as_text=True)
    assert "whsec_" not in detail


def test_incident_exports_carry_no_secret(app, world, session):
    if "exports.incident_export" not in app.view_functions:
        pytest.skip("no incident exports in this build")
    secret = _webhook_secret(session)
    token = world.tokens["lead"]["Authorization"].split()[1]
    client = app.test_client()
    sign_in_as(client, world.users["lead"])
    for fmt in ("json", "csv", "html"):
        response = client.get(f"/incidents/{world.ref}/export?format={fmt}")
        body = response.get_data(as_text=True)
        response.close()
        assert response.status_code == 200, (fmt, body[:300])
        assert "whsec_" not in body and secret not in body and token not in body


def test_mask_covers_the_usual_shapes():
    assert mask("password=hunter2&x=1") == "password=***&x=1"
    assert mask('{"smtp_password": "a b c"}') == '{"smtp_password": "***"}'
    assert mask("postgresql+psycopg://bl:hunter2@db/breachline") == "postgresql+psycopg://bl:***@db/breachline"
    assert mask("the password field is required") == "the password field is required"
