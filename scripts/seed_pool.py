#!/usr/bin/env python3
"""Upload a manifest or folder to a pairwise server over its HTTP API.

    python scripts/seed_pool.py spring/manifest.json --url https://pairwise.example.com --token pw_...
    python scripts/seed_pool.py ./shoot-2026-11 --pool autumn-shoot --parallel 4     # folder form

Standard library only, so it runs anywhere Python 3.11 does: copy it and make
it yours. What it does, in order:

1. creates the pool when it does not exist (with the manifest's ``settings``);
2. asks the server which items it already holds, with which models (the
   keyset-paged ``GET /api/v1/pools/<pool>/items``), so an interrupted run
   resumes where it stopped and a re-run uploads only what is new;
3. uploads the rest, ``--parallel`` at a time (``POST .../items``, multipart),
   retrying with exponential backoff and jitter on connection errors, 429 and
   5xx; any other 4xx is the item's own fault and is reported, not retried;
4. prints a progress bar on stderr and a summary; exits 1 if any item failed.

Every upload is idempotent on the server (items are keyed by their id), so
retrying an upload whose answer was lost is safe.

The token comes from ``--token`` or the PAIRWISE_TOKEN environment variable
(``pairwise tokens create admin@example.com``).
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import os
import random
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".gif"}
RETRY_STATUSES = {429, 500, 502, 503, 504}


class Failure(Exception):
    """An item the server refused (4xx) or that still failed after every retry."""


@dataclass
class Item:
    id: str
    category: str
    instruction: str
    source: Path
    outputs: dict[str, Path]


@dataclass
class Manifest:
    pool: str | None
    settings: dict[str, Any]
    items: list[Item]


def load(path: Path) -> Manifest:
    """A manifest file (JSON) or a ``<category>/<item-id>/`` folder; the server checks the rest."""
    if path.is_dir() and (path / "manifest.json").is_file():
        path = path / "manifest.json"
    if path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
        root = path.resolve().parent
        items = [Item(id=raw["id"], category=raw["category"], instruction=raw["instruction"],
                      source=root / raw["source"], outputs={m: root / p for m, p in raw["outputs"].items()})
                 for raw in data["items"]]
        return Manifest(pool=data.get("pool"), settings=data.get("settings") or {}, items=items)
    items = []
    for category in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for folder in sorted(p for p in category.iterdir() if p.is_dir() and not p.name.startswith(".")):
            images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            sources = [p for p in images if p.stem == "source"]
            if len(sources) != 1:
                raise SystemExit(f"{category.name}/{folder.name}: needs exactly one source.<ext>")
            items.append(Item(id=folder.name, category=category.name,
                              instruction=(folder / "instruction.txt").read_text(encoding="utf-8").strip(),
                              source=sources[0], outputs={p.stem: p for p in images if p.stem != "source"}))
    return Manifest(pool=None, settings={}, items=items)


@dataclass
class Client:
    """A tiny JSON/multipart client with retries; one per run, shared by threads."""

    base: str
    token: str
    retries: int = 5
    backoff: float = 0.5
    timeout: float = 300.0
    requests: int = 0
    retried: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def call(self, method: str, path: str, *, body: bytes | None = None,
             content_type: str | None = None) -> tuple[int, Any]:
        """(status, parsed JSON or None); retries what a retry can fix."""
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        for attempt in range(self.retries + 1):
            with self._lock:
                self.requests += 1
            request = urllib.request.Request(self.base + path, data=body, method=method, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return response.status, _json(response.read())
            except urllib.error.HTTPError as exc:
                payload = _json(exc.read())
                if exc.code not in RETRY_STATUSES or attempt == self.retries:
                    return exc.code, payload
                wait = _retry_after(exc.headers.get("Retry-After"))
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
                if attempt == self.retries:
                    raise Failure(f"{method} {path}: {getattr(exc, 'reason', exc)} "
                                  f"(gave up after {self.retries + 1} attempts)") from None
                wait = None
            with self._lock:
                self.retried += 1
            # Exponential backoff with full jitter: parallel uploaders that
            # failed together do not all come back at the same instant.
            time.sleep(wait if wait is not None else random.uniform(0, self.backoff * 2**attempt))
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        body = None if payload is None else json.dumps(payload).encode()
        return self.call(method, path, body=body, content_type="application/json" if body else None)


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _retry_after(value: str | None) -> float | None:
    try:
        return min(float(value), 60.0) if value else None
    except ValueError:
        return None


def _error(status: int, payload: Any) -> str:
    reason = payload.get("error") if isinstance(payload, dict) else None
    return f"HTTP {status}: {reason or 'no reason given'}"


def multipart(fields: dict[str, str], files: dict[str, Path]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
                     + value.encode() + b"\r\n")
    for name, path in files.items():
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                     f'filename="{path.name}"\r\nContent-Type: {kind}\r\n\r\n'.encode()
                     + path.read_bytes() + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def ensure_pool(client: Client, pool: str, settings: dict[str, Any]) -> bool:
    """True when the pool had to be created."""
    status, payload = client.json("GET", f"/api/v1/pools/{urllib.parse.quote(pool)}")
    if status == 200:
        return False
    if status != 404:
        raise Failure(f"pool {pool}: {_error(status, payload)}")
    status, payload = client.json("POST", "/api/v1/pools", {"name": pool, "settings": settings})
    if status not in (201, 409):  # 409: another uploader created it meanwhile
        raise Failure(f"pool {pool}: {_error(status, payload)}")
    return status == 201


def present(client: Client, pool: str) -> dict[str, set[str]]:
    """item id -> models the server already holds, page by page."""
    found: dict[str, set[str]] = {}
    path: str | None = f"/api/v1/pools/{urllib.parse.quote(pool)}/items?limit=1000"
    while path:
        status, payload = client.json("GET", path)
        if status != 200:
            raise Failure(f"listing items of {pool}: {_error(status, payload)}")
        for item in payload["items"]:
            found[item["id"]] = set(item["models"])
        path = payload.get("next_url")
    return found


def upload(client: Client, pool: str, item: Item) -> str:
    """'created' or 'updated'; raises Failure with the server's reason."""
    files = {"source": item.source, **{f"outputs[{m}]": p for m, p in item.outputs.items()}}
    try:
        body, content_type = multipart({"id": item.id, "category": item.category,
                                        "instruction": item.instruction}, files)
    except OSError as exc:  # a file the manifest names is missing or unreadable: this item's fault
        raise Failure(f"{item.category}/{item.id}: {path_error(exc)}") from None
    status, payload = client.call("POST", f"/api/v1/pools/{urllib.parse.quote(pool)}/items",
                                  body=body, content_type=content_type)
    if status in (200, 201):
        return "created" if status == 201 else "updated"
    raise Failure(f"{item.category}/{item.id}: {_error(status, payload)}")


class Progress:
    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.done, self.enabled = total, 0, enabled
        self.started = time.monotonic()

    def step(self) -> None:
        self.done += 1
        if not self.enabled:
            return
        width = 30
        filled = width * self.done // max(self.total, 1)
        rate = self.done / max(time.monotonic() - self.started, 1e-9)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} items "
                         f"{rate:.1f}/s")
        if self.done == self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def run(path: Path, *, url: str, token: str, pool: str | None = None, parallel: int = 4,
        retries: int = 5, backoff: float = 0.5, quiet: bool = False) -> int:
    """Seed and print a summary; the exit status (0: everything is on the server)."""
    manifest = load(path)
    pool = pool or manifest.pool
    if not pool:
        raise SystemExit("no pool name: give --pool NAME or a 'pool' key in the manifest")
    client = Client(url.rstrip("/"), token, retries=retries, backoff=backoff)
    started = time.monotonic()
    created_pool = ensure_pool(client, pool, manifest.settings)
    there = present(client, pool)
    todo = [item for item in manifest.items if not set(item.outputs) <= there.get(item.id, set())]
    skipped = len(manifest.items) - len(todo)
    counts = {"created": 0, "updated": 0}
    images = 0
    failures: list[str] = []
    progress = Progress(len(todo), enabled=not quiet)
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool_of_threads:
        futures = {pool_of_threads.submit(upload, client, pool, item): item for item in todo}
        for future in as_completed(futures):
            try:
                counts[future.result()] += 1
                images += 1 + len(futures[future].outputs)
            except Failure as exc:
                failures.append(str(exc))
            progress.step()
    seconds = time.monotonic() - started
    print(f"pool {pool!r}{' (created)' if created_pool else ''}: {counts['created']} items created, "
          f"{counts['updated']} updated, {skipped} already there, {len(failures)} failed; "
          f"{images} images sent in {seconds:.1f} s; {client.requests} requests, {client.retried} retried")
    for failure in failures:
        print(f"failed: {failure}", file=sys.stderr)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path, help="manifest.json, or a folder (manifest.json or <category>/<item>/)")
    parser.add_argument("--url", default=os.environ.get("PAIRWISE_URL", "http://127.0.0.1:5000"))
    parser.add_argument("--token", default=os.environ.get("PAIRWISE_TOKEN"))
    parser.add_argument("--pool", default=None, help="pool name (default: the manifest's 'pool')")
    parser.add_argument("--parallel", type=int, default=4, help="uploads at a time")
    parser.add_argument("--retries", type=int, default=5, help="retries per request on 5xx/connection errors")
    parser.add_argument("--backoff", type=float, default=0.5, help="first retry waits up to this many seconds")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("give --token or set PAIRWISE_TOKEN")
    try:
        return run(args.path, url=args.url, token=args.token, pool=args.pool, parallel=args.parallel,
                   retries=args.retries, backoff=args.backoff, quiet=args.quiet)
    except Failure as exc:
        print(f"seed_pool: {exc}", file=sys.stderr)
        return 1
    except (OSError, ValueError, KeyError) as exc:
        print(f"seed_pool: {path_error(exc)}", file=sys.stderr)
        return 1


def path_error(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    if isinstance(exc, KeyError):
        return f"manifest: missing key {exc}"
    return str(exc)


if __name__ == "__main__":
    sys.exit(main())
