"""The `pairwise` command group: thin commands over the operations.

Each command loads, checks, calls an operation and commits once; any error is
one line on stderr and a non-zero exit, with the database unchanged.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup, FlaskGroup

from . import create_app
from .rank_cli import rank as rank_cli


def one_line_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn domain errors into a one-line message and exit code 1."""
    @wraps(command)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        from sqlalchemy.exc import SQLAlchemyError

        from .errors import Problem
        from .judgment_files import JudgmentFileError
        from .manifest import ManifestError

        try:
            return command(*args, **kwargs)
        except Problem as exc:
            raise click.ClickException(exc.message) from None
        except (ManifestError, JudgmentFileError) as exc:
            raise click.ClickException(str(exc)) from None
        except OSError as exc:
            raise click.ClickException(f"{exc.filename or 'file'}: {exc.strerror or exc}") from None
        except SQLAlchemyError as exc:
            first_line = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise click.ClickException(f"database: {first_line}") from None

    return wrapped


@click.group(cls=FlaskGroup, create_app=create_app, add_version_option=False)
def main() -> None:
    """pairwise: expert pairwise judgments of AI image edits -> Bradley-Terry leaderboards.

    Settings come from PAIRWISE_* environment variables (PAIRWISE_DATABASE_URL,
    PAIRWISE_IMAGE_DIR, PAIRWISE_SECRET_KEY, ...); the default is an SQLite
    database and an image folder under ./instance.
    """


# ----- db ---------------------------------------------------------------------

@main.group("db")
def db_cli() -> None:
    """Database schema (Alembic migrations)."""


@db_cli.command("recount")
@one_line_errors
def db_recount() -> None:
    """Rebuild the leaderboards' count cells from the judgments (a repair tool)."""
    from .db import get_db
    from .evidence import rebuild
    from .leaderboards import recount
    db = get_db()
    n = recount(db)
    rebuild(db)  # artifact marks and rubric answers: derived from the judgments too
    db.commit()
    click.echo(f"count cells rebuilt from {n} judgments")


@db_cli.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@one_line_errors
def db_upgrade(revision: str) -> None:
    """Bring the database to the newest migration."""
    from .db import get_engine
    from .migrate import upgrade
    upgrade(get_engine(), revision)
    click.echo(f"database at {revision}: {_safe_url(current_app.config['DATABASE_URL'])}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url
    return make_url(url).render_as_string(hide_password=True)


# ----- users and tokens ---------------------------------------------------------

@main.group("users")
def users_cli() -> None:
    """Accounts."""


def _read_password() -> str:
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_cli.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(["expert", "researcher", "admin"]), required=True)
@click.option("--categories", default=None, help="comma-separated category slugs an expert may judge (default: all)")
@one_line_errors
def users_add(email: str, role: str, categories: str | None) -> None:
    """Create an account; the password comes from a prompt, or stdin when piped."""
    from . import audit
    from .auth import add_user, parse_categories
    from .db import get_db
    slugs = parse_categories(categories)
    password = _read_password()
    db = get_db()
    user = add_user(db, email, password, role, slugs)
    audit.record(db, audit.cli_actor(), "user.add", user.email, {"role": user.role.value, "categories": slugs})
    db.commit()
    click.echo(f"created {user.email} ({user.role.value}"
               f"{', categories ' + ','.join(slugs) if slugs else ''})")


@users_cli.command("list")
def users_list() -> None:
    """List accounts."""
    from sqlalchemy import select

    from .db import get_db
    from .schema import User
    for user in get_db().scalars(select(User).order_by(User.email)):
        click.echo(f"{user.email}\t{user.role.value}\t{user.categories or 'all'}"
                   f"{'' if user.is_active else chr(9) + 'inactive'}")


@users_cli.command("deactivate")
@click.argument("email")
@one_line_errors
def users_deactivate(email: str) -> None:
    """Lock an account out (its judgments stay); its sessions and tokens stop working."""
    from . import audit
    from .auth import find_user, set_active
    from .db import get_db
    db = get_db()
    user = find_user(db, email)
    set_active(db, user, False)
    audit.record(db, audit.cli_actor(), "user.deactivate", user.email)
    db.commit()
    click.echo(f"deactivated {user.email}")


@users_cli.command("categories")
@click.argument("email")
@click.argument("categories", metavar="CATEGORIES")
@one_line_errors
def users_categories(email: str, categories: str) -> None:
    """Set the categories an expert may judge: 'a,b', or 'all'.

    Open pairs outside the new categories are withdrawn at once.
    """
    from .auth import find_user, parse_categories, set_categories
    from .db import get_db
    slugs = None if categories.strip().lower() == "all" else parse_categories(categories)
    if slugs is None and categories.strip().lower() != "all":
        raise click.ClickException("categories: 'all' or a comma-separated list such as 'apparel,food'")
    db = get_db()
    user = find_user(db, email)
    withdrawn = set_categories(db, user, slugs)
    db.commit()
    click.echo(f"{user.email} may judge {', '.join(slugs) if slugs else 'all categories'}"
               f"{f'; {withdrawn} open pair(s) withdrawn' if withdrawn else ''}")


@users_cli.command("activate")
@click.argument("email")
@one_line_errors
def users_activate(email: str) -> None:
    """Let a deactivated account log in again (old sessions stay ended; tokens work again)."""
    from . import audit
    from .auth import find_user, set_active
    from .db import get_db
    db = get_db()
    user = find_user(db, email)
    set_active(db, user, True)
    audit.record(db, audit.cli_actor(), "user.activate", user.email)
    db.commit()
    click.echo(f"activated {user.email}")


@users_cli.command("passwd")
@click.argument("email")
@one_line_errors
def users_passwd(email: str) -> None:
    """Set a new password (prompt, or stdin when piped); every session of the account ends."""
    from . import audit
    from .auth import find_user, set_password
    from .db import get_db
    db = get_db()
    user = find_user(db, email)
    set_password(db, user, _read_password())
    audit.record(db, audit.cli_actor(), "user.password", user.email)
    db.commit()
    click.echo(f"password changed for {user.email}; its sessions were ended")


@main.group("tokens")
def tokens_cli() -> None:
    """API tokens."""


@tokens_cli.command("revoke")
@click.argument("email")
@one_line_errors
def tokens_revoke(email: str) -> None:
    """Revoke every API token of EMAIL."""
    from sqlalchemy import delete

    from . import audit
    from .auth import find_user
    from .db import get_db
    from .schema import ApiToken
    db = get_db()
    user = find_user(db, email)
    n = db.execute(delete(ApiToken).where(ApiToken.user_id == user.id)).rowcount
    audit.record(db, audit.cli_actor(), "token.revoke", user.email, {"tokens": n})
    db.commit()
    click.echo(f"revoked {n} token(s) of {user.email}")


@tokens_cli.command("create")
@click.argument("email")
@one_line_errors
def tokens_create(email: str) -> None:
    """Print a new API token for EMAIL (only its hash is stored)."""
    from . import audit
    from .auth import create_token, find_user
    from .db import get_db
    db = get_db()
    user = find_user(db, email)
    token = create_token(db, user)
    audit.record(db, audit.cli_actor(), "token.create", user.email)
    db.commit()
    click.echo(f"API token for {user.email} ({user.role.value}); send it as 'Authorization: Bearer <token>'."
               " It is shown only once:")
    click.echo(token)


# ----- pools --------------------------------------------------------------------

@main.group("pools")
def pools_cli() -> None:
    """Comparison pools."""


@pools_cli.command("seed")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--pool", "pool_name", default=None, help="pool name (default: the manifest's 'pool')")
@click.option("--resample-outputs/--keep-output-size", "resample_outputs", default=None,
              help="resample every output to its source's size, so sizes cannot tell models apart "
                   "(stored as the pool setting resample_outputs; default: the manifest's or pool's)")
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True,
              help="processes that decode and encode images (0: one per core)")
@one_line_errors
def pools_seed(path: Path, pool_name: str | None, resample_outputs: bool | None, workers: int) -> None:
    """Import a manifest file or folder; all of it or nothing."""
    from sqlalchemy import select

    from . import audit, manifest, pools
    from .context import current_store
    from .schema import Pool
    from .db import get_db
    loaded = manifest.load(path)
    db = get_db()
    existing = db.scalar(select(Pool).where(Pool.name == (pool_name or loaded.pool)))
    before = existing.settings() if existing is not None else {}
    with click.progressbar(length=len(loaded.items), label="importing items", file=sys.stderr) as bar:
        def progress(items: Any) -> Any:
            for item in items:
                yield item
                bar.update(1)

        report = pools.seed(db, current_store(), loaded, pool_name=pool_name,
                            max_pixels=current_app.config["MAX_IMAGE_PIXELS"],
                            workers=workers or pools.default_workers(),
                            resample_outputs=resample_outputs, progress=progress)
    after = pools.get_pool(db, report.pool).settings()
    changes = {k: [before[k], v] for k, v in after.items() if before and before[k] != v}
    if report.pool_created or report.items_created or report.outputs_added or changes:
        audit.record(db, audit.cli_actor(), "pool.seed", report.pool,
                     {"source": str(path), "pool_created": report.pool_created, "settings_changed": changes,
                      "items_created": report.items_created, "outputs_added": report.outputs_added})
    db.commit()
    click.echo(report.summary())


@pools_cli.command("list")
def pools_list() -> None:
    """List pools with their counts."""
    from . import pools
    from .db import get_db
    db = get_db()
    for pool in pools.list_pools(db):
        counts = pools.pool_counts(db, pool)
        click.echo(f"{pool.name}\t{'open' if pool.is_open else 'closed'}\t{counts['items']} items\t"
                   f"{counts['models']} models\t{counts['judgments']} judgments")


def _set_open(name: str, is_open: bool) -> None:
    from . import audit, pools
    from .db import get_db
    db = get_db()
    pools.apply_settings(pools.get_pool(db, name), {"open": is_open})
    audit.record(db, audit.cli_actor(), "pool.open" if is_open else "pool.close", name)
    db.commit()
    click.echo(f"pool {name!r} {'opened' if is_open else 'closed'}")


@pools_cli.command("open")
@click.argument("name")
@one_line_errors
def pools_open(name: str) -> None:
    """Let experts judge this pool."""
    _set_open(name, True)


@pools_cli.command("close")
@click.argument("name")
@one_line_errors
def pools_close(name: str) -> None:
    """Stop issuing pairs from this pool (leaderboards stay)."""
    _set_open(name, False)


# ----- leaderboards -----------------------------------------------------------------

def fit_flags(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
                     show_default=True),
        click.option("--category", default=None, help="one category (default: all categories)"),
        click.option("--ties", type=click.Choice(["half", "davidson", "drop"]), default="half",
                     show_default=True, help="how ties and 'both unacceptable' count"),
        click.option("--position", is_flag=True, help="also fit a left-position effect"),
        click.option("--bootstrap", type=click.IntRange(0, 10000), default=None,
                     help="bootstrap rounds for the intervals [default: 0, closed form; "
                          "a database leaderboard takes 0, 100, 200, 500, 1000 or 2000]"),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@main.command("leaderboard")
@click.argument("pool_name", metavar="POOL")
@fit_flags
@click.option("--criterion", default=None, help="rank by one rubric criterion's answers instead of the overall choice")
@click.option("--style", is_flag=True, help="also fit style control (image statistics as covariates)")
@one_line_errors
def leaderboard(pool_name: str, fmt: str, category: str | None, ties: str, position: bool,
                bootstrap: int | None, criterion: str | None, style: bool) -> None:
    """Print a pool's leaderboard from the database."""
    from . import leaderboard_formats, leaderboards, pools
    from .context import current_store, fit_options
    from .db import get_db
    db = get_db()
    pool = pools.get_pool(db, pool_name)
    category = pools.require_category(db, pool, category or leaderboards.ALL)
    board = leaderboards.build_cached(db, pool, category, fit_options(ties, position, bootstrap, style),
                                      current_app.config["HOURLY_RATE"], store=current_store(), criterion=criterion)
    db.commit()
    click.echo(leaderboard_formats.render([board], fmt), nl=False)


@main.command("image-stats")
@click.argument("pool_name", metavar="POOL")
@one_line_errors
def image_stats_backfill(pool_name: str) -> None:
    """Compute the style statistics of every judged output image of a pool (for style control)."""
    from . import image_stats, pools
    from .context import current_store
    from .db import get_db
    db = get_db()
    pool = pools.get_pool(db, pool_name)
    computed = image_stats.ensure(db, current_store(), image_stats.judged_images(db, pool.id))
    db.commit()
    click.echo(f"{computed} image(s) measured for pool {pool.name}")


# `pairwise rank` lives in rank_cli (no Flask, no database: fast start-up);
# listed here so `pairwise --help` shows it.
main.add_command(rank_cli)


# ----- rater quality (issue 7) ------------------------------------------------------

class _ReportGroup(AppGroup):
    """`pairwise experts POOL` shows the report; `exclude` / `include` are subcommands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["show", *args]
        return super().parse_args(ctx, args)


@main.group("experts", cls=_ReportGroup)
def experts_cli() -> None:
    """Rater quality per expert, with flags; exclude or include an expert's judgments.

    \b
    pairwise experts POOL [--format table|csv|json]
    pairwise experts exclude POOL EMAIL --reason TEXT
    pairwise experts include POOL EMAIL
    """


@experts_cli.command("show", hidden=True)
@click.argument("pool_name", metavar="POOL")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@one_line_errors
def experts_show(pool_name: str, fmt: str) -> None:
    """Per-expert figures and flags of a pool."""
    import json

    from . import experts, pools
    from .db import get_db
    db = get_db()
    report = experts.pool_quality(db, pools.get_pool(db, pool_name))
    if fmt == "json":
        click.echo(json.dumps(report.as_dict(), indent=1))
    else:
        click.echo(experts.to_csv(report) if fmt == "csv" else experts.to_table(report), nl=False)


@experts_cli.command("exclude")
@click.argument("pool_name", metavar="POOL")
@click.argument("email")
@click.option("--reason", required=True, help="why (kept in every leaderboard's provenance)")
@one_line_errors
def experts_exclude(pool_name: str, email: str, reason: str) -> None:
    """Take an expert's judgments in POOL out of every fit."""
    from . import experts, pools
    from .db import get_db
    db = get_db()
    experts.exclude(db, pools.get_pool(db, pool_name), email, reason, actor="cli")
    db.commit()
    click.echo(f"{email.strip().lower()} excluded from {pool_name}")


@experts_cli.command("include")
@click.argument("pool_name", metavar="POOL")
@click.argument("email")
@click.option("--reason", default=None, help="why (optional; kept in the history)")
@one_line_errors
def experts_include(pool_name: str, email: str, reason: str | None) -> None:
    """Put an excluded expert's judgments in POOL back into the fits."""
    from . import experts, pools
    from .db import get_db
    db = get_db()
    experts.include(db, pools.get_pool(db, pool_name), email, actor="cli", reason=reason)
    db.commit()
    click.echo(f"{email.strip().lower()} included again in {pool_name}")


@main.group("gold")
def gold_cli() -> None:
    """Gold pairs (known answers) of a pool."""


@gold_cli.command("sentinels")
@click.argument("pool_name", metavar="POOL")
@one_line_errors
def gold_sentinels(pool_name: str) -> None:
    """Make a sentinel for every item of POOL that has none (e.g. after raising gold_share)."""
    from sqlalchemy import select

    from . import gold, pools
    from .context import current_store
    from .db import get_db
    from .schema import Item
    db = get_db()
    pool = pools.get_pool(db, pool_name)
    made = 0
    for item in db.scalars(select(Item).where(Item.pool_id == pool.id).order_by(Item.id)):
        made += gold.make_sentinel(db, current_store(), item,
                                   max_pixels=current_app.config["MAX_IMAGE_PIXELS"]) is not None
    db.commit()
    click.echo(f"{made} sentinel pairs made in {pool_name}")


@main.command("artifacts")
@click.argument("pool_name", metavar="POOL")
@click.option("--category", default=None, help="one category (default: all categories)")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@one_line_errors
def artifacts_command(pool_name: str, category: str | None, fmt: str) -> None:
    """Artifact-tag rates per model (flagged / shown, 95 % Wilson interval), and which tags set a model apart."""
    from . import artifact_formats, evidence, leaderboards, pools
    from .db import get_db
    db = get_db()
    pool = pools.get_pool(db, pool_name)
    category = pools.require_category(db, pool, category or leaderboards.ALL)
    table = evidence.artifact_rates(db, pool, category)
    click.echo(artifact_formats.render(pool.name, category, table, pool.vocabulary, fmt), nl=False)


# ----- export --------------------------------------------------------------------------

@main.group("export")
def export_cli() -> None:
    """Raw data downloads."""


@export_cli.command("judgments")
@click.argument("pool_name", metavar="POOL")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl", "pwcmp"]), default="csv", show_default=True,
              help="pwcmp: the long table of the pwcmp toolbox (observer, scene, condition_A, condition_B, selected_A)")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write to this file (default: stdout)")
@one_line_errors
def export_judgments(pool_name: str, fmt: str, output: Path | None) -> None:
    """Write a pool's raw judgments, one row per judgment."""
    from . import exports, pools
    from .db import get_db
    db = get_db()
    pool = pools.get_pool(db, pool_name)
    chunks = exports.stream(db, pool, fmt)
    if output is None:
        for chunk in chunks:
            sys.stdout.write(chunk)
        return
    tmp = output.with_name(output.name + ".part")
    try:
        with tmp.open("w", encoding="utf-8", newline="") as handle:
            for chunk in chunks:
                handle.write(chunk)
        tmp.replace(output)  # the file appears whole or not at all
    finally:
        tmp.unlink(missing_ok=True)
    click.echo(f"wrote {output}", err=True)


# ----- audit log ------------------------------------------------------------------------

@main.command("audit")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True, help="newest N events")
@click.option("--action", default=None, help="only this action, e.g. user.add or pool.update")
@one_line_errors
def audit_log(fmt: str, limit: int, action: str | None) -> None:
    """Admin actions (accounts, tokens, pools, exclusions), newest first."""
    import json

    from . import audit
    from .db import get_db
    rows = audit.events(get_db(), limit=limit, action=action)
    if fmt == "json":
        click.echo(json.dumps([audit.event_json(e) for e in rows], indent=1))
    else:
        click.echo(audit.table(rows), nl=False)


@export_cli.command("skips")
@click.argument("pool_name", metavar="POOL")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True)
@one_line_errors
def export_skips(pool_name: str, fmt: str) -> None:
    """Write a pool's skipped pairs with the experts' reasons (items to check)."""
    import json

    from . import exports, judge_ops, pools
    from .db import get_db
    db = get_db()
    rows = judge_ops.skip_rows(db, pools.get_pool(db, pool_name))
    if fmt == "jsonl":
        for row in rows:
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    for chunk in exports._csv_chunks(judge_ops.SKIP_COLUMNS,
                                     (tuple(r[c] for c in judge_ops.SKIP_COLUMNS) for r in rows)):
        sys.stdout.write(chunk)


@pools_cli.command("tiles")
@click.argument("pool_name", metavar="POOL")
@one_line_errors
def pool_tiles(pool_name: str) -> None:
    """Cut the zoom tiles of a pool's large images ahead of time.

    Imports cut them already; this is for images imported by an older
    version (else they are cut on first view).
    """
    from sqlalchemy import select

    from . import pools, tiles
    from .context import current_store
    from .db import get_db
    from .schema import GoldPair, Image, Item, Output
    db = get_db()
    pool = pools.get_pool(db, pool_name)
    items = select(Item.id).where(Item.pool_id == pool.id)
    # Gold sentinels' degraded copies too: an expert zooms into them like any output.
    ids = select(Item.source_image_id).where(Item.pool_id == pool.id).union(
        select(Output.image_id).where(Output.item_id.in_(items)),
        select(GoldPair.worse_image_id).where(GoldPair.pool_id == pool.id, GoldPair.worse_image_id.is_not(None)))
    store, written, images = current_store(), 0, 0
    for sha, width, height in db.execute(select(Image.sha256, Image.width, Image.height).where(Image.id.in_(ids))):
        if not tiles.tiled_levels(width, height):
            continue
        images += 1
        written += tiles.cut_all(store.path(sha), lambda name, sha=sha: store.cache_path(sha, name).is_file(),
                                 lambda name, data, sha=sha: store.write_cached(store.cache_path(sha, name), data))
    click.echo(f"{pool.name}: {written} tiles cut for {images} large images")


# ----- backups ---------------------------------------------------------------------------

@main.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@one_line_errors
def backup_command(path: Path) -> None:
    """Write a consistent archive of the database and images to PATH (safe while serving)."""
    from . import backup
    from .db import get_engine
    report = backup.backup(get_engine(), Path(current_app.config["IMAGE_DIR"]), path)
    click.echo(report.summary("wrote"))


@main.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@one_line_errors
def restore_command(path: Path) -> None:
    """Load an archive into this empty, migrated instance (checksums verified first)."""
    from . import backup
    from .db import get_engine
    report = backup.restore(get_engine(), Path(current_app.config["IMAGE_DIR"]), path)
    click.echo(report.summary("restored"))


# ----- demo ------------------------------------------------------------------------------

@main.command("demo")
@click.option("--simulate", type=click.IntRange(0, 100000), default=240, show_default=True,
              help="judgments to simulate from the demo models' true quality, so the leaderboard has data")
@click.option("--force", is_flag=True,
              help="also on PostgreSQL or beside other accounts (the demo passwords are public)")
@one_line_errors
def demo(simulate: int, force: bool) -> None:
    """Create the demo pool (synthetic retouches) and demo accounts; idempotent.

    Refuses a PostgreSQL database, or one with accounts other than the demo
    ones, unless --force: the demo accounts' passwords are published.
    """
    from . import demo as demo_module
    from .context import current_store
    from .db import get_db
    db = get_db()
    click.echo("building the demo pool (the first run makes ~200 images: about 20 s)...", err=True)
    report = demo_module.build(db, current_store(), simulate=simulate, force=force)
    db.commit()
    click.echo(report)
