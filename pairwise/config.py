"""Settings: defaults < instance/config.py < PAIRWISE_* environment < test mapping."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

# Every setting the app reads, with its default. Each can be overridden by an
# environment variable of the same name prefixed with PAIRWISE_ (the CLI and
# gunicorn read the same ones).
DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": None,  # None: SQLite file under the instance folder
    "IMAGE_DIR": None,  # None: images/ under the instance folder
    "SECRET_KEY": None,  # None: a random key kept in instance/secret_key
    "ASSIGNMENT_MINUTES": 120,  # how long an issued pair stays valid
    "BOOTSTRAP_ROUNDS": 1000,  # the page's "bootstrap" intervals (snapped to the allowed round counts)
    "BOOTSTRAP_SEED": 20240601,
    "HOURLY_RATE": 35.0,  # USD per expert hour, for cost estimates
    "MAX_UPLOAD_MB": 200,  # item uploads (routes marked security.accepts_upload)
    "MAX_BODY_KB": 64,  # every other request body (JSON, forms)
    "MAX_IMAGE_PIXELS": 40_000_000,
    "LOGIN_WINDOW_SECONDS": 900,  # failed logins are counted over this window
    "LOGIN_MAX_FAILURES": 5,  # per account and client address (x4 per account from anywhere)
    "LOGIN_MAX_FAILURES_PER_ADDRESS": 50,  # per client address over all accounts
    "PROXY_HOPS": 0,  # reverse proxies in front that set X-Forwarded-For (client address)
    "MAX_ARCHIVE_MB": 4096,  # unpacked size of a bulk-import archive
    "SQLITE_BUSY_SECONDS": 10.0,  # how long an SQLite write waits for another's lock (then 503)
    "TILE_CACHE_IMAGES": 4,  # decoded images each process keeps for cutting zoom tiles
    "SESSION_COOKIE_SECURE": False,
    # Flask's own defaults set these too, so they must be overridden here.
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_HTTPONLY": True,
}

_INTS = {"LOGIN_WINDOW_SECONDS", "LOGIN_MAX_FAILURES", "LOGIN_MAX_FAILURES_PER_ADDRESS", "PROXY_HOPS",
         "ASSIGNMENT_MINUTES", "BOOTSTRAP_ROUNDS", "BOOTSTRAP_SEED", "MAX_UPLOAD_MB", "MAX_BODY_KB", "MAX_IMAGE_PIXELS",
         "MAX_ARCHIVE_MB", "TILE_CACHE_IMAGES"}
_FLOATS = {"HOURLY_RATE", "SQLITE_BUSY_SECONDS"}
_BOOLS = {"SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY"}


def _coerce(key: str, raw: str) -> Any:
    if key in _INTS:
        return int(raw)
    if key in _FLOATS:
        return float(raw)
    if key in _BOOLS:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    return raw


def from_environment(environ: os._Environ[str] | dict[str, str] = os.environ) -> dict[str, Any]:
    """The PAIRWISE_* variables that are set, typed like their defaults."""
    found: dict[str, Any] = {}
    for key in DEFAULTS:
        raw = environ.get(f"PAIRWISE_{key}")
        if raw not in (None, ""):
            try:
                found[key] = _coerce(key, raw)
            except ValueError as exc:
                raise SystemExit(f"PAIRWISE_{key}: not a valid value ({raw!r})") from exc
    return found


def private_dir(path: Path) -> Path:
    """``path`` as a folder; when this creates it, only its owner may enter (0700):
    the instance folder holds the SQLite database, the secret key and the images."""
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=0o700, exist_ok=True)
        path.chmod(0o700)  # mkdir's mode is filtered by the umask
    return path


def secret_key(instance_path: Path) -> str:
    """A stable random key for the embedded default, made once per instance folder."""
    path = private_dir(instance_path) / "secret_key"
    try:
        # O_EXCL: when several gunicorn workers start at once, exactly one
        # writes the key and all read the same one. Owner-only permissions.
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(os.urandom(32).hex())
    for _attempt in range(50):  # another worker may be mid-write
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.02)
    raise SystemExit(f"{path}: empty secret key file; delete it or set PAIRWISE_SECRET_KEY")


def normalise_database_url(url: str) -> str:
    """Accept plain postgres:// URLs (as hosting providers hand them out)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
