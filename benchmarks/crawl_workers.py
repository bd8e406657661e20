"""Crawl workers on this machine: sites/hour and articles/s with one `archive worker` and with
two (each with its own data folder, like two machines), and the memory of N crawls at once
against crawl.memory_budget_mb.

Needs Elasticsearch (ELASTICSEARCH_URL, e.g. `archive es start`) and Debian's redis-server; it
starts its own redis-server on 127.0.0.1:6390-6399 and its own demo sites on 127.0.0.1, and
writes into throwaway indices (bench-<id>-*) that it deletes at the end.

    .venv/bin/python benchmarks/crawl_workers.py --sites 6 --articles 40

No politeness delay: the figures measure this machine, not the sites. On one machine two
workers share its cores, so "two workers" shows what the queue costs and how jobs spread, not
what a second machine adds (that is about twice one worker's figures, while Elasticsearch keeps up).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _throwaway import throwaway_indices  # noqa: E402

from archive.config import settings_to_dict  # noqa: E402
from archive.demo_site import DemoSite, serve_demo_site  # noqa: E402
from search.runs import list_runs  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def write_toml(raw: dict, path: Path) -> Path:
    lines = [f"{k} = {json.dumps(v)}" for k, v in raw.items() if not isinstance(v, (dict, list))]
    for name, section in raw.items():
        if isinstance(section, dict):
            lines.append(f"[{name}]")
            lines += [f"{k} = {json.dumps(v)}" for k, v in section.items() if v is not None]
    for site in raw.get("sites", []):
        lines.append("[[sites]]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in site.items() if v is not None]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def start_redis(folder: Path) -> tuple[subprocess.Popen, str]:
    server = shutil.which("redis-server") or sys.exit("redis-server is missing: apt-get install redis-server")
    for port in range(6390, 6400):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                continue
        proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                 "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        client = redis.Redis(port=port)
        for _ in range(100):
            try:
                client.ping()
                return proc, f"redis://127.0.0.1:{port}/0"
            except redis.exceptions.ConnectionError:
                time.sleep(0.1)
        proc.kill()
    sys.exit("no free port for redis-server in 6390-6399")


class MemorySampler(threading.Thread):
    """The peak of the summed RSS of some processes and everything under them."""

    def __init__(self, roots: list[int]):
        super().__init__(daemon=True)
        self.roots, self.peak, self.peak_crawls = roots, 0, 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.5):
            total, crawls = 0, 0
            for pid in self.roots:
                try:
                    family = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
                except psutil.NoSuchProcess:
                    continue
                for p in family:
                    try:
                        total += p.memory_info().rss
                        # Not a crawl's extraction worker caught between fork and exec (same command line).
                        crawls += "crawler.run" in p.cmdline() and "crawler.run" not in p.parent().cmdline()
                    except (psutil.NoSuchProcess, AttributeError):
                        pass
            if total > self.peak:
                self.peak = total
            self.peak_crawls = max(self.peak_crawls, crawls)


def scenario(label: str, base, client, servers, workers: int, concurrency: int, folder: Path, redis_url: str) -> dict:
    prefix = base.elasticsearch.articles_alias.rsplit("-articles", 1)[0]
    settings = replace(base, elasticsearch=base.elasticsearch.with_index_prefix(f"{prefix}-{label}"))
    raw = settings_to_dict(settings)
    raw["crawl"].update({"download_delay": 0.0, "autothrottle": False, "concurrent_requests_per_host": 4,
                         "state": "elasticsearch", "progress_interval": 30.0})
    raw["schedule"]["max_concurrent_crawls"] = concurrency
    raw["queue"] = {"broker_url": redis_url}
    raw["worker"] = {"concurrency": concurrency}
    raw["sites"] = [{"name": f"site{i}", "start_urls": [s.base_url + "/"], "feeds": [s.base_url + "/feed.xml"],
                     "allowed_domains": ["127.0.0.1"], "article_allow": [r"^/\d{4}/\d{2}/\d{2}/[a-z0-9-]+/?$"],
                     "follow_allow": [r"^/$", r"^/section/[a-z-]+/?(\?page=\d+)?$"],
                     "follow_deny": ["^/search", "^/tag/", "^/calendar/"]} for i, s in enumerate(servers, 1)]
    config = write_toml(raw, folder / f"{label}.toml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    procs = []
    for n in range(workers):
        machine = folder / f"{label}-machine-{n}"
        machine.mkdir()
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "archive.cli", "--config", str(config), "worker", "--name", f"bench{n}@{label}"],
            cwd=ROOT, env={**env, "ARCHIVE_DATA_DIR": str(machine)},
            stdout=(machine / "worker.log").open("wb"), stderr=subprocess.STDOUT))
    sampler = MemorySampler([p.pid for p in procs])
    sampler.start()
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "archive.cli", "--config", str(config), "crawl", "--queue"],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    runs_index = settings.elasticsearch.runs_index
    records = []
    while time.monotonic() - started < 3600:
        if client.indices.exists(index=runs_index):
            client.indices.refresh(index=runs_index)
            records = list_runs(client, runs_index, size=1000)
            if len(records) >= len(servers):
                break
        time.sleep(0.5)
    wall = time.monotonic() - started
    sampler.stop.set()
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        p.wait(timeout=180)
    articles = sum(r.get("articles_new", 0) for r in records)
    return {"label": label, "workers": workers, "concurrency": concurrency, "sites": len(records),
            "statuses": sorted({r["status"] for r in records}), "wall": wall, "articles": articles,
            "peak_mb": sampler.peak / 2**20, "peak_crawls": sampler.peak_crawls}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, default=6)
    parser.add_argument("--articles", type=int, default=40, help="articles per demo site")
    parser.add_argument("--crawls-at-once", type=int, default=2, help="N for the memory figure")
    args = parser.parse_args()

    base, client = throwaway_indices()
    prefix = base.elasticsearch.articles_alias.rsplit("-articles", 1)[0]
    folder = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    redis_proc, redis_url = start_redis(folder)
    servers = [serve_demo_site(DemoSite(article_count=args.articles), host="127.0.0.1", port=0) for _ in range(args.sites)]
    results = []
    try:
        results.append(scenario("one", base, client, servers, workers=1, concurrency=1, folder=folder, redis_url=redis_url))
        results.append(scenario("two", base, client, servers, workers=2, concurrency=1, folder=folder, redis_url=redis_url))
        results.append(scenario("mem", base, client, servers, workers=1, concurrency=args.crawls_at_once, folder=folder,
                                redis_url=redis_url))
    finally:
        for server in servers:
            server.stop()
        redis_proc.terminate()
        redis_proc.wait(timeout=30)
        found = client.indices.get(index=f"{prefix}-*", expand_wildcards="all", allow_no_indices=True, ignore_unavailable=True)
        if found.body:
            client.indices.delete(index=",".join(found.body), ignore_unavailable=True)
        shutil.rmtree(folder, ignore_errors=True)

    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs; "
          f"{args.sites} demo sites of {args.articles} articles, no politeness delay, crawl state in Elasticsearch")
    print(f"{'workers':>7} {'crawls each':>11} {'sites':>5} {'wall s':>7} {'sites/hour':>10} {'articles':>8} "
          f"{'art/s':>6} {'peak MB':>8} {'crawls at once':>14}  statuses")
    for r in results:
        print(f"{r['workers']:>7} {r['concurrency']:>11} {r['sites']:>5} {r['wall']:>7.1f} {r['sites'] / r['wall'] * 3600:>10.0f} "
              f"{r['articles']:>8} {r['articles'] / r['wall']:>6.1f} {r['peak_mb']:>8.0f} {r['peak_crawls']:>14}  "
              f"{','.join(r['statuses'])}")
    budget = base.crawl.memory_budget_mb
    mem = results[-1]
    print(f"memory: {mem['peak_crawls']} crawls at once peaked at {mem['peak_mb']:.0f} MB (summed RSS of the worker, "
          f"its crawl processes and their extraction workers) against crawl.memory_budget_mb = {budget}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
