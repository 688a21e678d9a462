"""Every route x every kind of caller, generated from the app's URL map.

A route without an entry in EXPECT fails ``test_every_route_has_an_expectation``:
whoever adds a route says here who may call it. One line per route:

    "METHOD /rule/<as>/<in>/<url_map>": roles("researcher", "admin"),

Callers: anonymous; an expert of the pool's category; an expert of other
categories only; a researcher; an admin; a revoked API token; a deactivated
user with the session cookie they had, and with their (unrevoked) token.
Outcomes: OK (the authorization layer lets it through: any status below 500
but 401, 403 and a redirect to the login page), LOGIN (401, or a redirect to
the login page), FORBIDDEN (403), HIDDEN (404: the caller is not told it
exists), ANY (public and answered by the view: below 500).
Every response, whatever its status, must carry the security headers.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from .conftest import PASSWORD, csrf_from

OK, LOGIN, FORBIDDEN, HIDDEN, ANY = "ok", "login", "forbidden", "hidden", "any"
ROLES = ("expert", "other_expert", "researcher", "admin")


def public(outcome: str = OK) -> dict[str, str]:
    return {"anonymous": outcome, **{r: outcome for r in ROLES}}


def logged_in(**overrides: str) -> dict[str, str]:
    return {"anonymous": LOGIN, **{r: OK for r in ROLES}, **overrides}


def roles(*allowed: str, **overrides: str) -> dict[str, str]:
    expected = {"anonymous": LOGIN}
    for r in ROLES:
        expected[r] = OK if (r if r != "other_expert" else "expert") in allowed else FORBIDDEN
    return {**expected, **overrides}


# The expectation table: one entry per "METHOD rule" of app.url_map.
EXPECT: dict[str, dict[str, str]] = {
    "GET /": logged_in(),
    "GET /login": public(),
    "POST /login": public(ANY),  # an empty form: 401 "enter your email" for anyone
    "POST /logout": logged_in(),
    "GET /account/password": logged_in(),
    "POST /account/password": logged_in(),
    "GET /static/<path:filename>": public(),
    "GET /images/<sha>.png": logged_in(),
    "GET /images/<sha>/<variant>.png": logged_in(),
    "GET /pools/<pool_name>/judge": roles("expert", other_expert=HIDDEN),
    "GET /pools/<pool_name>/leaderboard": roles("researcher", "admin"),
    "GET /api/v1/openapi.json": public(),
    "GET /api/v1/me": logged_in(),
    "GET /api/v1/pools": logged_in(),
    "POST /api/v1/pools": roles("admin"),
    "GET /api/v1/pools/<pool_name>": logged_in(other_expert=HIDDEN),
    "PATCH /api/v1/pools/<pool_name>": roles("admin"),
    "POST /api/v1/pools/<pool_name>/items": roles("admin"),
    "POST /api/v1/pools/<pool_name>/assignments": roles("expert"),  # other categories: 204, nothing for them
    "POST /api/v1/pools/<pool_name>/assignments/ahead": roles("expert"),  # 204 without an open pair
    "POST /api/v1/assignments/<int:assignment_id>/judgment": roles("expert", other_expert=FORBIDDEN),
    "GET /api/v1/pools/<pool_name>/leaderboard": roles("researcher", "admin"),
    "GET /api/v1/pools/<pool_name>/judgments": roles("researcher", "admin"),
    "GET /api/v1/pools/<pool_name>/artifacts": roles("researcher", "admin"),
    "GET /pools/<pool_name>/judgments": roles("researcher", "admin"),
    "GET /api/v1/pools/<pool_name>/experts": roles("researcher", "admin"),
    "POST /api/v1/pools/<pool_name>/experts/<email>/exclusion": roles("admin"),
    "DELETE /api/v1/pools/<pool_name>/experts/<email>/exclusion": roles("admin"),
    "GET /api/v1/pools/<pool_name>/gold": roles("admin"),
    "POST /api/v1/pools/<pool_name>/gold": roles("admin"),
    "GET /api/v1/me/quality": logged_in(),  # each caller's own figures only
    "GET /admin/": roles("admin"),
    "GET /admin/pools/<pool_name>/experts": roles("admin"),
    "POST /admin/pools/<pool_name>/experts/<email>/exclusion": roles("admin"),
    "GET /api/v1/audit": roles("admin"),
    "GET /api/v1/pools/<pool_name>/items": roles("researcher", "admin"),
    "GET /api/v1/pools/<pool_name>/models": roles("researcher", "admin"),
    "PATCH /api/v1/pools/<pool_name>/models/<path:model_name>": roles("admin"),
    "GET /api/v1/pools/<pool_name>/progress": roles("researcher", "admin"),
    "POST /api/v1/pools/<pool_name>/imports": roles("admin"),
    "GET /api/v1/imports/<int:job_id>": roles("admin", admin=ANY),  # no such job: 404 for the admin
    "GET /api/v1/tokens": roles("admin"),
    "POST /api/v1/tokens": roles("admin"),
    "DELETE /api/v1/tokens/<int:token_id>": roles("admin", admin=ANY),  # no such token: 404 for the admin
    "POST /api/v1/assignments/<int:assignment_id>/skip": roles("expert", other_expert=FORBIDDEN),
    "POST /api/v1/assignments/<int:assignment_id>/renew": roles("expert", other_expert=FORBIDDEN),
    "GET /api/v1/pools/<pool_name>/my-progress": roles("expert", other_expert=ANY),
    "GET /api/v1/pools/<pool_name>/skips": roles("researcher", "admin"),
    # a small image has no tiles: 404 for anyone logged in, never served to the anonymous
    "GET /images/<sha>/tiles/<int:level>/<int:col>_<int:row>.png": {"anonymous": LOGIN, **{r: ANY for r in ROLES}},
}

# Values for URL parameters, by name (filled in by the fixture where they are data).
STATIC_VALUES = {"pool_name": "pool-1", "variant": "preview", "filename": "style.css", "model_name": "model-a",
                 "job_id": 987654, "token_id": 987654, "level": 0, "col": 0, "row": 0}

REQUIRED_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options")


def _routes(app: Any) -> dict[str, Any]:
    routes = {}
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes[f"{method} {rule.rule}"] = rule
    return routes


def test_every_route_has_an_expectation(app) -> None:
    routes = set(_routes(app))
    missing = sorted(routes - set(EXPECT))
    stale = sorted(set(EXPECT) - routes)
    assert not missing, f"routes without an entry in EXPECT (say who may call them): {missing}"
    assert not stale, f"EXPECT entries for routes that no longer exist: {stale}"


def _login(app: Any, user: Any) -> tuple[Any, str]:
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_from(page)})
    assert response.status_code == 302
    return client, csrf_from(client.get("/").get_data(as_text=True))


def _classify(response: Any) -> str:
    # The login redirect carries ?next=; logout's own redirect to /login is its success.
    if response.status_code == 401 or (response.status_code in (301, 302, 303)
                                       and response.headers.get("Location", "").startswith("/login?next=")):
        return LOGIN
    if response.status_code == 403:
        return FORBIDDEN
    if response.status_code == 404:
        return HIDDEN
    return OK


def test_authorization_matrix(app, runner, make_pool, make_user, token_for) -> None:
    from pairwise.db import get_db
    from pairwise.schema import Image, Output

    make_pool("pool-1", categories=("apparel",))
    make_pool("pool-2", categories=("food",))
    users = {"expert": make_user("expert", categories=["apparel"]),
             "other_expert": make_user("expert", categories=["food"]),
             "researcher": make_user("researcher"), "admin": make_user("admin"),
             "deactivated": make_user("admin")}
    revoked = make_user("admin")
    revoked_headers = token_for(revoked)
    assert runner.invoke(args=["tokens", "revoke", revoked.email]).exit_code == 0
    deactivated_headers = token_for(users["deactivated"])

    sessions = {name: _login(app, user) for name, user in users.items()}
    assert runner.invoke(args=["users", "deactivate", users["deactivated"].email]).exit_code == 0

    expert_client, expert_csrf = sessions["expert"]
    issued = expert_client.post("/api/v1/pools/pool-1/assignments", headers={"X-CSRFToken": expert_csrf})
    assert issued.status_code == 201
    with app.app_context():
        sha = get_db().scalar(select(Image.sha256).join(Output, Output.image_id == Image.id).limit(1))
    values = {**STATIC_VALUES, "assignment_id": issued.json["id"], "sha": sha, "email": users["expert"].email}

    def callers() -> dict[str, tuple[Any, dict[str, str]]]:
        # Even an anonymous caller can hold a CSRF token (from the login page),
        # so the CSRF check does not hide what the authorization layer does.
        anonymous = app.test_client()
        made = {"anonymous": (anonymous, {"X-CSRFToken": csrf_from(anonymous.get("/login").get_data(as_text=True))})}
        for name in ROLES:
            client, csrf = sessions[name]
            made[name] = (client, {"X-CSRFToken": csrf})
        made["revoked_token"] = (app.test_client(), revoked_headers)
        client, csrf = sessions["deactivated"]
        made["deactivated_session"] = (client, {"X-CSRFToken": csrf})
        made["deactivated_token"] = (app.test_client(), deactivated_headers)
        return made

    failures = []
    # Logout ends every session of its caller, so it goes last.
    ordered = sorted(_routes(app).items(), key=lambda kv: kv[0] == "POST /logout")
    for key, rule in ordered:
        path = rule.build({a: values[a] for a in rule.arguments})[1]
        method = key.split()[0]
        expected = dict(EXPECT[key])
        expected["revoked_token"] = LOGIN  # a bad token is refused before anything else
        expected["deactivated_token"] = LOGIN
        expected["deactivated_session"] = expected["anonymous"]  # the old cookie counts for nothing
        for caller, (client, headers) in callers().items():
            kwargs: dict[str, Any] = {"headers": headers}
            if method in ("POST", "PATCH", "PUT") and not key.startswith(("POST /login", "POST /logout",
                                                                           "POST /account/")):
                kwargs["json"] = {}
            response = client.open(path, method=method, **kwargs)
            got = _classify(response)
            want = expected[caller]
            if response.status_code >= 500 or (want != ANY and got != want):
                failures.append(f"{key} as {caller}: expected {want}, got {response.status_code}")
            missing = [h for h in REQUIRED_HEADERS if h not in response.headers]
            if missing:
                failures.append(f"{key} as {caller}: no {', '.join(missing)}")
            response.close()
    assert not failures, "\n".join(failures)


def test_the_matrix_would_catch_a_route_left_open(app) -> None:
    """The classifier tells a leak apart: an open route answering 200 to anyone is not LOGIN."""
    response = app.test_client().get("/api/v1/openapi.json")
    assert _classify(response) == OK and EXPECT["GET /api/v1/me"]["anonymous"] == LOGIN
    assert re.match(r"^(GET|POST|PATCH|PUT|DELETE) /", next(iter(EXPECT)))
