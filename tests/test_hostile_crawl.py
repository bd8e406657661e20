"""A crawl that finishes what it starts: backfills that catch up, hostile pages contained, and
every failure on the record. Each test serves a faulty or hostile site on 127.0.0.1 itself
(tests/hostile_site.py) and crawls it for real, into the real Elasticsearch node."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

from archive.cli import AppContext, cli
from archive.config import SiteSettings, settings_to_dict
from archive.scheduling.locks import LockTaken, SiteLock, running_crawl
from crawler.runner import FAILED, INCOMPLETE, OK, OK_SPOOLED, TIMED_OUT, run_crawl
from crawler.urls import canonicalize, document_id
from hostile_site import HostileSite, article_text, serve_hostile_site
from search.indices import drop_all, ensure_all
from search.runs import list_runs

pytestmark = pytest.mark.e2e

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def site_entry(server, name: str = "hostile", **overrides) -> SiteSettings:
    return replace(
        SiteSettings(
            name=name,
            start_urls=(server.url("/"),),
            allowed_domains=("127.0.0.1",),
            article_allow=(r"^/news/\d+$", r"^/news/hijack$", r"^/news/links-100k$", r"^/news/drip$"),
            follow_allow=(r"^/(\?page=\d+)?$", r"^/listing-100k$", r"^/bomb", r"^/redirect/"),
            max_depth=40,
        ),
        **overrides,
    )


@pytest.fixture
def settings_for(es_settings, es_client, tmp_path):
    """settings_for(*sites, **crawl): the tests' settings with their own indices and data folder."""
    made = []

    def make(*sites, **crawl):
        es = es_settings.elasticsearch.with_index_prefix(f"test-hostile-{uuid.uuid4().hex[:8]}")
        settings = replace(
            es_settings, elasticsearch=es, data_dir=tmp_path / "var", sites=sites,
            crawl=replace(es_settings.crawl, **{"download_delay": 0.0, "autothrottle": False, "progress_interval": 2.0,
                                                "retry_backoff_base": 0.1, **crawl}),
        )
        made.append(settings)
        return settings

    yield make
    for settings in made:
        drop_all(es_client, settings.elasticsearch)


def archived(es_client, settings) -> dict[str, dict]:
    alias = settings.elasticsearch.articles_alias
    es_client.indices.refresh(index=alias)
    hits = es_client.search(index=alias, size=1000, query={"match_all": {}})["hits"]["hits"]
    return {h["_source"]["url"]: h["_source"] for h in hits}


# -- 1. a backfill cut short by the page budget catches up ------------------------------------

def test_a_backfill_cut_short_by_the_page_budget_catches_up_in_later_runs(settings_for, es_client):
    with serve_hostile_site(HostileSite(articles=600)) as server:
        settings = settings_for(site_entry(server, max_pages=150))
        outcomes = [run_crawl(settings, ["hostile"]) for _ in range(6)]
        urls = set(archived(es_client, settings))
    first = outcomes[0]
    assert first.status == INCOMPLETE, first.error
    assert "wait for the next run" in first.error
    assert first.sites["hostile"]["remaining_listings"] >= 1
    assert urls == {canonicalize(server.url(f"/news/{n:04d}")) for n in range(1, 601)}
    assert outcomes[-1].status == OK, [(o.status, o.error) for o in outcomes]
    # Every run but the last that found nothing new archived something: none stalled on known ground.
    new = [o.sites["hostile"]["articles_new"] for o in outcomes]
    assert sum(new) == 600 and all(n > 0 for n in new[:4]), new


def test_after_a_crash_known_ground_is_not_believed_until_a_walk_is_complete(settings_for, es_client):
    from crawler.state import CrawlState

    with serve_hostile_site(HostileSite(articles=120)) as server:
        settings = settings_for(site_entry(server, max_pages=60))
        assert run_crawl(settings, ["hostile"]).status == INCOMPLETE
        state = CrawlState(settings.data_dir / "crawl-state.sqlite")
        state.start_walk("hostile")  # what a crawl killed with SIGKILL leaves: a walk that never ended
        state.save_cursor("hostile", replace(state.load_cursor("hostile"), frontier=()))  # and no frontier
        state.start_walk("hostile")
        state.close()
        outcomes = [run_crawl(settings, ["hostile"]) for _ in range(3)]
        urls = set(archived(es_client, settings))
    assert len(urls) == 120, [(o.status, o.sites["hostile"]["articles_new"]) for o in outcomes]


# -- 2. a hostile page is contained; the time limit is the crawl's own -------------------------

def test_a_page_of_100000_links_is_contained(settings_for, es_client):
    hostile = HostileSite(articles=8, extra_links=("/news/links-100k", "/listing-100k"))
    with serve_hostile_site(hostile) as server:
        # The 100,000-link page takes 10-12 s to extract on this 2-core machine when quiet: a
        # 4 s limit stops it with a wide margin either way (the small articles take ~50 ms).
        settings = settings_for(site_entry(server), extraction_timeout=4.0, max_links_per_page=500)
        outcome = run_crawl(settings, ["hostile"])
        urls = set(archived(es_client, settings))
    summary = outcome.sites["hostile"]
    assert summary["rejections"].get("extraction-timeout") == 1
    samples = summary["rejected_samples"]["extraction-timeout"]
    assert samples[0]["url"].endswith("/news/links-100k")
    assert summary["links_left_out"] == 100_000 - 500  # the listing's links past the cap
    assert {canonicalize(server.url(f"/news/{n:04d}")) for n in range(1, 9)} <= urls  # the rest of the site is archived


def test_the_time_limit_stops_the_crawl_itself_and_finished_sites_keep_their_status(settings_for, es_client):
    # The 100,000-link page keeps a worker busy for about a minute (longer under load), and a
    # slow-drip page keeps the site busy past the limit whatever the machine's speed.
    with serve_hostile_site(HostileSite(articles=5)) as calm, \
            serve_hostile_site(HostileSite(articles=3, extra_links=("/news/links-100k", "/news/drip"))) as slow:
        settings = settings_for(site_entry(calm, name="calm"), site_entry(slow, name="slow"),
                                extraction_timeout=3600.0, time_limit=40.0, download_timeout=25.0)
        outcome = run_crawl(settings, ["calm", "slow"])
    # The crawl process closed itself at its limit and wrote both summaries (the parent did not have to kill it).
    assert set(outcome.sites) == {"calm", "slow"}, outcome.error
    assert outcome.status == TIMED_OUT
    assert outcome.sites["slow"]["status"] == TIMED_OUT
    assert outcome.sites["slow"]["finish_reason"] == "closespider_timeout"
    assert outcome.sites["calm"]["status"] == OK and outcome.sites["calm"]["articles_new"] == 5


# -- 3. a canonical link cannot take over another article's record ------------------------------

def test_a_canonical_link_to_another_article_does_not_take_its_record(settings_for, es_client):
    with serve_hostile_site(HostileSite(articles=5, extra_links=("/news/hijack",))) as server:
        settings = settings_for(site_entry(server))
        outcome = run_crawl(settings, ["hostile"])
        docs = archived(es_client, settings)
    target = docs[canonicalize(server.url("/news/0002"))]
    assert "hijacker" not in target["title"] and target["body"].split()[:5] == article_text(2).split()[:5]
    hijacker = docs[canonicalize(server.url("/news/hijack"))]
    assert hijacker["title"] == "The hijacker's own story"
    summary = outcome.sites["hostile"]
    assert summary["canonical_conflicts"] >= 1
    assert "duplicate" not in summary["rejections"]
    assert len(docs) == 6


# -- 4. redirects and links stay on the site's own host and ports --------------------------------

def test_a_redirect_to_another_port_of_the_host_is_refused(settings_for, es_client):
    with serve_hostile_site(HostileSite()) as internal:  # stands for a service beside the site (an Elasticsearch...)
        hostile = HostileSite(articles=3, away_url=internal.url("/_cat/indices?v"),
                              extra_links=("/redirect/away", internal.url("/news/0001")))
        with serve_hostile_site(hostile) as server:
            settings = settings_for(site_entry(server))
            outcome = run_crawl(settings, ["hostile"])
    assert internal.site.requests == []  # never asked, neither by a link nor by a redirect
    summary = outcome.sites["hostile"]
    assert summary["rejections"].get("redirect-offsite") == 1
    assert summary["rejections"].get("offsite", 0) >= 1
    assert summary["articles_new"] == 3


# -- 5. every failure is a named, counted rejection; robots.txt is read as crawlers read it -------

def test_bombs_loops_and_offsite_redirects_are_named_rejections(settings_for, es_client):
    hostile = HostileSite(articles=2, away_url="http://127.0.0.1:9/elsewhere",
                          extra_links=("/bomb.html", "/redirect/endless/0", "/redirect/self", "/redirect/away"))
    with serve_hostile_site(hostile) as server:
        settings = settings_for(site_entry(server, sitemaps=(server.url("/sitemap-bomb.xml.gz"),)),
                                max_response_bytes=5_000_000)
        outcome = run_crawl(settings, ["hostile"])
    rejections = outcome.sites["hostile"]["rejections"]
    assert rejections.get("too-large") == 1  # the gzip bomb, caught while decompressing
    assert rejections.get("redirect-loop") == 2  # the endless chain and the self-redirect
    assert rejections.get("redirect-offsite") == 1
    assert rejections.get("sitemap-too-large") == 1
    assert outcome.status == OK and outcome.sites["hostile"]["articles_new"] == 2


@pytest.mark.parametrize("robots", ["503", "huge"])
def test_an_unreadable_robots_txt_crawls_nothing_of_the_site_this_run(settings_for, es_client, robots):
    with serve_hostile_site(HostileSite(articles=3, robots=robots)) as server:
        settings = settings_for(site_entry(server), retry_times=1)
        outcome = run_crawl(settings, ["hostile"])
        asked = set(server.site.requests)
    assert asked == {"/robots.txt"}  # nothing else of the site, retried once
    assert outcome.status == FAILED
    assert "robots.txt could not be read" in outcome.error and "tried again next run" in outcome.error
    assert outcome.sites["hostile"]["rejections"].get("robots-unreadable", 0) >= 1


def test_a_missing_robots_txt_allows_everything_and_is_no_rejection(settings_for, es_client):
    with serve_hostile_site(HostileSite(articles=3, robots="404")) as server:
        settings = settings_for(site_entry(server, robots_sitemaps=True))
        outcome = run_crawl(settings, ["hostile"])
    assert outcome.status == OK, outcome.error
    assert outcome.sites["hostile"]["articles_new"] == 3
    assert "http-error" not in outcome.sites["hostile"]["rejections"]


# -- 6. the crawl process dies with the process that started it ----------------------------------

def test_a_crawl_whose_starter_is_killed_stops_and_holds_the_lock_until_then(settings_for, tmp_path):
    with serve_hostile_site(HostileSite(articles=400)) as server:
        settings = settings_for(site_entry(server), download_delay=0.5, concurrent_requests_per_host=1)
        raw = tmp_path / "settings.json"
        raw.write_text(json.dumps(settings_to_dict(settings)))
        starter = subprocess.Popen([sys.executable, "-c", STARTER, str(raw)], cwd=PROJECT_ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        crawl = _wait_for_crawl_child(starter.pid)
        workdir = Path(next(a for a in crawl.cmdline() if a.endswith("settings.json"))).parent
        _wait_until(lambda: not (workdir / "settings.json").exists())
        os.kill(starter.pid, signal.SIGKILL)
        starter.wait()
        with pytest.raises(LockTaken):  # the orphaned crawl still holds the site's lock
            SiteLock(settings.data_dir, "hostile").acquire()
        assert running_crawl(settings.data_dir, "hostile")["crawl_pid"] == crawl.pid  # and `archive status` says so
        crawl.wait(timeout=90)  # it stops by itself, cleanly
        lock = SiteLock(settings.data_dir, "hostile")
        lock.acquire()  # and the lock is free again
        lock.release()
        assert not workdir.exists()  # no temporary folder left behind


STARTER = """
import json, sys
from archive.config import settings_from_dict
from archive.scheduling.jobs import run_sites
settings = settings_from_dict(json.load(open(sys.argv[1])))
run_sites(settings, ["hostile"], trigger="cli")
"""


def _wait_for_crawl_child(pid: int) -> psutil.Process:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for child in psutil.Process(pid).children():
            if "crawler.run" in child.cmdline():
                return child
        time.sleep(0.2)
    raise AssertionError("the crawl process never started")


def _wait_until(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.2)


# -- 7. with Elasticsearch dead, the crawl is ok-spooled and its run record waits too ------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_crawl_with_elasticsearch_dead_ends_ok_spooled_and_its_run_is_recorded_at_flush(settings_for, es_client):
    with serve_hostile_site(HostileSite(articles=4)) as server:
        live = settings_for(site_entry(server))
        dead = replace(live, elasticsearch=replace(live.elasticsearch, url=f"http://127.0.0.1:{_free_port()}"))
        crawled = CliRunner().invoke(cli, ["crawl", "--site", "hostile"], obj=AppContext(None, dead))
    assert crawled.exit_code == 0, crawled.output
    assert "ok-spooled" in crawled.output
    assert "Elasticsearch was unreachable: 4 articles wait in the spool; run `archive flush`" in " ".join(crawled.output.split())
    assert not es_client.indices.exists(index=live.elasticsearch.runs_index)

    flushed = CliRunner().invoke(cli, ["flush"], obj=AppContext(None, live))
    assert flushed.exit_code == 0, flushed.output
    runs = list_runs(es_client, live.elasticsearch.runs_index)
    assert [(r["site"], r["status"], r["articles_spooled"]) for r in runs] == [("hostile", OK_SPOOLED, 4)]
    assert len(archived(es_client, live)) == 4


def test_a_batch_whose_story_look_up_is_refused_waits_in_the_spool_and_is_stored_at_flush(settings_for, es_client):
    """Elasticsearch takes writes but refuses the searches that find a batch's copies elsewhere
    (here a result window of 1, as a busy node's rejection would): the batch is spooled, not
    stored outside its stories nor lost, and the crawl says why."""
    with serve_hostile_site(HostileSite(articles=4)) as server:
        live = settings_for(site_entry(server))
        ensure_all(es_client, live.elasticsearch)
        alias = live.elasticsearch.articles_alias
        es_client.indices.put_settings(index=alias, settings={"index": {"max_result_window": 1}})
        crawled = CliRunner().invoke(cli, ["crawl", "--site", "hostile"], obj=AppContext(None, live))
    said = " ".join(crawled.output.split())
    assert crawled.exit_code == 0, crawled.output
    assert "ok-spooled" in said
    assert "the write to Elasticsearch failed (story look-up refused: Result window is too large" in said
    assert "4 articles wait in the spool; run `archive flush`" in said
    refused = CliRunner().invoke(cli, ["flush"], obj=AppContext(None, live))
    assert refused.exit_code == 1
    assert "refused the spooled articles (story look-up refused" in refused.output
    assert "4 articles stay spooled" in refused.output
    es_client.indices.refresh(index=alias)
    assert es_client.count(index=alias)["count"] == 0

    es_client.indices.put_settings(index=alias, settings={"index": {"max_result_window": None}})
    flushed = CliRunner().invoke(cli, ["flush"], obj=AppContext(None, live))
    assert flushed.exit_code == 0, flushed.output
    stored = archived(es_client, live)
    assert len(stored) == 4
    assert all(article.get("story") for article in stored.values())


def test_a_crawl_that_can_neither_store_nor_spool_fails(settings_for):
    with serve_hostile_site(HostileSite(articles=4)) as server:
        live = settings_for(site_entry(server))
        dead = replace(live, elasticsearch=replace(live.elasticsearch, url=f"http://127.0.0.1:{_free_port()}"))
        dead.data_dir.mkdir(parents=True)
        (dead.data_dir / "spool").write_text("a file where the spool folder should be")  # the spool cannot be written
        outcome = run_crawl(dead, ["hostile"])
    assert outcome.status == FAILED
    assert outcome.sites["hostile"]["articles_lost"] == 4
    assert "4 articles could be neither stored nor spooled" in outcome.error
