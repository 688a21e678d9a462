"""End to end in a real browser: Debian's Chromium driven by Playwright."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy import select
from werkzeug.serving import make_server

from .conftest import PASSWORD

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture()
def live_server(app: Any) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture()
def page() -> Iterator[Page]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(15000)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page
        assert errors == [], errors  # no script error on any page
        context.close()
        browser.close()


def log_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Pools")


def judgments(app: Any) -> list[Any]:
    from pairwise.db import get_db
    from pairwise.schema import Judgment
    with app.app_context():
        return list(get_db().scalars(select(Judgment).order_by(Judgment.id)))


def test_expert_judges_then_researcher_downloads(app, live_server, page, make_pool, make_user, tmp_path) -> None:
    make_pool(categories=("apparel",), items=2, models=("secret-alpha", "secret-beta", "secret-gamma"))
    expert = make_user("expert", email="ex@example.com")
    researcher = make_user("researcher", email="re@example.com")

    log_in(page, live_server, expert.email)
    page.click("text=Judge")
    expect(page.locator("#instruction")).to_contain_text("brighten apparel item")
    assert "secret-" not in page.content()

    # Zoom and flip work on the loaded pair.
    page.click("button[data-zoom='2']")
    expect(page.locator("#viewer")).to_have_class("viewer zoomed zoom-2")
    page.keyboard.press("f")
    expect(page.locator("#caption-single")).to_contain_text("A")
    page.keyboard.press("f")
    expect(page.locator("#caption-single")).to_contain_text("B")
    page.click("button[data-zoom='fit']")
    page.keyboard.press("s")

    # First attempt without a rationale is refused on the page; nothing stored.
    first_id = page.locator("#judge").get_attribute("data-assignment")
    page.check("#choice-left")
    page.click("#submit")
    expect(page.locator("#error")).to_contain_text("rationale of at least 20")
    assert judgments(app) == []
    assert page.locator("#judge").get_attribute("data-assignment") == first_id

    answers = [("left", ["halo"], "A keeps the weave of the fabric; B has halos"),
               ("right", [], "B has cleaner edges around the sleeve and no cast"),
               ("both_bad", ["banding"], "both band in the backdrop gradient, unusable")]
    for n, (choice, tags, rationale) in enumerate(answers):
        current = page.locator("#judge").get_attribute("data-assignment")
        page.check(f"#choice-{choice}")
        for tag in tags:
            page.fill("#tag-input-left", tag)
            page.keyboard.press("Enter")
        page.fill("#rationale", rationale)
        page.click("#submit")
        expect(page.locator("#judge")).not_to_have_attribute("data-assignment", current)  # next pair shown
        expect(page.locator("#judge")).to_have_attribute("data-saved", current)  # saved behind it
        assert len(judgments(app)) == n + 1

    stored = judgments(app)
    assert [j.choice.value for j in stored] == ["left", "right", "both_bad"]
    assert stored[0].tags_left == ["halo"] and stored[0].rationale == answers[0][2]

    page.click("text=Log out")
    log_in(page, live_server, researcher.email)
    page.click("text=Leaderboard")
    expect(page.locator("#leaderboard tbody tr")).to_have_count(3)
    expect(page.locator("#leaderboard")).to_contain_text("secret-alpha")
    with page.expect_download() as info:
        page.click("#download-csv")
    path = tmp_path / "board.csv"
    info.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert [r["model"] for r in rows] and len(rows) == 3
    assert sum(int(r["judgments"]) for r in rows) == 6  # 3 judgments x 2 models
    assert sum(int(r["wins"]) for r in rows) == 2 and sum(int(r["ties"]) for r in rows) == 2
