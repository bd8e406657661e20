"""Wire and syndicated copies grouped into stories: a site that republishes three of another
site's articles under its own chrome (both served over HTTP and crawled) gives three stories of
two copies, and articles that share only a site's boilerplate stay apart. Searches show a story
once, as its earliest copy, saying who else published it; --all-copies lists every copy."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from dataclasses import replace

import pytest
from click.testing import CliRunner

from _search_archive import document, write
from _small_site import ARTICLES as GAZETTE_ARTICLES, serve_small_site
from _syndicated_site import COPIES, serve_courier_site
from archive.cli import AppContext, cli
from archive.config import SiteSettings
from crawler.runner import OK, run_crawl
from archive.demo_site.content import hand_written_articles
from search.indices import drop_all, ensure_all
from search.query import SearchRequest
from search.http_api import create_app, running_server
from search.grouping import grouped_page
from search.service import _page, get_article, iterate, search
from selenium.webdriver.common.by import By
from _web import browser, browser_sign_in, sign_in  # noqa: F401 (fixture)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def archive(es_settings, es_client, tmp_path_factory):
    """(settings, gazette, courier) after crawling both sites once."""
    es = es_settings.elasticsearch.with_index_prefix(f"test-stories-{uuid.uuid4().hex[:8]}")
    with serve_small_site() as gazette, serve_courier_site() as courier:
        sites = (
            SiteSettings(name="gazette", start_urls=(gazette.base_url + "/",), allowed_domains=("127.0.0.1",),
                         article_allow=(r"^/news/\d{4}/\d{2}/[a-z0-9-]+/$",)),
            SiteSettings(name="courier", start_urls=(courier.base_url + "/",), allowed_domains=("127.0.0.1",),
                         article_allow=(r"^/stories/[a-z0-9-]+\.html$",)),
        )
        settings = replace(es_settings, elasticsearch=es, data_dir=tmp_path_factory.mktemp("var"), sites=sites,
                           crawl=replace(es_settings.crawl, download_delay=0.0, progress_interval=30.0))
        outcome = run_crawl(settings, ["gazette"])
        assert outcome.status == OK, outcome.error
        outcome = run_crawl(settings, ["courier"])
        assert outcome.status == OK, outcome.error
        es_client.indices.refresh(index=es.articles_alias)
        yield settings, gazette, courier
        drop_all(es_client, es)


def stories_of(es_client, settings) -> dict[str, list[str]]:
    """story id -> the paths of its copies (as site:path)."""
    stories = defaultdict(list)
    for hit in iterate(es_client, settings.elasticsearch.articles_alias, SearchRequest(sort="oldest")):
        stories[hit.source["story"]].append(f"{hit.site}:{hit.url.split('//', 1)[1].split('/', 1)[1]}")
    return stories


def test_three_republished_articles_give_three_stories_of_two_copies_and_boilerplate_groups_nothing(archive, es_client):
    settings, _, _ = archive
    stories = stories_of(es_client, settings)
    assert sum(len(copies) for copies in stories.values()) == len(GAZETTE_ARTICLES) + 6
    grouped = sorted(sorted(copies) for copies in stories.values() if len(copies) > 1)
    expected = sorted(sorted([f"gazette:news/2026/11/{c.republished_from}/", f"courier:stories/{c.slug}.html"]) for c in COPIES)
    assert grouped == expected  # and no other group: the shared filler and boilerplate paragraphs group nothing


def test_a_search_shows_a_story_once_as_its_earliest_copy_with_the_sites_that_also_published_it(archive, es_client):
    settings, gazette, courier = archive
    alias = settings.elasticsearch.articles_alias
    response = search(es_client, alias, SearchRequest(text="ferry crossings"))
    assert response.total == 2 and response.stories == 1
    [hit] = response.hits
    assert hit.site == "gazette" and hit.url.startswith(gazette.base_url)  # published a day before the copy
    assert hit.copies_total == 2 and hit.other_sites == ["courier"]
    assert hit.as_dict()["copies"] == [courier.base_url + "/stories/gazette-ferry-timetable-cut.html"]

    every = search(es_client, alias, SearchRequest(text="ferry crossings", all_copies=True))
    assert sorted(h.site for h in every.hits) == ["courier", "gazette"] and every.stories is None


@pytest.mark.parametrize("text", ["", "ferry crossings", "dunes OR island", "council OR ferry"])
def test_stories_read_from_the_best_hits_are_the_ones_collapse_gives(archive, es_client, text):
    """The page groups the best hits itself (search/grouping.py) instead of Elasticsearch's
    collapse, which visits every match: page after page, the same stories, first copies, copies
    and facets."""
    settings, _, _ = archive
    alias = settings.elasticsearch.articles_alias
    request = SearchRequest(text=text, size=4)
    pages = []
    for page in (1, 2, 3):
        grouped = grouped_page(es_client, alias, request, page, many=False)
        assert grouped is not None, f"page {page} of {text!r} was not grouped from the best hits"
        collapsed = _page(es_client, alias, request, page)  # Elasticsearch's collapse
        pages.append([(h.id, h.copies_total, [c["id"] for c in h.copies]) for h in grouped.hits])
        assert pages[-1] == [(h.id, h.copies_total, [c["id"] for c in h.copies]) for h in collapsed.hits]
        assert (grouped.total, grouped.stories, grouped.sites, grouped.over_time) == \
            (collapsed.total, collapsed.stories, collapsed.sites, collapsed.over_time)
    if text in ("ferry crossings", "dunes OR island"):
        assert any(copies == 2 for page in pages for _, copies, _ in page)  # grouped copies were compared


def test_cli_all_copies_show_json_and_exports_say_how_copies_are_treated(archive):
    settings, gazette, courier = archive
    runner = CliRunner()
    grouped = runner.invoke(cli, ["search", "dunes"], obj=AppContext(None, settings))
    assert grouped.exit_code == 0, grouped.output
    assert "also published by courier" in grouped.output and "1 story" in grouped.output
    every = runner.invoke(cli, ["search", "dunes", "--all-copies"], obj=AppContext(None, settings))
    assert courier.base_url + "/stories/gazette-dune-repairs-begin.html" in every.output

    original = gazette.base_url + "/news/2026/11/dune-repairs-begin/"
    shown = json.loads(runner.invoke(cli, ["show", original, "--format", "json"], obj=AppContext(None, settings)).output)
    assert shown["story"] == shown["id"]
    assert shown["copies"] == [courier.base_url + "/stories/gazette-dune-repairs-begin.html"]

    exported = runner.invoke(cli, ["search", "dunes", "--format", "csv"], obj=AppContext(None, settings))
    header, *rows = exported.stdout.splitlines()
    assert "story" in header.split(",") and len(rows) == 2  # every copy, each saying its story
    assert all(shown["id"] in row for row in rows)
    assert "every copy of a story is a row" in exported.stderr


@pytest.fixture(scope="module")
def page(archive, es_client, browser, web_admin):
    """The archive served, this browser signed in."""
    settings = archive[0]
    with running_server(create_app(settings, es_client)) as base:
        browser_sign_in(browser, base, web_admin)
        yield base


def test_article_page_lists_the_copies_with_what_differs_and_related_stories_that_are_not_copies(archive, page, browser, es_client):
    settings, gazette, courier = archive
    original = get_article(es_client, settings.elasticsearch.articles_alias, gazette.base_url + "/news/2026/11/ferry-timetable-cut/")
    browser.get(f"{page}/article/{original['id']}")
    copies = browser.find_elements(By.CSS_SELECTOR, "#copies li.copy")
    assert [c.get_attribute("data-site") for c in copies] == ["gazette", "courier"]  # the first copy first
    assert "first published" in copies[0].text
    copies[1].find_element(By.TAG_NAME, "summary").click()
    added = [e.text for e in copies[1].find_elements(By.CSS_SELECTOR, ".added")]
    assert added == ["This article first appeared in The Island Gazette and is republished with permission."]
    assert "Island ferry to run four crossings in winter" in copies[1].find_element(By.CSS_SELECTOR, ".headline").text

    related = browser.find_elements(By.CSS_SELECTOR, "#related li")
    assert related, "no related stories"
    own = {hit.id for hit in iterate(es_client, settings.elasticsearch.articles_alias, SearchRequest(text="ferry crossings"))}
    assert len(own) == 2
    for item in related:
        link = item.find_element(By.TAG_NAME, "a").get_attribute("href")
        assert link.rsplit("/", 1)[1] not in own  # another story, never a copy of this one
        assert item.find_element(By.TAG_NAME, "time").get_attribute("datetime").startswith("2026-11")
    stories = [es_client.get(index=settings.elasticsearch.articles_alias, id=item.find_element(By.TAG_NAME, "a")
                             .get_attribute("href").rsplit("/", 1)[1])["_source"]["story"] for item in related]
    assert len(set(stories)) == len(stories)  # one entry per story


def test_search_page_collapses_copies_and_links_every_copy(archive, page, browser):
    browser.get(f"{page}/?q=dunes")
    assert browser.find_element(By.ID, "story-count").text == "1"
    [hit] = browser.find_elements(By.CSS_SELECTOR, ".hit")
    assert "also published by 1 site (courier)" in hit.find_element(By.CSS_SELECTOR, ".copies").text
    browser.find_element(By.ID, "all-copies").click()
    assert len(browser.find_elements(By.CSS_SELECTOR, ".hit")) == 2


def chart_counts(browser, series: int) -> dict[str, int]:
    bars = browser.find_elements(By.CSS_SELECTOR, f"#coverage-chart rect.bar[data-series='{series}']")
    return {b.get_attribute("data-period"): int(b.get_attribute("data-count")) for b in bars if int(b.get_attribute("data-count"))}


def test_the_chart_matches_the_counts_and_comparing_two_queries_shows_two_series(archive, page, browser, web_admin):
    browser.get(f"{page}/?q=ferry")
    assert browser.find_element(By.ID, "coverage-title").text == "Articles per day"  # the archive spans two weeks
    assert chart_counts(browser, 1) == {"2026-11-05": 1, "2026-11-06": 1}  # the Gazette's, then the Courier's copy
    assert browser.find_element(By.CSS_SELECTOR, "#coverage-legend .series-1 .series-total").text == "2"
    table = browser.find_element(By.ID, "coverage-table")
    rows = {r.find_element(By.TAG_NAME, "th").get_attribute("textContent"): r.find_element(By.TAG_NAME, "td").get_attribute("textContent")
            for r in table.find_elements(By.CSS_SELECTOR, "tbody tr")}
    assert {k: int(v) for k, v in rows.items() if v != "0"} == {"2026-11-05": 1, "2026-11-06": 1}
    assert not browser.find_elements(By.CSS_SELECTOR, "#coverage-chart rect.bar[data-series='2']")

    browser.find_element(By.CSS_SELECTOR, "details.compare summary").click()
    browser.find_element(By.ID, "q2").send_keys("choir")
    browser.find_element(By.ID, "q2").submit()
    legend = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#coverage-legend li")]
    assert legend == ["ferry: 2", "choir: 1"]
    assert chart_counts(browser, 1) == {"2026-11-05": 1, "2026-11-06": 1}
    assert chart_counts(browser, 2) == {"2026-11-10": 1}

    csv_url = browser.find_element(By.ID, "coverage-csv").get_attribute("href")
    with sign_in(page, *web_admin).open(csv_url, timeout=30) as reply:
        lines = reply.read().decode().splitlines()
    assert lines[0] == "day,ferry,choir"
    assert "2026-11-06,1,0" in lines and "2026-11-10,0,1" in lines


def test_cli_over_time_prints_the_counts_with_bars(archive):
    settings = archive[0]
    result = CliRunner().invoke(cli, ["search", "ferry", "--over-time", "--by", "week"], obj=AppContext(None, settings))
    assert result.exit_code == 0, result.output
    assert "2 articles per week" in result.output
    [row] = [line for line in result.output.splitlines() if line.strip().startswith("2026-11-02")]
    assert row.split()[1] == "2" and "█" in row  # the week of 2 November holds both copies


def test_a_wire_story_copied_by_many_sites_takes_one_place_and_the_page_still_fills(es_client, archive_settings):
    """Twelve sites carry one wire story whose copies are the best hits for 'cranes'; a page of
    three stories still shows three, the wire story once with its twelve copies, as collapse would."""
    es = archive_settings.elasticsearch
    ensure_all(es_client, es)
    articles = hand_written_articles()
    wire = document(articles[0])
    wire = {**wire, "body": wire["body"] + " Cranes cranes cranes: the cranes stood idle at the port."}
    copies = [{**wire, "url": f"http://site{n}.example/wire", "site": f"site{n}",
               "published": f"2026-03-{n + 1:02d}T08:00:00+00:00"} for n in range(12)]
    others = [{**document(a), "body": document(a)["body"] + " A crane was seen."} for a in articles[1:6]]
    write(es_client, es, copies + others)
    alias = es.articles_alias
    request = SearchRequest(text="cranes", size=3)
    for page in (1, 2):
        grouped = grouped_page(es_client, alias, request, page, many=False)
        assert grouped is not None
        collapsed = _page(es_client, alias, request, page)
        assert [(h.id, h.copies_total) for h in grouped.hits] == [(h.id, h.copies_total) for h in collapsed.hits]
    first = search(es_client, alias, request)
    assert len(first.hits) == 3 and first.stories == 6 and first.total == 17
    assert first.hits[0].site == "site0" and first.hits[0].copies_total == 12  # the earliest copy, once
