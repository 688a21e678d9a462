"""Rater quality from the database, and exclusions (operations: flush only).

Reads each pool's judgments into plain :class:`quality.Rated` records, hands
them to the pure :mod:`pairwise.quality`, and keeps the exclusions every fit
subtracts: an excluded expert's judgments stay in the database and in exports
(with ``excluded`` true) but leave the count cells of every leaderboard.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import func, or_, select, tuple_
from sqlalchemy.orm import Session

from . import quality, ranking
from .auth import find_user
from .errors import Conflict, Invalid, NotFound
from .schema import (Assignment, ExclusionEvent, ExpertExclusion, Judgment, JudgmentCriterion, Model, Pool, User,
                     utcnow)

# A rubric answer as the choice it stands for in a fit ("same" is a tie), as in evidence.py.
CRITERION_ANSWER_CHOICE = {"left": "left", "right": "right", "same": "tie"}

MAX_REASON = 1000
ALL = "all"


def pseudonym(expert_id: int) -> str:
    """How exports and provenance name an expert: researchers compare raters without emails."""
    return f"expert-{expert_id}"


# ----- exclusions ----------------------------------------------------------------

def _reason(reason: object, *, required: bool) -> str:
    if reason is None and not required:
        return ""
    if not isinstance(reason, str) or not reason.strip():
        raise Invalid("reason: required (why this expert's judgments leave the fits)")
    reason = " ".join(reason.split())
    if len(reason) > MAX_REASON:
        raise Invalid(f"reason: at most {MAX_REASON} characters")
    return reason


def _expert(db: Session, email: object) -> User:
    if not isinstance(email, str) or not email.strip():
        raise Invalid("email: required")
    try:
        return find_user(db, email)
    except NotFound:
        raise NotFound(f"no expert {email.strip().lower()!r}") from None


def exclude(db: Session, pool: Pool, email: object, reason: object, actor: str) -> ExpertExclusion:
    """Take an expert's judgments in ``pool`` out of every fit; recorded with who, when and why."""
    reason = _reason(reason, required=True)
    expert = _expert(db, email)
    if db.get(ExpertExclusion, (pool.id, expert.id)) is not None:
        raise Conflict(f"{expert.email} is already excluded from pool {pool.name!r}")
    now = utcnow()
    row = ExpertExclusion(pool_id=pool.id, expert_id=expert.id, reason=reason, excluded_at=now,
                          excluded_by_id=db.scalar(select(User.id).where(User.email == actor)))
    db.add(row)
    db.add(ExclusionEvent(pool_id=pool.id, expert_id=expert.id, action="exclude", reason=reason, actor=actor,
                          created_at=now))
    db.flush()
    return row


def include(db: Session, pool: Pool, email: object, actor: str, reason: object = None) -> None:
    """Put an excluded expert's judgments back into the fits."""
    reason = _reason(reason, required=False)
    expert = _expert(db, email)
    row = db.get(ExpertExclusion, (pool.id, expert.id))
    if row is None:
        raise Conflict(f"{expert.email} is not excluded from pool {pool.name!r}")
    db.delete(row)
    db.add(ExclusionEvent(pool_id=pool.id, expert_id=expert.id, action="include", reason=reason, actor=actor,
                          created_at=utcnow()))
    db.flush()


def exclusions(db: Session, pool: Pool) -> list[ExpertExclusion]:
    return list(db.scalars(select(ExpertExclusion).where(ExpertExclusion.pool_id == pool.id)
                           .order_by(ExpertExclusion.expert_id)))


def history(db: Session, pool: Pool, *, emails: bool = True) -> list[dict[str, Any]]:
    rows = db.execute(select(ExclusionEvent, User.email).join(User, User.id == ExclusionEvent.expert_id)
                      .where(ExclusionEvent.pool_id == pool.id).order_by(ExclusionEvent.id)).all()
    return [{"expert": email if emails else pseudonym(e.expert_id), "action": e.action, "reason": e.reason,
             "by": e.actor if emails else "admin", "at": e.created_at.isoformat(timespec="seconds") + "Z"}
            for e, email in rows]


def excluded_counts(db: Session, pool: Pool, category: str, models: Sequence[str], *,
                    criterion: str | None = None) -> tuple[NDArray[np.int64], dict[str, Any]]:
    """The excluded experts' (K, K, 4) counts, to subtract from the count cells, and the provenance.

    One GROUP BY over the excluded experts' judgment rows (gold answers are in
    no cell, so they are left out here too).
    """
    index = {name: k for k, name in enumerate(models)}
    choice_index = {c: k for k, c in enumerate(ranking.CHOICES)}
    counts = np.zeros((len(models), len(models), len(ranking.CHOICES)), dtype=np.int64)
    rows = exclusions(db, pool)
    if not rows:
        return counts, {"judgments": 0, "experts": []}
    ids = [r.expert_id for r in rows]
    names = {i: n for i, n in db.execute(select(Model.id, Model.name).where(Model.pool_id == pool.id))}
    if criterion is None:
        query = (select(Judgment.expert_id, Judgment.left_model_id, Judgment.right_model_id, Judgment.choice,
                        func.count())
                 .where(Judgment.pool_id == pool.id, Judgment.expert_id.in_(ids), Judgment.gold_pair_id.is_(None))
                 .group_by(Judgment.expert_id, Judgment.left_model_id, Judgment.right_model_id, Judgment.choice))
    else:  # a rubric criterion's leaderboard: their answers to it leave the fit
        c = JudgmentCriterion
        query = (select(Judgment.expert_id, c.left_model_id, c.right_model_id, c.answer, func.count())
                 .join(Judgment, Judgment.id == c.judgment_id)
                 .where(c.pool_id == pool.id, c.criterion == criterion, Judgment.expert_id.in_(ids))
                 .group_by(Judgment.expert_id, c.left_model_id, c.right_model_id, c.answer))
    if category != ALL:
        query = query.where(Judgment.category == category)
    per_expert = dict.fromkeys(ids, 0)
    for expert_id, left, right, choice, n in db.execute(query):
        i, j = index.get(names.get(left, "")), index.get(names.get(right, ""))
        if i is not None and j is not None:
            value = choice.value if criterion is None else CRITERION_ANSWER_CHOICE[choice]
            counts[i, j, choice_index[value]] += int(n)
            per_expert[expert_id] += int(n)
    provenance = {
        "judgments": int(counts.sum()),
        "experts": [{"expert": pseudonym(r.expert_id), "judgments": per_expert[r.expert_id], "reason": r.reason,
                     "excluded_at": r.excluded_at.isoformat(timespec="seconds") + "Z"} for r in rows],
    }
    return counts, provenance


# ----- figures -------------------------------------------------------------------

@dataclass(frozen=True)
class PoolQuality:
    pool: str
    experts: list[dict[str, Any]]  # one row per expert: email, figures, flags, excluded
    agreement: quality.PoolAgreement
    history: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {"pool": self.pool, "agreement": self.agreement.as_dict(), "experts": self.experts,
                "exclusion_history": self.history}


def _fit_scores(db: Session, pool: Pool) -> dict[int, float]:
    """model id -> the current all-categories fit's log-strength (excluded experts left out)."""
    from .leaderboards import cell_counts, pool_models

    models, counts = cell_counts(db, pool, ALL)
    minus, _ = excluded_counts(db, pool, ALL, models)
    counts = counts - minus
    if len(models) < 2 or counts.sum() == 0:
        return {}
    fit = ranking.fit(counts, ties="half", bootstrap=0)
    ids = [model_id for model_id, _name in pool_models(db, pool, ALL)]
    return {model_id: float(s) for model_id, s in zip(ids, fit.scores)}


def rated(db: Session, pool: Pool, expert_id: int | None = None, *,
          around: int | None = None) -> list[quality.Rated]:
    """The pool's judgments (or one expert's) as plain records for :mod:`pairwise.quality`.

    ``around``: one expert's judgments and, of everybody else's, only those of
    the pairs that expert judged too: all that expert's own figures need
    (overlap agreement included), without reading the whole pool.
    """
    scores = _fit_scores(db, pool)
    query = (select(Judgment.expert_id, Judgment.choice, Judgment.seconds, Judgment.rationale,
                    Judgment.gold_pair_id, Judgment.left_model_id, Judgment.right_model_id,
                    Assignment.gold_side, Assignment.item_id, Assignment.left_output_id, Assignment.right_output_id)
             .join(Assignment, Assignment.id == Judgment.assignment_id)
             .where(Judgment.pool_id == pool.id).order_by(Judgment.id))
    if expert_id is not None:
        query = query.where(Judgment.expert_id == expert_id)
    if around is not None:
        theirs = (select(Judgment.low_output_id, Judgment.high_output_id)
                  .where(Judgment.pool_id == pool.id, Judgment.expert_id == around,
                         Judgment.low_output_id.is_not(None)))
        query = query.where(or_(Judgment.expert_id == around,
                                tuple_(Judgment.low_output_id, Judgment.high_output_id).in_(theirs)))
    out = []
    for (expert, choice, seconds, rationale, gold_id, left_model, right_model, gold_side, item,
         left_output, right_output) in db.execute(query):
        if gold_id is not None:
            out.append(quality.Rated(expert=expert, choice=choice.value, seconds=seconds, rationale=rationale,
                                     gold_better=gold_side))
            continue
        p_left = None
        if left_model in scores and right_model in scores:
            p_left = 1 / (1 + math.exp(scores[right_model] - scores[left_model]))
        out.append(quality.Rated(expert=expert, choice=choice.value, seconds=seconds, rationale=rationale,
                                 unit=(item, min(left_output, right_output), max(left_output, right_output)),
                                 flipped=left_output > right_output, p_left=p_left))
    return out


def pool_quality(db: Session, pool: Pool, *, emails: bool = True) -> PoolQuality:
    """Per-expert figures, flags and exclusion state, and the pool's agreement.

    ``emails`` False (researchers): experts appear only as pseudonyms, as in the exports.
    """
    rows = rated(db, pool)
    figures = quality.assess(rows)
    excluded = {r.expert_id: r for r in exclusions(db, pool)}
    ids = set(figures) | set(excluded)
    address = {i: e for i, e in db.execute(select(User.id, User.email).where(User.id.in_(ids)))} if ids else {}
    experts = []
    for expert_id in sorted(ids, key=lambda i: address.get(i, "") if emails else i):
        f = figures.get(expert_id) or quality.ExpertFigures(expert=expert_id)
        exclusion = excluded.get(expert_id)
        experts.append({"email": address.get(expert_id) if emails else None, "expert": pseudonym(expert_id),
                        **f.as_dict(),
                        "excluded": exclusion is not None,
                        "exclusion_reason": exclusion.reason if exclusion else None})
    return PoolQuality(pool=pool.name, experts=experts, agreement=quality.agreement(rows),
                       history=history(db, pool, emails=emails))


def own_figures(db: Session, expert: User) -> list[dict[str, Any]]:
    """An expert's own calibration figures per pool they judged in: theirs, nobody else's."""
    from .schema import Pool as PoolRow

    pool_ids = list(db.scalars(select(Judgment.pool_id).where(Judgment.expert_id == expert.id).distinct()))
    out = []
    for pool in db.scalars(select(PoolRow).where(PoolRow.id.in_(pool_ids)).order_by(PoolRow.name)):
        # Overlap agreement needs the other experts' answers on the shared pairs (and
        # only those); only the expert's own figures leave this function.
        rows = rated(db, pool, around=expert.id)
        mine = quality.assess(rows).get(expert.id)
        if mine is None:
            continue
        d = mine.as_dict()
        out.append({"pool": pool.name, "judgments": d["judgments"], "gold_judged": d["gold_judged"],
                    "gold_correct": d["gold_correct"], "gold_accuracy": d["gold_accuracy"],
                    "gold_ci_low": d["gold_ci_low"], "gold_ci_high": d["gold_ci_high"],
                    "overlap_judged": d["overlap_judged"], "overlap_agreement": d["overlap_agreement"],
                    "fit_agreement": d["fit_agreement"], "fit_expected": d["fit_expected"],
                    "median_seconds": d["median_seconds"]})
    return out


CSV_COLUMNS = ("email", "expert", "judgments", "gold_judged", "gold_correct", "gold_accuracy", "gold_ci_low",
               "gold_ci_high", "overlap_judged", "overlap_agreement", "overlap_kappa", "fit_judged", "fit_agreed",
               "fit_agreement", "fit_expected", "left", "right", "left_rate", "left_p_value", "median_seconds",
               "median_rationale_chars", "repeated_rationales", "repeated_share", "careless_lr", "side_lr",
               "flags", "excluded", "exclusion_reason")


def to_csv(report: PoolQuality) -> str:
    import io

    from . import csv_safe

    buffer = io.StringIO()
    writer = csv_safe.writer(buffer, lineterminator="\n")  # formulas neutralised (emails, reasons)
    writer.writerow(CSV_COLUMNS)
    for row in report.experts:
        flat = {**row, "flags": "; ".join(f"{f['kind']}: {f['evidence']}" for f in row["flags"])}
        writer.writerow(["" if flat[c] is None else flat[c] for c in CSV_COLUMNS])
    return buffer.getvalue()


def to_table(report: PoolQuality) -> str:
    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.0f}%"

    a = report.agreement
    lines = [f"{report.pool}: {len(report.experts)} experts; overlap pairs {a.units}, "
             f"Krippendorff's alpha {'-' if a.alpha is None else f'{a.alpha:.2f}'}, "
             f"mean Cohen's kappa {'-' if a.kappa is None else f'{a.kappa:.2f}'}",
             f"{'expert':<32} {'judg.':>5} {'gold':>9} {'overlap':>7} {'fit':>9} {'left':>5} {'sec':>5} "
             f"{'rep.':>5}  flags"]
    for r in report.experts:
        gold = f"{r['gold_correct']}/{r['gold_judged']}" if r["gold_judged"] else "-"
        fit = f"{pct(r['fit_agreement'])}/{pct(r['fit_expected'])}"
        flags = ", ".join(f["kind"] for f in r["flags"]) + (" [excluded]" if r["excluded"] else "")
        seconds = "-" if r["median_seconds"] is None else f"{r['median_seconds']:.0f}"
        lines.append(f"{(r['email'] or r['expert'])[:32]:<32} {r['judgments']:>5} {gold:>9} "
                     f"{pct(r['overlap_agreement']):>7} {fit:>9} {pct(r['left_rate']):>5} {seconds:>5} "
                     f"{pct(r['repeated_share']):>5}  {flags}")
    for r in report.experts:
        for f in r["flags"]:
            lines.append(f"  {r['email']}: {f['kind']}: {f['evidence']}")
    return "\n".join(lines) + "\n"

