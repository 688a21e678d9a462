"""``pairwise rank FILE``: offline leaderboards from a judgments file, without Flask or a database.

Kept apart from :mod:`pairwise.cli` so that ranking a file pays for numpy,
scipy and pyarrow only: the console script (:func:`entry`) sends ``rank``
straight here and everything else to the Flask command group, which lists
this same command in ``pairwise --help``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

FORMATS = ("table", "csv", "json")


def _default_seed() -> int:
    """PAIRWISE_BOOTSTRAP_SEED, else the app's default (no app is created)."""
    from .config import DEFAULTS

    raw = os.environ.get("PAIRWISE_BOOTSTRAP_SEED", "")
    try:
        return int(raw) if raw else int(DEFAULTS["BOOTSTRAP_SEED"])
    except ValueError:
        raise click.ClickException(f"PAIRWISE_BOOTSTRAP_SEED: not a whole number ({raw!r})") from None


@click.command("rank")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--category", default=None, help="one category (default: all categories, then each)")
@click.option("--ties", type=click.Choice(["half", "davidson", "drop"]), default="half", show_default=True,
              help="how ties and 'both unacceptable' count")
@click.option("--position", is_flag=True, help="also fit a left-position effect")
@click.option("--bootstrap", type=click.IntRange(0, 10000), default=0, show_default=True,
              help="bootstrap rounds for the intervals (0: closed form, as on the server)")
@click.option("--seed", type=click.IntRange(0), default=None,
              help="seed of the bootstrap and rank draws (default: PAIRWISE_BOOTSTRAP_SEED)")
@click.option("--scheduler", type=click.Choice(["uniform", "active"]), default="uniform", show_default=True,
              help="how more judgments would be issued, for the judgments a separation needs")
@click.option("--criterion", default=None,
              help="rank by a rubric criterion's answers (column criterion_<name>, or JSONL 'criteria')")
@click.option("--style", is_flag=True,
              help="also fit style control from the file's left_/right_ image statistics columns")
def rank(file: Path, fmt: str, category: str | None, ties: str, position: bool, bootstrap: int,
         seed: int | None, scheduler: str, criterion: str | None, style: bool) -> None:
    """Fit leaderboards offline from a judgments CSV/JSONL file; no database.

    Needs columns model_left, model_right and choice (left, right, tie,
    both_bad); with a category column, each category is ranked apart too.
    With unacceptable_left/unacceptable_right columns, each model's
    unacceptable rate is added to its row.
    """
    from . import artifacts, judgment_extras, judgment_files, leaderboard_formats
    from .errors import Problem
    from .leaderboard_fit import FitOptions, fit_counts, fit_style

    try:
        options = FitOptions(ties=ties, position=position, bootstrap=bootstrap,
                             seed=_default_seed() if seed is None else seed, style=style).check(offline=True)
        if style and criterion is not None:
            raise click.ClickException("--style fits the overall choice, not a rubric criterion")
        if criterion is None:
            tables = judgment_files.read_judgments(file)
        else:
            tables = judgment_extras.read_criterion(file, criterion)
        unacceptable = judgment_extras.read_unacceptable(file)
        if style:
            from .image_stats import STATS
            style_rows = judgment_files.read_style_rows(file, STATS)
    except judgment_files.JudgmentFileError as exc:
        raise click.ClickException(str(exc)) from None
    except Problem as exc:
        raise click.ClickException(exc.message) from None
    if category is not None:
        tables = [t for t in tables if t.category == category]
        if not tables:
            raise click.ClickException(f"{file.name}: no category {category!r}")
    boards = []
    for t in tables:
        controlled = None
        if style:
            controlled = fit_style(*style_rows.for_view(t.category, t.models), style_rows.names, len(t.models), ties)
        boards.append(leaderboard_formats.as_dict(fit_counts(None, t.category, t.models, t.counts, options,
                                                             scheduler=scheduler, style=controlled)))
    for board in boards:
        board["criterion"] = criterion
        if unacceptable is not None:
            artifacts.add_unacceptable(board, unacceptable.get(board["category"], {}))
    click.echo(leaderboard_formats.render(boards, fmt), nl=False)


def entry() -> None:
    """The ``pairwise`` console script."""
    if sys.argv[1:2] == ["rank"]:
        rank.main(args=sys.argv[2:], prog_name="pairwise rank")
    else:
        from .cli import main

        main()
