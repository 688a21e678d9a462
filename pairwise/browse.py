"""Find judgments by what researchers ask about (operations: read only).

Filters come from query-string arguments, are checked against the pool (an
unknown model, tag, criterion or expert is a one-line :class:`Invalid`) and
turn into WHERE clauses over ``judgment``, shared by the judgment browser page
and the filtered CSV/JSONL downloads, so a download holds exactly the rows the
page lists. Pages are keyset pages (``id < before``, newest first): the cost
of a page does not grow with how deep it is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from .errors import Invalid
from .manifest import CONTROL
from .pools import pool_categories
from .rubric import ANSWERS, UNACCEPTABLE
from .schema import (
    Assignment,
    Choice,
    CriterionCell,
    Image,
    Item,
    Judgment,
    JudgmentCriterion,
    JudgmentMark,
    MarkCell,
    Model,
    Output,
    Pool,
    User,
)

FILTERS = ("category", "model", "versus", "choice", "tag", "criterion", "answer", "expert", "q")
PAGE_ARGS = ("before", "limit")
DEFAULT_LIMIT = 25
MAX_LIMIT = 100
MAX_QUERY = 200
PSEUDONYM = re.compile(r"^expert-([0-9]{1,12})$")
IN_LIST_MAX = 5000  # matching marks/answers up to which a filter lists judgment ids (see _linked)


def pseudonym(expert_id: int) -> str:
    """How exports and the browser name an expert: researchers compare raters, not emails."""
    return f"expert-{expert_id}"


@dataclass(frozen=True)
class Filters:
    """Checked filters: the arguments as given (for links) and the WHERE clauses."""

    pool: Pool
    args: dict[str, str] = field(default_factory=dict)
    clauses: tuple[ColumnElement[bool], ...] = ()

    def query_args(self) -> dict[str, str]:
        return dict(self.args)


def _one(args: Mapping[str, Any], name: str) -> str | None:
    getlist = getattr(args, "getlist", None)
    values = getlist(name) if getlist else ([args[name]] if name in args else [])
    values = [v for v in values if v != ""]
    if len(values) > 1:
        raise Invalid(f"{name}: give it once")
    return values[0] if values else None


def parse_filters(db: Session, pool: Pool, args: Mapping[str, Any],
                  extra: tuple[str, ...] = PAGE_ARGS) -> Filters:
    """Check the filter arguments against the pool; raise Invalid on the first bad one."""
    unknown = sorted(set(args) - set(FILTERS) - set(extra))
    if unknown:
        raise Invalid(f"{unknown[0][:40]}: unknown filter (known: {', '.join(FILTERS)})")
    given = {name: value for name in FILTERS if (value := _one(args, name)) is not None}
    clauses: list[ColumnElement[bool]] = [Judgment.pool_id == pool.id]

    if "category" in given and given["category"] != "all":
        if given["category"] not in pool_categories(db, pool):
            raise Invalid(f"category: pool {pool.name!r} has no category {given['category'][:64]!r}")
        clauses.append(Judgment.category == given["category"])

    model_id = _model_id(db, pool, given["model"], "model") if "model" in given else None
    if "versus" in given:
        if model_id is None:
            raise Invalid("versus: give model too (a pair is model versus another model)")
        other = _model_id(db, pool, given["versus"], "versus")
        if other == model_id:
            raise Invalid("versus: a model is never compared with itself")
        clauses.append(or_(and_(Judgment.left_model_id == model_id, Judgment.right_model_id == other),
                           and_(Judgment.left_model_id == other, Judgment.right_model_id == model_id)))
    elif model_id is not None and "tag" not in given:  # with a tag, the tag's marks name the model
        clauses.append(or_(Judgment.left_model_id == model_id, Judgment.right_model_id == model_id))

    if "choice" in given:
        try:
            clauses.append(Judgment.choice == Choice(given["choice"]))
        except ValueError:
            raise Invalid("choice: left, right, tie or both_bad") from None

    if "tag" in given:
        tag = given["tag"]
        if tag not in pool.vocabulary and tag != UNACCEPTABLE:
            raise Invalid(f"tag: unknown tag {tag[:64]!r} (this pool's: {', '.join(pool.vocabulary)}, "
                          f"{UNACCEPTABLE})")
        mark = JudgmentMark
        where = [mark.pool_id == pool.id, mark.mark == tag]
        cells = [MarkCell.pool_id == pool.id, MarkCell.mark == tag]
        if model_id is not None:  # "model M, tag T": T on M's output, not on its opponent's
            where.append(mark.model_id == model_id)
            cells.append(MarkCell.model_id == model_id)
        matches = db.scalar(select(func.coalesce(func.sum(MarkCell.n), 0)).where(*cells)) or 0
        clauses.append(_linked(mark, where, matches))

    if "answer" in given and "criterion" not in given:
        raise Invalid("answer: give criterion too")
    if "criterion" in given:
        names = [c["name"] for c in pool.criteria or []]
        if given["criterion"] not in names:
            raise Invalid(f"criterion: pool {pool.name!r} has no criterion {given['criterion'][:40]!r} "
                          f"(its criteria: {', '.join(names) or 'none'})")
        answer = JudgmentCriterion
        where = [answer.pool_id == pool.id, answer.criterion == given["criterion"]]
        cells = [CriterionCell.pool_id == pool.id, CriterionCell.criterion == given["criterion"]]
        if "answer" in given:
            if given["answer"] not in ANSWERS:
                raise Invalid("answer: left, right or same")
            where.append(answer.answer == given["answer"])
            cells.append(CriterionCell.answer == given["answer"])
        matches = db.scalar(select(func.coalesce(func.sum(CriterionCell.n), 0)).where(*cells)) or 0
        clauses.append(_linked(answer, where, matches))

    if "expert" in given:
        clauses.append(Judgment.expert_id == _expert_id(db, given["expert"]))

    if "q" in given:
        text = given["q"].strip()
        if len(text) > MAX_QUERY:
            raise Invalid(f"q: at most {MAX_QUERY} characters")
        if CONTROL.search(text):
            raise Invalid("q: contains a control character")
        if text:
            # autoescape: % and _ in the search text are matched literally, not as wildcards.
            clauses.append(Judgment.rationale.icontains(text, autoescape=True))
    return Filters(pool=pool, args=given, clauses=tuple(clauses))


def _linked(table: type[JudgmentMark] | type[JudgmentCriterion], where: list[ColumnElement[bool]],
            matches: int) -> ColumnElement[bool]:
    """Judgments with a matching mark or answer row, in the cheaper of two forms.

    The count cells say how many rows match. Few: list their judgment ids
    (an index range on the side table) and fetch those. Many: walk the newest
    judgments and probe the side table's primary key for each, which stops as
    soon as a page is full; listing would read every match first.
    """
    if matches <= IN_LIST_MAX:
        return Judgment.id.in_(select(table.judgment_id).where(*where))
    return exists().where(table.judgment_id == Judgment.id, *where)


def _model_id(db: Session, pool: Pool, name: str, arg: str) -> int:
    model_id = db.scalar(select(Model.id).where(Model.pool_id == pool.id, Model.name == name))
    if model_id is None:
        raise Invalid(f"{arg}: pool {pool.name!r} has no model {name[:80]!r}")
    return model_id


def _expert_id(db: Session, value: str) -> int:
    # Pseudonyms only: an email filter would let researchers map emails to pseudonyms.
    match = PSEUDONYM.match(value.strip())
    user_id = db.scalar(select(User.id).where(User.id == int(match.group(1)))) if match else None
    if user_id is None:
        raise Invalid(f"expert: no expert {value[:80]!r} (give expert-<n> as in the exports)")
    return user_id


def page_args(args: Mapping[str, Any]) -> tuple[int | None, int]:
    """(before, limit) of a keyset page."""
    before_text, limit_text = _one(args, "before"), _one(args, "limit")
    try:
        before = int(before_text) if before_text is not None else None
        limit = int(limit_text) if limit_text is not None else DEFAULT_LIMIT
    except ValueError:
        raise Invalid("before and limit: whole numbers") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit: 1 to {MAX_LIMIT}")
    return before, limit


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    next_before: int | None  # the cursor of the next (older) page, None on the last


def page(db: Session, filters: Filters, *, before: int | None = None, limit: int = DEFAULT_LIMIT) -> Page:
    """One page of matching judgments, newest first, with what the expert saw."""
    query = select(Judgment.id).where(*filters.clauses)
    if before is not None:
        query = query.where(Judgment.id < before)
    ids = list(db.scalars(query.order_by(Judgment.id.desc()).limit(limit + 1)))
    more = len(ids) > limit
    ids = ids[:limit]
    rows = details(db, ids)
    return Page(rows=rows, next_before=ids[-1] if more and ids else None)


def details(db: Session, ids: list[int]) -> list[dict[str, Any]]:
    """Everything the browser shows about these judgments, in the order given."""
    if not ids:
        return []
    left_model, right_model = aliased(Model), aliased(Model)
    left_out, right_out = aliased(Output), aliased(Output)
    left_img, right_img, source_img = aliased(Image), aliased(Image), aliased(Image)
    query = (select(Judgment, Item.external_id, Item.instruction, source_img.sha256,
                    left_model.name, right_model.name, left_img.sha256, right_img.sha256)
             .join(Assignment, Assignment.id == Judgment.assignment_id)
             .join(Item, Item.id == Assignment.item_id)
             .join(source_img, source_img.id == Item.source_image_id)
             .join(left_out, left_out.id == Assignment.left_output_id)
             .join(right_out, right_out.id == Assignment.right_output_id)
             .join(left_img, left_img.id == left_out.image_id)
             .join(right_img, right_img.id == right_out.image_id)
             .join(left_model, left_model.id == Judgment.left_model_id)
             .join(right_model, right_model.id == Judgment.right_model_id)
             .where(Judgment.id.in_(ids)))
    found = {}
    for j, item, instruction, source, model_left, model_right, image_left, image_right in db.execute(query):
        found[j.id] = {
            "id": j.id, "category": j.category, "item": item, "instruction": instruction,
            "source": source, "model_left": model_left, "model_right": model_right,
            "image_left": image_left, "image_right": image_right, "choice": j.choice.value,
            "tags_left": list(j.tags_left or []), "tags_right": list(j.tags_right or []),
            "unacceptable_left": j.unacceptable_left, "unacceptable_right": j.unacceptable_right,
            "criteria": dict(j.criteria or {}), "rationale": j.rationale,
            "expert": pseudonym(j.expert_id), "seconds": round(j.seconds, 1),
            "created_at": j.created_at.isoformat(timespec="seconds") + "Z",
        }
    return [found[i] for i in ids if i in found]
