"""Safe retries of a judgment: Idempotency-Key, and identical resubmissions answer 200."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select, update

from .test_leaderboards import cells, group_by_judgments

GOOD = {"choice": "left", "rationale": "A keeps the fabric texture, B is smeared",
        "tags": {"left": [], "right": ["halo"]}}
# The same JSON value, written another way: keys reordered.
GOOD_REORDERED = {"tags": {"right": ["halo"], "left": []}, "rationale": GOOD["rationale"], "choice": "left"}
OTHER = {**GOOD, "choice": "right"}


@pytest.fixture()
def expert(make_user, token_for) -> dict[str, str]:
    return token_for(make_user("expert"))


def _issue(client: Any, headers: dict[str, str], pool: str = "pool-1") -> dict[str, Any]:
    response = client.post(f"/api/v1/pools/{pool}/assignments", headers=headers)
    assert response.status_code == 201
    return response.json


def _stored(app: Any) -> list[Any]:
    from pairwise.db import get_db
    from pairwise.schema import Judgment
    with app.app_context():
        return get_db().scalars(select(Judgment).order_by(Judgment.id)).all()


def test_same_key_same_body_answers_the_stored_judgment(client, app, make_pool, expert) -> None:
    make_pool()
    issued = _issue(client, expert)
    keyed = {**expert, "Idempotency-Key": "9b2f0c6e-6c1e-4c5e-9d4e-1f2a3b4c5d6e"}
    first = client.post(issued["submit_url"], headers=keyed, json=GOOD)
    assert first.status_code == 201
    again = client.post(issued["submit_url"], headers=keyed, json=GOOD_REORDERED)
    assert again.status_code == 200 and again.json == first.json
    assert first.json["tags"] == {"left": [], "right": ["halo"]} and first.json["choice"] == "left"
    [judgment] = _stored(app)
    assert judgment.id == first.json["id"] and judgment.idempotency_key == keyed["Idempotency-Key"]
    assert cells(app) == group_by_judgments(app) and sum(cells(app).values()) == 1


def test_same_key_different_body_is_refused_with_the_reason(client, app, make_pool, expert, table_counts) -> None:
    make_pool()
    issued = _issue(client, expert)
    keyed = {**expert, "Idempotency-Key": "key-1"}
    assert client.post(issued["submit_url"], headers=keyed, json=GOOD).status_code == 201
    before = table_counts()
    response = client.post(issued["submit_url"], headers=keyed, json=OTHER)
    assert response.status_code == 422
    assert response.json["error"].startswith("Idempotency-Key: 'key-1' was already used with a different body")
    # The same key for the next pair is a client bug too: one key, one judgment.
    issued_next = _issue(client, expert)
    response = client.post(issued_next["submit_url"], headers=keyed, json=GOOD)
    assert response.status_code == 422
    assert f"already used for assignment {issued['id']}" in response.json["error"]
    assert table_counts() == {**before, "assignment": before["assignment"] + 1}


def test_identical_resubmission_without_a_key_answers_200(client, app, make_pool, expert) -> None:
    make_pool()
    issued = _issue(client, expert)
    first = client.post(issued["submit_url"], headers=expert, json=GOOD)
    assert first.status_code == 201
    again = client.post(issued["submit_url"], headers=expert, json=GOOD_REORDERED)
    assert again.status_code == 200 and again.json == first.json
    different = client.post(issued["submit_url"], headers=expert, json=OTHER)
    assert different.status_code == 409
    assert "already judged with a different answer" in different.json["error"]
    # A key on the retry does not matter: the body is what identifies it.
    keyed = client.post(issued["submit_url"], headers={**expert, "Idempotency-Key": "late"}, json=GOOD)
    assert keyed.status_code == 200 and keyed.json["id"] == first.json["id"]
    assert len(_stored(app)) == 1


def test_a_retry_after_expiry_still_finds_the_stored_judgment(client, app, make_pool, expert) -> None:
    from pairwise.db import get_db
    from pairwise.schema import Assignment
    make_pool()
    issued = _issue(client, expert)
    first = client.post(issued["submit_url"], headers=expert, json=GOOD)
    with app.app_context():
        db = get_db()
        db.execute(update(Assignment).values(expires_at=datetime(2020, 1, 1)))
        db.commit()
    again = client.post(issued["submit_url"], headers=expert, json=GOOD)
    assert again.status_code == 200 and again.json["id"] == first.json["id"]


def test_a_replay_never_shows_someone_elses_judgment(client, app, make_pool, make_user, token_for, expert) -> None:
    make_pool()
    issued = _issue(client, expert)
    keyed = {**expert, "Idempotency-Key": "mine"}
    assert client.post(issued["submit_url"], headers=keyed, json=GOOD).status_code == 201
    other = {**token_for(make_user("expert")), "Idempotency-Key": "mine"}
    response = client.post(issued["submit_url"], headers=other, json=GOOD)
    assert response.status_code == 403 and "rationale" not in response.json
    # The other expert's own key space is separate: the same key works for their own pair.
    own = _issue(client, other)
    assert client.post(own["submit_url"], headers=other, json=GOOD).status_code == 201


@pytest.mark.parametrize("key", ["", "has space", "x" * 201, "caf\u00e9"])
def test_malformed_keys_are_refused(client, app, make_pool, expert, key, table_counts) -> None:
    make_pool()
    issued = _issue(client, expert)
    before = table_counts()
    response = client.post(issued["submit_url"], headers={**expert, "Idempotency-Key": key}, json=GOOD)
    assert response.status_code == 422 and response.json["error"].startswith("Idempotency-Key: ")
    assert table_counts() == before


def _race(client: Any, url: str, requests: list[tuple[dict[str, str], Any]]) -> list[Any]:
    barrier = threading.Barrier(len(requests))
    results: list[Any] = [None] * len(requests)

    def send(k: int) -> None:
        headers, body = requests[k]
        barrier.wait()
        results[k] = client.post(url, headers=headers, json=body)

    threads = [threading.Thread(target=send, args=(k,)) for k in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.parametrize("with_key", [True, False])
def test_racing_identical_submissions_store_one_judgment(client, app, make_pool, expert, with_key) -> None:
    """A double click, or a client retrying before its first attempt answered."""
    make_pool()
    issued = _issue(client, expert)
    headers = {**expert, "Idempotency-Key": "race-1"} if with_key else expert
    results = _race(client, issued["submit_url"], [(headers, GOOD)] * 6)
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] * 5 + [201], [r.get_data(as_text=True) for r in results]
    assert len({r.json["id"] for r in results}) == 1
    assert len(_stored(app)) == 1
    assert cells(app) == group_by_judgments(app) and sum(cells(app).values()) == 1


def test_racing_different_answers_store_one_and_refuse_the_rest(client, app, make_pool, expert) -> None:
    make_pool()
    issued = _issue(client, expert)
    results = _race(client, issued["submit_url"], [(expert, GOOD), (expert, OTHER), (expert, OTHER)])
    statuses = [r.status_code for r in results]
    assert sorted(statuses).count(201) == 1
    [judgment] = _stored(app)
    for response in results:  # the winner's twin gets 200, the other answer 409
        expected = 201 if response.status_code == 201 else (
            200 if response.json.get("choice") == judgment.choice.value else 409)
        assert response.status_code == expected
        if response.status_code == 409:
            assert "already judged with a different answer" in response.json["error"]
    from pairwise.db import get_db
    from pairwise.schema import Judgment
    with app.app_context():
        assert get_db().scalar(select(func.count()).select_from(Judgment)) == 1


def test_a_twin_committing_between_the_look_and_the_insert_gets_200(client, app, make_pool, make_user,
                                                                     token_for, monkeypatch) -> None:
    """The twin commits after our replay look found nothing, before record_judgment's
    own "already judged?" check: still the same submission, so 200, not 409."""
    from pairwise import judging, submissions
    from pairwise.schema import User
    make_pool()
    expert = make_user("expert")
    headers = {**token_for(expert), "Idempotency-Key": "twin"}
    issued = _issue(client, headers)
    real = judging.get_assignment
    calls = []

    def get_assignment_with_a_twin(db, assignment_id, user):
        calls.append(assignment_id)
        if len(calls) == 2:  # inside record_judgment, after find_replay's look
            twin = app.extensions["pairwise.sessionmaker"]()
            monkeypatch.setattr(judging, "get_assignment", real)
            submissions.submit(twin, assignment_id, twin.get(User, expert.id), GOOD, "twin")
            twin.commit()
            twin.close()
        return real(db, assignment_id, user)

    monkeypatch.setattr(judging, "get_assignment", get_assignment_with_a_twin)
    response = client.post(issued["submit_url"], headers=headers, json=GOOD)
    assert response.status_code == 200, response.get_data(as_text=True)
    [judgment] = _stored(app)
    assert response.json["id"] == judgment.id and judgment.idempotency_key == "twin"
    assert sum(cells(app).values()) == 1
