"""scripts/seed_pool.py against a live server: retries, interruption and resume, summary."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from .conftest import png_bytes
from .live import serve

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "seed_pool.py"


def _load_script() -> Any:
    spec = importlib.util.spec_from_file_location("seed_pool", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["seed_pool"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


seed_pool = _load_script()


def write_manifest(root: Path, items: int, bad: str | None = None) -> Path:
    entries = []
    for k in range(items):
        folder = root / f"look-{k}"
        folder.mkdir(parents=True)
        (folder / "source.png").write_bytes(png_bytes(500 + k))
        for j, model in enumerate(("model-a", "model-b")):
            data = b"not an image" if bad == f"look-{k}" and j == 1 else png_bytes(600 + 10 * k + j)
            (folder / f"{model}.png").write_bytes(data)
        entries.append({"id": f"look-{k}", "category": "apparel", "instruction": "even out the lighting",
                        "source": f"look-{k}/source.png",
                        "outputs": {m: f"look-{k}/{m}.png" for m in ("model-a", "model-b")}})
    path = root / "manifest.json"
    path.write_text(json.dumps({"pool": "looks", "settings": {"rationale_min_chars": 10}, "items": entries}))
    return path


def item_ids(client: Any, headers: dict[str, str]) -> list[str]:
    response = client.get("/api/v1/pools/looks/items", headers=headers)
    return [i["id"] for i in response.json["items"]] if response.status_code == 200 else []


class Flaky:
    """Answers every other item upload with a 503 (the first attempt fails)."""

    def __init__(self, app: Any) -> None:
        self.app, self.n, self.lock = app, 0, threading.Lock()
        self.failed = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"].endswith("/items"):
            with self.lock:
                self.n += 1
                fail = self.n % 2 == 1
                self.failed += fail
            if fail:
                environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
                start_response("503 Service Unavailable", [("Content-Type", "application/json")])
                return [b'{"error": "try again"}']
        return self.app(environ, start_response)


def test_uploads_in_parallel_retrying_5xx(app, client, make_user, token_for, tmp_path, capsys) -> None:
    admin = token_for(make_user("admin"))
    path = write_manifest(tmp_path, items=6)
    flaky: list[Flaky] = []
    with serve(app, lambda wsgi: flaky.append(Flaky(wsgi)) or flaky[0]) as url:
        status = seed_pool.run(path, url=url, token=admin["Authorization"].split()[1], parallel=3,
                               backoff=0.01, quiet=True)
    out = capsys.readouterr().out
    assert status == 0, out
    assert flaky[0].failed >= 3
    assert "6 items created, 0 updated, 0 already there, 0 failed; 18 images" in out
    assert "retried" in out and " 0 retried" not in out
    assert item_ids(client, admin) == [f"look-{k}" for k in range(6)]
    pool = client.get("/api/v1/pools/looks", headers=admin).json
    assert pool["settings"]["rationale_min_chars"] == 10  # the manifest's settings made the pool


class Interrupting:
    """Lets ``allow`` uploads through, then holds the next one until told to refuse it."""

    def __init__(self, app: Any, allow: int) -> None:
        self.app, self.allow = app, allow
        self.uploads, self.listings = 0, 0
        self.arrived, self.release = threading.Event(), threading.Event()
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
        if method == "GET" and path.endswith("/items"):
            self.listings += 1
        if method == "POST" and path.endswith("/items"):
            with self.lock:
                self.uploads += 1
                held = self.uploads > self.allow
            if held:
                self.arrived.set()
                self.release.wait(30)
                start_response("503 Service Unavailable", [("Content-Type", "application/json")])
                return [b'{"error": "going down"}']
        return self.app(environ, start_response)


def test_an_interrupted_run_resumes(app, client, make_user, token_for, tmp_path, capsys) -> None:
    admin = token_for(make_user("admin"))
    token = admin["Authorization"].split()[1]
    path = write_manifest(tmp_path, items=5)
    gate: list[Interrupting] = []
    with serve(app, lambda wsgi: gate.append(Interrupting(wsgi, allow=2)) or gate[0]) as url:
        process = subprocess.Popen([sys.executable, str(SCRIPT), str(path), "--url", url, "--token", token,
                                    "--parallel", "1", "--quiet"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert gate[0].arrived.wait(60), "the third upload never came"
        process.kill()  # interrupted mid-run, as by Ctrl+C or a lost machine
        process.communicate(timeout=30)
        gate[0].release.set()
    assert item_ids(client, admin) == ["look-0", "look-1"]

    with serve(app, lambda wsgi: gate.append(Interrupting(wsgi, allow=100)) or gate[1]) as url:
        status = seed_pool.run(path, url=url, token=token, parallel=2, quiet=True)
    out = capsys.readouterr().out
    assert status == 0, out
    assert gate[1].listings >= 1  # it asked what was there
    assert gate[1].uploads == 3  # and sent only the rest
    assert "3 items created, 0 updated, 2 already there, 0 failed" in out
    assert item_ids(client, admin) == [f"look-{k}" for k in range(5)]


def test_bad_items_are_reported_and_the_rest_uploaded(app, client, make_user, token_for, tmp_path,
                                                      capsys) -> None:
    admin = token_for(make_user("admin"))
    path = write_manifest(tmp_path, items=3, bad="look-1")
    with serve(app) as url:
        status = seed_pool.main([str(path), "--url", url, "--token", admin["Authorization"].split()[1],
                                 "--quiet"])
    captured = capsys.readouterr()
    assert status == 1
    assert "2 items created, 0 updated, 0 already there, 1 failed" in captured.out
    assert "failed: apparel/look-1: HTTP 422:" in captured.err and "model-b.png" in captured.err
    assert item_ids(client, admin) == ["look-0", "look-2"]


def test_a_wrong_token_or_server_is_one_line(app, tmp_path, capsys) -> None:
    path = write_manifest(tmp_path, items=1)
    with serve(app) as url:
        assert seed_pool.main([str(path), "--url", url, "--token", "pw_wrong", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "HTTP 401" in err and len(err.strip().splitlines()) == 1
    assert seed_pool.main([str(path), "--url", "http://127.0.0.1:9", "--token", "x", "--retries", "1",
                           "--backoff", "0.01", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "gave up after 2 attempts" in err and len(err.strip().splitlines()) == 1


def test_folder_form_and_progress_bar(app, client, make_user, token_for, tmp_path, capsys) -> None:
    admin = token_for(make_user("admin"))
    for k in range(2):
        folder = tmp_path / "tree" / "food" / f"dish-{k}"
        folder.mkdir(parents=True)
        (folder / "source.png").write_bytes(png_bytes(700 + k))
        (folder / "instruction.txt").write_text("remove the crumbs")
        for j, model in enumerate(("m1", "m2", "m3")):
            (folder / f"{model}.png").write_bytes(png_bytes(800 + 10 * k + j))
    with serve(app) as url:
        status = seed_pool.main([str(tmp_path / "tree"), "--pool", "dishes", "--url", url,
                                 "--token", admin["Authorization"].split()[1]])
    captured = capsys.readouterr()
    assert status == 0
    assert "2/2 items" in captured.err and "[" + "#" * 30 + "]" in captured.err
    assert "pool 'dishes' (created): 2 items created" in captured.out
    assert client.get("/api/v1/pools/dishes", headers=admin).json["models"] == 3


def test_a_missing_file_fails_its_item_only(app, client, make_user, token_for, tmp_path, capsys) -> None:
    admin = token_for(make_user("admin"))
    path = write_manifest(tmp_path, items=3)
    (tmp_path / "look-1" / "model-a.png").unlink()
    with serve(app) as url:
        status = seed_pool.main([str(path), "--url", url, "--token", admin["Authorization"].split()[1],
                                 "--quiet"])
    captured = capsys.readouterr()
    assert status == 1
    assert "2 items created, 0 updated, 0 already there, 1 failed" in captured.out
    assert "failed: apparel/look-1: " in captured.err and "look-1/model-a.png" in captured.err
    assert item_ids(client, admin) == ["look-0", "look-2"]
