"""Session cookies are Secure/HttpOnly/SameSite=Lax, sign-in starts a fresh session, and a password change
signs out every other session."""

from __future__ import annotations

import werkzeug.serving

from app import create_app

PASSWORD = "correct horse battery"


def _session_cookie(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, "no session cookie was set"
    return cookies[-1]


def test_the_session_cookie_is_secure_httponly_and_lax_by_default(database_url, tmp_path, quick_user):
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "k" * 32, "WTF_CSRF_ENABLED": False})
    app.instance_path = str(tmp_path)
    assert app.config["SESSION_COOKIE_SECURE"] is True, "Secure must be the default, not a test setting"
    quick_user("viewer", email="vera@example.org")
    response = app.test_client().post("/login", data={"email": "vera@example.org", "password": PASSWORD})
    assert response.status_code == 302
    cookie = _session_cookie(response)
    assert "; Secure" in cookie and "; HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    app.extensions["breachline.engine"].dispose()


def test_plain_http_development_can_turn_secure_off(app, client, quick_user, login):
    app.config["SESSION_COOKIE_SECURE"] = False
    cookie = _session_cookie(login(quick_user("viewer", email="vera@example.org")))
    assert "Secure" not in cookie and "HttpOnly" in cookie
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_the_demo_server_turns_secure_off_for_its_http_loopback(app, runner, monkeypatch):
    """`breachline demo` serves plain http on 127.0.0.1, where a Secure cookie would never come back."""
    served = {}

    def fake_run_simple(host, port, application, **kwargs):  # the real server would block the test
        served.update(host=host, secure=application.config["SESSION_COOKIE_SECURE"])

    monkeypatch.setattr(werkzeug.serving, "run_simple", fake_run_simple)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    result = runner.invoke(args=["demo", "--port", "5099", "--no-scheduler"])
    assert result.exit_code == 0, result.output
    assert served == {"host": "127.0.0.1", "secure": False}


def test_sign_in_starts_a_fresh_session(app, client, quick_user, login):
    user = quick_user("viewer", email="vera@example.org")
    client.get("/login")  # the form's CSRF token is stored in the session
    with client.session_transaction() as sess:
        sess["planted"] = "by an attacker (session fixation)"
        sess["csrf_token"] = "a-planted-csrf-secret"
        before = dict(sess)
    login(user)
    with client.session_transaction() as sess:
        after = dict(sess)
    assert "planted" not in after and after.get("csrf_token") != before["csrf_token"]
    assert after["_user_id"].startswith(f"{user.id}:")


def test_a_password_change_signs_out_every_other_session(app, quick_user, runner):
    user = quick_user("responder", email="rita@example.org")
    first, second = app.test_client(), app.test_client()
    for client in (first, second):
        assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
        assert client.get("/dashboard").status_code == 200
    result = runner.invoke(args=["users", "set-password", "--email", user.email, "--password", "a new long password"])
    assert result.exit_code == 0, result.output
    for client in (first, second):
        response = client.get("/dashboard")
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert first.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 401
    assert first.post("/login", data={"email": user.email, "password": "a new long password"}).status_code == 302
    assert first.get("/dashboard").status_code == 200
    short = runner.invoke(args=["users", "set-password", "--email", user.email, "--password", "short"])
    assert short.exit_code == 1 and "8 to 1024" in short.output


def test_a_session_without_the_password_key_is_not_signed_in(app, client, quick_user):
    user = quick_user("admin", email="ada@example.org")
    for forged in (str(user.id), f"{user.id}:", f"{user.id}:0123456789abcdef0123456789abcdef"):
        with client.session_transaction() as sess:
            sess["_user_id"] = forged
        response = client.get("/dashboard")
        assert response.status_code == 302 and "/login" in response.headers["Location"], forged


def test_sign_out_ends_the_session(client, quick_user, login):
    login(quick_user("viewer", email="vera@example.org"))
    assert client.get("/dashboard").status_code == 200
    client.post("/logout")
    with client.session_transaction() as sess:
        assert "_user_id" not in sess
    assert client.get("/dashboard").status_code == 302
