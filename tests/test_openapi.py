"""The OpenAPI document matches the code.

1. Every API route and method is in the document, and the document names
   nothing the app does not serve.
2. schemathesis, run against a live server (a werkzeug thread on a free
   loopback port, an admin token in the header), with all its checks and its
   phases (examples, coverage, fuzzing, and the stateful phase following the
   document's links from create to read), finds no failure and no 5xx.
   A few examples per operation keep it to well under a minute.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from .live import serve

CONFIG = Path(__file__).resolve().parent / "data" / "schemathesis.toml"


def _api_routes(app: Any) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((method.lower(), path))
    return routes


def _documented(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method, path) for path, item in spec["paths"].items()
            for method in item if method in ("get", "post", "put", "patch", "delete")}


def _shape(path: str) -> str:
    """Paths with their parameters' names erased: /pools/{pool} ~ /pools/<pool_name>."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_every_route_is_documented_and_nothing_else(app, client) -> None:
    spec = client.get("/api/v1/openapi.json").json
    served = {(m, _shape(p)) for m, p in _api_routes(app)}
    documented = {(m, _shape(p)) for m, p in _documented(spec)}
    assert served - documented == set(), "routes missing from the document"
    assert documented - served == set(), "documented operations the app does not serve"
    ids = [op["operationId"] for item in spec["paths"].values() for key, op in item.items() if key != "parameters"]
    assert len(ids) == len(set(ids))


def test_every_error_is_documented_with_the_error_shape(client) -> None:
    spec = client.get("/api/v1/openapi.json").json
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            for status, response in op["responses"].items():
                if status.startswith(("4", "5")):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, status)


def _admin_token(app: Any, user: Any) -> dict[str, str]:
    """A token whose row id no generated DELETE /tokens/{id} will hit (1, 2, max, ...)."""
    from pairwise.auth import hash_token
    from pairwise.db import get_db
    from pairwise.schema import ApiToken

    token = "pw_schemathesis-admin"
    with app.app_context():
        db = get_db()
        db.add(ApiToken(id=2_000_012_345, user_id=user.id, token_hash=hash_token(token)))
        db.commit()
    return {"Authorization": f"Bearer {token}"}


def _schemathesis(url: str, token: str, cwd: Path, *extra: str) -> str:
    command = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert command is not None, "schemathesis is in the test extra: pip install -e '.[test]'"
    done = subprocess.run(
        [command, "--config-file", str(CONFIG), "run", f"{url}/api/v1/openapi.json",
         "--url", url, "--header", f"Authorization: {token}",
         "--phases", "examples,coverage,fuzzing,stateful",
         "--max-examples", "3", "--seed", "1", "--no-shrink", "--workers", "1",
         "--generation-database", "none", "--request-timeout", "30", *extra],
        capture_output=True, text=True, timeout=600, cwd=cwd)
    output = done.stdout + done.stderr
    (cwd / "schemathesis.txt").write_text(output)
    assert done.returncode == 0, output[-20000:]
    assert "passed" in output, output[-5000:]
    return output


def test_schemathesis_finds_nothing(app, make_pool, make_user, tmp_path) -> None:
    # Every check is on by default (schemathesis 4), including negative and
    # positive data, status codes, content types, headers, Allow on 405.
    make_pool("pool-1", categories=("apparel", "food"), items=2, rationale_min_chars=1)
    admin = _admin_token(app, make_user("admin"))
    from pairwise.auth import create_token
    from pairwise.db import get_db
    from pairwise.schema import User

    expert = make_user("expert")
    with app.app_context():
        db = get_db()
        expert_token = create_token(db, db.get(User, expert.id))
        db.commit()
    with serve(app) as url:
        # As an admin: everything but the expert's two operations answers for real.
        _schemathesis(url, admin["Authorization"], tmp_path)
        # As an expert: pairs and judgments, the stateful phase following the
        # link from the issued pair to its judgment.
        _schemathesis(url, f"Bearer {expert_token}", tmp_path,
                      "--include-operation-id", "nextAssignment", "--include-operation-id", "submitJudgment")
