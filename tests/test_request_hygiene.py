"""Request bodies are bounded per route, hostile JSON and URLs get a 4xx (never a 500),
and every response carries the security headers."""

from __future__ import annotations

import io
import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from .conftest import png_bytes

GOOD = {"choice": "left", "rationale": "A keeps the fabric texture, B is smeared"}


class CountingStream(io.RawIOBase):
    """A request body of ``size`` bytes that counts how much of it the server reads."""

    def __init__(self, size: int, chunk: bytes = b"[") -> None:
        self.size, self.chunk, self.read_bytes = size, chunk, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.size - self.read_bytes)
        buffer[:n] = (self.chunk * (n // len(self.chunk) + 1))[:n]
        self.read_bytes += n
        return n


@pytest.fixture()
def issued(client, make_pool, make_user, token_for) -> tuple[dict[str, str], dict[str, Any]]:
    make_pool()
    expert = token_for(make_user("expert"))
    response = client.post("/api/v1/pools/pool-1/assignments", headers=expert)
    assert response.status_code == 201
    return expert, response.json


def test_a_huge_json_body_is_refused_before_it_is_read(client, issued, make_user, token_for,
                                                       table_counts) -> None:
    _, assignment = issued
    other = token_for(make_user("expert"))  # not even the holder: refused before auth-dependent work
    before = table_counts()
    for headers in (other, {}):
        body = CountingStream(190 * 2**20)
        response = client.post(assignment["submit_url"], headers=headers, environ_overrides={
            "wsgi.input": body, "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(body.size)})
        assert response.status_code == 413
        assert "64 KB" in response.json["error"]
        assert body.read_bytes == 0
    assert table_counts() == before


def test_a_body_without_length_is_cut_at_the_limit(client, issued) -> None:
    expert, assignment = issued
    body = CountingStream(5 * 2**20, chunk=b" ")
    response = client.post(assignment["submit_url"], headers=expert, environ_overrides={
        "wsgi.input": body, "wsgi.input_terminated": True, "CONTENT_TYPE": "application/json",
        "HTTP_TRANSFER_ENCODING": "chunked"})
    assert response.status_code == 413
    assert body.read_bytes <= 64 * 2**10 + 2**16  # the limit plus at most one read buffer


def test_a_small_json_body_still_passes_and_uploads_keep_their_own_limit(client, issued, make_user,
                                                                         token_for) -> None:
    expert, assignment = issued
    assert client.post(assignment["submit_url"], headers=expert, json=GOOD).status_code == 201
    admin = token_for(make_user("admin"))
    noise = Image.effect_noise((256, 256), 80).convert("RGB")
    buffer = io.BytesIO()
    noise.save(buffer, format="PNG")
    assert buffer.tell() > 64 * 2**10  # bigger than any JSON route takes
    form = {"id": "big-1", "category": "apparel", "instruction": "brighten",
            "source": (io.BytesIO(buffer.getvalue()), "source.png"),
            "outputs[a]": (io.BytesIO(png_bytes(1)), "a.png"), "outputs[b]": (io.BytesIO(png_bytes(2)), "b.png")}
    assert client.post("/api/v1/pools/pool-1/items", headers=admin, data=form).status_code == 201


@pytest.mark.parametrize("raw, reason", [
    ('{"choice": "left", "rationale": "A keeps the \\ud800 weave better"}', "surrogate"),
    ('{"choice": "left", "rationale": "A keeps the weave \\udfff better"}', "surrogate"),
    ('{"choice": "left", "rationale": "A keeps the weave, B has \\u0000 halos"}', "NUL"),
    ('{"choice": "left", "rationale": NaN}', "NaN"),
    ('{"choice": "left", "rationale": "x", "tags": {"left": [1e99999]}}', "Infinity"),
    ("[" * 30000 + "]" * 30000, "nested"),
    ('{"a": ' * 40 + "1" + "}" * 40, "nested"),
])
def test_hostile_json_is_a_4xx_and_stores_nothing(client, issued, table_counts, raw, reason) -> None:
    expert, assignment = issued
    before = table_counts()
    response = client.post(assignment["submit_url"], headers=expert, data=raw.encode(),
                           content_type="application/json")
    assert response.status_code == 422
    assert table_counts() == before
    admin_route = client.post("/api/v1/pools", headers=expert, data=raw.encode(), content_type="application/json")
    assert 400 <= admin_route.status_code < 500


def test_json_nested_100000_deep_is_a_4xx_whatever_the_body_limit(app, client, make_user, token_for) -> None:
    admin = token_for(make_user("admin"))
    deep = ("[" * 100_000 + "]" * 100_000).encode()
    assert client.post("/api/v1/pools", headers=admin, data=deep, content_type="application/json").status_code == 413
    app.config["MAX_BODY_KB"] = 1024
    response = client.post("/api/v1/pools", headers=admin, data=deep, content_type="application/json")
    assert response.status_code == 422 and "nested" in response.json["error"]


def test_invalid_utf8_is_a_4xx(client, make_user, token_for) -> None:
    admin = token_for(make_user("admin"))
    response = client.post("/api/v1/pools", headers=admin, data=b'{"name": "\xff\xfe"}', content_type="application/json")
    assert response.status_code == 422


@pytest.mark.parametrize("number", [2**31, 2**63, 2**64 + 7, 10**30])
def test_ids_beyond_the_column_range_are_404(client, issued, number) -> None:
    expert, _ = issued
    response = client.post(f"/api/v1/assignments/{number}/judgment", headers=expert, json=GOOD)
    assert response.status_code == 404 and "error" in response.json


@pytest.mark.parametrize("url", ["/api/v1/pools/%00", "/api/v1/pools/pool-1/leaderboard?category=%00",
                                 "/api/v1/pools/pool-1/judgments?format=csv%00", "/images/%00.png",
                                 "/pools/pool-1/leaderboard?ties=%00"])
def test_nul_in_a_url_is_a_400(client, make_pool, make_user, token_for, url) -> None:
    make_pool()
    response = client.get(url, headers=token_for(make_user("admin")))
    assert response.status_code == 400


def test_nul_in_the_login_form_is_a_400(client) -> None:
    assert client.post("/login", data={"email": "a\x00@example.com", "password": "x"}).status_code == 400


def _value(rng: random.Random, depth: int = 0) -> Any:
    atoms: list[Any] = [None, True, False, 0, -1, 2**31, 2**63, -(2**63) - 1, 10**300, 1e308, 1.5, "", "x",
                        "\ud800", "\u0000", "\u202e", "a" * 6000, "left", "tie", "both_bad", "halo", [], {}]
    r = rng.random()
    if depth > 3 or r < 0.6:
        return rng.choice(atoms)
    if r < 0.8:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    keys = ["choice", "rationale", "tags", "left", "right", "settings", "name", "open", "categories"]
    return {rng.choice(keys): _value(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def test_fuzzed_json_bodies_never_make_a_500(client, make_pool, make_user, token_for) -> None:
    """A small seeded fuzz of every JSON route (a longer run found the NUL and surrogate cases)."""
    make_pool(items=3)
    admin, expert = token_for(make_user("admin")), token_for(make_user("expert"))
    assignment = client.post("/api/v1/pools/pool-1/assignments", headers=expert).json
    rng = random.Random(12)
    settings = ["rationale_min_chars", "scheduler", "overlap_share", "gold_share", "open", "categories"]
    statuses = set()
    for _ in range(150):
        judgment = {k: _value(rng) for k in ("choice", "rationale", "tags") if rng.random() < 0.8}
        judgment["tags"] = {"left": _value(rng), "right": _value(rng)}
        cases = [
            ("post", assignment["submit_url"], expert, judgment),
            ("post", "/api/v1/pools", admin, {"name": rng.choice(["Bad", _value(rng)]),
                                               "settings": {k: _value(rng) for k in settings if rng.random() < 0.5}}),
            ("patch", "/api/v1/pools/pool-1", admin, {"settings": {k: _value(rng) for k in settings
                                                                   if rng.random() < 0.5} | {"open": "no"}}),
            ("post", "/api/v1/pools/pool-1/assignments", expert, _value(rng)),
        ]
        for method, url, headers, body in cases:
            response = getattr(client, method)(url, headers=headers, data=json.dumps(body),
                                               content_type="application/json")
            statuses.add(response.status_code)
            assert response.status_code < 500, (url, body)
    assert statuses <= {201, 400, 404, 409, 413, 422}


# ----- security headers ---------------------------------------------------------

def test_security_headers_on_pages_api_images_static_and_errors(client, issued) -> None:
    expert, assignment = issued
    responses = [client.get("/login"), client.get("/api/v1/openapi.json"), client.get("/api/v1/nope"),
                 client.get("/static/style.css"), client.get(assignment["left"]["url"], headers=expert),
                 client.get("/api/v1/me", headers={"Authorization": "Bearer nope"}), client.get("/")]
    for response in responses:
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] in ("same-origin", "no-referrer", "strict-origin")
        assert response.headers["X-Frame-Options"] == "DENY"
        response.close()  # the image and the stylesheet are sent from open files


def test_templates_have_no_inline_scripts_handlers_or_styles() -> None:
    """What a strict CSP would block: other branches' templates are held to it too."""
    root = Path(__file__).parents[1] / "pairwise" / "templates"
    problems = []
    for path in sorted(root.rglob("*.html")):
        text = path.read_text()
        for pattern in (r"\son[a-z]+\s*=", r"<script(?![^>]*\bsrc=)[^>]*>", r"\sstyle\s*=", r"javascript:",
                        r"<style"):
            problems += [f"{path.relative_to(root)}: {m.group(0).strip()}" for m in re.finditer(pattern, text, re.I)]
    assert problems == []
