"""The pages work under the strict Content-Security-Policy, in a real browser."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .test_browser import live_server, log_in, page  # noqa: F401 - fixtures

WATCH_CSP = """() => { window.__csp = [];
  document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI)); }"""


def test_leaderboard_and_judge_pages_run_without_csp_violations(app, live_server, page, make_pool,  # noqa: F811
                                                                make_user, token_for, client) -> None:
    make_pool(items=2)
    expert = make_user("expert", email="ex@example.com")
    headers = token_for(expert)
    for _ in range(3):
        assignment = client.post("/api/v1/pools/pool-1/assignments", headers=headers).json
        client.post(assignment["submit_url"], headers=headers,
                    json={"choice": "left", "rationale": "A keeps more detail in the fabric"})
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text))
    page.add_init_script(f"({WATCH_CSP})()")

    log_in(page, live_server, make_user("researcher", email="re@example.com").email)
    page.goto(f"{live_server}/pools/pool-1/leaderboard")
    # The heat map is coloured by page.js, not by a style attribute.
    cell = page.locator("#win-rate td[data-bg]").first
    expect(cell).to_have_attribute("style", re.compile(r"background: rgb\("))
    # Changing an option submits the form (formerly an inline onchange handler).
    page.select_option("select[name=ties]", "davidson")
    page.wait_for_url("**ties=davidson**")
    assert page.evaluate("window.__csp") == []

    page.click("text=Log out")
    log_in(page, live_server, expert.email)
    page.click("text=Judge")
    expect(page.locator("#instruction")).to_contain_text("brighten apparel item")
    assert page.evaluate("window.__csp") == []
    assert not [m for m in messages if "Content Security Policy" in m]
