"""`breachline demo` loads the shipped map and really serves the app (the README's first command)."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_loads_the_map_and_serves_the_sign_in_page(tmp_path):
    port = _free_port()
    env = {**os.environ, "BREACHLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
           "BREACHLINE_SECRET_KEY": "demo-test", "PYTHONPATH": str(ROOT)}
    env.pop("BREACHLINE_TEST_DATABASE_CREATED", None)
    proc = subprocess.Popen([sys.executable, "-c", "from app.cli import main; main()", "demo", "--port", str(port),
                             "--no-scheduler"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        response = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                response = requests.get(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.2)  # waiting for a process to start listening, not for a clock
        assert response is not None, f"demo did not serve (exit {proc.poll()})"
        assert response.status_code == 200 and "Sign in" in response.text
    finally:
        proc.terminate()
        output = proc.communicate(timeout=20)[0]
    assert "admin@breachline.example / breachline-demo" in output
    assert f"open http://127.0.0.1:{port}/" in output
