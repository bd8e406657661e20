"""Benchmark: the whole pipeline (discover, fetch, extract, index) on a scaled demo site.

    .venv/bin/python benchmarks/pipeline_throughput.py [--articles 2000] [--concurrency 8]

Serves the demo site with N articles on 127.0.0.1, crawls it into throwaway indices of the
Elasticsearch at ELASTICSEARCH_URL (default: settings.toml; start one with `archive es start`),
and prints articles per second and the crawl process's peak memory. Politeness delays are
switched off: this measures the archive, not the delay. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _throwaway import throwaway_indices  # noqa: E402
from archive.demo_site import DemoSite, serve_demo_site  # noqa: E402
from crawler.runner import run_crawl  # noqa: E402
from search.indices import drop_all  # noqa: E402


class PeakMemory:
    """Samples the resident memory of a process tree (the crawl child and anything it starts)."""

    def __init__(self, interval: float = 0.1):
        self.interval = interval
        self.peak = 0
        self.pid: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def watch(self, pid: int) -> None:
        self.pid = pid
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                root = psutil.Process(self.pid)
                total = root.memory_info().rss + sum(c.memory_info().rss for c in root.children(recursive=True))
                self.peak = max(self.peak, total)
            except psutil.NoSuchProcess:
                return
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent requests to the site")
    args = parser.parse_args()

    base, client = throwaway_indices()
    es = base.elasticsearch

    print(f"building a demo site of {args.articles} articles ...", flush=True)
    site = DemoSite(article_count=args.articles)

    with tempfile.TemporaryDirectory(prefix="archive-bench-") as data_dir, serve_demo_site(site, port=0) as server:
        settings = replace(
            base,
            elasticsearch=es,
            data_dir=Path(data_dir),
            # The shipped demo entry of settings.toml, pointed at this server.
            sites=(
                replace(
                    base.site("demo"),
                    start_urls=(server.base_url + "/",),
                    feeds=(),
                    max_pages=args.articles * 2,
                ),
            ),
            crawl=replace(
                base.crawl,
                download_delay=0.0,
                autothrottle=False,
                concurrent_requests_per_host=args.concurrency,
                progress_interval=10.0,
            ),
        )
        memory = PeakMemory()
        started = time.perf_counter()
        outcome = run_crawl(settings, ["demo"], on_start=memory.watch)
        elapsed = time.perf_counter() - started
        memory.stop()
        requests = server.count()

    try:
        client.indices.refresh(index=es.articles_alias)
        stored = client.count(index=es.articles_alias)["count"]
    finally:
        drop_all(client, es)

    summary = outcome.sites.get("demo", {})
    archived = summary.get("articles_new", 0)
    print()
    print(f"status                 {outcome.status}")
    print(f"articles on the site   {len(site.articles)}")
    print(f"articles archived      {archived} (in Elasticsearch: {stored})")
    print(f"requests served        {requests}")
    print(f"wall time              {elapsed:.1f} s (including the crawl process start)")
    print(f"throughput             {archived / elapsed:.1f} articles/s")
    print(f"crawler peak RSS       {memory.peak / 2**20:.0f} MiB")
    print(f"rejections             {summary.get('rejections', {})}")
    return 0 if outcome.status == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
