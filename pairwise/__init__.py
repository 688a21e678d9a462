"""pairwise: expert pairwise judgments of AI image edits -> Bradley-Terry leaderboards."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported inside create_app: `pairwise rank` never loads Flask
    from flask import Flask

# BLAS threads cost far more than they save on the K x K matrices of a
# leaderboard (measured on 2 cores: a K = 100 closed-form fit 0.27 s threaded,
# 0.03 s single-threaded), and gunicorn runs a worker per core anyway. Only
# effective before numpy loads, which importing this package does first.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The WSGI app: ``gunicorn "pairwise:create_app()"``. Wiring only."""
    from flask import Flask

    from . import auth, config, db, outage, security
    from .storage import ImageStore

    app = Flask(__name__, instance_relative_config=True)
    instance = Path(app.instance_path)
    app.config.from_mapping(config.DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_mapping(config.from_environment())
    if test_config:
        app.config.from_mapping(test_config)

    if not app.config["DATABASE_URL"]:
        config.private_dir(instance)
        app.config["DATABASE_URL"] = f"sqlite:///{instance / 'pairwise.db'}"
    app.config["DATABASE_URL"] = config.normalise_database_url(app.config["DATABASE_URL"])
    if not app.config["IMAGE_DIR"]:
        app.config["IMAGE_DIR"] = str(instance / "images")
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = config.secret_key(instance)
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_UPLOAD_MB"] * 2**20

    db.init_app(app)
    outage.init_app(app)
    app.extensions["pairwise.store"] = ImageStore(Path(app.config["IMAGE_DIR"]))
    security.init_app(app)  # before auth: bodies are measured before anything reads them
    auth.init_app(app)

    from .account.views import bp as account_bp
    from .admin.views import bp as admin_bp
    from .api.views import bp as api_bp
    from .board.views import bp as board_bp
    from .browser.views import bp as browser_bp
    from .judge.views import bp as judge_bp
    from .media.views import bp as media_bp
    for blueprint in (account_bp, judge_bp, board_bp, media_bp, api_bp, browser_bp, admin_bp):
        app.register_blueprint(blueprint)
    return app
