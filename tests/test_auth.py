"""Who may do what: anonymous users, roles, tokens, CSRF."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from .conftest import PASSWORD, csrf_from


@pytest.mark.parametrize("path", ["/", "/pools/pool-1/judge", "/pools/pool-1/leaderboard"])
def test_anonymous_pages_redirect_to_login(client, make_pool, path) -> None:
    make_pool()
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert client.get("/login").status_code == 200


@pytest.mark.parametrize("method, path", [
    ("get", "/api/v1/pools"), ("post", "/api/v1/pools"), ("get", "/api/v1/pools/pool-1/leaderboard"),
    ("get", "/api/v1/pools/pool-1/judgments"), ("post", "/api/v1/pools/pool-1/assignments"),
    ("post", "/api/v1/assignments/1/judgment"), ("post", "/api/v1/pools/pool-1/items"),
])
def test_anonymous_api_is_401(client, make_pool, method, path) -> None:
    make_pool()
    response = getattr(client, method)(path, headers={"Authorization": ""})
    assert response.status_code == 401
    assert "error" in response.json


def test_anonymous_images_are_refused(client, app, make_pool) -> None:
    make_pool()
    from pairwise.db import get_db
    from pairwise.schema import Image
    with app.app_context():
        sha = get_db().scalar(select(Image.sha256))
    assert client.get(f"/images/{sha}.png").status_code == 401


def test_experts_cannot_read_leaderboards_or_exports(client, make_pool, make_user, token_for, login) -> None:
    make_pool()
    expert = make_user("expert")
    headers = token_for(expert)
    assert client.get("/api/v1/pools/pool-1/leaderboard", headers=headers).status_code == 403
    assert client.get("/api/v1/pools/pool-1/judgments", headers=headers).status_code == 403
    login(expert)
    assert client.get("/pools/pool-1/leaderboard").status_code == 403


def test_researchers_cannot_judge(client, make_pool, make_user, token_for, login) -> None:
    make_pool()
    researcher = make_user("researcher")
    response = client.post("/api/v1/pools/pool-1/assignments", headers=token_for(researcher))
    assert response.status_code == 403
    assert "expert" in response.json["error"]
    login(researcher)
    assert client.get("/pools/pool-1/judge").status_code == 403
    assert client.get("/pools/pool-1/leaderboard").status_code == 200


def test_only_admins_create_pools(client, make_user, token_for) -> None:
    for role in ("expert", "researcher"):
        response = client.post("/api/v1/pools", json={"name": "x"}, headers=token_for(make_user(role)))
        assert response.status_code == 403
    assert client.post("/api/v1/pools", json={"name": "x"},
                       headers=token_for(make_user("admin"))).status_code == 201


def test_a_token_acts_only_as_its_own_user(client, make_pool, make_user, token_for, login) -> None:
    make_pool()
    alice, bob = make_user("expert"), make_user("expert")
    issued = client.post("/api/v1/pools/pool-1/assignments", headers=token_for(alice)).json
    # Bob's token cannot answer Alice's pair ...
    response = client.post(f"/api/v1/assignments/{issued['id']}/judgment", headers=token_for(bob),
                           json={"choice": "left", "rationale": "left keeps the texture better"})
    assert response.status_code == 403
    # ... not even from a browser where Alice is logged in: the token decides.
    login(alice)
    response = client.post(f"/api/v1/assignments/{issued['id']}/judgment", headers=token_for(bob),
                           json={"choice": "left", "rationale": "left keeps the texture better"})
    assert response.status_code == 403
    assert client.get("/api/v1/me", headers=token_for(bob)).json["email"] == bob.email


def test_bad_tokens(client) -> None:
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer nope"}).status_code == 401
    response = client.get("/api/v1/me", headers={"Authorization": "Basic abc"})
    assert response.status_code == 401 and "Bearer" in response.json["error"]


def test_tokens_are_stored_hashed(app, make_user, token_for) -> None:
    from pairwise.db import get_db
    from pairwise.schema import ApiToken
    token = token_for(make_user("admin"))["Authorization"].split()[1]
    with app.app_context():
        stored = get_db().scalar(select(ApiToken.token_hash))
    assert token not in stored and len(stored) == 64


def test_session_posts_need_csrf(client, make_pool, make_user, login) -> None:
    make_pool()
    expert = make_user("expert")
    csrf = login(expert)
    assert client.post("/api/v1/pools/pool-1/assignments").status_code == 400
    response = client.post("/api/v1/pools/pool-1/assignments", headers={"X-CSRFToken": csrf})
    assert response.status_code == 201


def test_login_form(client, make_user) -> None:
    user = make_user("researcher")
    page = client.get("/login").get_data(as_text=True)
    wrong = client.post("/login", data={"email": user.email, "password": "nope-nope",
                                        "csrf_token": csrf_from(page)})
    assert wrong.status_code == 401 and "Wrong email or password" in wrong.get_data(as_text=True)
    no_csrf = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert no_csrf.status_code == 400
    ok = client.post("/login?next=//evil.example/x", data={"email": user.email.upper(), "password": PASSWORD,
                                                           "csrf_token": csrf_from(page)})
    assert ok.status_code == 302 and ok.headers["Location"] == "/"


def test_logout(client, make_user, login) -> None:
    csrf = login(make_user("expert"))
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 302
    assert client.get("/").status_code == 302


def test_session_cookie_is_samesite_lax_and_httponly(client, make_user) -> None:
    user = make_user("expert")
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_from(page)})
    cookie = response.headers["Set-Cookie"]
    assert "SameSite=Lax" in cookie and "HttpOnly" in cookie


def test_deactivated_users_and_revoked_tokens_are_locked_out(client, runner, make_user, token_for, login) -> None:
    user = make_user("researcher")
    headers = token_for(user)
    login(user)
    assert client.get("/api/v1/me").status_code == 200
    assert runner.invoke(args=["tokens", "revoke", user.email]).output.startswith("revoked 1 token")
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert runner.invoke(args=["users", "deactivate", user.email]).exit_code == 0
    assert client.get("/api/v1/me").status_code == 401  # the open session ends too
    page = client.get("/login").get_data(as_text=True)
    again = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_from(page)})
    assert again.status_code == 401


def test_secret_key_file_is_private_and_stable(tmp_path) -> None:
    from pairwise.config import secret_key
    first = secret_key(tmp_path)
    assert len(first) == 64 and secret_key(tmp_path) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
