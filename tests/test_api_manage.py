"""API for seeding scripts and admins: items, models, retirement, progress, bulk imports, tokens."""

from __future__ import annotations

import io
import json
import tarfile
import warnings
import zipfile

import pytest

from .conftest import png_bytes


@pytest.fixture()
def admin(make_user, token_for):
    return token_for(make_user("admin"))


def judge_all(client, headers, pool: str) -> int:
    n = 0
    while True:
        got = client.post(f"/api/v1/pools/{pool}/assignments", headers=headers)
        if got.status_code == 204:
            return n
        assert got.status_code == 201
        assert client.post(got.json["submit_url"], headers=headers,
                           json={"choice": "left", "rationale": "left keeps the fabric texture"}).status_code == 201
        n += 1


def test_items_are_keyset_paged_with_their_models(client, admin, make_pool) -> None:
    make_pool("p", categories=("apparel", "food"), items=3)
    seen, after, pages = [], None, 0
    while True:
        query = {"limit": 4} | ({"after": after} if after else {})
        page = client.get("/api/v1/pools/p/items", headers=admin, query_string=query)
        assert page.status_code == 200
        seen += page.json["items"]
        pages += 1
        after = page.json["next_after"]
        if after is None:
            assert page.json["next_url"] is None
            break
        assert page.json["next_url"].startswith("/api/v1/pools/p/items?")
    assert pages == 2
    assert [i["id"] for i in seen] == sorted(f"{c}-{k}" for c in ("apparel", "food") for k in range(3))
    assert all(i["models"] == ["model-a", "model-b", "model-c"] for i in seen)
    bad = client.get("/api/v1/pools/p/items?limit=0", headers=admin)
    assert bad.status_code == 422 and "limit" in bad.json["error"]
    assert client.get("/api/v1/pools/nope/items", headers=admin).status_code == 404


def test_experts_cannot_list_items(client, make_user, token_for, make_pool) -> None:
    make_pool("p")
    response = client.get("/api/v1/pools/p/items", headers=token_for(make_user("expert")))
    assert response.status_code == 403 and "error" in response.json


def test_retired_model_gets_no_new_pairs_but_keeps_its_judgments(client, admin, make_pool, make_user,
                                                                 token_for) -> None:
    make_pool("p", items=2, rationale_min_chars=5)
    first = token_for(make_user("expert"))
    client.post("/api/v1/pools/p/assignments", headers=first)  # judged below, before the retirement
    assert judge_all(client, first, "p") == 6
    retired = client.patch("/api/v1/pools/p/models/model-c", headers=admin, json={"retired": True})
    assert retired.status_code == 200 and retired.json["retired"] is True and retired.json["retired_at"]
    second = token_for(make_user("expert"))
    shown = set()
    while (got := client.post("/api/v1/pools/p/assignments", headers=second)).status_code == 201:
        shown |= {got.json["left"]["url"], got.json["right"]["url"]}
        client.post(got.json["submit_url"], headers=second, json={"choice": "tie", "rationale": "equal"})
    assert len(shown) == 4  # two items x the two remaining models
    models = client.get("/api/v1/pools/p/models", headers=admin).json["models"]
    assert [(m["name"], m["retired"], m["outputs"]) for m in models] == [
        ("model-a", False, 2), ("model-b", False, 2), ("model-c", True, 2)]
    board = client.get("/api/v1/pools/p/leaderboard?bootstrap=0", headers=admin).json
    rows = {r["model"]: r for r in board["rows"]}
    assert "retired" in rows["model-c"]["flags"] and rows["model-c"]["judgments"] > 0
    assert "retired" not in rows["model-a"]["flags"]
    assert board["retired_models"] == ["model-c"]
    csv_text = client.get("/api/v1/pools/p/leaderboard?bootstrap=0&format=csv", headers=admin).get_data(as_text=True)
    assert "retired" in csv_text
    back = client.patch("/api/v1/pools/p/models/model-c", headers=admin, json={"retired": False})
    assert back.json["retired"] is False
    for body, status in [({"retired": "yes"}, 422), ({}, 422), ({"retired": True, "x": 1}, 422)]:
        assert client.patch("/api/v1/pools/p/models/model-c", headers=admin, json=body).status_code == status
    assert client.patch("/api/v1/pools/p/models/nope", headers=admin, json={"retired": True}).status_code == 404


def test_progress_per_category(client, admin, make_pool, make_user, token_for) -> None:
    make_pool("p", categories=("apparel", "food"), items=1, rationale_min_chars=5)
    expert = token_for(make_user("expert"))
    judged = judge_all(client, expert, "p")
    other = token_for(make_user("expert"))
    open_one = client.post("/api/v1/pools/p/assignments", headers=other)
    assert open_one.status_code == 201
    progress = client.get("/api/v1/pools/p/progress", headers=admin).json
    assert progress["judgments"] == judged == 6 and progress["open_assignments"] == 1
    assert [c["category"] for c in progress["categories"]] == ["apparel", "food"]
    for entry in progress["categories"]:
        assert entry["items"] == 1 and entry["judgments"] == 3
        assert sorted(tuple(p["models"]) for p in entry["pairs"]) == [
            ("model-a", "model-b"), ("model-a", "model-c"), ("model-b", "model-c")]
        assert all(p["judgments"] == 1 for p in entry["pairs"])
    assert sum(c["open_assignments"] for c in progress["categories"]) == 1


# ----- bulk imports --------------------------------------------------------------

def manifest_json(items: int = 2, prefix: str = "") -> str:
    return json.dumps({"items": [
        {"id": f"dress-{k}", "category": "apparel", "instruction": "remove the background",
         "source": f"{prefix}dress-{k}/source.png",
         "outputs": {m: f"{prefix}dress-{k}/{m}.png" for m in ("model-a", "model-b")}}
        for k in range(items)]})


def files(items: int = 2) -> dict[str, bytes]:
    out = {}
    for k in range(items):
        out[f"dress-{k}/source.png"] = png_bytes(100 + k)
        out[f"dress-{k}/model-a.png"] = png_bytes(200 + k)
        out[f"dress-{k}/model-b.png"] = png_bytes(300 + k)
    return out


def zip_of(entries: dict[str, bytes] | list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate names we want
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
            for name, data in (entries.items() if isinstance(entries, dict) else entries):
                bundle.writestr(name, data)
    return buffer.getvalue()


def tar_of(entries: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            bundle.addfile(info)
    return buffer.getvalue()


def post_import(client, headers, archive: bytes, manifest: str | None = None, name: str = "files.zip"):
    data = {"archive": (io.BytesIO(archive), name)}
    if manifest is not None:
        data["manifest"] = (io.BytesIO(manifest.encode()), "manifest.json")
    return client.post("/api/v1/pools/p/imports", headers=headers, data=data)


def test_bulk_import_zip_then_poll(client, admin) -> None:
    client.post("/api/v1/pools", headers=admin, json={"name": "p"})
    response = post_import(client, admin, zip_of(files()), manifest_json())
    assert response.status_code == 201, response.json
    job = response.json
    assert job["status"] == "done" and job["items_total"] == job["items_done"] == 2
    assert response.headers["Location"] == job["url"]
    polled = client.get(job["url"], headers=admin)
    assert polled.status_code == 200 and polled.json["status"] == "done"
    assert client.get("/api/v1/pools/p", headers=admin).json["items"] == 2
    again = post_import(client, admin, zip_of(files()), manifest_json())
    assert again.status_code == 201 and "2 already present" in again.json["message"]


def test_bulk_import_tar_with_the_manifest_inside(client, admin) -> None:
    client.post("/api/v1/pools", headers=admin, json={"name": "p"})
    entries = {"manifest.json": manifest_json(3).encode(), **files(3)}
    response = post_import(client, admin, tar_of(entries), name="files.tar.gz")
    assert response.status_code == 201, response.json
    assert client.get("/api/v1/pools/p", headers=admin).json["items"] == 3


def _bomb() -> bytes:
    return zip_of({**files(1), "dress-0/huge.png": b"\0" * (40 * 2**20)})


@pytest.mark.parametrize("archive, manifest, message", [
    (zip_of({**files(), "../evil.png": b"x"}), manifest_json(), "../evil.png: path escapes"),
    (zip_of({**files(), "/etc/evil.png": b"x"}), manifest_json(), "/etc/evil.png: path escapes"),
    (zip_of([*files().items(), ("dress-0/model-a.png", png_bytes(9))]), manifest_json(),
     "dress-0/model-a.png: duplicate name"),
    (_bomb(), manifest_json(1), "dress-0/huge.png: expands"),
    (zip_of({k: v for k, v in files().items() if k != "dress-1/model-b.png"}), manifest_json(),
     "'dress-1/model-b.png' not found"),
    (tar_of(files(), links={"dress-0/link.png": "/etc/passwd"}), manifest_json(), "dress-0/link.png: links"),
    (b"this is not an archive", manifest_json(), "not a zip or tar file"),
    (zip_of({**files(), "dress-1/model-b.png": b"not a png"}), manifest_json(), "model-b.png"),
])
def test_bad_archives_import_nothing(client, admin, table_counts, archive, manifest, message) -> None:
    client.post("/api/v1/pools", headers=admin, json={"name": "p"})
    before = {k: v for k, v in table_counts().items() if k != "import_job"}
    response = post_import(client, admin, archive, manifest)
    assert response.status_code == 422, response.json
    assert message in response.json["error"] and "nothing imported" in response.json["error"]
    assert "\n" not in response.json["error"]
    assert {k: v for k, v in table_counts().items() if k != "import_job"} == before
    job_id = int(response.json["error"].rsplit("(import ", 1)[1].split(",")[0])
    job = client.get(f"/api/v1/imports/{job_id}", headers=admin).json
    assert job["status"] == "failed" and message in job["message"]


def test_bulk_import_needs_an_archive(client, admin) -> None:
    client.post("/api/v1/pools", headers=admin, json={"name": "p"})
    response = client.post("/api/v1/pools/p/imports", headers=admin, data={"manifest": manifest_json()})
    assert response.status_code == 422 and "archive" in response.json["error"]
    assert client.get("/api/v1/imports/99", headers=admin).status_code == 404
    for huge in (2**31, 2**63, 2**64):  # no such row; PostgreSQL must not see the number
        assert client.get(f"/api/v1/imports/{huge}", headers=admin).status_code == 404
        assert client.post(f"/api/v1/assignments/{huge}/judgment", headers=admin, json={}).status_code == 404


# ----- tokens ----------------------------------------------------------------------

def test_admin_manages_tokens(client, admin, make_user) -> None:
    researcher = make_user("researcher")
    made = client.post("/api/v1/tokens", headers=admin, json={"email": researcher.email})
    assert made.status_code == 201 and made.json["token"].startswith("pw_")
    token = {"Authorization": f"Bearer {made.json['token']}"}
    assert client.get("/api/v1/me", headers=token).json["email"] == researcher.email
    listed = client.get("/api/v1/tokens", headers=admin, query_string={"email": researcher.email}).json["tokens"]
    assert [t["id"] for t in listed] == [made.json["id"]] and "token" not in listed[0]
    assert client.delete(f"/api/v1/tokens/{made.json['id']}", headers=admin).status_code == 204
    assert client.get("/api/v1/me", headers=token).status_code == 401
    assert client.delete(f"/api/v1/tokens/{made.json['id']}", headers=admin).status_code == 404
    assert client.post("/api/v1/tokens", headers=admin, json={"email": "nobody@example.com"}).status_code == 404
    assert client.post("/api/v1/tokens", headers=admin, json={}).status_code == 422
    assert client.get("/api/v1/tokens", headers=token).status_code == 401


def test_only_admins_manage_tokens(client, make_user, token_for) -> None:
    researcher = token_for(make_user("researcher"))
    assert client.get("/api/v1/tokens", headers=researcher).status_code == 403
    assert client.post("/api/v1/tokens", headers=researcher, json={"email": "a@b.cd"}).status_code == 403


def test_every_405_says_what_is_allowed(client, admin) -> None:
    response = client.delete("/api/v1/pools", headers=admin)
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert "error" in response.json
    put = client.put("/api/v1/tokens/1", headers=admin)
    assert put.status_code == 405 and "DELETE" in put.headers["Allow"]
    for path in ("/login", "/images/" + "a" * 64 + ".png"):  # pages and images too
        response = client.delete(path)
        assert response.status_code == 405 and "GET" in response.headers["Allow"], path


# ----- bulk import progress ---------------------------------------------------------

class _Pause:
    """Holds an import after its first committed progress, so a test can look at it mid-way."""

    def __init__(self, monkeypatch) -> None:
        import threading

        from pairwise import bulk_import

        self.reached, self.release = threading.Event(), threading.Event()
        self.seen: list[dict] = []

        def after_progress(job_id: int, fields: dict) -> None:
            self.seen.append(dict(fields))
            if fields.get("items_done") == 1:
                self.reached.set()
                assert self.release.wait(60), "the test never released the import"

        monkeypatch.setattr(bulk_import, "after_progress", after_progress)


def _import_thread(job_id: int):
    import threading

    return next(t for t in threading.enumerate() if t.name == f"pairwise-import-{job_id}")


def test_an_async_import_reports_progress_while_it_runs(client, admin, monkeypatch, table_counts) -> None:
    client.post("/api/v1/pools", headers=admin, json={"name": "p"})
    pause = _Pause(monkeypatch)
    data = {"archive": (io.BytesIO(zip_of(files(3))), "files.zip"),
            "manifest": (io.BytesIO(manifest_json(3).encode()), "manifest.json")}
    response = client.post("/api/v1/pools/p/imports", headers={**admin, "Prefer": "respond-async"}, data=data)
    assert response.status_code == 202, response.json
    assert response.headers["Preference-Applied"] == "respond-async"
    job = response.json
    assert response.headers["Location"] == job["url"]
    assert job["status"] == "queued" and job["items_total"] == 3 and job["images_total"] == 9
    thread = _import_thread(job["id"])
    try:
        assert pause.reached.wait(60)
        polled = client.get(job["url"], headers=admin).json
        assert polled["status"] == "running" and polled["stage"] == "images"
        assert (polled["items_done"], polled["items_total"]) == (1, 3)
        assert (polled["images_done"], polled["images_total"]) == (3, 9)
        assert polled["error"] is None and polled["finished_at"] is None
        assert table_counts()["item"] == 0  # nothing is visible before the end: all or nothing
    finally:
        pause.release.set()
        thread.join()
    done = client.get(job["url"], headers=admin).json
    assert done["status"] == "done" and done["stage"] is None and done["finished_at"]
    assert (done["items_done"], done["images_done"]) == (3, 9)
    assert "3 new items" in done["message"]
    assert client.get("/api/v1/pools/p", headers=admin).json["items"] == 3
    assert any(seen.get("stage") == "saving" for seen in pause.seen)


def test_a_running_import_beats_and_one_whose_process_died_reads_failed(app, client, admin, monkeypatch) -> None:
    """A poller tells a slow import (its heartbeat moves) from a dead one (failed, send it again)."""
    import threading
    from datetime import timedelta

    from pairwise import bulk_import
    from pairwise.db import get_db
    from pairwise.schema import ImportJob, utcnow

    client.post("/api/v1/pools", headers=admin, json={"name": "p"})
    monkeypatch.setattr(bulk_import, "HEARTBEAT_SECONDS", 0.05)
    pause = _Pause(monkeypatch)
    beat = threading.Event()
    paused_hook = bulk_import.after_progress

    def after_progress(job_id: int, fields: dict) -> None:
        if not fields and pause.reached.is_set():
            beat.set()  # a heartbeat while the import is held mid-way
        paused_hook(job_id, fields)

    monkeypatch.setattr(bulk_import, "after_progress", after_progress)
    data = {"archive": (io.BytesIO(zip_of(files(2))), "files.zip"),
            "manifest": (io.BytesIO(manifest_json(2).encode()), "manifest.json")}
    job = client.post("/api/v1/pools/p/imports", headers={**admin, "Prefer": "respond-async"}, data=data).json
    thread = _import_thread(job["id"])
    try:
        assert pause.reached.wait(60) and beat.wait(60)
        assert client.get(job["url"], headers=admin).json["status"] == "running"  # beating: not stale
    finally:
        pause.release.set()
        thread.join()
    assert client.get(job["url"], headers=admin).json["status"] == "done"

    # A job left running by a process that died: no beat for longer than STALE_SECONDS.
    with app.app_context():
        db = get_db()
        old = utcnow() - timedelta(seconds=bulk_import.STALE_SECONDS + 5)
        dead = ImportJob(pool_name="p", status="running", stage="images", items_total=5, items_done=2,
                         images_total=15, images_done=6, created_at=old, updated_at=old)
        fresh = ImportJob(pool_name="p", status="running", stage="images", items_total=5, items_done=2,
                          images_total=15, images_done=6, created_at=old, updated_at=utcnow())
        db.add_all([dead, fresh])
        db.commit()
        dead_id, fresh_id = dead.id, fresh.id
    polled = client.get(f"/api/v1/imports/{dead_id}", headers=admin).json
    assert polled["status"] == "failed" and polled["error"] == bulk_import.INTERRUPTED and polled["finished_at"]
    assert client.get(f"/api/v1/imports/{dead_id}", headers=admin).json["status"] == "failed"  # stored
    assert client.get(f"/api/v1/imports/{fresh_id}", headers=admin).json["status"] == "running"


def test_a_synchronous_import_commits_its_progress_as_it_goes(app, client, admin, monkeypatch) -> None:
    """Another connection (a poller with the job's id) sees progress before the answer."""
    from pairwise import bulk_import
    from pairwise.schema import ImportJob

    client.post("/api/v1/pools", headers=admin, json={"name": "p"})
    observed: list[tuple] = []

    def after_progress(job_id: int, fields: dict) -> None:
        with app.extensions["pairwise.sessionmaker"]() as other:
            job = other.get(ImportJob, job_id)
            observed.append((job.status, job.stage, job.items_done, job.images_done))

    monkeypatch.setattr(bulk_import, "after_progress", after_progress)
    response = post_import(client, admin, zip_of(files(3)), manifest_json(3))
    assert response.status_code == 201, response.json
    assert observed[0] == ("running", "images", 0, 0)
    assert ("running", "images", 1, 3) in observed
    assert observed[-1] == ("running", "saving", 3, 9)
    assert response.json["status"] == "done" and response.json["images_done"] == 9


def test_an_async_import_of_a_bad_image_fails_naming_it_and_imports_nothing(client, admin, table_counts) -> None:
    client.post("/api/v1/pools", headers=admin, json={"name": "p"})
    before = {k: v for k, v in table_counts().items() if k != "import_job"}
    archive = zip_of({**files(2), "dress-1/model-b.png": b"not a png"})
    data = {"archive": (io.BytesIO(archive), "files.zip"),
            "manifest": (io.BytesIO(manifest_json(2).encode()), "manifest.json")}
    response = client.post("/api/v1/pools/p/imports", headers={**admin, "Prefer": "respond-async"}, data=data)
    assert response.status_code == 202, response.json
    _import_thread(response.json["id"]).join()
    job = client.get(response.json["url"], headers=admin).json
    assert job["status"] == "failed" and job["stage"] is None and job["finished_at"]
    assert "dress-1" in job["error"] and "model-b.png" in job["error"] and job["error"] == job["message"]
    assert {k: v for k, v in table_counts().items() if k != "import_job"} == before


def test_an_async_import_refuses_a_bad_archive_at_once(client, admin, table_counts) -> None:
    """Structure is checked before the answer: a 422 naming the member, not a job that fails later."""
    client.post("/api/v1/pools", headers=admin, json={"name": "p"})
    before = {k: v for k, v in table_counts().items() if k != "import_job"}
    data = {"archive": (io.BytesIO(zip_of({**files(), "../evil.png": b"x"})), "files.zip"),
            "manifest": (io.BytesIO(manifest_json().encode()), "manifest.json")}
    response = client.post("/api/v1/pools/p/imports", headers={**admin, "Prefer": "respond-async"}, data=data)
    assert response.status_code == 422 and "../evil.png: path escapes" in response.json["error"]
    assert {k: v for k, v in table_counts().items() if k != "import_job"} == before
