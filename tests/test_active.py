"""The active scheduler against the database: items spread, experts at once
spread over pairs, the shared posterior's refresh, placement of a new model,
and the provenance that names the scheduler."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy import select

BODY = {"choice": "left", "rationale": "sharper edges on the left one"}


def _issue(app: Any, pool_name: str, expert_id: int, seed: int, now: Any = None, answer: bool = True) -> Any:
    from pairwise import judging, pools
    from pairwise.db import get_db
    from pairwise.schema import User

    with app.app_context():
        db = get_db()
        pool, expert = pools.get_pool(db, pool_name), db.get(User, expert_id)
        assignment = judging.next_assignment(db, pool, expert, rng=np.random.default_rng(seed), minutes=60, now=now)
        if assignment is None:
            db.rollback()
            return None
        models = (assignment.left_output.model.name, assignment.right_output.model.name, assignment.item.external_id)
        db.commit()
        if answer:
            judging.record_judgment(db, assignment.id, expert, BODY, now=now)
            db.commit()
        return models


def test_items_are_spread(app, make_pool, make_user) -> None:
    make_pool(items=24, models=("model-a", "model-b"))
    experts = [make_user("expert") for _ in range(4)]
    used = Counter()
    for round_ in range(6):
        for e, expert in enumerate(experts):
            picked = _issue(app, "pool-1", expert.id, seed=100 * round_ + e)
            assert picked is not None
            used[picked[2]] += 1
    assert len(used) >= 12 and max(used.values()) <= 4, used  # 24 judgments over 24 items


def test_experts_at_once_get_different_pairs(app, make_pool, make_user) -> None:
    make_pool(items=10, models=tuple(f"model-{c}" for c in "abcdef"))
    pairs = Counter()
    for e in range(15):  # fifteen experts ask before anyone answers
        picked = _issue(app, "pool-1", make_user("expert").id, seed=e, answer=False)
        assert picked is not None
        pairs[tuple(sorted(picked[:2]))] += 1
    assert len(pairs) >= 8 and max(pairs.values()) <= 3, pairs


def test_posterior_is_shared_and_refreshed_after_n_judgments(app, make_pool, make_user) -> None:
    from pairwise import active
    from pairwise.db import get_db
    from pairwise.schema import SchedulerPosterior

    make_pool(items=12, models=("model-a", "model-b", "model-c", "model-d"))
    expert = make_user("expert")

    def stored() -> tuple[int, list[float]]:
        with app.app_context():
            row = get_db().scalar(select(SchedulerPosterior))
            assert row is not None
            return row.judgments, row.mean

    assert _issue(app, "pool-1", expert.id, seed=0) is not None
    assert stored()[0] == 0  # fitted before the first judgment
    for seed in range(1, active.REFRESH_JUDGMENTS):
        assert _issue(app, "pool-1", expert.id, seed=seed) is not None
    assert stored()[0] == 0  # not refitted per request ...
    assert _issue(app, "pool-1", expert.id, seed=99) is not None
    judgments, mean = stored()
    assert judgments == active.REFRESH_JUDGMENTS and max(mean) > 0  # ... but after N judgments


def test_the_incremental_refit_matches_a_full_refit_from_the_count_cells(app, make_pool, make_user) -> None:
    """Between full refits a category is refitted from its stored win matrix
    plus the judgments since (no count cells read): every choice kind must
    land where the full refit puts it."""
    from sqlalchemy.orm import undefer

    from pairwise import active, judging, pools, scheduling
    from pairwise.db import get_db
    from pairwise.schema import Judgment, SchedulerPosterior, User, utcnow

    make_pool(items=10, categories=("apparel", "food"), models=("model-a", "model-b", "model-c", "model-d"))
    experts = [make_user("expert").id for _ in range(2)]
    choices = ("left", "right", "tie", "both_bad", "left", "left", "right")
    now = utcnow()
    for n in range(5 * active.REFRESH_JUDGMENTS + 3):
        with app.app_context():
            db = get_db()
            pool, expert = pools.get_pool(db, "pool-1"), db.get(User, experts[n % 2])
            assignment = judging.next_assignment(db, pool, expert, rng=np.random.default_rng(n), minutes=60,
                                                 now=now + timedelta(seconds=n))
            assert assignment is not None
            db.commit()
            judging.record_judgment(db, assignment.id, expert, {**BODY, "choice": choices[n % len(choices)]},
                                    now=now + timedelta(seconds=n))
            db.commit()
    with app.app_context():
        db = get_db()
        pool = pools.get_pool(db, "pool-1")
        stored = {row.category: row for row in db.scalars(
            select(SchedulerPosterior).options(undefer(SchedulerPosterior.wins))).all()}
        for row in stored.values():
            db.expunge(row)
        assert set(stored) == {"apparel", "food"}
        assert all(row.judgments >= 2 * active.REFRESH_JUDGMENTS for row in stored.values())  # refitted since
        judged = db.execute(select(Judgment.id, Judgment.category, Judgment.left_model_id, Judgment.right_model_id,
                                   Judgment.choice)).all()
        for category, row in stored.items():
            # What the stored fit must hold: every judgment of the category up to its last id.
            index = {m: k for k, m in enumerate(row.model_ids)}
            wins = np.zeros((len(index), len(index)))
            for judgment_id, c, left, right, choice in judged:
                if c == category and judgment_id <= row.last_judgment_id:
                    i, j = index[left], index[right]
                    if choice.value == "left":
                        wins[i, j] += 1
                    elif choice.value == "right":
                        wins[j, i] += 1
                    else:
                        wins[i, j] += 0.5
                        wins[j, i] += 0.5
            assert row.judgments == wins.sum()
            np.testing.assert_array_equal(np.asarray(row.wins), wins)
            mean, cov = scheduling.laplace_posterior(wins)
            np.testing.assert_allclose(row.mean, mean, atol=1e-6)
            np.testing.assert_allclose(row.cov, cov, atol=1e-6)
        # A full refit (from the count cells) holds every judgment: the same where nothing came since.
        full = active.refresh(db, pool, {}, now + timedelta(hours=1))
        db.rollback()
        assert sum(row.judgments for row in full.values()) == len(judged)
        for category, row in stored.items():
            if full[category].judgments == row.judgments:
                np.testing.assert_array_equal(np.asarray(full[category].wins), np.asarray(row.wins))


def test_one_worker_refits_while_the_others_keep_the_stored_posterior(app, make_pool, make_user) -> None:
    from sqlalchemy import text

    from pairwise import active
    from pairwise.db import get_db, get_engine
    from pairwise.schema import SchedulerPosterior

    make_pool(items=12, models=("model-a", "model-b", "model-c", "model-d"))
    expert = make_user("expert")
    for seed in range(active.REFRESH_JUDGMENTS):  # the first fit, then N judgments
        assert _issue(app, "pool-1", expert.id, seed=seed) is not None

    def stored() -> int:
        with app.app_context():
            return get_db().scalar(select(SchedulerPosterior.judgments))

    assert stored() == 0
    with app.app_context():
        postgres = get_engine().dialect.name == "postgresql"
    if not postgres:  # SQLite serialises issuing anyway: the request that finds it stale refits
        assert _issue(app, "pool-1", expert.id, seed=50) is not None
        assert stored() >= active.REFRESH_JUDGMENTS
        return
    with app.app_context():
        pool_id = get_db().scalar(select(SchedulerPosterior.pool_id))
        with get_engine().connect() as other:  # another worker is refitting this pool
            assert other.execute(text("SELECT pg_try_advisory_xact_lock(hashtextextended(:key, 0))"),
                                 {"key": f"pairwise.posterior:{pool_id}"}).scalar()
            assert _issue(app, "pool-1", expert.id, seed=50) is not None  # served, without waiting
            assert stored() == 0  # ... from the stored posterior
            other.rollback()
    assert _issue(app, "pool-1", expert.id, seed=51) is not None
    assert stored() >= active.REFRESH_JUDGMENTS  # the next request claims the refit


def test_a_new_model_is_placed(app, make_pool, make_user) -> None:
    from pairwise import pools
    from pairwise.context import current_store
    from pairwise.db import get_db
    from pairwise.schema import Item, utcnow

    from .conftest import png_bytes

    make_pool(items=10, models=("model-a", "model-b", "model-c"))
    expert = make_user("expert")
    for seed in range(30):
        assert _issue(app, "pool-1", expert.id, seed=seed) is not None
    with app.app_context():  # a fourth model arrives on every item
        db = get_db()
        pool = pools.get_pool(db, "pool-1")
        for k, item in enumerate(db.scalars(select(Item).where(Item.pool_id == pool.id)).all()):
            pools.add_item(db, current_store(), pool, item_id=item.external_id, category=item.category,
                           instruction=item.instruction,
                           source=pools.Upload("source.png", current_store().path(item.source_image.sha256).read_bytes()),
                           outputs={"model-new": pools.Upload("new.png", png_bytes(500 + k))})
        db.commit()
    later = utcnow() + timedelta(minutes=5)  # the next full refresh finds it
    picks = [_issue(app, "pool-1", expert.id, seed=100 + s, now=later) for s in range(5)]
    assert all(p is not None and "model-new" in p[:2] for p in picks), picks


def test_provenance_names_the_scheduler(app, client, make_pool, make_user, token_for) -> None:
    make_pool(name="act", items=2, scheduler="active")
    make_pool(name="uni", items=2, scheduler="uniform")
    headers = token_for(make_user("researcher"))
    for name, scheduler in (("act", "active"), ("uni", "uniform")):
        board = client.get(f"/api/v1/pools/{name}/leaderboard?bootstrap=0", headers=headers)
        assert board.status_code == 200
        assert board.json["provenance"]["scheduler"] == scheduler


def test_a_worker_rereads_a_posterior_only_when_its_version_changes(app, make_pool, make_user) -> None:
    """Each worker keeps the posteriors it decoded; a refit anywhere (a new
    version in the table) makes every worker read the row again."""
    from sqlalchemy import update

    from pairwise import active, pools
    from pairwise.db import get_db
    from pairwise.schema import SchedulerPosterior

    make_pool(items=4, models=("model-a", "model-b", "model-c"))
    expert = make_user("expert")
    assert _issue(app, "pool-1", expert.id, seed=0) is not None  # the first fit
    with app.app_context():
        db = get_db()
        pool = pools.get_pool(db, "pool-1")
        first = active._read(db, pool)["apparel"]
        assert active._read(db, pool)["apparel"] is first  # kept, not decoded again
        # Another worker refits: a new mean under a new version.
        db.execute(update(SchedulerPosterior).values(mean=[1.0, 0.0, -1.0], version="v-other-worker"))
        db.commit()
        again = active._read(db, pool)["apparel"]
        assert again is not first and again.mean == [1.0, 0.0, -1.0] and again.version == "v-other-worker"
        # A row from before versions existed (NULL) is read every time.
        db.execute(update(SchedulerPosterior).values(mean=[0.5, 0.0, -0.5], version=None))
        db.commit()
        assert active._read(db, pool)["apparel"].mean == [0.5, 0.0, -0.5]
        db.execute(update(SchedulerPosterior).values(mean=[0.2, 0.0, -0.2]))
        db.commit()
        assert active._read(db, pool)["apparel"].mean == [0.2, 0.0, -0.2]


def test_a_pair_reserved_ahead_counts_as_in_flight(app, make_pool, make_user) -> None:
    from pairwise import active, judging, pools
    from pairwise.db import get_db
    from pairwise.schema import User, utcnow

    make_pool(items=6, models=("model-a", "model-b", "model-c", "model-d"))
    expert_id = make_user("expert").id
    with app.app_context():
        db = get_db()
        pool, expert = pools.get_pool(db, "pool-1"), db.get(User, expert_id)
        now = utcnow()
        current = judging.next_assignment(db, pool, expert, rng=np.random.default_rng(1), minutes=60, now=now)
        ahead = judging.queue_next(db, pool, expert, rng=np.random.default_rng(2), minutes=60, now=now)
        assert current is not None and ahead is not None and ahead.queued and not ahead.is_open
        db.commit()
        models = {a.id: tuple(sorted((a.left_output.model_id, a.right_output.model_id))) for a in (current, ahead)}
        flying = sorted(tuple(sorted(pair)) for pair in active._in_flight(db, pool, now)["apparel"])
        assert flying == sorted(models.values())  # the open pair and the one reserved behind it
        # Once the open one is answered, the reserved one is the only one in flight.
        judging.record_judgment(db, current.id, expert, BODY, now=now)
        db.commit()
        assert sorted(tuple(sorted(p)) for p in active._in_flight(db, pool, now)["apparel"]) == [models[ahead.id]]
