"""Per-site crawl jobs on a queue (Celery, a real Redis) and workers on several "machines"
(each worker with its own data folder), sharing Redis and Elasticsearch.

The big test kills a worker with SIGKILL in the middle of a crawl, as when a machine goes
down (the worker and every process under it), starts a third worker mid-way, and checks what
an operator would check the next morning: every site archived once, one good run per site.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import redis
from _redis import redis_url  # noqa: F401 (fixture)
from click.testing import CliRunner
from test_scheduler import _env, demo_site_entry, write_config

from archive.cli import cli
from archive.urls import canonicalize
from archive.config import ConfigError, settings_from_dict, settings_to_dict
from archive.scheduling import jobs
from archive.scheduling import schedule as sched
from archive.scheduling.locks import BrokerSiteLock, LockTaken, read_broker_holder
from archive.scheduling.queue import QUEUE_NAME
from search.runs import list_runs

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SITES = [f"site{i}" for i in range(1, 7)]


def queue_settings(tmp_path, broker_url, sites=("alpha", "beta"), **queue):
    raw = {
        "data_dir": str(tmp_path / "var"),
        "queue": {"broker_url": broker_url, **queue},
        "sites": [demo_site_entry("http://127.0.0.1:9", name) for name in sites],
    }
    return settings_from_dict(raw, env={})


def _body(message: bytes) -> str:
    import base64

    envelope = json.loads(message)
    args, _kwargs, _embed = json.loads(base64.b64decode(envelope["body"]))
    return json.dumps(args)


# --- settings --------------------------------------------------------------------------------


def test_the_broker_comes_from_settings_or_the_environment_and_its_password_only_from_the_environment(tmp_path):
    assert not settings_from_dict({}, env={}).queue.enabled  # no broker: crawls run where started
    s = settings_from_dict({"queue": {"broker_url": "redis://127.0.0.1:6390/0"}}, env={})
    assert s.queue.enabled and settings_to_dict(s)["queue"]["broker_url"] == "redis://127.0.0.1:6390/0"
    with pytest.raises(ConfigError, match="queue.broker_url: no password in settings.toml; set ARCHIVE_BROKER_URL"):
        settings_from_dict({"queue": {"broker_url": "redis://:hunter2@127.0.0.1:6390/0"}}, env={})
    with pytest.raises(ConfigError, match="queue.broker_url: expected redis://"):
        settings_from_dict({"queue": {"broker_url": "amqp://127.0.0.1/"}}, env={})
    secret = settings_from_dict({}, env={"ARCHIVE_BROKER_URL": "redis://:hunter2@127.0.0.1:6390/0"})
    assert secret.queue.enabled and "hunter2" not in repr(secret)
    assert "broker_url" not in settings_to_dict(secret)["queue"]  # the child and the job store never hold it
    assert settings_from_dict({"worker": {"concurrency": 2}}, env={}).worker.concurrency == 2


# --- the lock in the broker ------------------------------------------------------------------


def test_one_crawl_of_a_site_at_a_time_across_machines(redis_url):
    client = redis.Redis.from_url(redis_url)
    first = BrokerSiteLock(client, "alpha", timeout=30, trigger="schedule", job_id="job-1")
    first.acquire()
    with pytest.raises(LockTaken, match=r"a crawl of alpha is already running \(on .+, pid \d+, since "):
        BrokerSiteLock(client, "alpha", timeout=30, job_id="job-2").acquire()
    # The same job delivered again (its worker died): it takes its own lock over.
    again = BrokerSiteLock(client, "alpha", timeout=30, job_id="job-1")
    again.acquire()
    first.release()  # the old holder's release no longer deletes the new holder's lock
    assert read_broker_holder(client, "alpha")["job"] == "job-1"
    again.release()
    assert read_broker_holder(client, "alpha") is None
    # A dead machine's lock expires by itself.
    BrokerSiteLock(client, "beta", timeout=1, job_id="job-3").acquire()
    time.sleep(1.5)
    later = BrokerSiteLock(client, "beta", timeout=30, job_id="job-4")
    later.acquire()
    later.release()


def test_the_lock_outlives_the_longest_crawl(tmp_path, redis_url):
    from archive.scheduling.locks import lock_timeout
    from crawler.runner import SHUTDOWN_GRACE_SECONDS

    settings = queue_settings(tmp_path, redis_url, lock_margin_seconds=120)
    assert lock_timeout(settings) == settings.crawl.time_limit + SHUTDOWN_GRACE_SECONDS + 120


# --- enqueuing -------------------------------------------------------------------------------


def test_crawl_queue_puts_one_job_per_site_on_the_broker(tmp_path, redis_url):
    redis.Redis.from_url(redis_url).delete(QUEUE_NAME)
    settings = queue_settings(tmp_path, redis_url)
    out = CliRunner().invoke(cli, ["crawl", "--queue"], obj=_app(settings))
    assert out.exit_code == 0, out.output
    assert [line.split(" (job")[0] for line in out.output.splitlines()] == ["queued crawl of alpha", "queued crawl of beta"]
    assert [json.loads(_body(m)) for m in reversed(redis.Redis.from_url(redis_url).lrange(QUEUE_NAME, 0, -1))] == [
        ["alpha", "cli"], ["beta", "cli"]]
    redis.Redis.from_url(redis_url).delete(QUEUE_NAME)


def test_crawl_queue_without_a_broker_or_with_a_dead_one_says_so(tmp_path):
    settings = settings_from_dict({"data_dir": str(tmp_path), "sites": [demo_site_entry("http://127.0.0.1:9", "alpha")]}, env={})
    out = CliRunner().invoke(cli, ["crawl", "--queue"], obj=_app(settings))
    assert out.exit_code == 1 and "no broker configured: set [queue] broker_url or ARCHIVE_BROKER_URL" in out.output
    # Nothing listens on 6399's neighbour 1 (a reserved port); the password is never shown.
    dead = settings_from_dict({"data_dir": str(tmp_path), "sites": [demo_site_entry("http://127.0.0.1:9", "alpha")]},
                              env={"ARCHIVE_BROKER_URL": "redis://:hunter2@127.0.0.1:1/0"})
    out = CliRunner().invoke(cli, ["crawl", "--queue"], obj=_app(dead))
    assert out.exit_code == 1 and "the broker at redis://127.0.0.1:1/0 does not answer" in out.output
    assert "hunter2" not in out.output
    out = CliRunner().invoke(cli, ["crawl"], obj=_app(dead))  # a local crawl still needs the broker's lock
    assert out.exit_code == 1 and "the broker at redis://127.0.0.1:1/0 does not answer" in out.output
    assert "hunter2" not in out.output


def test_the_scheduler_enqueues_when_a_broker_is_configured(tmp_path, redis_url):
    from apscheduler.schedulers.background import BackgroundScheduler

    redis.Redis.from_url(redis_url).delete(QUEUE_NAME)
    settings = queue_settings(tmp_path, redis_url)
    scheduler = sched.create_scheduler(settings, BackgroundScheduler)
    scheduler.start(paused=True)
    try:
        stored = {job.id: job for job in scheduler.get_jobs(jobstore="default")}  # not the alert deliveries
    finally:
        scheduler.shutdown(wait=False)
    assert {job.func_ref for job in stored.values()} == {jobs.ENQUEUE_FUNC}
    job = stored["crawl:beta"]
    job.func(*job.args, **job.kwargs)  # what the scheduler does at 02:00
    assert [json.loads(_body(m)) for m in redis.Redis.from_url(redis_url).lrange(QUEUE_NAME, 0, -1)] == [["beta", "schedule"]]
    redis.Redis.from_url(redis_url).delete(QUEUE_NAME)


def _app(settings):
    from archive.cli import AppContext

    return AppContext(None, settings)


# --- two workers, one killed, a third started mid-way -------------------------------------------


@pytest.fixture(scope="module")
def six_servers():
    from archive.demo_site import DemoSite, serve_demo_site

    servers = [serve_demo_site(DemoSite(article_count=6), host="127.0.0.1", port=0) for _ in SITES]
    yield servers
    for server in servers:
        server.stop()


def start_worker(config: Path, machine: Path, name: str) -> subprocess.Popen:
    machine.mkdir(parents=True, exist_ok=True)
    env = {**_env(), "ARCHIVE_DATA_DIR": str(machine / "var")}
    return subprocess.Popen(
        [sys.executable, "-m", "archive.cli", "--config", str(config), "worker", "--name", name],
        cwd=PROJECT_ROOT, env=env, stdout=(machine / "worker.log").open("wb"), stderr=subprocess.STDOUT,
    )


def crawling(worker: subprocess.Popen) -> list[str]:
    """The sites a worker's crawl processes are crawling now."""
    try:
        children = psutil.Process(worker.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for child in children:
        try:
            cmd = child.cmdline()
        except psutil.NoSuchProcess:
            continue
        if "crawler.run" in cmd:
            found += cmd[cmd.index("crawler.run") + 3:]
    return found


def kill_machine(worker: subprocess.Popen) -> None:
    """SIGKILL to the worker and every process under it: the machine is gone."""
    family = [psutil.Process(worker.pid), *psutil.Process(worker.pid).children(recursive=True)]
    for process in family:
        try:
            process.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    worker.wait(timeout=30)


def stop(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=120)
        except subprocess.TimeoutExpired:
            kill_machine(worker)


@pytest.mark.e2e
def test_two_workers_one_killed_mid_crawl_and_a_third_started_mid_way(redis_url, six_servers, archive_settings, es_client, tmp_path):
    redis.Redis.from_url(redis_url).flushdb()
    raw = settings_to_dict(archive_settings)
    raw["crawl"].update({"download_delay": 0.5, "concurrent_requests_per_host": 1, "autothrottle": False,
                         "progress_interval": 1.0, "time_limit": 60.0, "state": "elasticsearch"})
    raw["schedule"].update({"max_concurrent_crawls": 1})
    raw["queue"] = {"broker_url": redis_url, "lock_margin_seconds": 5.0}  # a dead machine's job runs again after ~95 s
    raw["worker"] = {"concurrency": 1}
    raw["sites"] = [demo_site_entry(server.base_url, name) for server, name in zip(six_servers, SITES)]
    config = write_config(raw, tmp_path / "settings.toml")
    settings = settings_from_dict(raw, env={})
    machines = {name: tmp_path / f"machine-{name}" for name in ("a", "b", "c")}
    workers = {"a": start_worker(config, machines["a"], "archive@a"), "b": start_worker(config, machines["b"], "archive@b")}
    try:
        queued = subprocess.run([sys.executable, "-m", "archive.cli", "--config", str(config), "crawl", "--queue"],
                                cwd=PROJECT_ROOT, env=_env(), capture_output=True, text=True, timeout=120)
        assert queued.returncode == 0, queued.stderr
        assert queued.stdout.count("queued crawl of ") == 6

        # Machine a dies in the middle of a crawl.
        deadline = time.monotonic() + 180
        killed_site = None
        while killed_site is None and time.monotonic() < deadline:
            for site in crawling(workers["a"]):
                server = six_servers[SITES.index(site)]
                if server.count() >= 5:  # fetching, not yet done
                    killed_site = site
            time.sleep(0.2)
        assert killed_site, (machines["a"] / "worker.log").read_text()[-3000:]
        kill_machine(workers["a"])
        workers["c"] = start_worker(config, machines["c"], "archive@c")  # a third machine joins

        runs_index = settings.elasticsearch.runs_index
        deadline = time.monotonic() + 600
        records = []
        while time.monotonic() < deadline:
            es_client.indices.refresh(index=runs_index, ignore_unavailable=True)
            records = list_runs(es_client, runs_index, size=100) if es_client.indices.exists(index=runs_index) else []
            if sorted({r["site"] for r in records if r["status"] == "ok"}) == SITES:
                break
            for name in ("b", "c"):
                assert workers[name].poll() is None, (machines[name] / "worker.log").read_text()[-3000:]
            time.sleep(1)
    finally:
        for worker in workers.values():
            stop(worker)
    logs = {name: (machine / "worker.log").read_text() for name, machine in machines.items()}
    assert sorted({r["site"] for r in records if r["status"] == "ok"}) == SITES, logs["b"][-3000:] + logs["c"][-3000:]
    # One good run per site; the killed crawl left no record (its machine died before it could write one).
    assert sorted(r["site"] for r in records) == SITES, [(r["site"], r["status"]) for r in records]

    # Every site's articles are stored exactly once.
    articles = settings.elasticsearch.articles_alias
    es_client.indices.refresh(index=articles)
    for site, server in zip(SITES, six_servers):
        assert es_client.count(index=articles, query={"term": {"site": site}})["count"] == len(server.site.articles) == 6

    # The crawl state, shared by the machines in Elasticsearch, holds every URL once.
    state = settings.elasticsearch.state_alias
    es_client.indices.refresh(index=state)
    for site, server in zip(SITES, six_servers):
        query = {"bool": {"filter": [{"term": {"kind": "page"}}, {"term": {"site": site}}]}}
        urls = [h["_source"]["url"] for h in es_client.search(index=state, query=query, size=1000)["hits"]["hits"]]
        assert len(urls) == len(set(urls))
        assert {canonicalize(server.base_url + a.path) for a in server.site.articles} <= set(urls)
    assert not any((machine / "var" / "crawl-state.sqlite").exists() for machine in machines.values())

    # The killed worker's site was finished by another worker; the third worker took queued sites.
    assert f"crawl of {killed_site} ended" not in logs["a"]
    finished_by = [name for name in ("b", "c") if f"crawl of {killed_site} ended: ok" in logs[name]]
    assert len(finished_by) == 1, (logs["b"][-3000:], logs["c"][-3000:])
    assert "delivered again after its worker was lost" in logs[finished_by[0]]
    assert logs["c"].count("ended: ok") >= 1
    assert sum(logs[name].count("ended: ok") for name in ("b", "c")) + logs["a"].count("ended: ok") == 6
