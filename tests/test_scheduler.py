"""The scheduler: cron times, the persistent job store, locks, and crawls of the real demo site
recorded in the real Elasticsearch (scheduler.py run as the operator runs it, in a subprocess).

The slow tests share one demo site server per module; a "slow" crawl (one request a second)
gives the tests time to act while a crawl runs. Waits poll for what an operator would see (a
crawl process, a record) with generous limits; nothing asserts on durations.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import psutil
import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from click.testing import CliRunner

from archive.config import settings_from_dict, settings_to_dict
from archive.scheduling import jobs
from archive.scheduling import schedule as sched
from archive.scheduling.locks import SiteLock, running_crawl
from search.runs import list_runs

PROJECT_ROOT = Path(__file__).resolve().parent.parent
UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")


def demo_site_entry(base_url: str, name: str = "demo") -> dict:
    return {
        "name": name,
        "start_urls": [base_url + "/"],
        "feeds": [base_url + "/feed.xml"],
        "allowed_domains": ["127.0.0.1"],
        "article_allow": [r"^/\d{4}/\d{2}/\d{2}/[a-z0-9-]+/?$"],
        "follow_allow": [r"^/$", r"^/section/[a-z-]+/?(\?page=\d+)?$"],
        "follow_deny": ["^/search", "^/tag/", "^/calendar/"],
        "max_depth": 3,
    }


def offline_settings(tmp_path: Path, sites=("alpha", "beta"), **schedule):
    """Settings for tests that touch neither Elasticsearch nor a site."""
    raw = {
        "data_dir": str(tmp_path / "var"),
        "schedule": {"cron": "0 2 * * *", "timezone": "Europe/Berlin", **schedule},
        "sites": [demo_site_entry("http://127.0.0.1:9", name) for name in sites],
    }
    return settings_from_dict(raw, env={})


# --- cron times ------------------------------------------------------------------------------


def _utc(moment: datetime | None) -> datetime | None:
    # Times in a gap or a fold never compare equal across zones (PEP 495): compare in UTC.
    return moment.astimezone(UTC) if moment else None


def test_nightly_run_time_around_daylight_saving_changes():
    schedule = offline_settings(Path("/nonexistent")).schedule  # 0 2 * * * Europe/Berlin
    trigger = sched.make_trigger(schedule)

    def next_after(moment):
        return _utc(sched.next_fire_time(schedule, moment))

    # An ordinary night: 02:00 Berlin time.
    assert next_after(datetime(2026, 1, 10, 12, 0, tzinfo=BERLIN)) == datetime(2026, 1, 11, 1, 0, tzinfo=UTC)
    # 29 March 2026 has no 02:00 (clocks jump 02:00 -> 03:00): the crawl runs at 03:00 CEST, not skipped.
    assert next_after(datetime(2026, 3, 28, 12, 0, tzinfo=BERLIN)) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    # 25 October 2026 has 02:00 twice (clocks go back 03:00 -> 02:00): one crawl, not two.
    autumn = sched.next_fire_time(schedule, datetime(2026, 10, 24, 12, 0, tzinfo=BERLIN))
    assert _utc(autumn) == datetime(2026, 10, 25, 0, 0, tzinfo=UTC)  # 02:00 CEST
    assert _utc(trigger.get_next_fire_time(autumn, autumn)) == datetime(2026, 10, 26, 1, 0, tzinfo=UTC)  # next night
    # An hourly schedule keeps both 02:00s, as cron does.
    hourly = replace(schedule, cron="0 * * * *")
    first = sched.next_fire_time(hourly, datetime(2026, 10, 25, 1, 30, tzinfo=BERLIN))
    second = sched.make_trigger(hourly).get_next_fire_time(first, first)
    assert [_utc(first), _utc(second)] == [datetime(2026, 10, 25, 0, 0, tzinfo=UTC), datetime(2026, 10, 25, 1, 0, tzinfo=UTC)]


# --- jobs and the job store --------------------------------------------------------------------


def _started(settings) -> BackgroundScheduler:
    scheduler = sched.create_scheduler(settings, BackgroundScheduler)
    scheduler.start(paused=True)  # paused: nothing runs, the jobs are in the store
    return scheduler


def _stored(settings) -> dict[str, datetime]:
    scheduler = _started(settings)
    try:
        return {job.id: job.next_run_time for job in scheduler.get_jobs(jobstore="default")}
    finally:
        scheduler.shutdown(wait=False)


def set_next_run(settings, job_id: str, moment: datetime) -> None:
    """What the store holds after the scheduler was down when the job was due."""
    store = SQLAlchemyJobStore(url=sched.jobstore_url(settings))
    store.start(BackgroundScheduler(), "default")
    job = store.lookup_job(job_id)
    job.next_run_time = moment
    store.update_job(job)
    store.shutdown()


def test_jobs_follow_the_settings(tmp_path):
    settings = offline_settings(tmp_path, misfire_grace_seconds=900)
    scheduler = _started(settings)
    try:
        found = {job.id: job for job in scheduler.get_jobs()}
    finally:
        scheduler.shutdown(wait=False)
    assert sorted(found) == ["alerts:deliver", "crawl:alpha", "crawl:beta"]
    assert found["alerts:deliver"].trigger.interval.total_seconds() == settings.alerts.deliver_every
    job = found["crawl:alpha"]
    assert job.func_ref == "archive.scheduling.jobs:crawl_job"
    assert job.args[0] == ["alpha"] and job.args[1]["data_dir"] == str(tmp_path / "var")
    assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, 900)
    assert (tmp_path / "var" / "scheduler.sqlite").exists()

    # One job for all sites: the per-site jobs go away at the next start.
    assert list(_stored(replace(settings, schedule=replace(settings.schedule, per_site=False)))) == ["crawl:all"]


def test_restart_keeps_the_jobs_and_a_missed_run_and_drops_removed_sites(tmp_path):
    settings = offline_settings(tmp_path)
    first = _stored(settings)
    assert _stored(settings) == first  # start, stop, start again: same ids, same next times
    assert sorted(first) == ["crawl:alpha", "crawl:beta"]

    # The scheduler was down when alpha's run was due (20 minutes ago, within the grace).
    missed = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
    set_next_run(settings, "crawl:alpha", missed)
    planned = {job.id: job for job in sched.planned_jobs(settings)}
    assert planned["crawl:alpha"].state == "missed" and planned["crawl:alpha"].next_run == missed
    assert _stored(settings)["crawl:alpha"] == missed  # kept at restart: it runs (once) at start

    # beta is no longer configured; a new cron gives new times.
    changed = replace(offline_settings(tmp_path, sites=("alpha",)), schedule=replace(settings.schedule, cron="0 4 * * *"))
    planned = {job.id: job for job in sched.planned_jobs(changed)}
    assert planned["crawl:beta"].state == "removed at start"
    after = _stored(changed)
    assert list(after) == ["crawl:alpha"]
    assert after["crawl:alpha"].astimezone(BERLIN).hour == 4


def test_list_prints_the_jobs_and_their_next_run(tmp_path):
    settings = offline_settings(tmp_path, sites=("alpha",))
    config = write_config(settings_to_dict(settings), tmp_path / "settings.toml")
    result = subprocess.run(
        [sys.executable, "scheduler.py", "--config", str(config), "--list"],
        cwd=PROJECT_ROOT, env=_env(), capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    expected = sched.planned_jobs(settings)[0].next_run.strftime("%Y-%m-%d %H:%M")
    assert "crawl:alpha" in result.stdout and expected in result.stdout


# --- crawls of the demo site ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_server():
    from archive.demo_site import DemoSite, serve_demo_site

    server = serve_demo_site(DemoSite(), host="127.0.0.1", port=0)
    yield server
    server.stop()


def demo_settings(archive_settings, base_url: str, **crawl):
    raw = settings_to_dict(archive_settings)
    raw["crawl"].update({"download_delay": 0.0, "progress_interval": 1.0, "autothrottle": False, **crawl})
    raw["schedule"].update({"cron": "0 2 * * *", "timezone": "UTC", "misfire_grace_seconds": 3600, "per_site": True})
    raw["sites"] = [demo_site_entry(base_url)]
    return settings_from_dict(raw, env={})


SLOW = {"download_delay": 1.0, "concurrent_requests_per_host": 1}  # ~50 pages: a crawl of a minute


def write_config(raw: dict, path: Path) -> Path:
    """settings.toml from a settings dict (JSON scalars and string lists are valid TOML)."""
    lines = []
    sections = {k: v for k, v in raw.items() if isinstance(v, dict)}
    for key, value in raw.items():
        if not isinstance(value, (dict, list)) or (isinstance(value, list) and key != "sites"):
            lines.append(f"{key} = {json.dumps(value)}")
    for name, section in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in section.items() if v is not None]
    for site in raw.get("sites", []):
        lines.append("[[sites]]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in site.items() if v is not None]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _env() -> dict:
    # The config file says everything; no ARCHIVE_* override from the developer's shell.
    return {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}


def start_scheduler(config: Path, log: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "scheduler.py", "--config", str(config), *args],
        cwd=PROJECT_ROOT, env=_env(), stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )


def wait_for_crawl_child(proc: subprocess.Popen, log: Path, limit: float = 90.0) -> psutil.Process:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"scheduler exited ({proc.returncode}) before a crawl started:\n{log.read_text()[-3000:]}")
        try:
            for child in psutil.Process(proc.pid).children(recursive=True):
                if "crawler.run" in child.cmdline():
                    return child
        except psutil.NoSuchProcess:
            pass
        time.sleep(0.2)
    proc.kill()
    pytest.fail(f"no crawl process appeared:\n{log.read_text()[-3000:]}")


def wait_until(condition, failure: str, limit: float = 90.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(failure)
        time.sleep(0.2)


def runs(es_client, settings, site="demo") -> list[dict]:
    es_client.indices.refresh(index=settings.elasticsearch.runs_index, ignore_unavailable=True)
    return list_runs(es_client, settings.elasticsearch.runs_index, site=site)


@pytest.mark.e2e
def test_run_now_crawls_the_demo_site_and_records_the_run(demo_server, archive_settings, es_client, tmp_path):
    settings = demo_settings(archive_settings, demo_server.base_url)
    config = write_config(settings_to_dict(settings), tmp_path / "settings.toml")
    result = subprocess.run(
        [sys.executable, "scheduler.py", "--config", str(config), "--run-now", "--site", "demo"],
        cwd=PROJECT_ROOT, env=_env(), capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "crawl of demo ended: ok" in result.stderr

    [run] = runs(es_client, settings)
    assert (run["status"], run["trigger"]) == ("ok", "run-now")
    assert run["articles_new"] == len(demo_server.site.articles)
    assert run["articles_updated"] == 0 and run["error_count"] == 0
    assert run["rejected_total"] > 0  # the demo site's traps are counted, not archived
    assert not running_crawl(settings.data_dir, "demo")  # the lock went with the run

    # What the operator reads.
    from archive.cli import cli

    listed = CliRunner().invoke(cli, ["--config", str(config), "runs", "--format", "json"])
    assert listed.exit_code == 0, listed.output
    assert [(r["site"], r["status"], r["articles_new"]) for r in json.loads(listed.output)] == [
        ("demo", "ok", len(demo_server.site.articles))
    ]
    table = CliRunner().invoke(cli, ["--config", str(config), "runs"], terminal_width=200)
    assert "demo" in table.output and "ok" in table.output and f"{len(demo_server.site.articles)}/0/0" in table.output
    status = CliRunner().invoke(cli, ["--config", str(config), "status", "--format", "json"])
    assert status.exit_code == 0, status.output
    [row] = json.loads(status.output)
    assert row["last_run"]["status"] == "ok" and row["job"] == "crawl:demo"
    assert datetime.fromisoformat(row["next_run"]) > datetime.now(UTC)


def test_a_trigger_while_the_site_is_being_crawled_starts_nothing(archive_settings, es_client, tmp_path, caplog):
    settings = demo_settings(archive_settings, "http://127.0.0.1:9")
    config = write_config(settings_to_dict(settings), tmp_path / "settings.toml")
    with SiteLock(settings.data_dir, "demo", trigger="test"):  # a crawl of demo "runs" in this process
        # Another process: scheduler.py --run-now.
        result = subprocess.run(
            [sys.executable, "scheduler.py", "--config", str(config), "--run-now", "--site", "demo"],
            cwd=PROJECT_ROOT, env=_env(), capture_output=True, text=True, timeout=120, check=False,
        )
        # The scheduled job in this process.
        with caplog.at_level(logging.INFO, logger="archive.scheduler"):
            jobs.crawl_job(["demo"], settings_to_dict(settings))
        assert running_crawl(settings.data_dir, "demo")["pid"] == os.getpid()
    assert result.returncode == 3
    assert "skipped: a crawl of demo is already running" in result.stderr
    assert "crawler.run" not in result.stderr and "started" not in result.stderr
    assert "skipped: a crawl of demo is already running" in caplog.text
    assert runs(es_client, settings) == []  # a skipped trigger records nothing


@pytest.mark.e2e
def test_a_crashed_or_overlong_crawl_is_recorded_and_the_next_run_happens(demo_server, archive_settings, es_client, tmp_path):
    settings = demo_settings(archive_settings, demo_server.base_url, **SLOW)
    config = write_config(settings_to_dict(settings), tmp_path / "settings.toml")

    # The crawl process dies (say, the OOM killer).
    log = tmp_path / "crash.log"
    proc = start_scheduler(config, log, "--run-now", "--site", "demo")
    wait_for_crawl_child(proc, log).kill()
    assert proc.wait(timeout=120) == 1, log.read_text()[-3000:]
    [crashed] = runs(es_client, settings)
    assert crashed["status"] == "failed" and "exited with code -9" in crashed["errors"][0]

    # The next run happens (no stale lock) and stops at its time limit.
    limited = write_config(settings_to_dict(replace(settings, crawl=replace(settings.crawl, time_limit=2.0))), tmp_path / "limited.toml")
    log = tmp_path / "limited.log"
    proc = start_scheduler(limited, log, "--run-now", "--site", "demo")
    assert proc.wait(timeout=180) == 1, log.read_text()[-3000:]
    latest, previous = runs(es_client, settings)
    assert (latest["status"], previous["status"]) == ("timed-out", "failed")
    assert 0 < latest["pages_fetched"] < 48 and "crawl of demo ended: timed-out" in log.read_text()


@pytest.mark.e2e
def test_sigterm_during_a_missed_run_leaves_an_interrupted_record_and_no_crawl_process(
    demo_server, archive_settings, es_client, tmp_path
):
    settings = demo_settings(archive_settings, demo_server.base_url, **SLOW)
    settings = replace(settings, schedule=replace(settings.schedule, cron="*/5 * * * *"))
    config = write_config(settings_to_dict(settings), tmp_path / "settings.toml")
    # The scheduler was down for the last 30 minutes: six runs missed, within the grace.
    _stored(settings)
    set_next_run(settings, "crawl:demo", datetime.now(UTC) - timedelta(minutes=30))

    log = tmp_path / "scheduler.log"
    demo_server.clear_requests()
    proc = start_scheduler(config, log)  # the foreground scheduler, as in production
    crawl = wait_for_crawl_child(proc, log)  # the missed run starts at once
    wait_until(lambda: demo_server.count() >= 3, "the crawl fetched nothing")
    family = [crawl, *crawl.children(recursive=True)]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 0, log.read_text()[-3000:]

    text = log.read_text()
    assert "received SIGTERM" in text and "crawl of demo ended: interrupted" in text and "scheduler stopped" in text
    assert not [p.pid for p in family if _alive(p)]
    [run] = runs(es_client, settings)  # one run for the six missed ones
    assert (run["status"], run["trigger"]) == ("interrupted", "schedule")
    assert 0 < run["pages_fetched"] < 48
    assert not running_crawl(settings.data_dir, "demo")
    # The job is still there for the next start.
    assert [j.id for j in sched.planned_jobs(settings)] == ["crawl:demo"]


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
