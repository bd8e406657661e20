"""The crawl state in SQLite and in Elasticsearch behave the same (one interface, crawler/state.py),
`archive state migrate` copies one into the other, and a crawl with crawl.state = "elasticsearch"
is incremental the next night like one with the SQLite file, keeping the same dates."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from archive.cli import AppContext, cli
from crawler.state import BadUrlPolicy, CrawlState, open_state, state_path
from crawler.state_elasticsearch import ElasticsearchCrawlState

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
POLICY = BadUrlPolicy(retry_days=7, max_days=90)


@pytest.fixture(params=["sqlite", "elasticsearch"])
def state(request, archive_settings):
    if request.param == "sqlite":
        backend = CrawlState(state_path(archive_settings))
    else:
        # Pages of 3: the site's 10 URLs below take four search_after requests.
        backend = ElasticsearchCrawlState(archive_settings.elasticsearch, page_size=3)
    yield backend
    backend.close()


def reopen(state, archive_settings):
    state.close()
    if isinstance(state, CrawlState):
        return CrawlState(state_path(archive_settings))
    return ElasticsearchCrawlState(archive_settings.elasticsearch, page_size=3)


def test_both_backends_remember_the_same_things(state, archive_settings):
    urls = [f"https://news.example/2026/03/01/story-{i}" for i in range(10)]
    for i, url in enumerate(urls):
        state.record("news", [url], f"doc{i}", "2026-03-01T10:00:00+00:00", 200, etag=f'"e{i}"',
                     last_modified="Sun, 01 Mar 2026 09:00:00 GMT", lastmod="2026-03-01T09:00:00+00:00",
                     published="2026-03-01T08:00:00+00:00", content_hash=f"h{i}")
    state.record("other", ["https://other.example/a"], "x", "2026-03-01T10:00:00+00:00", 200, None, None, None, None, None)
    state.flush()
    # Fetched again: no ETag this time, a new hash. What the answer did not say is kept.
    state.record("news", [urls[0]], "doc0", "2026-03-02T10:00:00+00:00", 200, etag=None, last_modified=None,
                 lastmod=None, published=None, content_hash="h0-new")
    state.touch(urls[1], "2026-03-02T11:00:00+00:00", 304)
    state.touch("https://news.example/never-seen", "2026-03-02T11:00:00+00:00", 304)  # nothing to touch: nothing happens
    state = reopen(state, archive_settings)

    known = state.load_site("news")
    assert sorted(known) == sorted(urls)
    assert known[urls[0]].content_hash == "h0-new" and known[urls[0]].etag == '"e0"'
    assert known[urls[0]].last_fetch.startswith("2026-03-02T10:00")
    assert known[urls[1]].last_fetch.startswith("2026-03-02T11:00") and known[urls[1]].etag == '"e1"'
    assert known[urls[5]].published == "2026-03-01T08:00:00+00:00" and known[urls[5]].doc_id == "doc5"
    assert list(state.load_site("other")) == ["https://other.example/a"]

    # Known-bad URLs: back-off doubles, only those not due yet are loaded, answered ones are forgotten.
    bad = "https://news.example/gone"
    first = state.record_bad("news", bad, "http-error", "404", POLICY, now=NOW)
    second = state.record_bad("news", bad, "http-error", "404", POLICY, now=NOW + timedelta(days=8))
    state.record_bad("news", "https://news.example/huge", "too-large", "6 MB", POLICY, now=NOW)
    assert (first.failures, second.failures) == (1, 2)
    state = reopen(state, archive_settings)
    due = state.load_bad("news", now=NOW + timedelta(days=10))
    assert list(due) == [bad] and due[bad].failures == 2 and due[bad].retry_after.startswith("2026-03-23")
    state.forget_bad("news", {bad, "https://news.example/unrelated"})
    state = reopen(state, archive_settings)
    assert list(state.load_bad("news", now=NOW)) == ["https://news.example/huge"]
    state.close()


def test_both_backends_keep_the_listing_cursor(state, archive_settings):
    from crawler.walk import ListingCursor

    assert state.load_cursor("news") == ListingCursor()  # never walked: not caught up, counted as interrupted
    state.start_walk("news")
    state = reopen(state, archive_settings)
    # A walk that started and never said how it ended (a crawl killed): the next run must know.
    assert state.load_cursor("news").interrupted
    left = ListingCursor(frontier=(("https://news.example/world?page=7", 2), ("https://news.example/sport", 1)),
                         reached_end=True, interrupted=False)
    state.save_cursor("news", left)
    state = reopen(state, archive_settings)
    assert state.load_cursor("news") == left
    assert state.load_cursor("other") == ListingCursor()  # one cursor per site
    state.start_walk("news")  # the next walk keeps the frontier it starts from
    assert state.load_cursor("news").frontier == left.frontier and state.load_cursor("news").interrupted
    state.close()


def test_state_migrate_copies_a_sqlite_state_and_says_how_many(archive_settings):
    sqlite = CrawlState(state_path(archive_settings))
    for i in range(25):
        sqlite.record("news", [f"https://news.example/{i}"], f"d{i}", "2026-03-01T10:00:00+00:00", 200,
                      f'"e{i}"', None, None, "2026-03-01T08:00:00+00:00", f"h{i}")
    sqlite.record_bad("news", "https://news.example/gone", "http-error", "404", POLICY, now=NOW)
    from crawler.walk import ListingCursor

    cursor = ListingCursor(frontier=(("https://news.example/world?page=3", 1),), reached_end=True, interrupted=False)
    sqlite.save_cursor("news", cursor)
    before = sqlite.load_site("news")
    sqlite.close()

    app = AppContext(None, archive_settings)
    out = CliRunner().invoke(cli, ["state", "migrate"], obj=app)
    assert out.exit_code == 0, out.output
    assert f"copied 25 URLs and 1 known-bad URLs from {state_path(archive_settings)}" in out.output
    assert 'set crawl.state = "elasticsearch"' in out.output
    moved = ElasticsearchCrawlState(archive_settings.elasticsearch)
    assert moved.load_site("news") == before
    assert list(moved.load_bad("news", now=NOW)) == ["https://news.example/gone"]
    assert moved.load_cursor("news") == cursor  # the next walk resumes where the SQLite one left off
    moved.close()
    # Again: the same 25, not 50.
    again = CliRunner().invoke(cli, ["state", "migrate"], obj=app)
    assert "copied 25 URLs" in again.output
    assert state_documents(archive_settings) == 27  # 25 pages, 1 known-bad, 1 cursor

    missing = CliRunner().invoke(cli, ["state", "migrate", "--from", "/nonexistent/state.sqlite"], obj=app)
    assert missing.exit_code == 1 and "no crawl state at /nonexistent/state.sqlite: nothing to migrate" in missing.output


def state_documents(settings) -> int:
    from search.client import make_client

    client = make_client(settings.elasticsearch)
    try:
        return client.count(index=settings.elasticsearch.state_alias)["count"]
    finally:
        client.close()


@pytest.mark.e2e
@pytest.mark.parametrize("backend", ["sqlite", "elasticsearch"])
def test_a_crawl_with_the_state_in_either_backend_is_incremental(backend, archive_settings, demo_sites, es_client):
    from archive.demo_site import DemoSite, serve_demo_site
    from crawler.runner import run_crawl
    from crawler.state import parse_when
    from crawler.urls import canonicalize

    server = serve_demo_site(DemoSite(), host="127.0.0.1", port=0)
    try:
        settings = replace(archive_settings, sites=demo_sites(server.base_url),
                           crawl=replace(archive_settings.crawl, state=backend, download_delay=0.0, autothrottle=False))
        first = run_crawl(settings, ["demo"])
        assert first.status == "ok", first.error
        assert first.sites["demo"]["articles_new"] == len(server.site.articles)
        first_requests = server.count()
        # Nothing on this machine's disk when the state is in Elasticsearch.
        assert state_path(settings).exists() == (backend == "sqlite")
        state = open_state(settings)
        known = state.load_site("demo")
        state.close()
        assert len(known) >= len(server.site.articles) and all(p.content_hash for p in known.values())
        # The latest date the site gives for each article's last change is kept, whichever sitemap
        # reached it first: the news sitemap gives edited articles only their earlier publication date.
        edited = [a for a in server.site.articles if a.last_modified > a.published]
        assert edited
        for article in server.site.articles:
            assert parse_when(known[canonicalize(server.base_url + article.path)].lastmod) == article.last_modified, article.path

        server.clear_requests()
        second = run_crawl(settings, ["demo"])
        assert second.status == "ok", second.error
        # The second night skips what the first archived (the demo articles are old: not re-checked).
        assert second.sites["demo"].get("articles_new", 0) == 0
        assert server.count() < first_requests / 2
    finally:
        server.stop()
