"""A faithful archive: the next night's crawl fetches what is new or changed, edits become
versions, and neither a killed crawl nor a stopped Elasticsearch loses an article.

All against the real Elasticsearch node and the demo site over HTTP.
"""

from __future__ import annotations

import math
import os
import signal
import socket
import threading
import time
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from archive.cli import AppContext, cli
from archive.demo_site import DemoSite, serve_demo_site
from crawler.runner import FAILED, OK, run_crawl
from crawler.urls import canonicalize, document_id
from search import localnode
from search.client import make_client
from search.indices import drop_all
from search.query import SearchRequest
from search.service import search
from search.versions import captures, changes

pytestmark = pytest.mark.e2e


def fresh_settings(es_settings, tmp_path, sites, **crawl):
    prefix = f"test-inc-{uuid.uuid4().hex[:8]}"
    es = es_settings.elasticsearch.with_index_prefix(prefix)
    return replace(
        es_settings,
        elasticsearch=es,
        data_dir=tmp_path,
        sites=sites,
        crawl=replace(es_settings.crawl, **{"download_delay": 0.0, "progress_interval": 1.0, **crawl}),
    )


def article_paths(server) -> set[str]:
    """Paths of article pages the site was asked for (200 or 304), from its request log."""
    articles = {a.path for a in server.site.articles}
    return {r.path_only for r in server.requests if r.path_only in articles}


def edited_slugs() -> dict[str, str]:
    """slug -> 'title' or 'body': what edition 2 of the demo site changed."""
    first = {a.slug: a for a in DemoSite(edition=1).articles}
    edited = {}
    for article in DemoSite(edition=2).articles:
        before = first.get(article.slug)
        if before is None:
            continue
        if before.title != article.title:
            edited[article.slug] = "title"
        elif before.body_text != article.body_text:
            edited[article.slug] = "body"
    return edited


@pytest.fixture(scope="module")
def two_nights(es_settings, es_client, tmp_path_factory, demo_sites):
    """Night 1 crawls edition 1; night 2 crawls edition 2 (new, edited and re-headlined articles)."""
    site = DemoSite()
    now = datetime.now(timezone.utc)
    # A re-check window that holds the three newest articles, whatever today's date is.
    window = math.ceil((now - site.articles[2].published).total_seconds() / 86400)
    with serve_demo_site(site, port=0) as server:
        settings = fresh_settings(es_settings, tmp_path_factory.mktemp("var"), demo_sites(server.base_url), recheck_days=window)
        first = run_crawl(settings, ["demo"])
        first_requests = server.count()
        es_client.indices.refresh(index=settings.elasticsearch.articles_alias)
        before = {h["_id"]: h["_source"] for h in es_client.search(index=settings.elasticsearch.articles_alias, size=1000)["hits"]["hits"]}

        server.clear_requests()
        server.set_edition(2)
        second = run_crawl(settings, ["demo"])
        es_client.indices.refresh(index=settings.elasticsearch.articles_alias)
        es_client.indices.refresh(index=settings.elasticsearch.versions_alias)
        yield {
            "settings": settings, "server": server, "first": first, "second": second, "before": before,
            "first_requests": first_requests, "window": window, "now": now,
        }
        drop_all(es_client, settings.elasticsearch)


def test_second_night_archives_the_new_articles(two_nights):
    first, second = two_nights["first"], two_nights["second"]
    assert first.status == OK and second.status == OK
    new = {a.slug for a in DemoSite(edition=2).articles} - {a.slug for a in DemoSite(edition=1).articles}
    assert len(new) == 5
    assert second.sites["demo"]["articles_new"] == len(new)


def test_second_night_rechecks_only_what_the_policy_says(two_nights):
    server, window, now = two_nights["server"], two_nights["window"], two_nights["now"]
    site2 = server.site
    first_slugs = {a.slug for a in DemoSite(edition=1).articles}
    new = {a.path for a in site2.articles if a.slug not in first_slugs}
    edited = {site2.article(slug).path for slug in edited_slugs()}
    recent = {a.path for a in site2.articles if a.slug in first_slugs and a.published >= now - timedelta(days=window)}
    assert len(recent) >= 3
    assert article_paths(server) == new | edited | recent
    # Unchanged recent articles were asked conditionally and answered 304: no download.
    for path in recent - edited:
        assert server.count(path=path, status=304) == 1, path
        assert server.count(path=path, status=200) == 0, path
    summary = two_nights["second"].sites["demo"]
    assert summary["not_modified"] == len(recent - edited)
    assert two_nights["server"].count() < two_nights["first_requests"] / 2


def test_unchanged_articles_are_not_written_again(two_nights, es_client):
    settings, before = two_nights["settings"], two_nights["before"]
    edited_ids = {document_id(canonicalize(two_nights["server"].base_url + two_nights["server"].site.article(s).path)) for s in edited_slugs()}
    after = {h["_id"]: h["_source"] for h in es_client.search(index=settings.elasticsearch.articles_alias, size=1000)["hits"]["hits"]}
    for doc_id, source in before.items():
        if doc_id not in edited_ids:
            assert after[doc_id]["crawled_at"] == source["crawled_at"]
            assert after[doc_id]["content_hash"] == source["content_hash"]
    assert two_nights["second"].sites["demo"]["articles_updated"] == len(edited_ids)


def test_edits_become_versions_with_correct_diffs(two_nights, es_client):
    settings, server = two_nights["settings"], two_nights["server"]
    es = settings.elasticsearch
    old_site = DemoSite(edition=1)
    for slug, kind in edited_slugs().items():
        url = server.base_url + server.site.article(slug).path
        article = {"id": document_id(canonicalize(url)), **es_client.get(index=es.articles_alias, id=document_id(canonicalize(url)))["_source"]}
        assert article["edited"] is True and article["version_count"] == 2
        history = captures(es_client, es.versions_alias, article)
        assert [c.current for c in history] == [False, True]
        assert history[0].title == old_site.article(slug).title
        assert history[1].title == server.site.article(slug).title
        (change,) = changes(history)
        assert change.title_changed == (kind == "title")
        if kind == "body":
            old_paragraphs = set(old_site.article(slug).paragraphs)
            added = [p for p in server.site.article(slug).paragraphs if p not in old_paragraphs]
            assert added
            for paragraph in added:
                assert f"+{paragraph}" in change.diff.splitlines()


def test_cli_shows_versions_diff_and_finds_edited_articles(two_nights):
    settings, server = two_nights["settings"], two_nights["server"]
    runner = CliRunner()
    retitled = next(s for s, kind in edited_slugs().items() if kind == "title")
    url = server.base_url + server.site.article(retitled).path
    shown = runner.invoke(cli, ["show", url, "--diff"], obj=AppContext(None, settings))
    assert shown.exit_code == 0, shown.output
    assert "Headline changed" in shown.output
    assert "2 capture(s)" in shown.output

    edited = search(make_client(settings.elasticsearch), settings.elasticsearch.articles_alias, SearchRequest(edited=True, size=50))
    assert {h.url.rsplit("/", 1)[1] for h in edited.hits} == set(edited_slugs())


def test_a_crawl_killed_half_way_resumes_without_duplicates_or_refetching(es_settings, es_client, tmp_path, demo_sites):
    with serve_demo_site(DemoSite(), port=0) as server:
        # Slow enough that the kill lands mid-crawl, after the first batch was stored.
        settings = fresh_settings(es_settings, tmp_path, demo_sites(server.base_url), download_delay=0.4, autothrottle=False, recheck_days=0)
        alias = settings.elasticsearch.articles_alias
        kill = when_first_batch_is_stored(es_client, alias, lambda pid: os.killpg(pid, signal.SIGKILL))
        killed = run_crawl(settings, ["demo"], on_start=kill)
        assert killed.status == FAILED
        es_client.indices.refresh(index=alias)
        stored_at_kill = {h["_source"]["url"] for h in es_client.search(index=alias, size=1000)["hits"]["hits"]}
        expected = {canonicalize(server.base_url + a.path) for a in server.site.articles}
        assert 0 < len(stored_at_kill) < len(expected)  # the kill did land half-way

        server.clear_requests()
        resumed = run_crawl(replace(settings, crawl=replace(settings.crawl, download_delay=0.0)), ["demo"])
        assert resumed.status == OK
        es_client.indices.refresh(index=alias)
        hits = es_client.search(index=alias, size=1000)["hits"]["hits"]
        urls = [h["_source"]["url"] for h in hits]
        assert sorted(urls) == sorted(expected)  # every article, each exactly once
        refetched = {canonicalize(server.base_url + p) for p in article_paths(server)}
        assert not (refetched & stored_at_kill)  # what was archived was not fetched again
        drop_all(es_client, settings.elasticsearch)


def when_first_batch_is_stored(client, alias: str, action):
    """on_start callback: once the crawl's first batch is searchable, run action(pid)."""

    def on_start(pid: int) -> None:
        def watch():
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    client.indices.refresh(index=alias)
                    if client.count(index=alias)["count"] > 0:
                        break
                except Exception:  # not created yet: keep polling
                    pass
                time.sleep(0.2)
            action(pid)

        threading.Thread(target=watch, daemon=True).start()

    return on_start


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_articles_survive_elasticsearch_stopping_during_a_crawl(es_settings, tmp_path, demo_sites):
    """A second, real node is started for this test, stopped mid-crawl, and started again."""
    port = _free_port()
    with serve_demo_site(DemoSite(), port=0) as server:
        settings = fresh_settings(es_settings, tmp_path / "var", demo_sites(server.base_url), download_delay=0.3, autothrottle=False)
        settings = replace(settings, elasticsearch=replace(settings.elasticsearch, url=f"http://127.0.0.1:{port}"))
        node_settings = replace(settings, data_dir=tmp_path / "node")
        localnode.start(node_settings)
        client = make_client(settings.elasticsearch, max_retries=0)
        alias = settings.elasticsearch.articles_alias
        try:
            stop_node = when_first_batch_is_stored(client, alias, lambda pid: localnode.stop(node_settings))
            outcome = run_crawl(settings, ["demo"], on_start=stop_node)
            summary = outcome.sites["demo"]
            assert summary["articles_new"] > 0  # written before the node stopped
            assert summary["articles_spooled"] > 0  # kept on disk while it was down
            assert summary["articles_new"] + summary["articles_spooled"] >= len(server.site.articles)

            localnode.start(node_settings)
            flushed = CliRunner().invoke(cli, ["flush"], obj=AppContext(None, settings))
            assert flushed.exit_code == 0, flushed.output
            client.indices.refresh(index=alias)
            urls = [h["_source"]["url"] for h in client.search(index=alias, size=1000)["hits"]["hits"]]
            assert sorted(urls) == sorted(canonicalize(server.base_url + a.path) for a in server.site.articles)
            again = CliRunner().invoke(cli, ["flush"], obj=AppContext(None, settings))
            assert "nothing spooled" in again.output
        finally:
            localnode.stop(node_settings)


def test_reextract_rebuilds_the_crawled_archive_from_warc_with_the_site_gone(es_settings, es_client, tmp_path, demo_sites):
    from crawler.reextract import reextract
    from search.indices import ensure_all

    with serve_demo_site(DemoSite(), port=0) as server:
        settings = fresh_settings(es_settings, tmp_path, demo_sites(server.base_url))
        assert run_crawl(settings, ["demo"]).status == OK
    # The site is gone; only the WARC files the crawl wrote are left.
    es = settings.elasticsearch
    es_client.indices.refresh(index=es.articles_alias)
    fields = ("url", "title", "authors", "published", "body", "content_hash", "site")
    crawled = {h["_id"]: {f: h["_source"].get(f) for f in fields} for h in es_client.search(index=es.articles_alias, size=1000)["hits"]["hits"]}
    assert all(h["_source"].get("warc_file") for h in es_client.search(index=es.articles_alias, size=1000)["hits"]["hits"])
    drop_all(es_client, es)
    ensure_all(es_client, es)

    result = reextract(settings, es_client, ["demo"])

    es_client.indices.refresh(index=es.articles_alias)
    rebuilt = {h["_id"]: {f: h["_source"].get(f) for f in fields} for h in es_client.search(index=es.articles_alias, size=1000)["hits"]["hits"]}
    assert rebuilt == crawled
    assert result.new == len(crawled)
    drop_all(es_client, es)
