"""A bounded crawl on one machine: many sites due at the same minute wait for one of
`schedule.max_concurrent_crawls` slots, and every one of them is crawled.

Six demo sites, each on its own server, with the scheduler (scheduler.py, as in production)
finding all six jobs due at the same past minute. What an operator sees: six "ok" run records,
and the records' start and end times never show more than two crawls at once.
"""

from __future__ import annotations

import signal
import threading
import time
from datetime import datetime, timedelta, timezone

import psutil
import pytest
from test_scheduler import _stored, demo_site_entry, set_next_run, start_scheduler, write_config

from archive.config import ConfigError, settings_from_dict, settings_to_dict
from archive.scheduling.slots import CrawlSlot, NoSlot
from crawler.workers import budget_needed, default_workers, workers_within_budget
from search.runs import list_runs

SITES = [f"site{i}" for i in range(1, 7)]


def test_max_concurrent_crawls_defaults_to_half_the_cores_and_is_validated():
    settings = settings_from_dict({}, env={})
    assert settings.schedule.crawl_slots == max(1, (psutil.cpu_count() or 1) // 2)
    assert settings_from_dict({"schedule": {"max_concurrent_crawls": 3}}, env={}).schedule.crawl_slots == 3
    assert settings_from_dict({}, env={"ARCHIVE_MAX_CONCURRENT_CRAWLS": "5"}).schedule.crawl_slots == 5
    with pytest.raises(ConfigError, match="schedule.max_concurrent_crawls"):
        settings_from_dict({"schedule": {"max_concurrent_crawls": -1}}, env={})
    with pytest.raises(ConfigError, match="crawl.memory_budget_mb"):
        settings_from_dict({"crawl": {"memory_budget_mb": 0}}, env={})


def test_extraction_workers_shrink_so_concurrent_crawls_fit_the_budget():
    # One crawl alone may use a worker per CPU; four crawls on 1 GB get one worker each.
    assert workers_within_budget(2048, 1) == default_workers()
    assert workers_within_budget(1024, 4) == 1
    for crawls in (1, 2, 3):
        workers = workers_within_budget(2048, crawls)
        assert budget_needed(crawls, workers) <= 2048
    # A budget too small even for one worker per crawl still crawls, with one.
    assert workers_within_budget(256, 8) == 1 and budget_needed(8, 1) > 256


def test_a_crawl_waits_for_a_free_slot_and_a_stop_ends_the_wait(tmp_path):
    first, second = CrawlSlot(tmp_path, 2, "a"), CrawlSlot(tmp_path, 2, "b")
    first.acquire()
    second.acquire()
    stop = threading.Event()
    third = CrawlSlot(tmp_path, 2, "c", stop)
    got = []
    waiter = threading.Thread(target=lambda: (third.acquire(), got.append(third.number)))
    waiter.start()
    time.sleep(1.5)
    assert not got  # both slots taken: it waits
    first.release()
    waiter.join(timeout=10)
    assert got == [0]  # the freed slot
    stop.set()
    with pytest.raises(NoSlot, match="stopped while waiting"):
        CrawlSlot(tmp_path, 2, "d", stop).acquire()
    second.release()
    third.release()


@pytest.fixture(scope="module")
def six_servers():
    from archive.demo_site import DemoSite, serve_demo_site

    servers = [serve_demo_site(DemoSite(article_count=6), host="127.0.0.1", port=0) for _ in SITES]
    yield servers
    for server in servers:
        server.stop()


def is_crawl(process: psutil.Process) -> bool:
    """A crawl process: not one of its extraction workers caught between fork and exec, which
    still has the crawl's command line for that moment."""
    try:
        return "crawler.run" in process.cmdline() and "crawler.run" not in process.parent().cmdline()
    except (psutil.NoSuchProcess, AttributeError):
        return False


def most_at_once(intervals: list[tuple[str, str]]) -> int:
    # At an equal second, an end comes before a start: a slot is freed before the next crawl takes it.
    events = sorted([(datetime.fromisoformat(e), 0) for _, e in intervals] + [(datetime.fromisoformat(s), 1) for s, _ in intervals])
    running = peak = 0
    for _, starts in events:
        running += 1 if starts else -1
        peak = max(peak, running)
    return peak


@pytest.mark.e2e
def test_six_sites_due_at_the_same_minute_all_finish_two_at_a_time(six_servers, archive_settings, es_client, tmp_path):
    raw = settings_to_dict(archive_settings)
    raw["crawl"].update({"download_delay": 0.1, "autothrottle": False, "progress_interval": 1.0})
    raw["schedule"].update({"cron": "0 2 * * *", "timezone": "UTC", "per_site": True, "max_concurrent_crawls": 2})
    raw["sites"] = [demo_site_entry(server.base_url, name) for server, name in zip(six_servers, SITES)]
    settings = settings_from_dict(raw, env={})
    config = write_config(settings_to_dict(settings), tmp_path / "settings.toml")
    # The scheduler was down at 02:00: all six jobs are due, at the same minute.
    _stored(settings)
    due = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(minutes=1)
    for name in SITES:
        set_next_run(settings, f"crawl:{name}", due)

    log = tmp_path / "scheduler.log"
    proc = start_scheduler(config, log)
    runs_index = settings.elasticsearch.runs_index
    seen_at_once = 0
    records: list[dict] = []
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                crawls = [p for p in psutil.Process(proc.pid).children(recursive=True) if is_crawl(p)]
            except psutil.NoSuchProcess:
                crawls = []
            seen_at_once = max(seen_at_once, len(crawls))
            es_client.indices.refresh(index=runs_index, ignore_unavailable=True)
            records = list_runs(es_client, runs_index) if es_client.indices.exists(index=runs_index) else []
            if len(records) >= len(SITES):
                break
            time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    text = log.read_text()
    assert len(records) == len(SITES), text[-4000:]
    assert sorted(r["site"] for r in records) == SITES
    assert {r["status"] for r in records} == {"ok"}, text[-4000:]
    assert all(r["articles_new"] == 6 for r in records)
    assert seen_at_once <= 2
    assert most_at_once([(r["started"], r["ended"]) for r in records]) == 2
    assert text.count("waits for a crawl slot (2 crawls at most run at once on this machine)") >= 4
    assert "extraction: " in text and "worker process(es) per site" in text
