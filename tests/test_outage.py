"""Database outages: 503 with Retry-After, one log line per outage, recovery without a restart."""

from __future__ import annotations

import logging
import socket
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from pairwise.outage import MESSAGE, OutageMonitor

from .conftest import PASSWORD


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _app(url: str, tmp_path: Path, **extra: Any) -> Any:
    from pairwise import create_app
    return create_app({"TESTING": True, "DATABASE_URL": url, "IMAGE_DIR": str(tmp_path / "images"),
                       "SECRET_KEY": "test-secret", **extra})


def _dispose(app: Any) -> None:
    app.extensions["pairwise.engine"].dispose()


def _outage_lines(caplog: Any) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "pairwise.outage"]


def _assert_503(response: Any, *, json: bool = True) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.headers["Retry-After"] == "1"
    if json:
        assert response.get_json() == {"error": MESSAGE}
    else:
        assert response.mimetype == "text/html" and "Back shortly" in response.get_data(as_text=True)


def test_unreachable_postgres_answers_503_and_logs_once(tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="pairwise.outage")
    app = _app(f"postgresql://postgres@127.0.0.1:{_closed_port()}/pairwise", tmp_path)
    client = app.test_client()
    headers = {"Authorization": "Bearer pw_whatever"}
    for _ in range(8):
        _assert_503(client.get("/api/v1/me", headers=headers))
        _assert_503(client.post("/api/v1/assignments/1/judgment", headers=headers, json={}))
    with app.test_client() as browser:
        with browser.session_transaction() as session:
            session["_user_id"] = "1:0"  # a logged-in browser (id:session generation): loading it needs the database
        _assert_503(browser.get("/"), json=False)
    lines = _outage_lines(caplog)
    assert len(lines) == 1 and lines[0].startswith("database unavailable (OperationalError: ")
    assert len(caplog.records) == 1  # and nothing else: no traceback per request
    assert "Traceback" not in caplog.text
    _dispose(app)


def test_sqlite_file_that_cannot_be_opened_then_appears(tmp_path, caplog, database_url) -> None:
    """No restart: the first request after the file is back is served."""
    caplog.set_level(logging.INFO, logger="pairwise.outage")
    target = tmp_path / "gone" / "pairwise.db"
    app = _app(f"sqlite:///{target}", tmp_path)
    client = app.test_client()
    for _ in range(5):
        _assert_503(client.get("/api/v1/me", headers={"Authorization": "Bearer pw_x"}))
    # The database comes back: a migrated file with one account and its token.
    from pairwise.auth import add_user, create_token
    from pairwise.db import get_db, make_engine
    from pairwise.migrate import upgrade
    target.parent.mkdir()
    engine = make_engine(f"sqlite:///{target}")
    upgrade(engine)
    engine.dispose()
    with app.app_context():
        db = get_db()
        token = create_token(db, add_user(db, "back@example.com", PASSWORD, "expert"))
        db.commit()
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.get_json()["email"] == "back@example.com"
    time.sleep(1.0)  # the "back" line waits for a second without failures
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    lines = _outage_lines(caplog)
    assert len(lines) == 2 and lines[1].startswith("database back after ") and "(5 requests answered 503)" in lines[1]
    _dispose(app)


class _Proxy:
    """A TCP relay to the test PostgreSQL that can be cut and restored, like a server
    restart or a network cut, without touching the shared server itself."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.listener: socket.socket | None = None
        self.port = 0
        self.resume()

    def resume(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        listener.settimeout(0.05)
        self.port = listener.getsockname()[1]
        self.listener = listener
        self.accepting = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self.accepting.start()

    def _accept(self, listener: socket.socket) -> None:
        while self.listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            upstream = socket.create_connection(self.upstream)
            with self.lock:
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        listener, self.listener = self.listener, None
        assert listener is not None
        self.accepting.join()
        listener.close()
        with self.lock:
            for s in self.sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self.sockets = []


def test_outage_of_the_test_database_then_recovery(app, make_user, token_for, database_url, tmp_path,
                                                  caplog) -> None:
    """PostgreSQL: the connection is cut (server restart) and comes back.
    SQLite: another process holds the write lock past the busy timeout, then lets go."""
    caplog.set_level(logging.INFO, logger="pairwise.outage")
    admin = make_user("admin")
    headers = token_for(admin)
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        proxy = _Proxy(url.host or "127.0.0.1", url.port or 5432)
        other = _app(url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False), tmp_path)
        client = other.test_client()
        assert client.get("/api/v1/me", headers=headers).status_code == 200  # a pooled connection now
        # A restart between a request's last query and its closing rollback
        # must not turn the answered request into a 500.
        from sqlalchemy import text

        from pairwise.db import get_db
        with other.app_context():
            assert get_db().execute(text("SELECT 1")).scalar_one() == 1
            proxy.cut()
        proxy.resume()
        assert client.get("/api/v1/me", headers=headers).status_code == 200
        proxy.cut()
        for _ in range(10):
            _assert_503(client.get("/api/v1/me", headers=headers))
        proxy.resume()
        back = time.monotonic()
        response = client.get("/api/v1/me", headers=headers)
        elapsed = time.monotonic() - back
        assert response.status_code == 200, response.get_data(as_text=True)
    else:
        other = _app(database_url, tmp_path, SQLITE_BUSY_SECONDS=0.2)
        client = other.test_client()
        assert client.post("/api/v1/pools", headers=headers, json={"name": "before"}).status_code == 201
        holder = sqlite3.connect(url.database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # the write lock, as a stuck writer would hold it
        for k in range(3):
            _assert_503(client.post("/api/v1/pools", headers=headers, json={"name": f"during-{k}"}))
        assert client.get("/api/v1/me", headers=headers).status_code == 200  # WAL: reads go on
        holder.execute("ROLLBACK")
        holder.close()
        back = time.monotonic()
        response = client.post("/api/v1/pools", headers=headers, json={"name": "after"})
        elapsed = time.monotonic() - back
        assert response.status_code == 201, response.get_data(as_text=True)
        assert [p["name"] for p in client.get("/api/v1/pools", headers=headers).get_json()["pools"]] == \
            ["after", "before"]
    assert elapsed < 1.0
    time.sleep(1.0)  # the "back" line waits for a second without failures
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    lines = _outage_lines(caplog)
    assert len(lines) == 2, lines
    assert lines[0].startswith("database unavailable") and lines[1].startswith("database back after ")
    _dispose(other)
    if url.get_backend_name() == "postgresql":
        proxy.cut()


def test_monitor_reminds_at_most_once_a_minute(caplog) -> None:
    caplog.set_level(logging.INFO, logger="pairwise.outage")
    now = [100.0]
    monitor = OutageMonitor(clock=lambda: now[0])
    error = RuntimeError("connection refused")
    for step in range(200):  # 200 refused requests over 100 s
        now[0] = 100.0 + step * 0.5
        monitor.failed(error)
    monitor.connected()  # too soon after the last failure: maybe a flap
    now[0] = 201.0
    monitor.connected()
    monitor.connected()
    # A flap 3 s later is counted, not announced; its end neither.
    now[0] = 204.0
    monitor.failed(error)
    now[0] = 205.5
    monitor.connected()
    # Five seconds after the last line, a new outage is announced again.
    now[0] = 206.0
    monitor.failed(error)
    lines = _outage_lines(caplog)
    assert len(lines) == 4, lines
    assert lines[0] == "database unavailable (RuntimeError: connection refused); answering 503 until it is back"
    assert lines[1].startswith("database still unavailable after 60 s (121 requests answered 503; ")
    assert lines[2] == "database back after 99.5 s (200 requests answered 503)"
    assert lines[3].startswith("database unavailable")


def test_only_unreachable_databases_are_outages() -> None:
    """A wrong query or a constraint is a bug or a 4xx, never a 503."""
    from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError

    from pairwise.outage import is_outage

    def make(cls: Any, **kwargs: Any) -> Any:
        return cls("SELECT 1", {}, Exception("boom"), **kwargs)

    assert is_outage(make(OperationalError))
    assert is_outage(make(DBAPIError, connection_invalidated=True))
    assert not is_outage(make(IntegrityError))
    assert not is_outage(make(ProgrammingError))
    assert not is_outage(make(DBAPIError))
