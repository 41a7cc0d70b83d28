"""The README's API session (examples/api-session.sh) runs, as printed, against a served app with the demo map."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from sqlmodel import select
from werkzeug.serving import make_server

from app.auth.models import User
from app.auth.service import create_token
from app.core import time
from app.db import session_scope
from app.demo import prepare_demo
from app.timeline.offline import verify_export

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "api-session.sh"
TOOLS = ("bash", "curl", "jq", "openssl")

pytestmark = pytest.mark.slow


def test_the_readme_shows_the_session_verbatim():
    assert SCRIPT.read_text() in (ROOT / "README.md").read_text(), \
        "README.md must show examples/api-session.sh exactly (copy it into the JSON API section)"


@pytest.fixture
def served(app):
    """The app with the demo map and users, on a real HTTP port (the script talks HTTP, as a user's would)."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing and not os.environ.get("CI"):
        pytest.skip(f"needs {', '.join(missing)} (apt-get install curl jq openssl)")
    app.config["INTAKE_SOURCES"] = {"siem": "intake-secret-for-the-session"}
    prepare_demo(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)


def _token(app, email: str) -> str:
    with app.app_context(), session_scope() as session:
        user = session.exec(select(User).where(User.email == email)).one()
        return create_token(session=session, user=user, now=time.now())[1]


def test_the_session_runs_from_alert_to_approved_notices(app, served, tmp_path):
    env = {**os.environ, "BASE": served, "INTAKE_SOURCE": "siem", "INTAKE_SECRET": "intake-secret-for-the-session",
           **{name: _token(app, f"{who}@breachline.example")
              for name, who in (("TOKEN", "responder"), ("LEAD_TOKEN", "lead"), ("ADMIN_TOKEN", "admin"))}}

    run = subprocess.run(["bash", str(SCRIPT)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)

    assert run.returncode == 0, f"the session stopped:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    lines = run.stdout.splitlines()
    assert lines[0].startswith("Breachline API") and lines[0].endswith(" paths")
    assert "declared INC-" in run.stdout
    drafted = json.loads(next(line for line in lines if line.startswith('{"drafted"')))["drafted"]
    approved = json.loads(next(line for line in lines if line.startswith('{"approved"')))["approved"]
    assert drafted > 10 and approved == drafted - 1, "one notice approved alone, the rest in bulk"
    assert '"status":"met"' in run.stdout
    note = json.loads(next(line for line in lines if line.startswith('{"seq"') and '"kind":"note"' in line))
    assert note["seq"] > 1 and len(note["hash"]) == 64, "the manual entry answers its place in the chain"
    assert json.loads(lines[-1])["created"] is True, "the signed alert opened a triage incident"
    export = next(tmp_path.glob("INC-*.json"))
    check = verify_export(json.loads(export.read_text()))
    assert check.ok, check
