"""End to end: the demo news site, crawled over real HTTP into the real Elasticsearch, searched.

One crawl per module (it takes a few seconds); each test checks one thing a journalist or an
operator would notice.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import datetime

import pytest
from click.testing import CliRunner

from archive.cli import AppContext, cli
from archive.demo_site import CHROME_MARKERS, SEARCH_PHRASES, DemoSite, serve_demo_site
from crawler.runner import OK, run_crawl
from crawler.urls import canonicalize, document_id
from search.indices import drop_all
from search.query import MARK_POST, MARK_PRE, SearchRequest
from search.runs import list_runs, record_outcome
from search.service import get_article, iterate, search

pytestmark = pytest.mark.e2e

@pytest.fixture(scope="module")
def archive(es_settings, es_client, tmp_path_factory, demo_sites):
    """(settings, server, outcome of the first crawl) after crawling the demo site once."""
    prefix = f"test-e2e-{uuid.uuid4().hex[:8]}"
    es = es_settings.elasticsearch.with_index_prefix(prefix)
    with serve_demo_site(DemoSite(), host="127.0.0.1", port=0) as server:
        settings = replace(
            es_settings,
            elasticsearch=es,
            data_dir=tmp_path_factory.mktemp("var"),
            sites=demo_sites(server.base_url),
            crawl=replace(es_settings.crawl, download_delay=0.0, progress_interval=1.0),
        )
        outcome = run_crawl(settings, ["demo"])
        record_outcome(settings, outcome, trigger="test")
        es_client.indices.refresh(index=es.articles_alias)
        yield settings, server, outcome
        drop_all(es_client, es)


def url_of(server, path: str) -> str:
    return canonicalize(server.base_url + path)


def test_crawl_finishes_and_archives_every_article_once(archive, es_client):
    settings, server, outcome = archive
    assert outcome.status == OK, outcome.error
    summary = outcome.sites["demo"]
    articles = server.site.articles
    assert summary["articles_new"] == len(articles)
    assert es_client.count(index=settings.elasticsearch.articles_alias)["count"] == len(articles)


def test_each_article_is_stored_under_its_canonical_url_with_its_metadata(archive, es_client):
    settings, server, _ = archive
    for article in server.site.articles:
        url = url_of(server, article.canonical_path)
        stored = es_client.get(index=settings.elasticsearch.articles_alias, id=document_id(url))["_source"]
        assert stored["url"] == url
        assert stored["title"] == article.title
        assert stored["authors"] == list(article.authors)
        assert datetime.fromisoformat(stored["published"]) == article.published
        assert stored["site"] == "demo"


def test_no_trap_page_is_archived(archive, es_client):
    settings, server, _ = archive
    archived = {hit.url for hit in iterate(es_client, settings.elasticsearch.articles_alias, SearchRequest(sort="oldest"))}
    expected = {url_of(server, a.canonical_path) for a in server.site.articles}
    assert archived == expected
    for trap in ("private", "too_short", "too_large", "pdf", "calendar", "tag", "search", "missing"):
        assert url_of(server, server.site.traps[trap]) not in archived, trap
    assert not any("utm_" in url or "/go/" in url for url in archived)


def test_no_page_chrome_in_any_body(archive, es_client):
    settings, _, _ = archive
    alias = settings.elasticsearch.articles_alias
    bodies = [h["_source"]["body"] for h in es_client.search(index=alias, size=1000, query={"match_all": {}})["hits"]["hits"]]
    assert bodies
    for marker in CHROME_MARKERS:
        offenders = [b[:60] for b in bodies if marker in b]
        assert not offenders, f"chrome {marker!r} found in {offenders}"


def test_rejections_are_counted_by_reason(archive):
    _, server, outcome = archive
    rejections = outcome.sites["demo"]["rejections"]
    assert rejections.get("robots", 0) >= 1  # the /private/ page
    assert rejections.get("too-short") == 1
    assert rejections.get("too-large") == 1
    assert rejections.get("http-error") == 1  # the 404
    assert server.count(path=server.site.traps["private"]) == 0  # robots.txt obeyed: never fetched


def test_a_flaky_page_is_retried_after_its_retry_after_and_archived(archive, es_client):
    settings, server, _ = archive
    flaky = server.site.traps["flaky"]
    assert server.count(path=flaky, status=503) == 2
    assert server.count(path=flaky, status=200) == 1
    assert get_article(es_client, settings.elasticsearch.articles_alias, server.base_url + flaky) is not None


def test_a_phrase_finds_its_article_with_the_phrase_highlighted(archive, es_client):
    settings, server, _ = archive
    phrase = "harbour authority confirmed the closure"
    (slug,) = SEARCH_PHRASES[phrase]["exact"]
    response = search(es_client, settings.elasticsearch.articles_alias, SearchRequest(text=f'"{phrase}"'))
    assert [h.url for h in response.hits] == [url_of(server, server.site.article(slug).canonical_path)]
    snippet = " ".join(response.hits[0].snippets)
    assert f"{MARK_PRE}{phrase}{MARK_POST}" in snippet  # the whole phrase is marked, as one
    # Without quotes, the decoys that have all the words match too.
    loose = search(es_client, settings.elasticsearch.articles_alias, SearchRequest(text=phrase))
    assert loose.total >= 1 + len(SEARCH_PHRASES[phrase]["decoys"])


def test_prefix_boolean_and_not(archive, es_client):
    settings, server, _ = archive
    alias = settings.elasticsearch.articles_alias
    desal = {h.url for h in search(es_client, alias, SearchRequest(text="desalinat*", size=50)).hits}
    expected = {
        url_of(server, a.canonical_path)
        for a in server.site.articles
        if "desalinat" in (a.title + " " + a.body_text).lower()
    }
    assert desal == expected
    # A quoted word is exact: fewer than its prefix (unquoted, its stem also finds 'desalination').
    desalinated = {h.url for h in search(es_client, alias, SearchRequest(text='"desalinated"', size=50)).hits}
    assert desalinated < desal
    either = search(es_client, alias, SearchRequest(text="hydrogen OR tram", size=50)).total
    both = search(es_client, alias, SearchRequest(text="hydrogen AND tram", size=50)).total
    hydrogen = search(es_client, alias, SearchRequest(text="hydrogen", size=50)).total
    without_tram = search(es_client, alias, SearchRequest(text="hydrogen NOT tram", size=50)).total
    assert either >= hydrogen >= both
    assert without_tram == hydrogen - both


def test_filters_and_sorting(archive, es_client):
    settings, server, _ = archive
    alias = settings.elasticsearch.articles_alias
    site = server.site
    by_priya = search(es_client, alias, SearchRequest(authors=("Priya Venkataraman",), size=50))
    assert by_priya.total == sum("Priya Venkataraman" in a.authors for a in site.articles)
    german = search(es_client, alias, SearchRequest(languages=("de",)))
    assert [h.url for h in german.hits] == [url_of(server, site.article("sturmflut-deiche-nordmarsch").canonical_path)]
    from datetime import date

    in_2025 = search(es_client, alias, SearchRequest(since=date(2025, 1, 1), until=date(2025, 12, 31), size=100))
    assert in_2025.total == sum(a.published.year == 2025 for a in site.articles)
    newest = search(es_client, alias, SearchRequest(sort="newest", size=100))
    dates = [h.published for h in newest.hits]
    assert dates == sorted(dates, reverse=True)
    assert newest.hits[0].url == url_of(server, site.articles[0].canonical_path)
    oldest = search(es_client, alias, SearchRequest(sort="oldest", size=1))
    assert oldest.hits[0].published == min(dates)
    assert dict(newest.sites) == {"demo": len(site.articles)}
    assert sum(count for _, count in newest.over_time) == len(site.articles)


def test_cli_search_json_and_show_by_tracking_url(archive):
    settings, server, _ = archive
    runner = CliRunner()
    result = runner.invoke(
        cli, ["search", '"night tram strike"', "--format", "json"], obj=AppContext(None, settings), catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)  # one JSON array of every hit; the count goes to stderr
    assert len(payload) == len(SEARCH_PHRASES["night tram strike"]["exact"])
    assert {"url", "title", "site", "authors", "published", "snippets", "score"} <= set(payload[0])

    tracked = server.base_url + server.site.traps["tracking"]
    shown = runner.invoke(cli, ["show", tracked, "--format", "json"], obj=AppContext(None, settings))
    assert shown.exit_code == 0, shown.output
    article = json.loads(shown.output)
    assert article["title"] == server.site.tracking_article.title
    assert article["body"].startswith(server.site.tracking_article.paragraphs[0][:40])


def test_cli_explains_a_malformed_query(archive):
    settings, _, _ = archive
    result = CliRunner().invoke(cli, ["search", '"harbour authority'], obj=AppContext(None, settings))
    assert result.exit_code == 2
    assert "unclosed quote" in result.output
    assert "Traceback" not in result.output


def test_the_run_is_recorded(archive, es_client):
    settings, server, outcome = archive
    es_client.indices.refresh(index=settings.elasticsearch.runs_index)
    (run,) = list_runs(es_client, settings.elasticsearch.runs_index, site="demo")
    assert run["status"] == "ok"
    assert run["articles_new"] == len(server.site.articles)
    assert run["rejections"]["too-short"] == 1


def test_crawling_again_changes_no_document(archive, es_client):
    settings, server, _ = archive
    alias = settings.elasticsearch.articles_alias
    before = {h["_id"]: h["_source"]["crawled_at"] for h in es_client.search(index=alias, size=1000)["hits"]["hits"]}
    again = run_crawl(settings, ["demo"])
    es_client.indices.refresh(index=alias)
    assert again.status == OK
    assert again.sites["demo"]["articles_new"] == 0
    assert again.sites["demo"]["articles_updated"] == 0
    # Known articles are not downloaded again (only recent ones are asked about, conditionally).
    assert again.sites["demo"]["known_skipped"] > 0
    after = {h["_id"]: h["_source"]["crawled_at"] for h in es_client.search(index=alias, size=1000)["hits"]["hits"]}
    assert after == before  # same documents, not even rewritten
