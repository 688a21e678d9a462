"""Database outages: answer 503 with Retry-After, log one line per outage, recover alone.

While the database is unreachable (PostgreSQL stopped or restarting, a
network cut, an SQLite file that cannot be opened or stays locked), every
request that needs it fails with a driver error. Without this module each one
is a 500 with a full traceback in the log; with it each is a 503 with
``Retry-After`` and a one-line reason (JSON under /api/ and /images/, a short
page elsewhere), and each worker logs one line when an outage starts, at most
one more per ``REMIND_SECONDS`` while it lasts, and one when the database is
back (with how many requests it refused).

Recovery needs no restart: PostgreSQL connections are checked before use
(``pool_pre_ping`` in :func:`pairwise.db.make_engine`), so the first request
after the database returns drops the dead connections and opens new ones.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from flask import Flask, Response, current_app, g, jsonify, request
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

log = logging.getLogger("pairwise.outage")

RETRY_AFTER_SECONDS = 1
REMIND_SECONDS = 60.0
SETTLE_SECONDS = 1.0
QUIET_SECONDS = 5.0
MESSAGE = "database unavailable; retry shortly"


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached (not that a query is wrong)."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(getattr(exc, 'orig', None) or exc).__name__}: {first[:200]}"


class OutageMonitor:
    """Per-process outage state, so the log gets a line per outage, not per request.

    An outage ends at the first connection handed out at least
    ``SETTLE_SECONDS`` after the last refused request, and a new outage
    within ``QUIET_SECONDS`` of the last line is counted but not announced,
    so a database that flaps (reads work, writes time out on a lock) writes
    at most a pair of lines every ``QUIET_SECONDS``, not a pair per request.
    """

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.started: float | None = None  # when this outage began; None: no outage
        self.refused = 0  # requests answered 503 in this outage
        self._last_failure = 0.0
        self._last_line: float | None = None
        self._announced = False

    def failed(self, exc: BaseException) -> None:
        now = self._clock()
        with self._lock:
            self.refused += 1
            self._last_failure = now
            if self.started is None:
                self.started = now
                self._announced = self._last_line is None or now - self._last_line >= QUIET_SECONDS
                if self._announced:
                    self._last_line = now
                    log.error("database unavailable (%s); answering 503 until it is back", _reason(exc))
            elif self._last_line is not None and now - self._last_line >= REMIND_SECONDS:
                self._last_line = now
                self._announced = True
                log.error("database still unavailable after %.0f s (%d requests answered 503; %s)",
                          now - self.started, self.refused, _reason(exc))

    def connected(self) -> None:
        if self.started is None:  # the common case: no lock taken
            return
        now = self._clock()
        with self._lock:
            if self.started is None or now - self._last_failure < SETTLE_SECONDS:
                return
            if self._announced:
                self._last_line = now
                log.warning("database back after %.1f s (%d requests answered 503)",
                            self._last_failure - self.started, self.refused)
            self.started = None
            self.refused = 0


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/images/")


def unavailable_response() -> Response:
    if _wants_json():
        response = jsonify(error=MESSAGE)
    else:
        response = Response(
            "<!doctype html><title>Back shortly</title><h1>Back shortly</h1>"
            "<p>The database is unavailable for a moment. This page will work again shortly; "
            "nothing you submitted successfully is lost.</p>", mimetype="text/html")
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    monitor = OutageMonitor()
    app.extensions["pairwise.outage"] = monitor
    engine = app.extensions["pairwise.engine"]
    app.logger  # noqa: B018  (creates Flask's "pairwise" logger with its handler, which ours propagate to)

    # A connection handed out by the pool (after its pre-ping on PostgreSQL)
    # is the sign that the database is back.
    event.listen(engine, "checkout", lambda *_args: monitor.connected())

    def database_error(exc: DBAPIError | PoolTimeout) -> Any:
        if not is_outage(exc):
            raise exc  # a real bug: Flask's 500 with its traceback
        monitor.failed(exc)
        session = g.pop("db", None)
        if session is not None:
            try:
                session.close()
            except DBAPIError:
                pass  # the connection is gone already; closing it cannot fail louder
        return unavailable_response()

    app.register_error_handler(DBAPIError, database_error)
    app.register_error_handler(PoolTimeout, database_error)


def monitor() -> OutageMonitor:
    return current_app.extensions["pairwise.outage"]
