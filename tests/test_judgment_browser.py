"""The judgment browser: filters (hostile text included), keyset pages, the reproducing
link and downloads of exactly the filtered rows; and a real browser filtering by tag."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from typing import Any

import pytest
from markupsafe import escape
from playwright.sync_api import expect

from .test_browser import live_server, log_in, page  # noqa: F401  (fixtures)
from .test_evidence import CRITERIA, judge_all

HOSTILE = "<script>alert('x')</script> 50%_off \\ looks fine to me"


def answers(left: str, right: str) -> dict[str, Any]:
    """model-a has halos; rationales carry LIKE wildcards and markup."""
    a_side = "left" if left == "model-a" else ("right" if right == "model-a" else None)
    if a_side is None:
        rationale = HOSTILE if left == "model-b" else "plain words about the edges and colour"
    else:
        rationale = "100% halo around the product edges on one side"
    return {"choice": "right" if a_side == "left" else "left",
            "tags": {"left": ["halo"] if a_side == "left" else [], "right": ["halo"] if a_side == "right" else []},
            "criteria": {"texture": "left"}, "rationale": rationale}


@pytest.fixture()
def judged(client, app, make_pool, make_user, token_for, researcher) -> dict[str, Any]:
    make_pool(items=2, tags={"halo": "Halos", "smear": "Smeared"}, criteria=CRITERIA)
    experts = [make_user("expert"), make_user("expert")]
    for expert in experts:
        assert judge_all(client, app, token_for(expert), answers) == 6
    return {"experts": experts}


@pytest.fixture()
def researcher(make_user, token_for):
    return token_for(make_user("researcher"))


def ids_on(page_html: str) -> list[int]:
    return [int(x) for x in re.findall(r'class="judgment card" data-id="(\d+)"', page_html)]


def exported_ids(client, headers, query: str) -> list[int]:
    text = client.get(f"/api/v1/pools/pool-1/judgments?format=csv&{query}", headers=headers).get_data(as_text=True)
    return [int(r["judgment_id"]) for r in csv.DictReader(io.StringIO(text))]


def all_judgments(app) -> list[Any]:
    from sqlalchemy import select

    from pairwise.db import get_db
    from pairwise.schema import Judgment
    with app.app_context():
        return list(get_db().scalars(select(Judgment).order_by(Judgment.id.desc())))


@pytest.mark.parametrize("in_list_max", [5000, 0], ids=["listed ids", "probed per judgment"])
def test_filters_match_the_database_and_the_download(client, app, judged, login, make_user, researcher,
                                                     monkeypatch, in_list_max) -> None:
    from pairwise import browse
    monkeypatch.setattr(browse, "IN_LIST_MAX", in_list_max)  # both forms of the tag and criterion filters
    login(make_user("researcher"))
    everything = all_judgments(app)
    model_ids = {j.left_model_id for j in everything} | {j.right_model_id for j in everything}
    assert len(everything) == 12 and len(model_ids) == 3
    from pairwise.db import get_db
    from pairwise.schema import Model
    with app.app_context():
        name = {m.id: m.name for m in get_db().query(Model)}
    expert = judged["experts"][0]

    def expect_ids(query: str, keep) -> None:
        wanted = [j.id for j in everything if keep(j)]
        response = client.get(f"/pools/pool-1/judgments?limit=100&{query}")
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        assert ids_on(response.get_data(as_text=True)) == wanted, query
        assert exported_ids(client, researcher, query) == sorted(wanted), query

    models = lambda j: {name[j.left_model_id], name[j.right_model_id]}  # noqa: E731
    expect_ids("", lambda j: True)
    expect_ids("tag=halo", lambda j: "model-a" in models(j))
    expect_ids("model=model-a&tag=halo", lambda j: "model-a" in models(j))
    expect_ids("model=model-b&tag=halo", lambda j: False)  # the halo is on model-a's side
    expect_ids("model=model-b", lambda j: "model-b" in models(j))
    expect_ids("model=model-b&versus=model-c", lambda j: models(j) == {"model-b", "model-c"})
    expect_ids("choice=right", lambda j: j.choice.value == "right")
    expect_ids("category=apparel&criterion=texture&answer=left", lambda j: True)
    expect_ids("criterion=texture&answer=same", lambda j: False)
    expect_ids(f"expert=expert-{expert.id}", lambda j: j.expert_id == expert.id)
    # Search text is literal: % and _ are not wildcards, and case does not matter.
    expect_ids("q=100%25", lambda j: j.rationale.startswith("100%"))
    expect_ids("q=%25", lambda j: "%" in j.rationale)
    expect_ids("q=%25_", lambda j: "%_" in j.rationale)
    expect_ids("q=0%25_OFF", lambda j: "50%_off" in j.rationale)
    expect_ids("q=_", lambda j: "_" in j.rationale)
    expect_ids("q=%5C", lambda j: "\\" in j.rationale)
    expect_ids("q=h_lo", lambda j: False)
    expect_ids("q=%25%25", lambda j: False)


def test_hostile_text_is_escaped_and_each_judgment_shows_what_the_expert_saw(client, judged, login, make_user) -> None:
    login(make_user("researcher"))
    text = client.get("/pools/pool-1/judgments?q=%3Cscript%3E").get_data(as_text=True)
    assert "<script>alert" not in text and str(escape(HOSTILE)) in text
    assert 'value="&lt;script&gt;"' in text  # the search box keeps the text, escaped
    one = client.get("/pools/pool-1/judgments?tag=halo&limit=1").get_data(as_text=True)
    for shown in ("model-a", "Halos", "texture: <strong>left</strong>", "Choice: <strong>", "/images/",
                  "brighten apparel item", "expert-"):
        assert shown in one, shown
    assert " on" + "click=" not in text and "<script" not in text.replace('<script src', '')


def test_keyset_pages_and_the_link_that_reproduces_the_filter(client, app, judged, login, make_user) -> None:
    login(make_user("researcher"))
    seen: list[int] = []
    url = "/pools/pool-1/judgments?tag=halo&limit=3"
    pages = 0
    while url:
        text = client.get(url).get_data(as_text=True)
        seen += ids_on(text)
        pages += 1
        match = re.search(r'id="next-page" class="button" href="([^"]+)"', text)
        url = html.unescape(match.group(1)) if match else None
        if url:
            assert "tag=halo" in url and "before=" in url
    halo = [j.id for j in all_judgments(app) if "halo" in (j.tags_left + j.tags_right)]
    assert seen == halo and pages == 3  # 8 judgments, 3 a page, newest first, none twice
    text = client.get("/pools/pool-1/judgments?tag=halo&model=model-a").get_data(as_text=True)
    link = html.unescape(re.search(r'id="permalink" href="([^"]+)"', text).group(1))
    assert ids_on(client.get(link).get_data(as_text=True)) == ids_on(text)
    csv_link = html.unescape(re.search(r'id="download-csv" class="button" href="([^"]+)"', text).group(1))
    rows = list(csv.DictReader(io.StringIO(client.get(csv_link).get_data(as_text=True))))
    assert sorted(int(r["judgment_id"]) for r in rows) == sorted(ids_on(text))
    jsonl_link = html.unescape(re.search(r'id="download-jsonl" class="button" href="([^"]+)"', text).group(1))
    lines = client.get(jsonl_link).get_data(as_text=True).splitlines()
    assert sorted(json.loads(line)["judgment_id"] for line in lines) == sorted(ids_on(text))


BAD = [
    ("model=nope", "model: pool 'pool-1' has no model 'nope'"),
    ("versus=model-a", "versus: give model too"),
    ("model=model-a&versus=model-a", "never compared with itself"),
    ("tag=sparkle", "tag: unknown tag 'sparkle'"),
    ("criterion=colour", "criterion: pool 'pool-1' has no criterion 'colour'"),
    ("answer=left", "answer: give criterion too"),
    ("criterion=texture&answer=maybe", "answer: left, right or same"),
    ("choice=maybe", "choice: left, right, tie or both_bad"),
    ("category=food", "category: pool 'pool-1' has no category 'food'"),
    ("expert=someone@example.com", "expert: no expert"),
    ("expert=expert-999999", "expert: no expert"),
    ("modle=model-a", "modle: unknown filter"),
    ("q=" + "x" * 201, "q: at most 200 characters"),
    ("q=a%01b", "q: contains a control character"),
    ("tag=halo&tag=smear", "tag: give it once"),
]


@pytest.mark.parametrize(("query", "reason"), BAD)
def test_bad_filters_are_refused_with_one_line(client, judged, login, make_user, researcher, table_counts,
                                               query, reason) -> None:
    before = table_counts()
    response = client.get(f"/api/v1/pools/pool-1/judgments?format=csv&{query}", headers=researcher)
    assert response.status_code == 422 and reason in response.json["error"], response.json
    assert "\n" not in response.json["error"]
    login(make_user("researcher"))
    page_response = client.get(f"/pools/pool-1/judgments?{query}")
    assert page_response.status_code == 422
    text = page_response.get_data(as_text=True)
    assert str(escape(reason)) in text
    assert 'id="judgments"' in text and ids_on(text) == []
    assert table_counts() == {**before, "user_account": before["user_account"] + 1}


def test_page_arguments_and_roles(client, judged, login, make_user) -> None:
    for query, reason in [("limit=0", "limit: 1 to 100"), ("before=abc", "whole numbers"), ("limit=101", "limit")]:
        login(make_user("researcher"))
        response = client.get(f"/pools/pool-1/judgments?{query}")
        assert response.status_code == 422 and reason in response.get_data(as_text=True)
    assert client.get("/pools/nope/judgments").status_code == 404
    login(make_user("expert"))
    assert client.get("/pools/pool-1/judgments").status_code == 403
    client.post("/logout")


def test_leaderboard_page_shows_unacceptable_heat_map_and_criterion(client, judged, login, make_user) -> None:
    login(make_user("researcher"))
    text = client.get("/pools/pool-1/leaderboard").get_data(as_text=True)
    assert 'id="artifact-heat"' in text and "Unacceptable</th>" in text
    assert re.search(r'class="lvl-10" data-model="model-a" data-tag="halo"', text)
    assert "model-a: Halos flagged more often" in text
    assert 'name="criterion"' in text and "Texture" in text
    texture = client.get("/pools/pool-1/leaderboard?criterion=texture")
    assert texture.status_code == 200 and "criterion texture" in texture.get_data(as_text=True)
    bad = client.get("/pools/pool-1/leaderboard?criterion=colour")
    assert bad.status_code == 422 and "no criterion 'colour'" in bad.get_data(as_text=True)


def test_browser_filters_by_tag_in_chromium(app, live_server, page, judged, make_user) -> None:  # noqa: F811
    make_user("researcher", email="browse@example.com")
    log_in(page, live_server, "browse@example.com")
    page.goto(f"{live_server}/pools/pool-1/judgments")
    expect(page.locator("#judgments > li")).to_have_count(12)
    page.select_option("select[name=tag]", "halo")
    page.click("#apply")
    expect(page.locator("#judgments > li")).to_have_count(8)
    for figure in page.locator("#judgments > li").all():
        expect(figure).to_contain_text("model-a")
        expect(figure.locator(".tag")).to_have_text(["Halos"])
    assert "tag=halo" in page.url
    # The reproducing link opens the same view; a search with markup stays text.
    page.goto(live_server + page.locator("#permalink").get_attribute("href"))
    expect(page.locator("#judgments > li")).to_have_count(8)
    page.fill("input[name=q]", "<script>")
    page.select_option("select[name=tag]", "")
    page.click("#apply")
    hostile = [j for j in all_judgments(app) if "<script>" in j.rationale]
    assert hostile
    expect(page.locator("#judgments > li")).to_have_count(len(hostile))
    expect(page.locator(".rationale-text").first).to_contain_text("<script>alert('x')</script>")
