"""Breachline: breach incident response tracker. create_app() is the only way to build the app."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
PLAYBOOKS = ROOT / "playbooks"


def create_app(test_config: dict | None = None) -> Flask:
    """Build the Flask app: configuration, database, auth and blueprints. No threads, no network."""
    from app import config, db
    from app.cli import register_commands
    from app.api import api_bp
    from app.auth import security
    from app.auth.views import bp as auth_bp
    from app.datamap.views import bp as datamap_bp
    from app.incidents.views import bp as incidents_bp
    from app.assessment.views import bp as assessment_bp
    from app.playbooks.views import bp as playbooks_bp
    from app.notifications.views import bp as notifications_bp  # issue 4
    from app.exports.views import bp as exports_bp  # issue 6: exports, calendar, customer report
    from app.web import bp as web_bp
    from app.subjects.views import bp as subjects_bp  # issue 10: affected subjects, access, erasure, retention
    from app.api.openapi import docs_bp  # issue 7: the API reference page at /api/docs

    app = Flask(__name__, template_folder=str(TEMPLATES), static_folder=str(ROOT / "app" / "static"),
                instance_relative_config=True)
    config.load_config(app, test_config)
    db.init_app(app)
    security.init_app(app)
    from app.core.pii_log import install_pii_log_filter  # issue 10: no contacts or subjects in logs
    install_pii_log_filter(app.config.get("REDACT_PATTERNS"))  # issue 10
    security.csrf.exempt(api_bp)  # bearer tokens, no cookies: CSRF cannot apply
    for blueprint in (web_bp, auth_bp, datamap_bp, incidents_bp, assessment_bp, playbooks_bp, notifications_bp, exports_bp,
                      subjects_bp, api_bp, docs_bp):
        app.register_blueprint(blueprint)
    register_commands(app)
    return app

