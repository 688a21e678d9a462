"""Login throttling, constant-time failures, server-side session ends, password change, reactivation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update

from .conftest import PASSWORD, csrf_from


def _attempt(client, email: str, password: str) -> Any:
    page = client.get("/login").get_data(as_text=True)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": csrf_from(page)})


def _session_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def _client_with(app, cookie: str) -> Any:
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other


# ----- throttling ------------------------------------------------------------------

def test_an_account_is_throttled_after_five_failures_with_retry_after(client, make_user) -> None:
    user = make_user("researcher")
    for _ in range(5):
        assert _attempt(client, user.email, "wrong-password").status_code == 401
    refused = _attempt(client, user.email, PASSWORD)  # even the right password waits
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 900
    assert "Too many failed attempts" in refused.get_data(as_text=True)
    assert client.get("/api/v1/me").status_code == 401  # not logged in
    # Another account from the same address is not affected.
    other = make_user("researcher")
    assert _attempt(client, other.email, PASSWORD).status_code == 302


def test_unknown_accounts_are_throttled_like_known_ones(client) -> None:
    for _ in range(5):
        assert _attempt(client, "nobody@example.com", "wrong-password").status_code == 401
    assert _attempt(client, "NOBODY@example.com ", "wrong-password").status_code == 429


def test_an_address_is_throttled_across_accounts(app, client, make_user) -> None:
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 3
    for k in range(3):
        assert _attempt(client, f"spray-{k}@example.com", "Winter2026!").status_code == 401
    response = _attempt(client, make_user("expert").email, PASSWORD)
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
    # Another client address is not affected.
    elsewhere = app.test_client()
    page = elsewhere.get("/login", environ_base={"REMOTE_ADDR": "10.1.2.3"}).get_data(as_text=True)
    ok = elsewhere.post("/login", environ_base={"REMOTE_ADDR": "10.1.2.3"},
                        data={"email": "spray-0@example.com", "password": "x" * 9, "csrf_token": csrf_from(page)})
    assert ok.status_code == 401


def test_failures_are_shared_by_every_worker_through_the_database(app, database_url, tmp_path, make_user) -> None:
    """Two app instances (two gunicorn workers) on one database count the same failures."""
    from pairwise import create_app
    user = make_user("admin")
    second = create_app({"TESTING": True, "DATABASE_URL": database_url, "IMAGE_DIR": str(tmp_path / "img2"),
                         "SECRET_KEY": "test-secret"})
    first_client, second_client = app.test_client(), second.test_client()
    for k in range(5):
        assert _attempt(first_client if k % 2 else second_client, user.email, "nope-nope").status_code == 401
    assert _attempt(second_client, user.email, PASSWORD).status_code == 429
    assert _attempt(first_client, user.email, PASSWORD).status_code == 429
    with second.app_context():
        from pairwise.db import get_engine
        get_engine().dispose()


def test_the_window_passes_and_a_success_forgets_the_failures(app, client, make_user) -> None:
    from pairwise.db import get_db
    from pairwise.schema import LoginFailure
    user = make_user("expert")
    for _ in range(5):
        _attempt(client, user.email, "wrong-password")
    assert _attempt(client, user.email, PASSWORD).status_code == 429
    with app.app_context():
        db = get_db()
        db.execute(update(LoginFailure).values(created_at=LoginFailure.created_at - timedelta(seconds=901)))
        db.commit()
    assert _attempt(client, user.email, PASSWORD).status_code == 302
    with app.app_context():
        # The account's failures are gone; the address's stay for their window.
        assert get_db().scalar(select(func.count()).select_from(LoginFailure)) <= 5


def test_the_password_page_is_throttled_too(client, make_user, login) -> None:
    csrf = login(make_user("expert"))
    for _ in range(5):
        response = client.post("/account/password", data={"current": "guess-guess", "new": "n" * 10,
                                                           "confirm": "n" * 10, "csrf_token": csrf})
        assert response.status_code == 422
    response = client.post("/account/password", data={"current": PASSWORD, "new": "n" * 10,
                                                       "confirm": "n" * 10, "csrf_token": csrf})
    assert response.status_code == 429 and "Retry-After" in response.headers


# ----- constant time ------------------------------------------------------------------

def test_unknown_and_inactive_accounts_cost_one_password_hash(app, make_user, monkeypatch) -> None:
    from pairwise import auth
    from pairwise.db import get_db
    calls: list[str] = []
    real = auth.check_password_hash
    monkeypatch.setattr(auth, "check_password_hash", lambda h, p: calls.append(h) or real(h, p))
    user = make_user("expert")
    runner = app.test_cli_runner()
    with app.app_context():
        db = get_db()
        assert auth.check_password(db, "nobody@example.com", PASSWORD) is None
        assert auth.check_password(db, user.email, "wrong-password") is None
        assert auth.check_password(db, user.email, PASSWORD) is not None
    from pairwise.cli import main
    assert runner.invoke(main, ["users", "deactivate", user.email]).exit_code == 0
    with app.app_context():
        assert auth.check_password(get_db(), user.email, PASSWORD) is None
    assert len(calls) == 4  # one hash check each, whether or not the account exists or is active
    assert calls[0] == auth._DUMMY_HASH
    assert calls[0].split("$")[0] == calls[1].split("$")[0]  # the same method and cost


# ----- sessions -----------------------------------------------------------------------

def test_logout_ends_the_session_on_the_server(app, client, make_user, login) -> None:
    csrf = login(make_user("researcher"))
    copied = _session_cookie(client)
    assert _client_with(app, copied).get("/api/v1/me").status_code == 200
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 302
    assert _client_with(app, copied).get("/api/v1/me").status_code == 401
    assert _client_with(app, copied).get("/").status_code == 302


def test_the_csrf_token_is_rotated_at_login(client, make_user) -> None:
    user = make_user("expert")
    client.get("/login")
    with client.session_transaction() as session:
        before = session["csrf_token"]
        session["planted"] = "by someone else"
    assert _attempt(client, user.email, PASSWORD).status_code == 302
    client.get("/")
    with client.session_transaction() as session:
        assert session["csrf_token"] != before
        assert "planted" not in session  # a fresh session: nothing from before login survives


def test_an_old_csrf_token_is_refused_after_login(client, make_user) -> None:
    user = make_user("expert")
    old = csrf_from(client.get("/login").get_data(as_text=True))
    assert _attempt(client, user.email, PASSWORD).status_code == 302
    assert client.post("/logout", data={"csrf_token": old}).status_code == 400


def test_password_change_page(app, client, make_user, login) -> None:
    user = make_user("expert")
    csrf = login(user)
    elsewhere = _client_with(app, _session_cookie(client))
    page = client.get("/account/password")
    assert page.status_code == 200 and "Change password" in page.get_data(as_text=True)
    for data, message in [({"current": "wrong-wrong", "new": "new-pass-1", "confirm": "new-pass-1"}, "current password is wrong"),
                          ({"current": PASSWORD, "new": "new-pass-1", "confirm": "new-pass-2"}, "differ"),
                          ({"current": PASSWORD, "new": "short", "confirm": "short"}, "8 characters")]:
        response = client.post("/account/password", data={**data, "csrf_token": csrf})
        assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert client.post("/account/password", data={"current": PASSWORD, "new": "new-pass-1",
                                                   "confirm": "new-pass-1"}).status_code == 400  # CSRF
    done = client.post("/account/password", data={"current": PASSWORD, "new": "new-pass-1",
                                                   "confirm": "new-pass-1", "csrf_token": csrf})
    assert done.status_code == 302
    assert client.get("/api/v1/me").status_code == 200  # this browser stays in
    assert elsewhere.get("/api/v1/me").status_code == 401  # every other session ends
    fresh = app.test_client()
    assert _attempt(fresh, user.email, PASSWORD).status_code == 401
    assert _attempt(fresh, user.email, "new-pass-1").status_code == 302


def test_cli_passwd_sets_a_password_and_ends_sessions(app, client, runner, make_user, login) -> None:
    user = make_user("admin")
    login(user)
    result = runner.invoke(args=["users", "passwd", user.email], input="brand-new-pass\n")
    assert result.exit_code == 0 and "password changed" in result.output
    assert client.get("/api/v1/me").status_code == 401
    assert _attempt(app.test_client(), user.email, "brand-new-pass").status_code == 302
    short = runner.invoke(args=["users", "passwd", user.email], input="short\n")
    assert short.exit_code == 1 and "at least 8" in short.output
    assert runner.invoke(args=["users", "passwd", "nobody@example.com"], input="brand-new-pass\n").exit_code == 1


def test_cli_activate_lets_a_deactivated_user_back_in_but_not_old_sessions(app, client, runner, make_user,
                                                                           login, token_for) -> None:
    user = make_user("researcher")
    headers = token_for(user)
    login(user)
    copied = _session_cookie(client)
    assert runner.invoke(args=["users", "deactivate", user.email]).exit_code == 0
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert _attempt(app.test_client(), user.email, PASSWORD).status_code == 401
    result = runner.invoke(args=["users", "activate", user.email])
    assert result.exit_code == 0 and "activated" in result.output
    assert _client_with(app, copied).get("/api/v1/me").status_code == 401  # the old session stays ended
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert _attempt(app.test_client(), user.email, PASSWORD).status_code == 302
    assert runner.invoke(args=["users", "activate", "nobody@example.com"]).exit_code == 1
