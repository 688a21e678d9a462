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
from flask.cli import FlaskGroup

from . import create_app


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
    from .auth import add_user, parse_categories
    from .db import get_db
    slugs = parse_categories(categories)
    password = _read_password()
    db = get_db()
    user = add_user(db, email, password, role, slugs)
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
    from .auth import find_user
    from .db import get_db
    db = get_db()
    user = find_user(db, email)
    user.is_active = False
    db.commit()
    click.echo(f"deactivated {user.email}")


@main.group("tokens")
def tokens_cli() -> None:
    """API tokens."""


@tokens_cli.command("revoke")
@click.argument("email")
@one_line_errors
def tokens_revoke(email: str) -> None:
    """Revoke every API token of EMAIL."""
    from sqlalchemy import delete

    from .auth import find_user
    from .db import get_db
    from .schema import ApiToken
    db = get_db()
    user = find_user(db, email)
    n = db.execute(delete(ApiToken).where(ApiToken.user_id == user.id)).rowcount
    db.commit()
    click.echo(f"revoked {n} token(s) of {user.email}")


@tokens_cli.command("create")
@click.argument("email")
@one_line_errors
def tokens_create(email: str) -> None:
    """Print a new API token for EMAIL (only its hash is stored)."""
    from .auth import create_token, find_user
    from .db import get_db
    db = get_db()
    user = find_user(db, email)
    token = create_token(db, user)
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
@one_line_errors
def pools_seed(path: Path, pool_name: str | None) -> None:
    """Import a manifest file or folder; all of it or nothing."""
    from . import manifest, pools
    from .context import current_store
    from .db import get_db
    loaded = manifest.load(path)
    db = get_db()
    with click.progressbar(length=len(loaded.items), label="importing items", file=sys.stderr) as bar:
        def progress(items: Any) -> Any:
            for item in items:
                yield item
                bar.update(1)

        report = pools.seed(db, current_store(), loaded, pool_name=pool_name,
                            max_pixels=current_app.config["MAX_IMAGE_PIXELS"], progress=progress)
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
    from . import pools
    from .db import get_db
    db = get_db()
    pools.apply_settings(pools.get_pool(db, name), {"open": is_open})
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
                     help="bootstrap rounds for the intervals (0: closed form) [default: 1000]"),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@main.command("leaderboard")
@click.argument("pool_name", metavar="POOL")
@fit_flags
@click.option("--criterion", default=None, help="rank by one rubric criterion's answers instead of the overall choice")
@one_line_errors
def leaderboard(pool_name: str, fmt: str, category: str | None, ties: str, position: bool,
                bootstrap: int | None, criterion: str | None) -> None:
    """Print a pool's leaderboard from the database."""
    from . import leaderboard_formats, leaderboards, pools
    from .context import fit_options
    from .db import get_db
    db = get_db()
    pool = pools.get_pool(db, pool_name)
    category = pools.require_category(db, pool, category or leaderboards.ALL)
    board = leaderboards.build_cached(db, pool, category, fit_options(ties, position, bootstrap),
                                      current_app.config["HOURLY_RATE"], criterion=criterion)
    db.commit()
    click.echo(leaderboard_formats.render([board], fmt), nl=False)


@main.command("rank")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@fit_flags
@click.option("--seed", type=int, default=None, help="bootstrap seed (default: PAIRWISE_BOOTSTRAP_SEED)")
@click.option("--criterion", default=None,
              help="rank by a rubric criterion's answers (column criterion_<name>, or JSONL 'criteria')")
@one_line_errors
def rank(file: Path, fmt: str, category: str | None, ties: str, position: bool,
         bootstrap: int | None, seed: int | None, criterion: str | None) -> None:
    """Fit leaderboards offline from a judgments CSV/JSONL file; no database.

    Needs columns model_left, model_right and choice (left, right, tie,
    both_bad); with a category column, each category is ranked apart too.
    With unacceptable_left/unacceptable_right columns, each model's
    unacceptable rate is added to its row.
    """
    from . import artifacts, judgment_extras, leaderboard_formats, leaderboards
    from .context import fit_options
    from .errors import Invalid
    options = fit_options(ties, position, bootstrap)
    if seed is not None:
        options = leaderboards.FitOptions(ties=options.ties, position=options.position,
                                          bootstrap=options.bootstrap, seed=seed)
    if criterion is None:
        tables, unacceptable = judgment_extras.read_with_unacceptable(file)
    else:
        tables, unacceptable = judgment_extras.read_criterion(file, criterion), judgment_extras.read_unacceptable(file)
    if category is not None:
        tables = [t for t in tables if t.category == category]
        if not tables:
            raise Invalid(f"{file.name}: no category {category!r}")
    boards = [leaderboard_formats.as_dict(leaderboards.fit_counts(None, t.category, t.models, t.counts, options))
              for t in tables]
    for board in boards:
        board["criterion"] = criterion
        if unacceptable is not None:
            artifacts.add_unacceptable(board, unacceptable.get(board["category"], {}))
    click.echo(leaderboard_formats.render(boards, fmt), nl=False)


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


# ----- demo ------------------------------------------------------------------------------

@main.command("demo")
@click.option("--simulate", type=click.IntRange(0, 100000), default=240, show_default=True,
              help="judgments to simulate from the demo models' true quality, so the leaderboard has data")
@one_line_errors
def demo(simulate: int) -> None:
    """Create the demo pool (synthetic retouches) and demo accounts; idempotent."""
    from . import demo as demo_module
    from .context import current_store
    from .db import get_db
    db = get_db()
    click.echo("building the demo pool (the first run makes ~200 images: about 20 s)...", err=True)
    report = demo_module.build(db, current_store(), simulate=simulate)
    db.commit()
    click.echo(report)
