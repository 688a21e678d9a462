"""The audit log of admin actions: written with the action, read by admins only."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from .conftest import PASSWORD
from .test_api import item_form
from .test_cli import write_manifest


def _events(app) -> list:
    from pairwise.db import get_db
    from pairwise.schema import AuditEvent
    with app.app_context():
        return [(e.actor, e.action, e.target, e.details)
                for e in get_db().scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_cli_actions_are_logged_without_secrets(runner, app, tmp_path) -> None:
    assert runner.invoke(args=["users", "add", "Ada@Example.com", "--role", "admin"],
                         input=PASSWORD + "\n").exit_code == 0
    created = runner.invoke(args=["tokens", "create", "ada@example.com"])
    token = created.output.strip().splitlines()[-1]
    assert runner.invoke(args=["tokens", "revoke", "ada@example.com"]).exit_code == 0
    assert runner.invoke(args=["users", "deactivate", "ada@example.com"]).exit_code == 0
    manifest = write_manifest(tmp_path)
    assert runner.invoke(args=["pools", "seed", str(manifest)]).exit_code == 0
    assert runner.invoke(args=["pools", "seed", str(manifest)]).exit_code == 0  # nothing new: no entry
    assert runner.invoke(args=["pools", "close", "spring"]).exit_code == 0
    assert runner.invoke(args=["pools", "open", "spring"]).exit_code == 0
    events = _events(app)
    assert [(a, t) for _, a, t, _ in events] == [
        ("user.add", "ada@example.com"), ("token.create", "ada@example.com"),
        ("token.revoke", "ada@example.com"), ("user.deactivate", "ada@example.com"),
        ("pool.seed", "spring"), ("pool.close", "spring"), ("pool.open", "spring")]
    assert all(actor.startswith("cli") for actor, *_ in events)
    assert events[0][3] == {"role": "admin", "categories": None}
    assert events[2][3] == {"tokens": 1}
    assert events[4][3]["items_created"] == 2 and events[4][3]["pool_created"] is True

    listed = runner.invoke(args=["audit", "--format", "json"])
    assert listed.exit_code == 0
    rows = json.loads(listed.output)
    assert [r["action"] for r in rows] == ["pool.open", "pool.close", "pool.seed", "user.deactivate",
                                           "token.revoke", "token.create", "user.add"]
    assert PASSWORD not in listed.output and token not in listed.output
    table = runner.invoke(args=["audit", "--limit", "2"])
    lines = table.output.splitlines()
    assert table.exit_code == 0 and len(lines) == 3 and "pool.open" in lines[1] and "pool.close" in lines[2]
    only = json.loads(runner.invoke(args=["audit", "--format", "json", "--action", "user.add"]).output)
    assert [r["target"] for r in only] == ["ada@example.com"]
    bad = runner.invoke(args=["audit", "--limit", "0"])
    assert bad.exit_code != 0


def test_failed_actions_leave_no_entry(runner, app, client, make_user, token_for, tmp_path) -> None:
    runner.invoke(args=["users", "add", "bob@example.com", "--role", "expert"], input=PASSWORD + "\n")
    before = _events(app)
    again = runner.invoke(args=["users", "add", "bob@example.com", "--role", "expert"], input=PASSWORD + "\n")
    assert again.exit_code != 0
    admin = token_for(make_user("admin"))
    assert client.post("/api/v1/pools", headers=admin, json={"name": "Bad Name"}).status_code == 422
    client.post("/api/v1/pools", headers=admin, json={"name": "p"})
    assert client.patch("/api/v1/pools/p", headers=admin, json={"settings": {"open": "no"}}).status_code == 422
    assert [a for _, a, _, _ in _events(app)] == [a for _, a, _, _ in before] + ["pool.create"]


def test_api_actions_are_logged_and_paged(client, app, make_user, token_for) -> None:
    admin_user = make_user("admin", email="root@example.com")
    admin = token_for(admin_user)
    for k in range(3):
        assert client.post("/api/v1/pools", headers=admin, json={"name": f"p{k}"}).status_code == 201
    assert client.patch("/api/v1/pools/p0", headers=admin,
                        json={"settings": {"open": False, "rationale_min_chars": 5}}).status_code == 200
    assert client.post("/api/v1/pools/p0/items", headers=admin, data=item_form()).status_code == 201
    assert client.post("/api/v1/pools/p0/items", headers=admin, data=item_form()).status_code == 200  # no change
    events = _events(app)
    assert [a for _, a, _, _ in events] == ["pool.create"] * 3 + ["pool.update", "pool.item"]
    assert {actor for actor, *_ in events} == {"root@example.com"}
    assert events[3][3] == {"changes": {"open": [True, False], "rationale_min_chars": [20, 5]}}
    assert events[4][3] == {"item": "dress-1", "created": True, "outputs_added": 2}

    seen, url, pages = [], "/api/v1/audit?limit=2", 0
    while url:
        page = client.get(url, headers=admin)
        assert page.status_code == 200
        seen += [e["id"] for e in page.json["events"]]
        url, pages = page.json["next"], pages + 1
    assert pages == 3 and seen == sorted(seen, reverse=True) and len(seen) == len(set(seen)) == 5
    filtered = client.get("/api/v1/audit?action=pool.update", headers=admin).json
    assert [e["target"] for e in filtered["events"]] == ["p0"] and filtered["next"] is None
    first = client.get("/api/v1/audit?limit=1", headers=admin).json["events"][0]
    assert first["action"] == "pool.item" and first["actor"] == "root@example.com" and first["at"].endswith("Z")


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=x", "before=-1", "before=99999999999999999999"])
def test_bad_audit_queries_are_422(client, make_user, token_for, query) -> None:
    admin = token_for(make_user("admin"))
    response = client.get(f"/api/v1/audit?{query}", headers=admin)
    assert response.status_code == 422 and response.json["error"].split(":")[0] in ("limit", "before")


def test_only_admins_read_the_audit_log(client, make_user, token_for) -> None:
    assert client.get("/api/v1/audit").status_code == 401
    for role in ("expert", "researcher"):
        response = client.get("/api/v1/audit", headers=token_for(make_user(role)))
        assert response.status_code == 403


def test_record_joins_the_callers_transaction(app) -> None:
    from pairwise import audit
    from pairwise.db import get_db
    with app.app_context():
        db = get_db()
        audit.record(db, "cli:test", "user.add", "x@example.com", {"role": "expert"})
        db.rollback()
        assert _events(app) == []
        audit.record(db, "cli:test", "user.add", "x@example.com", {"role": "expert"})
        db.commit()
    assert _events(app) == [("cli:test", "user.add", "x@example.com", {"role": "expert"})]
