"""A crawl that archives nothing says why; known-bad URLs are not fetched again; rejected URLs
can be listed. Real crawls of the demo site over HTTP into the real Elasticsearch."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from archive.cli import AppContext, cli
from archive.config import ConfigError, settings_from_dict
from archive.demo_site import DemoSite, serve_demo_site
from crawler.runner import NO_ARTICLES, OK, run_crawl
from crawler.state import BadUrlPolicy
from crawler.urls import canonicalize
from search.query import SearchRequest
from search.runs import list_runs, record_outcome
from search.service import iterate

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server():
    with serve_demo_site(DemoSite(), host="127.0.0.1", port=0) as server:
        yield server


def settings_for(archive_settings, demo_sites, server, **site_changes):
    (site,) = demo_sites(server.base_url)
    return replace(
        archive_settings,
        sites=(replace(site, **site_changes),),
        crawl=replace(archive_settings.crawl, download_delay=0.0, progress_interval=30.0),
    )


def archived_paths(es_client, settings, server) -> set[str]:
    es_client.indices.refresh(index=settings.elasticsearch.articles_alias)
    hits = iterate(es_client, settings.elasticsearch.articles_alias, SearchRequest(sort="oldest"))
    return {hit.url.removeprefix(server.base_url) for hit in hits}


def test_a_pattern_that_matches_nothing_fails_the_crawl_and_says_why(archive_settings, demo_sites, server, es_client):
    settings = settings_for(archive_settings, demo_sites, server, article_allow=(r"^/news/\d+/[a-z-]+$",))
    result = CliRunner().invoke(cli, ["crawl", "--site", "demo"], obj=AppContext(None, settings))
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())  # rich wraps long lines
    assert "Crawl no-articles" in output
    assert "matched none of the" in output and "matched against the path and query" in output
    assert "/2026/" in output  # a real article URL of the demo site, with why it was not taken
    assert "no article_allow pattern matched" in output
    assert r"article_allow ['^/news/\d+/[a-z-]+$'] matched none" in output  # as written in settings.toml
    assert "Traceback" not in result.output
    # The run record says so too (what `archive runs` and the Crawl health dashboard show).
    es_client.indices.refresh(index=settings.elasticsearch.runs_index)
    (run,) = list_runs(es_client, settings.elasticsearch.runs_index, site="demo")
    assert run["status"] == NO_ARTICLES
    assert "matched none of the" in run["errors"][0]


def test_a_full_url_as_pattern_is_refused_naming_the_key():
    raw = {"sites": [{"name": "x", "start_urls": ["http://a.example/"], "article_allow": [r"http://a.example/\d{4}/"]}]}
    with pytest.raises(ConfigError, match=r"sites\[\"x\"\]\.article_allow\[0\]: .* path and query"):
        settings_from_dict(raw, env={})


def test_a_catch_all_pattern_archives_articles_and_no_section_or_tag_page(archive_settings, demo_sites, server, es_client):
    settings = settings_for(archive_settings, demo_sites, server, article_allow=("/",))
    outcome = run_crawl(settings, ["demo"])
    assert outcome.status == OK, outcome.error
    archived = archived_paths(es_client, settings, server)
    assert archived == {a.canonical_path for a in server.site.articles}
    assert outcome.sites["demo"]["rejections"]["not-article"] >= 4  # the section pages, at least


def test_a_known_404_is_not_fetched_again_the_next_night(archive_settings, demo_sites, server):
    settings = settings_for(archive_settings, demo_sites, server)
    missing, too_large = server.site.traps["missing"], server.site.traps["too_large"]
    first = run_crawl(settings, ["demo"])
    assert first.status == OK, first.error
    assert first.sites["demo"]["rejections"]["http-error"] == 1
    server.clear_requests()

    second = run_crawl(settings, ["demo"])  # "the next night"
    assert second.status == OK, second.error
    assert server.count(path=missing) == 0
    assert server.count(path=too_large) == 0
    assert second.sites["demo"]["rejections"]["known-bad"] == 2
    assert "http-error" not in second.sites["demo"]["rejections"]
    skipped = {s["url"]: s["detail"] for s in second.sites["demo"]["rejected_samples"]["known-bad"]}
    assert "HTTP 404" in skipped[canonicalize(server.base_url + missing)]

    # Its time comes (here: moved into the past): asked again, failed again, left alone twice as long.
    state = sqlite3.connect(settings.data_dir / "crawl-state.sqlite")
    state.execute("UPDATE bad_urls SET retry_after = '2000-01-01T00:00:00+00:00'")
    state.commit()
    server.clear_requests()
    third = run_crawl(settings, ["demo"])
    assert server.count(path=missing) == 1
    assert third.sites["demo"]["rejections"]["http-error"] == 1
    failures, retry_after = state.execute(
        "SELECT failures, retry_after FROM bad_urls WHERE url = ?", (canonicalize(server.base_url + missing),)
    ).fetchone()
    state.close()
    assert failures == 2
    days = (datetime.fromisoformat(retry_after) - datetime.now(timezone.utc)).total_seconds() / 86400
    assert 2 * settings.crawl.bad_url_retry_days - 1 < days <= 2 * settings.crawl.bad_url_retry_days


def test_backoff_doubles_and_is_capped():
    policy = BadUrlPolicy(retry_days=7, max_days=20)
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert [policy.retry_after(n, now) - now for n in (1, 2, 3)] == [timedelta(days=7), timedelta(days=14), timedelta(days=20)]


def test_runs_rejections_lists_the_rejected_urls_with_reason_and_detail(archive_settings, demo_sites, server):
    settings = settings_for(archive_settings, demo_sites, server)
    outcome = run_crawl(settings, ["demo"])
    (record,) = record_outcome(settings, outcome, trigger="test")
    runner = CliRunner()
    result = runner.invoke(cli, ["runs", "--rejections"], obj=AppContext(None, settings))
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert f"run {record['run_id']}" in text
    assert f"too-short: 1 (all shown) {canonicalize(server.base_url + server.site.traps['too_short'])}" in text
    assert "words" in text  # the detail: how short
    assert canonicalize(server.base_url + server.site.traps["missing"]) + " HTTP 404" in text
    # By run id, as JSON.
    as_json = runner.invoke(cli, ["runs", record["run_id"], "--rejections", "--format", "json"], obj=AppContext(None, settings))
    (run,) = json.loads(as_json.output)
    assert run["rejected_urls"]["http-error"] == [
        {"url": canonicalize(server.base_url + server.site.traps["missing"]), "detail": "HTTP 404"}
    ]
    unknown = runner.invoke(cli, ["runs", "nosuchrun", "--rejections"], obj=AppContext(None, settings))
    assert unknown.exit_code == 1 and "no run nosuchrun" in unknown.output


def test_a_bad_url_that_answers_again_is_forgotten(tmp_path):
    from crawler.state import CrawlState

    state = CrawlState(tmp_path / "state.sqlite")
    policy = BadUrlPolicy(retry_days=7, max_days=90)
    state.record_bad("demo", "http://x/gone", "http-error", "HTTP 404", policy)
    state.record_bad("other", "http://y/gone", "http-error", "HTTP 410", policy)
    assert set(state.load_bad("demo")) == {"http://x/gone"}
    later = datetime.now(timezone.utc) + timedelta(days=8)
    assert state.load_bad("demo", now=later) == {}  # its time has come: fetched again
    state.forget_bad("demo", {"http://x/gone", "http://x/fine"})
    assert state.load_bad("demo") == {}
    assert set(state.load_bad("other")) == {"http://y/gone"}  # another site's are its own
    state.close()
