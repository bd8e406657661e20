"""Facets of a search that matches many: counted on a random sample and shown as "about N"
(page, JSON, CLI); exact, with no "about", when the search matches no more than count_limit."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace

from click.testing import CliRunner

from _search_archive import document, write
from archive.cli import AppContext, cli
from archive.demo_site.content import hand_written_articles
from search.http_api import create_app, running_server
from search.indices import ensure_all
from search.query import SearchRequest
from search.service import search
from _web import browser, browser_sign_in, signed_in_everywhere  # noqa: F401 (fixture)

SITES = {"north": 60, "south": 40, "east": 20}  # 120 articles
RARE = {"north": 2, "south": 1, "east": 1}  # the articles that mention 'zanzibarite'
LIMIT, SHARE = 10, 0.4


def _archive(es_client, settings):
    """settings (count_limit 10, facets sampled on 40% past it) over 120 articles on three sites."""
    es = settings.elasticsearch
    ensure_all(es_client, es)
    articles = hand_written_articles()
    docs = []
    for site, count in SITES.items():
        for n in range(count):
            base = document(articles[len(docs) % len(articles)])
            rare = " A zanzibarite was found." if n < RARE[site] else ""
            docs.append({**base, "url": f"https://{site}.example/{n}", "site": site,
                         "body": f"{base['body']} Number {n} from {site}.{rare}"})
    write(es_client, es, docs)
    return replace(settings, search=replace(settings.search, count_limit=LIMIT, facet_sample=SHARE))


def test_facets_past_the_limit_are_estimates_labelled_about_and_exact_below_it(es_client, archive_settings, web_admin):
    settings = _archive(es_client, archive_settings)
    alias = settings.elasticsearch.articles_alias

    many = search(es_client, alias, SearchRequest(limits=settings.search))
    assert many.total_more and many.facet_sample == SHARE
    estimated = dict(many.sites)
    assert set(estimated) <= set(SITES) and 60 <= sum(estimated.values()) <= 180  # 120, give or take the sample
    assert many.facet_count_text(estimated["north"]).startswith("about ")

    few = search(es_client, alias, SearchRequest(text="zanzibarite", limits=settings.search))
    assert (few.total, few.total_more, few.facet_sample) == (4, False, 0.0)
    assert dict(few.sites) == RARE  # every match counted
    assert few.facet_count_text(2) == "2"

    app = create_app(settings, es_client)
    with running_server(app) as base, signed_in_everywhere(base, web_admin) as opener:
        page = json.load(opener.open(f"{base}/search"))
        exact = json.load(opener.open(f"{base}/search?q=zanzibarite"))
        chart = opener.open(f"{base}/coverage.csv").read().decode()
    assert page["facets"]["estimated"] is True and page["facets"]["sample"] == SHARE
    assert page["facets_note"] == "estimated from a random 40% of the matches"
    assert all(link["count_text"].startswith("about ") for link in page["facet_links"]["sites"])
    assert page["coverage"]["series"][0]["total_text"].startswith("about ")
    assert exact["facets"] == {"sites": RARE, "estimated": False, "sample": 0.0}
    assert [link["count_text"] for link in exact["facet_links"]["sites"]] == ["2", "1", "1"]
    # The CSV of counts is never a sample's: every one of the 120 articles is counted.
    assert sum(int(row[1]) for row in list(csv.reader(io.StringIO(chart)))[1:]) == 120

    table = CliRunner().invoke(cli, ["search", "--size", "1"], obj=AppContext(None, settings), catch_exceptions=False)
    assert "estimated from a random 40% of the matches" in table.output and "about " in table.output
    rare = CliRunner().invoke(cli, ["search", "zanzibarite"], obj=AppContext(None, settings), catch_exceptions=False)
    assert "about" not in rare.output and "estimated" not in rare.output
    over_time = CliRunner().invoke(cli, ["search", "--over-time"], obj=AppContext(None, settings), catch_exceptions=False)
    assert "more than 10 articles per" in over_time.output  # counted exactly, but the count itself stops at the limit


def test_the_page_says_about_past_the_limit_and_gives_exact_counts_below_it(es_client, archive_settings, web_admin, browser):
    from selenium.webdriver.common.by import By

    settings = _archive(es_client, archive_settings)
    app = create_app(settings, es_client)
    with running_server(app) as base:
        browser_sign_in(browser, base, web_admin)
        browser.get(base + "/")
        assert browser.find_element(By.CSS_SELECTOR, ".summary").text.startswith("more than 10 articles")
        note = browser.find_element(By.ID, "facets-note").text
        assert note == "Counts estimated from a random 40% of the matches."
        counts = [c.text for c in browser.find_elements(By.CSS_SELECTOR, ".facet .count")]
        assert counts and all(c.startswith("about ") for c in counts)
        assert browser.find_element(By.ID, "coverage-note").is_displayed()
        assert browser.find_element(By.CSS_SELECTOR, "#coverage-legend .series-total").text.startswith("about ")

        browser.get(base + "/?q=zanzibarite")
        assert browser.find_element(By.CSS_SELECTOR, ".summary").text.startswith("4 articles")
        sites = {li.find_element(By.TAG_NAME, "a").text: li.find_element(By.CLASS_NAME, "count").text
                 for li in browser.find_elements(By.CSS_SELECTOR, ".facet li")}
        assert sites == {"north": "2", "south": "1", "east": "1"}
        assert not browser.find_elements(By.ID, "facets-note") and not browser.find_elements(By.ID, "coverage-note")
        assert browser.find_element(By.CSS_SELECTOR, "#coverage-legend .series-total").text == "4"
