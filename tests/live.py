"""A live HTTP server for tests: the test app on 127.0.0.1, a free port, in a thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import make_server


@contextmanager
def serve(app: Any, middleware: Callable[[Any], Any] | None = None) -> Iterator[str]:
    """Yield the base URL; the server stops when the block ends."""
    wsgi = middleware(app.wsgi_app) if middleware else app.wsgi_app
    original = app.wsgi_app
    app.wsgi_app = wsgi
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
        app.wsgi_app = original
