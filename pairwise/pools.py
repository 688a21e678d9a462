"""Pool operations: create pools, add items with their images, seed manifests.

Operations take a session, flush and never commit: the caller (a view or a CLI
command) commits once, so a failure anywhere rolls everything back.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from . import rubric
from .errors import Conflict, Invalid, NotFound
from .manifest import CATEGORY, POOL_NAME, RESERVED_CATEGORIES, Manifest, ManifestError, check_item_fields
from .schema import Image, Item, JudgmentCell, Model, Output, Pool
from .image_import import (  # noqa: F401  (re-exported: the image half of an import lives there)
    PreparedItem,
    PreparedSentinel,
    StoredImage,
    Upload,
    _PrepareJob,
    _put,
    _run,
    _stored,
    prepare_images,
    put_image,
    put_normalised,
)
from .storage import ImageStore

SCHEDULERS = ("active", "uniform")
SETTINGS = ("rationale_min_chars", "scheduler", "overlap_share", "gold_share", "open", "categories",
            "resample_outputs", "tags", "criteria")


def check_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Validated pool settings, ready for :func:`apply_settings`."""
    if not isinstance(settings, Mapping):
        raise Invalid("settings: must be an object")
    clean: dict[str, Any] = {}
    for key, value in settings.items():
        if key not in SETTINGS:
            raise Invalid(f"settings: unknown setting {key!r} (known: {', '.join(SETTINGS)})")
        if key == "rationale_min_chars":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2000:
                raise Invalid("settings.rationale_min_chars: a whole number from 0 to 2000")
        elif key == "scheduler":
            if value not in SCHEDULERS:
                raise Invalid(f"settings.scheduler: one of {', '.join(SCHEDULERS)}")
        elif key in ("overlap_share", "gold_share"):
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise Invalid(f"settings.{key}: a number from 0 to 1")
            value = float(value)
        elif key in ("open", "resample_outputs"):
            if not isinstance(value, bool):
                raise Invalid(f"settings.{key}: true or false")
        elif key == "categories" and value is not None:
            if not isinstance(value, list) or not value or not all(
                    isinstance(c, str) and CATEGORY.fullmatch(c) and c not in RESERVED_CATEGORIES for c in value):
                raise Invalid("settings.categories: a non-empty list of lowercase category slugs "
                              "(not 'all'), or null")
            value = sorted(set(value))
        elif key == "tags":
            value = rubric.check_tags(value)
        elif key == "criteria":
            value = rubric.check_criteria(value)
        clean[key] = value
    return clean


def apply_settings(pool: Pool, settings: Mapping[str, Any]) -> None:
    for key, value in check_settings(settings).items():
        if key == "open":
            pool.is_open = value
        elif key == "categories":
            pool.allowed_categories = value
        else:
            setattr(pool, key, value)


# New pools: the active scheduler; they measure their experts with 5 % gold
# pairs and 10 % overlap (issue 7).
NEW_POOL_SETTINGS: dict[str, Any] = {"rationale_min_chars": 20, "scheduler": "active", "overlap_share": 0.1,
                                     "gold_share": 0.05, "open": True, "resample_outputs": False}


def create_pool(db: Session, name: str, settings: Mapping[str, Any] | None = None) -> Pool:
    _check_pool_name(name)
    if db.scalar(select(Pool).where(Pool.name == name)) is not None:
        raise Conflict(f"pool {name!r} already exists")
    pool = Pool(name=name, rationale_min_chars=NEW_POOL_SETTINGS["rationale_min_chars"],
                scheduler=NEW_POOL_SETTINGS["scheduler"], overlap_share=NEW_POOL_SETTINGS["overlap_share"],
                gold_share=NEW_POOL_SETTINGS["gold_share"], is_open=True, resample_outputs=False)
    apply_settings(pool, {} if settings is None else settings)
    db.add(pool)
    db.flush()
    return pool


def _check_pool_name(name: object) -> None:
    if not isinstance(name, str) or not POOL_NAME.fullmatch(name):
        raise Invalid(f"name: {name!r} must be a lowercase slug (letters, digits, '-', '_'; up to 100)")


_POOL_BY_NAME = select(Pool).where(Pool.name == bindparam("name"))  # built once: every request asks


def get_pool(db: Session, name: str) -> Pool:
    # A name no pool can have is not looked up (PostgreSQL refuses NUL bytes in queries).
    pool = db.scalar(_POOL_BY_NAME, {"name": name}) if POOL_NAME.fullmatch(name) else None
    if pool is None:
        raise NotFound(f"no pool {name!r}")
    return pool


def list_pools(db: Session) -> list[Pool]:
    return list(db.scalars(select(Pool).order_by(Pool.name)))


def pool_categories(db: Session, pool: Pool) -> list[str]:
    return list(db.scalars(select(Item.category).where(Item.pool_id == pool.id)
                           .distinct().order_by(Item.category)))


def require_category(db: Session, pool: Pool, category: str) -> str:
    """``category`` if the pool has it (or it is "all"), else Invalid."""
    if category != "all" and category not in pool_categories(db, pool):
        raise Invalid(f"category: pool {pool.name!r} has no category {category!r}")
    return category


def pool_counts(db: Session, pool: Pool) -> dict[str, int]:
    return {
        "items": db.scalar(select(func.count()).select_from(Item).where(Item.pool_id == pool.id)) or 0,
        "models": db.scalar(select(func.count()).select_from(Model).where(Model.pool_id == pool.id)) or 0,
        # From the count cells: a few hundred rows, not a scan of every judgment.
        "judgments": db.scalar(select(func.coalesce(func.sum(JudgmentCell.n), 0))
                               .where(JudgmentCell.pool_id == pool.id)) or 0,
    }


def store_image(db: Session, store: ImageStore, upload: Upload, *, max_pixels: int) -> Image:
    """Normalise, store and return the (new or known) row of one image (e.g. a gold sentinel's copy)."""
    return image_row(db, put_image(store, upload, max_pixels=max_pixels))


def image_row(db: Session, stored: StoredImage, known: Mapping[str, Image] | None = None) -> Image:
    """The (new or known) database row of a stored image (from ``known`` when there)."""
    if known is not None and stored.sha256 in known:
        return known[stored.sha256]
    image = db.scalar(select(Image).where(Image.sha256 == stored.sha256))
    if image is None:
        image = Image(sha256=stored.sha256, width=stored.width, height=stored.height,
                      byte_size=stored.byte_size)
        db.add(image)
        db.flush()
    return image


def image_rows(db: Session, stored: Iterable[StoredImage]) -> dict[str, Image]:
    """The rows of many stored images by sha256, the missing ones added: a few queries in all."""
    wanted = {image.sha256: image for image in stored}
    shas = list(wanted)
    rows: dict[str, Image] = {}
    for start in range(0, len(shas), 500):
        rows.update((row.sha256, row) for row in db.scalars(select(Image).where(
            Image.sha256.in_(shas[start:start + 500]))))
    new = [Image(sha256=sha, width=image.width, height=image.height, byte_size=image.byte_size)
           for sha, image in wanted.items() if sha not in rows]
    db.add_all(new)
    db.flush()
    rows.update((row.sha256, row) for row in new)
    return rows


@dataclass(frozen=True)
class ItemResult:
    item: Item
    created: bool
    new_outputs: int


def add_item(db: Session, store: ImageStore, pool: Pool, *, item_id: str, category: str,
             instruction: str, source: Upload | None, outputs: Mapping[str, Upload | None],
             max_pixels: int = 40_000_000, prepared: PreparedItem | None = None,
             known_images: Mapping[str, Image] | None = None,
             known_models: dict[str, Model] | None = None) -> ItemResult:
    """Add an item and its outputs; the seeding script's id makes this idempotent.

    Sending the same item again changes nothing; sending it with outputs of new
    models adds those (a model joining a running pool); anything that differs
    from what is stored is a conflict. ``prepared`` (from
    :func:`prepare_images`, e.g. in a worker process) stands for the uploads;
    ``known_images`` and ``known_models`` (rows by sha256 and by name, the
    latter filled in here) save a query per image and model when seeding.
    """
    instruction = instruction.strip() if isinstance(instruction, str) else instruction
    try:
        check_item_fields(f"item {item_id!r}", item_id, category, instruction, list(outputs))
    except ManifestError as exc:
        raise Invalid(str(exc)) from None
    if pool.allowed_categories and category not in pool.allowed_categories:
        raise Invalid(f"item {item_id!r}: category {category!r} is not one of this pool's "
                      f"({', '.join(pool.allowed_categories)})")
    if prepared is None:
        assert source is not None and all(up is not None for up in outputs.values())
        new = pool.gold_share > 0 and db.scalar(select(Item.id).where(
            Item.pool_id == pool.id, Item.external_id == item_id)) is None
        prepared = prepare_images(store, source, {m: up for m, up in outputs.items() if up is not None},
                                  resample=pool.resample_outputs, max_pixels=max_pixels,
                                  sentinel_for=item_id if new else None)
    source_image = image_row(db, prepared.source, known_images)
    output_images = {name: image_row(db, stored, known_images) for name, stored in prepared.outputs.items()}

    item = db.scalar(select(Item).where(Item.pool_id == pool.id, Item.external_id == item_id))
    created = item is None
    if item is None:
        if len(outputs) < 2:
            raise Invalid(f"item {item_id!r}: a new item needs outputs of at least two models")
        item = Item(pool_id=pool.id, external_id=item_id, category=category,
                    instruction=instruction, source_image_id=source_image.id)
        db.add(item)
        db.flush()
        existing: dict[str, int] = {}
    else:
        if (item.category, item.instruction, item.source_image_id) != (
                category, instruction, source_image.id):
            raise Conflict(f"item {item_id!r} already exists in pool {pool.name!r} with a different "
                           "source, instruction or category")
        existing = dict(db.execute(select(Model.name, Output.image_id)
                                   .join(Output, Output.model_id == Model.id)
                                   .where(Output.item_id == item.id)).all())
    new_outputs = 0
    for name, image in output_images.items():
        if name in existing:
            if existing[name] != image.id:
                raise Conflict(f"item {item_id!r}: model {name!r} already has a different output")
            continue
        model = _model(db, pool, name) if known_models is None else known_models.get(name)
        if model is None:
            model = _model(db, pool, name)
            if known_models is not None:
                known_models[name] = model
        db.add(Output(item_id=item.id, model_id=model.id, image_id=image.id))
        new_outputs += 1
    db.flush()
    if created and pool.gold_share > 0:
        from .gold import make_sentinel
        make_sentinel(db, store, item, max_pixels=max_pixels, prepared=prepared.sentinel, known_images=known_images)
    return ItemResult(item=item, created=created, new_outputs=new_outputs)


def _model(db: Session, pool: Pool, name: str) -> Model:
    model = db.scalar(select(Model).where(Model.pool_id == pool.id, Model.name == name))
    if model is None:
        model = Model(pool_id=pool.id, name=name)
        db.add(model)
        db.flush()
    return model


@dataclass(frozen=True)
class SeedReport:
    pool: str
    pool_created: bool
    items_created: int
    items_unchanged: int
    outputs_added: int

    def summary(self) -> str:
        verb = "created" if self.pool_created else "updated"
        return (f"pool {self.pool!r} {verb}: {self.items_created} new items, "
                f"{self.items_unchanged} already present, {self.outputs_added} outputs added")


def seed(db: Session, store: ImageStore, manifest: Manifest, *, pool_name: str | None = None,
         max_pixels: int = 40_000_000, workers: int = 1, resample_outputs: bool | None = None,
         progress: Callable[[Iterable[Any]], Iterable[Any]] = lambda it: it) -> SeedReport:
    """Import a whole manifest into one pool (created if needed), or raise.

    Two phases. First the images: decoded, encoded and stored (gold
    sentinels' degraded copies too) by ``workers`` processes (1: in this
    process), with only reads on ``db``; ``progress`` wraps the manifest's
    items and sees each one once its images are stored. Then the rows, all
    in ``db``: the caller's single commit keeps the import all-or-nothing,
    and the database is written only for the short second phase (on SQLite,
    other writers, such as a bulk import's progress, are not locked out while
    images are encoded). ``resample_outputs`` overrides the pool's setting of
    that name (and is stored on the pool).
    """
    name = pool_name or manifest.pool
    if not name:
        raise Invalid("no pool name: give --pool NAME or a 'pool' key in the manifest")
    settings = dict(manifest.settings)
    if resample_outputs is not None:
        settings["resample_outputs"] = resample_outputs
    # Every check that needs no image comes before the image work.
    pool = db.scalar(select(Pool).where(Pool.name == name))
    if pool is None:
        _check_pool_name(name)
    effective = {**(NEW_POOL_SETTINGS if pool is None else pool.settings()), **check_settings(settings)}
    known = set() if pool is None else set(db.scalars(select(Item.external_id).where(Item.pool_id == pool.id)))
    allowed = effective.get("categories")
    for entry in manifest.items if allowed else ():
        if entry.category not in allowed:
            raise Invalid(f"{entry.category}/{entry.id}: category {entry.category!r} is not one of this "
                          f"pool's ({', '.join(allowed)})")
    gold = (effective.get("gold_share") or 0) > 0
    resample = bool(effective.get("resample_outputs"))
    jobs = [_PrepareJob(store.root, entry.source, dict(entry.outputs), resample, max_pixels,
                        entry.id if gold and entry.id not in known else None)
            for entry in manifest.items]
    prepared_items: list[PreparedItem] = []
    with seeding_workers(workers, len(jobs)) as run:
        for entry, prepared in zip(progress(manifest.items), run(jobs), strict=True):
            if isinstance(prepared, Invalid):
                raise Invalid(f"{entry.category}/{entry.id}: {prepared.message}")
            prepared_items.append(prepared)

    pool_created = pool is None
    if pool is None:
        pool = create_pool(db, name, settings)
    elif settings:
        apply_settings(pool, settings)
    created = unchanged = added = 0
    # Not the sentinels' copies: an item created meanwhile by another import
    # does not use its own, which would leave an unreferenced row.
    known_images = image_rows(db, (image for prepared in prepared_items
                                   for image in (prepared.source, *prepared.outputs.values())))
    known_models: dict[str, Model] = {}
    for entry, prepared in zip(manifest.items, prepared_items, strict=True):
        try:
            result = add_item(db, store, pool, item_id=entry.id, category=entry.category,
                              instruction=entry.instruction, source=None,
                              outputs=dict.fromkeys(entry.outputs), max_pixels=max_pixels,
                              prepared=prepared, known_images=known_images, known_models=known_models)
        except Invalid as exc:
            raise Invalid(f"{entry.category}/{entry.id}: {exc.message}") from None
        created += result.created
        unchanged += not result.created and result.new_outputs == 0
        added += result.new_outputs
    from .gold import add_designated
    for n, entry in enumerate(manifest.gold):
        add_designated(db, pool, item=entry.get("item"), better=entry.get("better"), worse=entry.get("worse"),
                       where=f"gold[{n}]")
    return SeedReport(pool=name, pool_created=pool_created, items_created=created,
                      items_unchanged=unchanged, outputs_added=added)


def default_workers() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@contextmanager
def seeding_workers(workers: int, jobs: int) -> Iterator[Callable[[list[_PrepareJob]], Iterator[Any]]]:
    """Run prepare jobs in order, in this process or in a pool of processes.

    Results come back in order while later items are still being encoded;
    at most ``2 * workers`` items are in flight, so memory stays bounded by
    a few items' decoded pixels whatever the manifest's size.
    """
    if workers <= 1 or jobs <= 1:
        yield lambda batch: (job() for job in batch)
        return
    # forkserver: no copy of this process's database connections or threads
    # in the children, unlike fork; cheaper than spawn after the first worker.
    context = multiprocessing.get_context("forkserver")
    # The server imports the workers' code once and forks them from it; the
    # job's module, image_import, leaves out SQLAlchemy and the schema.
    context.set_forkserver_preload(["pairwise.image_import"])
    executor = ProcessPoolExecutor(max_workers=min(workers, jobs), mp_context=context)

    def run(batch: list[_PrepareJob]) -> Iterator[Any]:
        window: deque[Future[Any]] = deque()
        queued = iter(batch)
        for job in itertools.islice(queued, 2 * workers):
            window.append(executor.submit(_run, job))
        while window:
            result = window.popleft().result()
            for job in itertools.islice(queued, 1):
                window.append(executor.submit(_run, job))
            yield result

    try:
        yield run
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
