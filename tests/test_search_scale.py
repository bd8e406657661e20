"""Searching a large archive: counts capped as "more than N", words stemmed for the languages
the archive holds, filters checked without a request per search, and how a query was understood."""

from __future__ import annotations

import json
from dataclasses import replace

from click.testing import CliRunner
from elasticsearch import helpers

from _search_archive import demo_archive, document, write  # noqa: F401 (fixture)
from archive.cli import AppContext, cli
from archive.config import SearchSettings
from archive.demo_site.content import hand_written_articles
from archive.urls import document_id
from search.filters import validate_filters
from search.holdings import holdings
from search.http_api import create_app, running_server
from search.indices import ensure_all
from search.query import SearchRequest
from search.service import search, with_held_languages
from _web import browser, browser_sign_in, signed_in_everywhere  # noqa: F401 (fixture)


def run(settings, *args):
    return CliRunner().invoke(cli, list(args), obj=AppContext(None, settings), catch_exceptions=False)


def capped(settings, limit: int):
    return replace(settings, search=replace(settings.search, count_limit=limit))


def test_a_count_past_the_limit_reads_more_than_the_limit_never_a_wrong_number(demo_archive, es_client, web_admin):
    es = demo_archive.elasticsearch
    stored = es_client.count(index=es.articles_alias)["count"]
    assert stored > 6

    response = search(es_client, es.articles_alias, SearchRequest(limits=SearchSettings(count_limit=5)))
    assert (response.total, response.total_more) == (5, True)
    assert response.count_text() == "more than 5 articles"
    exact = search(es_client, es.articles_alias, SearchRequest(limits=SearchSettings(count_limit=0)))
    assert (exact.total, exact.total_more) == (stored, False)
    # Exactly as many hits as the limit is still an exact count.
    at_limit = search(es_client, es.articles_alias, SearchRequest(limits=SearchSettings(count_limit=stored)))
    assert (at_limit.total, at_limit.total_more, at_limit.count_text()) == (stored, False, f"{stored} articles")

    table = run(capped(demo_archive, 5), "search", "--size", "3")
    assert "more than 5 articles; showing 1–3, next: `--page 2`" in table.output
    assert f"{stored}" not in table.output.split("showing")[0]
    # Paging goes on past the count: the last page is reached, however many there are.
    last = run(capped(demo_archive, 5), "search", "--size", "3", "--page", str(-(-stored // 3)))
    assert f"showing {stored}–{stored}" in last.output and "next:" not in last.output

    app = create_app(capped(demo_archive, 5), es_client)
    with running_server(app) as base, signed_in_everywhere(base, web_admin) as opener:
        page = json.load(opener.open(f"{base}/search?size=3"))
    assert (page["total"], page["total_more"], page["count"]) == (5, True, "more than 5 articles")
    assert page["pages"]["next"]


def test_a_word_is_stemmed_for_the_languages_held_and_a_new_language_counts_at_once(es_client, archive_settings):
    es = archive_settings.elasticsearch
    ensure_all(es_client, es)
    english = [document(a) for a in hand_written_articles() if a.language == "en"]
    german = [document(a) for a in hand_written_articles() if a.language == "de"]
    write(es_client, es, english)
    request = with_held_languages(es_client, es.articles_alias, SearchRequest(text="Schaden"))
    assert request.stem_languages == ("en", "xx")  # one stem per word, not one per supported language
    assert search(es_client, es.articles_alias, SearchRequest(text="Schaden")).total == 0

    write(es_client, es, german)  # 'Schäden' in a German article: the new language is stemmed at once
    found = search(es_client, es.articles_alias, SearchRequest(text="Schaden"))
    assert found.total >= 1 and all(hit.source["language"] == "de" for hit in found.hits)


def test_a_site_written_by_another_process_is_accepted_as_a_filter_at_once(demo_archive, es_client):
    es = demo_archive.elasticsearch
    holdings(es_client, es.articles_alias)  # what the archive held a moment ago is kept
    doc = {**document(hand_written_articles()[0]), "url": "https://elsewhere.example/story", "site": "elsewhere"}
    # Another process's crawl wrote it: this process's kept holdings do not have it.
    helpers.bulk(es_client, [{"_index": es.articles_alias, "_id": document_id(doc["url"]), "_source": doc}], refresh=True)
    assert "elsewhere" not in holdings(es_client, es.articles_alias).sites

    request = validate_filters(es_client, es.articles_alias, SearchRequest(sites=("Elsewhere",)))
    assert request.sites == ("elsewhere",)
    assert search(es_client, es.articles_alias, request).total == 1
    refused = run(demo_archive, "search", "--site", "nowhere")
    assert refused.exit_code != 0 and "unknown site 'nowhere'" in refused.output and "elsewhere" in refused.output


def test_the_json_and_the_cli_say_how_the_query_was_understood(demo_archive, es_client, web_admin):
    es = demo_archive.elasticsearch
    typed = 'strikes OR "harbour authority" OR desalinat* NOT ferry site:demo'
    response = search(es_client, es.articles_alias, SearchRequest(text=typed))
    readings = {r.typed: r for r in response.understood}
    assert readings["strikes"].forms == ("strike",)  # the archive has 'strike', never 'strikes'
    assert readings['"harbour authority"'].kind == "phrase"
    assert set(readings["desalinat*"].forms) <= {"desalination", "desalinated"} and readings["desalinat*"].forms
    assert readings["ferry"].excluded and readings["site:demo"].kind == "filter"

    app = create_app(demo_archive, es_client)
    with running_server(app) as base, signed_in_everywhere(base, web_admin) as opener:
        page = json.load(opener.open(f"{base}/search?q=strikes+OR+%22harbour+authority%22"))
    assert page["understood"]["line"] == 'strikes → strike · "harbour authority" as a phrase'
    assert [t["kind"] for t in page["understood"]["terms"]] == ["word", "phrase"]

    table = run(demo_archive, "search", "strikes")
    assert "Searched: strikes → strike" in table.output
    exported = CliRunner().invoke(cli, ["search", "desalinat*", "--format", "json"],
                                                  obj=AppContext(None, demo_archive), catch_exceptions=False)
    assert json.loads(exported.stdout) and "searched: desalinat* as a prefix: desalinat" in exported.stderr


def test_the_page_shows_under_the_search_box_what_was_searched_and_a_capped_count(demo_archive, es_client, web_admin, browser):
    from selenium.webdriver.common.by import By

    app = create_app(capped(demo_archive, 5), es_client)
    with running_server(app) as base:
        browser_sign_in(browser, base, web_admin)
        browser.get(base + "/?q=strikes+OR+desalinat*")
        line = browser.find_element(By.ID, "understood")
        box = browser.find_element(By.ID, "q")
        assert line.text.startswith("Searched: strikes → strike · desalinat* as a prefix: desalinat")
        assert line.location["y"] > box.location["y"]  # under the search box
        assert browser.find_element(By.CSS_SELECTOR, ".summary").text.startswith(f"{_count(es_client, demo_archive, 'strikes OR desalinat*')} articles")

        browser.get(base + "/")  # every article: more than the limit of 5
        assert browser.find_element(By.CSS_SELECTOR, ".summary").text.startswith("more than 5 articles; showing 1–10")
        assert "Export CSV (more than 5)" in browser.find_element(By.ID, "export-csv").text
        assert not browser.find_elements(By.ID, "understood")  # nothing typed, nothing to explain


def _count(es_client, settings, text: str) -> int:
    return search(es_client, settings.elasticsearch.articles_alias, SearchRequest(text=text)).total
