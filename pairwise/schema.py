"""The tables, as SQLAlchemy 2 typed classes.

Not called ``models.py``: in this product a *model* is the AI system being
ranked (class :class:`Model`).
"""

from __future__ import annotations

import enum
import random
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Enum,
    Boolean,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import Base


def utcnow() -> datetime:
    """Naive UTC, the same on SQLite and PostgreSQL."""
    return datetime.now(UTC).replace(tzinfo=None)


class Role(enum.StrEnum):
    expert = "expert"
    researcher = "researcher"
    admin = "admin"


class Choice(enum.StrEnum):
    left = "left"
    right = "right"
    tie = "tie"
    both_bad = "both_bad"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as short strings with a CHECK constraint: no PostgreSQL enum type
    # to migrate when a value is added.
    return Enum(cls, name=name, native_enum=False, create_constraint=True, length=20,
                values_callable=lambda e: [m.value for m in e])


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    # Comma-separated category slugs an expert may judge; None: all categories.
    categories: Mapped[str | None] = mapped_column(String(1000))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Part of every session's login id: logout, a password change and
    # deactivation add one, which ends every session signed before (cookies
    # are signed, not stored, so this is how the server takes one back).
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")

    @property
    def category_list(self) -> list[str] | None:
        if not self.categories:
            return None
        return [c for c in self.categories.split(",") if c]

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_generation}"


class ApiToken(Base):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    # sha256 of the token; the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()


class Pool(Base):
    __tablename__ = "pool"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    rationale_min_chars: Mapped[int] = mapped_column(default=20)
    scheduler: Mapped[str] = mapped_column(String(20), default="active")
    overlap_share: Mapped[float] = mapped_column(Float, default=0.0)
    gold_share: Mapped[float] = mapped_column(Float, default=0.0)
    is_open: Mapped[bool] = mapped_column(default=True)
    # When set, items must use one of these category slugs.
    allowed_categories: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Resample every output to its item's source size on import, so that
    # output dimensions cannot tell models apart (see imaging.normalise).
    resample_outputs: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The pool's artifact vocabulary (slug -> label); None: the built-in list.
    tags: Mapped[dict[str, str] | None] = mapped_column(JSON)
    # Rubric criteria answered per pair: [{"name", "label", "required"}].
    criteria: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)

    def settings(self) -> dict[str, Any]:
        return {
            "rationale_min_chars": self.rationale_min_chars,
            "scheduler": self.scheduler,
            "overlap_share": self.overlap_share,
            "gold_share": self.gold_share,
            "open": self.is_open,
            "categories": self.allowed_categories,
            "resample_outputs": self.resample_outputs,
            "tags": self.vocabulary,
            "criteria": list(self.criteria or []),
        }

    @property
    def vocabulary(self) -> dict[str, str]:
        """The artifact tags experts may put on this pool's outputs."""
        from .vocabulary import TAGS
        return dict(self.tags) if self.tags else dict(TAGS)


class Image(Base):
    """A normalised image in the content-addressed store."""

    __tablename__ = "image"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    width: Mapped[int]
    height: Mapped[int]
    byte_size: Mapped[int]


class Item(Base):
    __tablename__ = "item"
    __table_args__ = (
        UniqueConstraint("pool_id", "external_id"),
        Index("ix_item_pool_category", "pool_id", "category"),
        # Items of a category in a fixed random order: the active scheduler
        # starts at a random key and takes the next item that fits.
        Index("ix_item_pool_category_pick", "pool_id", "category", "pick_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("pool.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(200))  # the seeding script's id
    category: Mapped[str] = mapped_column(String(64))
    instruction: Mapped[str] = mapped_column(Text)
    source_image_id: Mapped[int] = mapped_column(ForeignKey("image.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    pick_key: Mapped[float] = mapped_column(Float, default=random.random, server_default=text("0"))

    source_image: Mapped[Image] = relationship()
    outputs: Mapped[list[Output]] = relationship(back_populates="item")


class Model(Base):
    """An AI editing system under test, named per pool."""

    __tablename__ = "model"
    __table_args__ = (UniqueConstraint("pool_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("pool.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    # Retired models get no new assignments; their judgments stay in every fit.
    retired_at: Mapped[datetime | None] = mapped_column(default=None)


class Output(Base):
    __tablename__ = "output"
    __table_args__ = (UniqueConstraint("item_id", "model_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id", ondelete="CASCADE"))
    model_id: Mapped[int] = mapped_column(ForeignKey("model.id", ondelete="CASCADE"), index=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("image.id"))

    item: Mapped[Item] = relationship(back_populates="outputs")
    model: Mapped[Model] = relationship()
    image: Mapped[Image] = relationship()


class Assignment(Base):
    """A pair of outputs of one item issued to one expert, positions fixed at issue."""

    __tablename__ = "assignment"
    __table_args__ = (
        Index("ix_assignment_expert_pool", "expert_id", "pool_id"),
        # What one expert was given on an item (overlap pairs, skipped pairs).
        Index("ix_assignment_expert_item", "expert_id", "item_id"),
        # One open (issued, unanswered, unexpired) assignment per expert and
        # pool: a double click, a second tab or a retry gets the same pair.
        Index("uq_assignment_open_expert_pool", "expert_id", "pool_id", unique=True,
              sqlite_where=text("is_open = 1"), postgresql_where=text("is_open")),
        # The pairs in flight in a pool, for the active scheduler.
        Index("ix_assignment_open_pool", "pool_id", sqlite_where=text("is_open = 1"),
              postgresql_where=text("is_open")),
        # The pairs reserved ahead in a pool: in flight too, for the active scheduler.
        Index("ix_assignment_queued_pool", "pool_id", sqlite_where=text("queued = 1"),
              postgresql_where=text("queued")),
        # At most one pair issued ahead (queued) per expert and pool.
        Index("uq_assignment_queued_expert_pool", "expert_id", "pool_id", unique=True,
              sqlite_where=text("queued = 1"), postgresql_where=text("queued")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("pool.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id", ondelete="CASCADE"))
    expert_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    left_output_id: Mapped[int] = mapped_column(ForeignKey("output.id", ondelete="CASCADE"))
    right_output_id: Mapped[int] = mapped_column(ForeignKey("output.id", ondelete="CASCADE"))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    # Gold pairs (issue 7): the pair's known answer, and the side the better
    # output was put on. A sentinel shows its degraded copy on the other side.
    gold_pair_id: Mapped[int | None] = mapped_column(ForeignKey("gold_pair.id", ondelete="CASCADE"))
    gold_side: Mapped[str | None] = mapped_column(String(5))

    item: Mapped[Item] = relationship()
    left_output: Mapped[Output] = relationship(foreign_keys=[left_output_id])
    right_output: Mapped[Output] = relationship(foreign_keys=[right_output_id])
    # True from issue until it is judged or found expired (closed before issuing).
    is_open: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Issued ahead (judging.queue_next): reserved for the expert, who already
    # sees it, while the open pair is being answered; opened (issued_at and
    # expires_at reset) when the expert asks for the next pair. Never open too.
    queued: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    judgment: Mapped[Judgment | None] = relationship(back_populates="assignment")
    gold_pair: Mapped[GoldPair | None] = relationship()

    def shown_image(self, side: str) -> Image:
        """The image on one side: the output's, or a sentinel's degraded copy."""
        output = self.left_output if side == "left" else self.right_output
        gold = self.gold_pair
        if gold is not None and gold.worse_image is not None and self.gold_side != side:
            return gold.worse_image
        return output.image


class Judgment(Base):
    """An expert's answer to an assignment.

    Pool, category, expert and the two models are copied from the assignment
    so that a leaderboard is one GROUP BY over this table alone.
    """

    __tablename__ = "judgment"
    __table_args__ = (
        Index("ix_judgment_cells", "pool_id", "category", "left_model_id", "right_model_id", "choice"),
        Index("ix_judgment_pool_recent", "pool_id", "id"),  # a pool's latest judgments, newest first
        # No expert judges the same (item, two outputs) twice, whatever the sides.
        Index("uq_judgment_expert_pair", "expert_id", "low_output_id", "high_output_id", unique=True),
        # The judgment browser's filters, each ending in id for keyset pages.
        Index("ix_judgment_browse_category", "pool_id", "category", "id"),
        Index("ix_judgment_browse_left", "pool_id", "left_model_id", "id"),
        Index("ix_judgment_browse_right", "pool_id", "right_model_id", "id"),
        Index("ix_judgment_browse_pair", "pool_id", "left_model_id", "right_model_id", "id"),
        Index("ix_judgment_browse_expert", "pool_id", "expert_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignment.id", ondelete="CASCADE"), unique=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("pool.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(String(64))
    expert_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    left_model_id: Mapped[int] = mapped_column(ForeignKey("model.id"))
    right_model_id: Mapped[int] = mapped_column(ForeignKey("model.id"))
    choice: Mapped[Choice] = mapped_column(_enum(Choice, "choice"))
    rationale: Mapped[str] = mapped_column(Text)
    tags_left: Mapped[list[str]] = mapped_column(JSON, default=list)
    tags_right: Mapped[list[str]] = mapped_column(JSON, default=list)
    seconds: Mapped[float] = mapped_column(Float)  # from issue to submission, server clock
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The judged outputs, smaller id first (NULL only on duplicates judged
    # before the unique index existed).
    low_output_id: Mapped[int | None] = mapped_column()
    high_output_id: Mapped[int | None] = mapped_column()
    # The client's Idempotency-Key header, if it sent one, and the sha256 of the
    # request body: a retry whose response was lost is recognised (submissions.py).
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_sha256: Mapped[str | None] = mapped_column(String(64))
    # "Would not ship" per side; both_bad sets both.
    unacceptable_left: Mapped[bool] = mapped_column(default=False, server_default=false())
    unacceptable_right: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Rubric answers: criterion name -> left | right | same (answered ones only).
    criteria: Mapped[dict[str, str] | None] = mapped_column(JSON)
    # Set on answers to gold pairs: they measure the expert and never enter a count cell.
    gold_pair_id: Mapped[int | None] = mapped_column(ForeignKey("gold_pair.id", ondelete="CASCADE"))
    # The expert found the case ambiguous: signal for researchers, not noise.
    unsure: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Tags pinned to points: [{"side", "tag", "x", "y"}], x and y in 0..1 of the image.
    pins: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)

    assignment: Mapped[Assignment] = relationship(back_populates="judgment")


class JudgmentCell(Base):
    """How many judgments fell in each (category, left model, right model, choice) cell.

    Kept up to date in the same transaction as every judgment, so a leaderboard
    reads K x K x 4 counts per category instead of scanning judgment rows.
    Derived data: ``pairwise db recount`` rebuilds it from the judgments.
    """

    __tablename__ = "judgment_cell"

    pool_id: Mapped[int] = mapped_column(ForeignKey("pool.id", ondelete="CASCADE"), primary_key=True)
    category: Mapped[str] = mapped_column(String(64), primary_key=True)
    left_model_id: Mapped[int] = mapped_column(ForeignKey("model.id", ondelete="CASCADE"), primary_key=True)
    right_model_id: Mapped[int] = mapped_column(ForeignKey("model.id", ondelete="CASCADE"), primary_key=True)
    choice: Mapped[Choice] = mapped_column(_enum(Choice, "choice"), primary_key=True)
    n: Mapped[int] = mapped_column(default=0)


class LeaderboardCache(Base):
    """A fitted leaderboard, keyed by a digest of its counts and fit options.

    New judgments change the counts and so the key: an entry is never stale,
    only unused. Shared by every worker through the database.
    """

    __tablename__ = "leaderboard_cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("pool.id", ondelete="CASCADE"), index=True)
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SchedulerPosterior(Base):
    """The active scheduler's Bradley-Terry posterior for one pool and category.

    A Laplace approximation (mean and covariance per model), refitted from the
    count cells after every few judgments or seconds and shared by every
    worker through the database; requests only read it.
    """

    __tablename__ = "scheduler_posterior"

    pool_id: Mapped[int] = mapped_column(ForeignKey("pool.id", ondelete="CASCADE"), primary_key=True)
    category: Mapped[str] = mapped_column(String(64), primary_key=True)
    model_ids: Mapped[list[int]] = mapped_column(JSON)
    mean: Mapped[list[float]] = mapped_column(JSON)
    cov: Mapped[list[list[float]]] = mapped_column(JSON)
    pair_counts: Mapped[list[list[int]]] = mapped_column(JSON)  # judgments per model pair, both orders
    # wins[i][j]: how often model i beat model j (ties half each way), for the
    # incremental refit; NULL in rows fitted before it existed (refitted in full).
    # Deferred: read at a refit only, not by every request.
    wins: Mapped[list[list[float]] | None] = mapped_column(JSON, nullable=True, deferred=True)
    judgments: Mapped[int]  # judgments of the category the fit saw
    last_judgment_id: Mapped[int]  # the pool's newest judgment when it was fitted
    refreshed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # New at every refit (random): a worker reads the matrices again only when it changes.
    version: Mapped[str | None] = mapped_column(String(32), nullable=True)


# One key names one submission per expert (submissions.py).
Index("uq_judgment_expert_idempotency_key", Judgment.expert_id, Judgment.idempotency_key, unique=True)


class AuditEvent(Base):
    """One admin action (accounts, tokens, pool changes, exclusions): who, what, on what.

    Written in the same transaction as the action (audit.record), so the log
    has an entry exactly when the change happened. Actors and targets are kept
    as text, so the entry outlives the account or pool it names.
    """

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(300))  # an account's email, or "cli:<os user>"
    action: Mapped[str] = mapped_column(String(64), index=True)  # e.g. "user.add", "pool.update"
    target: Mapped[str] = mapped_column(String(300))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ImportJob(Base):
    """A bulk import (manifest + archive) a seeding script can poll."""

    __tablename__ = "import_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_name: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))  # queued | running | done | failed
    # While running: unpacking | images | saving (see pairwise/bulk_import.py)
    stage: Mapped[str | None] = mapped_column(String(20), default=None)
    items_total: Mapped[int] = mapped_column(default=0)
    items_done: Mapped[int] = mapped_column(default=0)
    images_total: Mapped[int] = mapped_column(default=0, server_default="0")
    images_done: Mapped[int] = mapped_column(default=0, server_default="0")
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class JudgmentMark(Base):
    """One mark on one side of a judgment: an artifact tag, or ``unacceptable``.

    Copied from the judgment's tags and unacceptable flags in the same
    transaction, with the marked model and category, so the judgment browser
    filters by tag through an index (rates come from :class:`MarkCell`).
    """

    __tablename__ = "judgment_mark"
    __table_args__ = (Index("ix_judgment_mark_browse", "pool_id", "mark", "judgment_id"),)

    judgment_id: Mapped[int] = mapped_column(ForeignKey("judgment.id", ondelete="CASCADE"), primary_key=True)
    side: Mapped[str] = mapped_column(String(5), primary_key=True)  # left | right
    mark: Mapped[str] = mapped_column(String(64), primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("pool.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(String(64))
    model_id: Mapped[int] = mapped_column(ForeignKey("model.id", ondelete="CASCADE"))


class JudgmentCriterion(Base):
    """One rubric answer of one judgment (left | right | same), with the pair it compares."""

    __tablename__ = "judgment_criterion"
    __table_args__ = (Index("ix_judgment_criterion_browse", "pool_id", "criterion", "answer", "judgment_id"),)

    judgment_id: Mapped[int] = mapped_column(ForeignKey("judgment.id", ondelete="CASCADE"), primary_key=True)
    criterion: Mapped[str] = mapped_column(String(40), primary_key=True)
    answer: Mapped[str] = mapped_column(String(8))
    pool_id: Mapped[int] = mapped_column(ForeignKey("pool.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(String(64))
    left_model_id: Mapped[int] = mapped_column(ForeignKey("model.id", ondelete="CASCADE"))
    right_model_id: Mapped[int] = mapped_column(ForeignKey("model.id", ondelete="CASCADE"))


class MarkCell(Base):
    """How many judgments put each mark on each model's outputs, per category.

    Kept in the judgment's transaction like :class:`JudgmentCell`, so artifact
    and unacceptable rates read a few hundred counts, never the marks.
    """

    __tablename__ = "mark_cell"

    pool_id: Mapped[int] = mapped_column(ForeignKey("pool.id", ondelete="CASCADE"), primary_key=True)
    category: Mapped[str] = mapped_column(String(64), primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("model.id", ondelete="CASCADE"), primary_key=True)
    mark: Mapped[str] = mapped_column(String(64), primary_key=True)
    n: Mapped[int] = mapped_column(default=0)


class CriterionCell(Base):
    """How many answers fell in each (category, criterion, left, right, answer) cell."""

    __tablename__ = "criterion_cell"

    pool_id: Mapped[int] = mapped_column(ForeignKey("pool.id", ondelete="CASCADE"), primary_key=True)
    criterion: Mapped[str] = mapped_column(String(40), primary_key=True)
    category: Mapped[str] = mapped_column(String(64), primary_key=True)
    left_model_id: Mapped[int] = mapped_column(ForeignKey("model.id", ondelete="CASCADE"), primary_key=True)
    right_model_id: Mapped[int] = mapped_column(ForeignKey("model.id", ondelete="CASCADE"), primary_key=True)
    answer: Mapped[str] = mapped_column(String(8), primary_key=True)
    n: Mapped[int] = mapped_column(default=0)


class GoldPair(Base):
    """A pair with a known answer (issue 7), issued at the pool's ``gold_share``.

    ``designated``: two real outputs of an item, named by an admin (better,
    worse). ``sentinel``: an output against a visibly degraded copy of itself
    (``worse_image``), made at seeding; the copy belongs to no model, so it can
    never reach a leaderboard.
    """

    __tablename__ = "gold_pair"
    __table_args__ = (Index("ix_gold_pair_pool_item", "pool_id", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("pool.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # designated | sentinel
    better_output_id: Mapped[int] = mapped_column(ForeignKey("output.id", ondelete="CASCADE"))
    worse_output_id: Mapped[int | None] = mapped_column(ForeignKey("output.id", ondelete="CASCADE"))
    worse_image_id: Mapped[int | None] = mapped_column(ForeignKey("image.id"))
    degradation: Mapped[str | None] = mapped_column(String(40))  # blur, banding, colour_cast, halo
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    item: Mapped[Item] = relationship()
    better_output: Mapped[Output] = relationship(foreign_keys=[better_output_id])
    worse_output: Mapped[Output | None] = relationship(foreign_keys=[worse_output_id])
    worse_image: Mapped[Image | None] = relationship()


class ExpertExclusion(Base):
    """An expert whose judgments in a pool are kept out of every fit (issue 7)."""

    __tablename__ = "expert_exclusion"

    pool_id: Mapped[int] = mapped_column(ForeignKey("pool.id", ondelete="CASCADE"), primary_key=True)
    expert_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    excluded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    excluded_at: Mapped[datetime] = mapped_column(default=utcnow)

    expert: Mapped[User] = relationship(foreign_keys=[expert_id])


class ExclusionEvent(Base):
    """Every exclude / include, kept for good: who, when, why."""

    __tablename__ = "exclusion_event"
    __table_args__ = (Index("ix_exclusion_event_pool", "pool_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("pool.id", ondelete="CASCADE"))
    expert_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(10))  # exclude | include
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(254))  # email (or "cli") of who did it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoginFailure(Base):
    """A failed login, kept for the throttling window.

    One row per failure and key: the sha256 of ``account:<email>`` and of
    ``address:<client ip>``. In the database, so every gunicorn worker counts
    the same failures.
    """

    __tablename__ = "login_failure"
    __table_args__ = (Index("ix_login_failure_key_created", "key", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Skip(Base):
    """An assignment the expert declined, with the reason: not a judgment.

    Skips flag their item for admins (a broken image, an unclear instruction)
    and are exported beside the judgments.
    """

    __tablename__ = "skip"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignment.id", ondelete="CASCADE"), unique=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("pool.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id", ondelete="CASCADE"))
    expert_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ImageStat(Base):
    """Style statistics of one stored image, for style control (computed lazily or by a backfill)."""

    __tablename__ = "image_stat"

    image_id: Mapped[int] = mapped_column(ForeignKey("image.id", ondelete="CASCADE"), primary_key=True)
    luminance: Mapped[float]
    saturation: Mapped[float]
    sharpness: Mapped[float]
    megapixels: Mapped[float]
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
