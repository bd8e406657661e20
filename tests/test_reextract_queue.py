"""`archive reextract` with a broker: the work split by WARC file across two `archive worker`s
(each with its own data folder, like two machines, reading captures from the shared WARC
folder), a real Redis and the real Elasticsearch. The newest capture of a URL still wins when
an older one sits in another file that another worker extracts."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import replace

import pytest
import redis
from _redis import redis_url  # noqa: F401 (fixture)
from test_queue import PROJECT_ROOT, start_worker, stop
from test_reextract import N, served, stored  # noqa: F401 (fixture)
from test_scheduler import _env, demo_site_entry, write_config

from archive.config import settings_to_dict
from crawler.warc import WarcStore


def wait_until_ready(log, deadline: float) -> None:
    while time.monotonic() < deadline:
        if log.exists() and " ready." in log.read_text(errors="replace"):
            return
        time.sleep(0.2)
    pytest.fail(f"worker not ready: {log.read_text(errors='replace')[-3000:]}")


@pytest.mark.e2e
def test_reextract_splits_by_warc_file_across_two_workers(redis_url, served, archive_settings, es_client, tmp_path):
    redis.Redis.from_url(redis_url).flushdb()
    shared = tmp_path / "shared-warc"  # the folder every machine mounts
    pages = served["pages"]
    paragraph = next(p for p in served["articles"][0].paragraphs if p.encode() in pages[0].body)
    edited = replace(pages[0], body=pages[0].body.replace(paragraph.encode(), b"An editor rewrote this paragraph overnight."),
                     fetched_at="2026-11-28T02:00:00+00:00")
    # Three files, as three crawls leave them; the newest capture of the first page is in the last.
    for captures in ([pages[0], pages[1]], [pages[2], pages[3]], [pages[4], served["too_short"], edited]):
        with WarcStore(shared, "demo") as store:
            for capture in captures:
                store.append(capture)
    assert len(list((shared / "demo").glob("*.warc.gz"))) == 3

    raw = settings_to_dict(archive_settings)
    raw["warc"] = {"storage": f"file://{shared}"}
    raw["queue"] = {"broker_url": redis_url}
    raw["worker"] = {"concurrency": 1}
    raw["schedule"].update({"max_concurrent_crawls": 1})
    raw["crawl"].update({"extraction_workers": 1})
    raw["sites"] = [demo_site_entry(served["base"], "demo")]
    config = write_config(raw, tmp_path / "settings.toml")
    machines = {name: tmp_path / f"machine-{name}" for name in ("a", "b")}
    workers = {name: start_worker(config, machine, f"archive@{name}") for name, machine in machines.items()}
    try:
        deadline = time.monotonic() + 120
        for machine in machines.values():
            wait_until_ready(machine / "worker.log", deadline)
        done = subprocess.run([sys.executable, "-m", "archive.cli", "--config", str(config), "reextract", "--format", "json"],
                              cwd=PROJECT_ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    finally:
        for worker in workers.values():
            stop(worker)
    logs = {name: (machine / "worker.log").read_text(errors="replace") for name, machine in machines.items()}
    assert done.returncode == 0, done.stderr[-3000:] + logs["a"][-2000:] + logs["b"][-2000:]
    result = json.loads(done.stdout)
    assert (result["captures"], result["urls"]) == (N + 2, N + 1)
    assert (result["new"], result["updated"], result["failed"]) == (N, 0, 0)
    assert result["rejected"] == {"too-short": 1} and result["errors"] == []
    assert "queued 3 re-extraction job(s), one per WARC file" in done.stderr
    # Each file went to one worker, and both workers took some.
    by = [line.rsplit("(by ", 1)[1].rstrip(")") for line in done.stderr.splitlines() if "(by archive@" in line]
    assert len(by) == 3 and set(by) == {"archive@a", "archive@b"}, done.stderr
    assert all("re-extracted" in log for log in logs.values())

    es_client.indices.refresh(index=archive_settings.elasticsearch.articles_alias)
    assert es_client.count(index=archive_settings.elasticsearch.articles_alias)["count"] == N
    first = stored(es_client, archive_settings, pages[0].canonical_url)
    assert "An editor rewrote this paragraph overnight." in first["body"] and paragraph not in first["body"]
    assert first["crawled_at"] == "2026-11-28T02:00:00+00:00"
    for capture in pages[1:]:
        assert stored(es_client, archive_settings, capture.canonical_url)["crawled_at"] == capture.fetched_at
