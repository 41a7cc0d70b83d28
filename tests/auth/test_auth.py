"""Sign-in, CSRF, users and tokens from the CLI, and bearer-token auth on the API."""

import re
from datetime import timedelta

from app import create_app

PROBLEM = "application/problem+json"


def test_login_logout_and_redirect_to_login(client, make_user, login):
    user = make_user("viewer")
    response = client.get("/datamap/controllers")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    bad = client.post("/login", data={"email": user.email, "password": "wrong password"})
    assert bad.status_code == 401 and "Email or password is wrong" in bad.get_data(as_text=True)
    login(user)
    assert client.get("/datamap/controllers").status_code == 200
    client.post("/logout")
    assert client.get("/datamap/controllers").status_code == 302


def test_login_refuses_open_redirect(client, make_user):
    user = make_user("viewer")
    response = client.post("/login?next=//evil.example/x", data={"email": user.email,
                                                                   "password": "correct horse battery"})
    assert response.headers["Location"] == "/"


def test_csrf_is_required_on_forms(database_url, make_user, tmp_path):
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "x"})
    app.instance_path = str(tmp_path)
    client = app.test_client()
    make_user("viewer")
    no_token = client.post("/login", data={"email": "viewer@example.org", "password": "correct horse battery"})
    assert no_token.status_code == 400 and "CSRF" in no_token.get_data(as_text=True)
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    ok = client.post("/login", data={"email": "viewer@example.org", "password": "correct horse battery",
                                     "csrf_token": token})
    assert ok.status_code == 302
    app.extensions["breachline.engine"].dispose()


def test_password_is_stored_as_argon2(app, make_user, session):
    from app.auth.models import User

    make_user("lead")
    stored = session.exec(__import__("sqlmodel").select(User)).one().password_hash
    assert stored.startswith("$argon2id$") and "correct horse" not in stored


def test_role_gates_pages(client, make_user, login):
    login(make_user("viewer"))
    response = client.get("/datamap/import")
    assert response.status_code == 403
    assert "datamap:write" in response.get_data(as_text=True)


def test_users_create_cli_and_prompt(runner, count_rows):
    result = runner.invoke(args=["users", "create", "--email", "Ana@Example.org", "--name", "Ana", "--role", "lead",
                                 "--password", "long enough password"])
    assert result.exit_code == 0, result.output
    assert "created lead ana@example.org" in result.output
    prompted = runner.invoke(args=["users", "create", "--email", "bo@example.org", "--name", "Bo", "--role", "viewer"],
                             input="another password\nanother password\n")
    assert prompted.exit_code == 0, prompted.output
    duplicate = runner.invoke(args=["users", "create", "--email", "ana@example.org", "--name", "A", "--role", "lead",
                                    "--password", "long enough password"])
    assert duplicate.exit_code == 1 and "already exists" in duplicate.output
    short = runner.invoke(args=["users", "create", "--email", "c@example.org", "--name", "C", "--role", "lead",
                                "--password", "short"])
    assert short.exit_code == 1 and "password" in short.output
    assert count_rows("user") == 2


def test_token_create_prints_only_the_token_and_it_works_until_revoked(runner, client, make_user, count_rows):
    make_user("viewer")
    result = runner.invoke(args=["tokens", "create", "--email", "viewer@example.org"])
    assert result.exit_code == 0
    token = result.stdout.strip()  # stdout carries the token alone; expiry and scopes go to stderr
    assert re.fullmatch(r"bl_[A-Za-z0-9_-]{40,}", token), result.output
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/controllers", headers=headers).status_code == 200
    revoked = runner.invoke(args=["tokens", "revoke", "--email", "viewer@example.org", "--token", token])
    assert "revoked 1 token" in revoked.output
    after = client.get("/api/v1/controllers", headers=headers)
    assert after.status_code == 401 and after.mimetype == PROBLEM
    assert "revoked" in after.get_json()["detail"]


def test_api_rejects_missing_wrong_and_expired_tokens(client, make_user, token_for, now):
    user = make_user("viewer")
    missing = client.get("/api/v1/controllers")
    assert missing.status_code == 401 and missing.mimetype == PROBLEM
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/v1/controllers", headers={"Authorization": "Bearer bl_nope"}).status_code == 401
    assert client.get("/api/v1/controllers", headers={"Authorization": "Basic abc"}).status_code == 401
    expired = token_for(user, expires_at=now - timedelta(seconds=1))
    assert client.get("/api/v1/controllers", headers=expired).status_code == 401


def test_api_unknown_route_and_bad_query_are_problems(client, make_user, token_for):
    headers = token_for(make_user("viewer"))
    unknown = client.get("/api/v1/nothing-here", headers=headers)
    assert unknown.status_code == 404 and unknown.mimetype == PROBLEM
    bad = client.get("/api/v1/controllers?per_page=abc", headers=headers)
    assert bad.status_code == 422 and bad.mimetype == PROBLEM
    assert bad.get_json()["errors"] == [{"message": "must be a whole number, got 'abc'", "field": "per_page"}]
