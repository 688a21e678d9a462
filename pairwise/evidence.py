"""Why a model loses: per-side marks and rubric answers, stored and counted.

Operations (flush only). Each judgment's tags and unacceptable flags become
:class:`JudgmentMark` rows and its rubric answers :class:`JudgmentCriterion`
rows (for the judgment browser's filters), and each adds one to its count cells
(:class:`MarkCell`, :class:`CriterionCell`), all in the judgment's own
transaction: artifact rates, unacceptable rates and per-criterion leaderboards
read a few hundred counts, whatever the number of judgments.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import delete, func, insert, select, union_all
from sqlalchemy.orm import Session

from . import artifacts, ranking
from .db import dialect_insert
from .errors import Invalid
from .leaderboards import ALL, pool_models
from .rubric import UNACCEPTABLE
from .schema import CriterionCell, Judgment, JudgmentCell, JudgmentCriterion, JudgmentMark, MarkCell, Pool

# A rubric answer counts like a choice: "same" is a tie.
ANSWER_CHOICE = {"left": "left", "right": "right", "same": "tie"}


def record(db: Session, judgment: Judgment) -> None:
    """Write the marks and rubric answers of a freshly flushed judgment."""
    marks: list[dict[str, Any]] = []
    for side, model_id, tags, unacceptable in (
            ("left", judgment.left_model_id, judgment.tags_left, judgment.unacceptable_left),
            ("right", judgment.right_model_id, judgment.tags_right, judgment.unacceptable_right)):
        names = sorted(set(tags or [])) + ([UNACCEPTABLE] if unacceptable else [])
        marks += [{"judgment_id": judgment.id, "side": side, "mark": name, "pool_id": judgment.pool_id,
                   "category": judgment.category, "model_id": model_id} for name in names]
    if marks:
        db.execute(insert(JudgmentMark), marks)
        for m in marks:  # an upsert, so two experts opening a new cell at once cannot collide
            db.execute(dialect_insert(db)(MarkCell).values(
                pool_id=m["pool_id"], category=m["category"], model_id=m["model_id"], mark=m["mark"], n=1)
                .on_conflict_do_update(index_elements=["pool_id", "category", "model_id", "mark"],
                                       set_={"n": MarkCell.n + 1}))
    answers = [{"judgment_id": judgment.id, "criterion": name, "answer": answer, "pool_id": judgment.pool_id,
                "category": judgment.category, "left_model_id": judgment.left_model_id,
                "right_model_id": judgment.right_model_id}
               for name, answer in sorted((judgment.criteria or {}).items())]
    if answers:
        db.execute(insert(JudgmentCriterion), answers)
        for a in answers:
            db.execute(dialect_insert(db)(CriterionCell).values(
                pool_id=a["pool_id"], criterion=a["criterion"], category=a["category"],
                left_model_id=a["left_model_id"], right_model_id=a["right_model_id"], answer=a["answer"], n=1)
                .on_conflict_do_update(
                    index_elements=["pool_id", "criterion", "category", "left_model_id", "right_model_id", "answer"],
                    set_={"n": CriterionCell.n + 1}))


def rebuild(db: Session) -> None:
    """Rebuild every mark and answer row, and their count cells, from the judgments (a repair tool)."""
    for table in (JudgmentMark, JudgmentCriterion, MarkCell, CriterionCell):
        db.execute(delete(table))
    for judgment in db.scalars(select(Judgment).order_by(Judgment.id).execution_options(yield_per=2000)):
        record(db, judgment)


# ----- counts -----------------------------------------------------------------

def _excluded_experts(db: Session, pool: Pool) -> list[int]:
    from .experts import exclusions  # it imports the leaderboards, which import this module

    return [row.expert_id for row in exclusions(db, pool)]


def shown_counts(db: Session, pool: Pool, category: str = ALL) -> dict[int, int]:
    """model id -> judgments that showed its output (either side), from the count cells.

    Excluded experts' judgments are left out, as they are from every fit.
    """
    cell = JudgmentCell
    where = [cell.pool_id == pool.id] + ([cell.category == category] if category != ALL else [])
    sides = union_all(select(cell.left_model_id.label("model_id"), cell.n).where(*where),
                      select(cell.right_model_id.label("model_id"), cell.n).where(*where)).subquery()
    shown = {model_id: int(n) for model_id, n in
             db.execute(select(sides.c.model_id, func.sum(sides.c.n)).group_by(sides.c.model_id))}
    excluded = _excluded_experts(db, pool)
    if excluded:
        where = [Judgment.pool_id == pool.id, Judgment.expert_id.in_(excluded), Judgment.gold_pair_id.is_(None)]
        where += [Judgment.category == category] if category != ALL else []
        theirs = union_all(select(Judgment.left_model_id.label("model_id")).where(*where),
                           select(Judgment.right_model_id.label("model_id")).where(*where)).subquery()
        for model_id, n in db.execute(select(theirs.c.model_id, func.count()).group_by(theirs.c.model_id)):
            shown[model_id] = shown.get(model_id, 0) - int(n)
    return shown


def mark_counts(db: Session, pool: Pool, category: str = ALL,
                mark: str | None = None) -> dict[tuple[int, str], int]:
    """(model id, mark) -> how many judgments put that mark on the model's output (from the cells).

    Excluded experts' marks are left out, as their judgments are from every fit.
    """
    query = (select(MarkCell.model_id, MarkCell.mark, func.sum(MarkCell.n))
             .where(MarkCell.pool_id == pool.id)
             .group_by(MarkCell.model_id, MarkCell.mark))
    if category != ALL:
        query = query.where(MarkCell.category == category)
    if mark is not None:
        query = query.where(MarkCell.mark == mark)
    counts = {(model_id, name): int(n) for model_id, name, n in db.execute(query)}
    excluded = _excluded_experts(db, pool)
    if excluded:
        theirs = (select(JudgmentMark.model_id, JudgmentMark.mark, func.count())
                  .join(Judgment, Judgment.id == JudgmentMark.judgment_id)
                  .where(JudgmentMark.pool_id == pool.id, Judgment.expert_id.in_(excluded))
                  .group_by(JudgmentMark.model_id, JudgmentMark.mark))
        if category != ALL:
            theirs = theirs.where(JudgmentMark.category == category)
        if mark is not None:
            theirs = theirs.where(JudgmentMark.mark == mark)
        for model_id, name, n in db.execute(theirs):
            counts[model_id, name] = counts.get((model_id, name), 0) - int(n)
    return counts


def artifact_rates(db: Session, pool: Pool, category: str = ALL) -> list[artifacts.Rate]:
    """Per model and tag of the pool's vocabulary: flagged / shown with a Wilson interval."""
    models = pool_models(db, pool, category)
    names = {model_id: name for model_id, name in models}
    shown = shown_counts(db, pool, category)
    flagged = {(names[m], tag): n for (m, tag), n in mark_counts(db, pool, category).items()
               if tag != UNACCEPTABLE and m in names}
    return artifacts.rates([n for _i, n in models], pool.vocabulary,
                           {names[m]: n for m, n in shown.items() if m in names}, flagged)


def unacceptable_rates(db: Session, pool: Pool, category: str = ALL) -> dict[str, artifacts.Rate]:
    """model name -> its unacceptable rate (marked / shown) with a Wilson interval."""
    models = pool_models(db, pool, category)
    names = {model_id: name for model_id, name in models}
    shown = {names[m]: n for m, n in shown_counts(db, pool, category).items() if m in names}
    marked = {(names[m], UNACCEPTABLE): n for (m, _), n in
              mark_counts(db, pool, category, UNACCEPTABLE).items() if m in names}
    return {r.model: r for r in artifacts.rates(list(names.values()), [UNACCEPTABLE], shown, marked)}


def annotate(db: Session, pool: Pool, category: str, board: dict[str, Any]) -> dict[str, Any]:
    """Add the unacceptable columns to a leaderboard's rows (fresh: never cached)."""
    artifacts.add_unacceptable(board, unacceptable_rates(db, pool, category))
    return board


def require_criterion(pool: Pool, criterion: str) -> str:
    names = [c["name"] for c in pool.criteria or []]
    if criterion not in names:
        raise Invalid(f"criterion: pool {pool.name!r} has no criterion {criterion[:40]!r} "
                      f"(its criteria: {', '.join(names) or 'none'})")
    return criterion


def criterion_counts(db: Session, pool: Pool, category: str,
                     criterion: str) -> tuple[tuple[str, ...], NDArray[np.int64]]:
    """Models and (K, K, 4) counts of one criterion's answers, as ``cell_counts`` gives for choices.

    "same" counts as a tie; judgments that left an optional criterion
    unanswered are not counted.
    """
    require_criterion(pool, criterion)
    models = pool_models(db, pool, category)
    index = {model_id: k for k, (model_id, _name) in enumerate(models)}
    choice_index = {c: k for k, c in enumerate(ranking.CHOICES)}
    counts = np.zeros((len(models), len(models), len(ranking.CHOICES)), dtype=np.int64)
    c = CriterionCell
    query = (select(c.left_model_id, c.right_model_id, c.answer, func.sum(c.n))
             .where(c.pool_id == pool.id, c.criterion == criterion)
             .group_by(c.left_model_id, c.right_model_id, c.answer))
    if category != ALL:
        query = query.where(c.category == category)
    for left, right, answer, n in db.execute(query):
        if left in index and right in index:
            counts[index[left], index[right], choice_index[ANSWER_CHOICE[answer]]] += int(n)
    return tuple(name for _id, name in models), counts
