"""Atomic issuing under concurrency (issue #12, item 1), against a real
multi-threaded server on the test database (SQLite or PostgreSQL): one expert
never holds two open assignments in a pool, and never judges a pair twice."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

BODY = {"choice": "left", "rationale": "sharper edges on the left one", "tags": {"left": [], "right": []}}


@pytest.fixture()
def server(app: Any) -> Iterator[Callable[..., tuple[int, Any]]]:
    """The app on 127.0.0.1:<free port>, one thread per request; a request function."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()

    def request(method: str, path: str, headers: dict[str, str], body: Any = None) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", httpd.server_port, timeout=60)
        try:
            data = None if body is None else json.dumps(body)
            conn.request(method, path, body=data, headers={**headers, "Content-Type": "application/json"})
            response = conn.getresponse()
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
        finally:
            conn.close()

    yield request
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def _many(n: int, call: Callable[[], tuple[int, Any]]) -> list[tuple[int, Any]]:
    barrier = threading.Barrier(n)

    def run() -> tuple[int, Any]:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(n) as executor:
        return list(executor.map(lambda _i: run(), range(n)))


def _rows(app: Any) -> dict[str, int]:
    from pairwise.db import get_db
    from pairwise.schema import Assignment, Judgment

    with app.app_context():
        db = get_db()
        return {"open": db.scalar(select(func.count()).where(Assignment.is_open)) or 0,
                "assignments": db.scalar(select(func.count()).select_from(Assignment)) or 0,
                "judgments": db.scalar(select(func.count()).select_from(Judgment)) or 0,
                "judged_pairs": db.scalar(select(func.count()).select_from(
                    select(Judgment.low_output_id, Judgment.high_output_id).distinct().subquery())) or 0}


@pytest.mark.parametrize("scheduler", ["uniform", "active"])
def test_concurrent_requests_get_one_open_assignment(app, server, make_pool, make_user, token_for,
                                                     scheduler) -> None:
    make_pool(items=3, scheduler=scheduler)
    headers = token_for(make_user("expert"))
    results = _many(16, lambda: server("POST", "/api/v1/pools/pool-1/assignments", headers))
    assert {status for status, _ in results} == {201}
    assert len({body["id"] for _, body in results}) == 1  # every request got the same pair
    assert _rows(app)["open"] == 1 and _rows(app)["assignments"] == 1


def test_concurrent_submissions_store_one_judgment(app, server, make_pool, make_user, token_for) -> None:
    make_pool(items=1, models=("model-a", "model-b"))
    headers = token_for(make_user("expert"))
    status, body = server("POST", "/api/v1/pools/pool-1/assignments", headers)
    assert status == 201
    results = _many(12, lambda: server("POST", f"/api/v1/assignments/{body['id']}/judgment", headers, BODY))
    statuses = sorted(s for s, _ in results)
    # One stores it; every identical racer is told it is stored (200), never a second row.
    assert statuses.count(201) == 1 and set(statuses) == {200, 201}, statuses
    assert _rows(app) == {"open": 0, "assignments": 1, "judgments": 1, "judged_pairs": 1}


@pytest.mark.parametrize("scheduler", ["uniform", "active"])
def test_one_pair_is_judged_once_however_hard_the_expert_clicks(app, server, make_pool, make_user,
                                                                token_for, scheduler) -> None:
    # One item, three models: three pairs. Eight clients of one expert ask
    # and answer as fast as they can; each pair is judged exactly once.
    make_pool(items=1, scheduler=scheduler)
    headers = token_for(make_user("expert"))

    def client() -> tuple[int, Any]:
        for _ in range(12):
            status, body = server("POST", "/api/v1/pools/pool-1/assignments", headers)
            if status == 204:
                return status, None
            assert status == 201, body
            server("POST", f"/api/v1/assignments/{body['id']}/judgment", headers, BODY)
        return 0, None

    results = _many(8, client)
    assert all(status == 204 for status, _ in results)
    assert _rows(app) == {"open": 0, "assignments": 3, "judgments": 3, "judged_pairs": 3}


def test_other_experts_are_not_held_up(app, server, make_pool, make_user, token_for) -> None:
    make_pool(items=2)
    tokens = [token_for(make_user("expert")) for _ in range(6)]
    results = _many(6, lambda: server("POST", "/api/v1/pools/pool-1/assignments", tokens.pop()))
    assert [s for s, _ in results] == [201] * 6
    assert _rows(app)["open"] == 6


def test_database_refuses_a_second_open_assignment_and_a_second_judgment(app, make_pool, make_user) -> None:
    from sqlalchemy.exc import IntegrityError

    from pairwise.db import get_db
    from pairwise.schema import Assignment, Judgment, Output, utcnow

    make_pool(items=1, models=("model-a", "model-b"))
    expert = make_user("expert")
    with app.app_context():
        db = get_db()
        a, b = db.scalars(select(Output).order_by(Output.id)).all()
        now = utcnow()

        def open_one() -> Assignment:
            row = Assignment(pool_id=a.item.pool_id, item_id=a.item_id, expert_id=expert.id,
                             left_output_id=a.id, right_output_id=b.id, expires_at=now + timedelta(hours=1),
                             is_open=True)
            db.add(row)
            db.flush()
            return row

        first = open_one()
        with pytest.raises(IntegrityError):
            open_one()
        db.rollback()
        first = open_one()
        db.add(Judgment(assignment_id=first.id, pool_id=first.pool_id, category="apparel", expert_id=expert.id,
                        left_model_id=a.model_id, right_model_id=b.model_id, choice="left", rationale="x",
                        seconds=1.0, low_output_id=a.id, high_output_id=b.id))
        first.is_open = False
        db.flush()
        second = open_one()  # closed, so a new one may be opened ...
        db.add(Judgment(assignment_id=second.id, pool_id=second.pool_id, category="apparel",
                        expert_id=expert.id, left_model_id=b.model_id, right_model_id=a.model_id,
                        choice="right", rationale="x", seconds=1.0, low_output_id=a.id, high_output_id=b.id))
        with pytest.raises(IntegrityError):  # ... but the same pair cannot be judged again
            db.flush()
        db.rollback()


def test_an_expired_assignment_is_closed_and_its_pair_can_come_back(app, make_pool, make_user) -> None:
    import numpy as np

    from pairwise import judging, pools
    from pairwise.db import get_db
    from pairwise.errors import Gone
    from pairwise.schema import User, utcnow

    make_pool(items=1, models=("model-a", "model-b"), scheduler="uniform")
    expert_row = make_user("expert")
    with app.app_context():
        db = get_db()
        pool, expert = pools.get_pool(db, "pool-1"), db.get(User, expert_row.id)
        rng = np.random.default_rng(0)
        first = judging.next_assignment(db, pool, expert, rng=rng, minutes=1)
        assert first is not None
        db.commit()
        later = utcnow() + timedelta(minutes=5)
        with pytest.raises(Gone):
            judging.record_judgment(db, first.id, expert, BODY, now=later)
        db.rollback()
        second = judging.next_assignment(db, pool, expert, rng=rng, minutes=1, now=later)
        assert second is not None and second.id != first.id  # the only pair, issued again
        db.commit()
        db.refresh(first)
        assert not first.is_open and second.is_open
