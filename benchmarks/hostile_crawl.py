"""Benchmark: wall time and peak memory of a crawl of a hostile site.

    .venv/bin/python benchmarks/hostile_crawl.py [--time-limit 120] [--articles 50]

The site (tests/hostile_site.py, served on 127.0.0.1) holds an article-looking page of 100,000
links (about 3.4 MB, minutes of extraction), a listing of 100,000 links, a gzip bomb (100 MB
decompressed), a gzipped sitemap that grows past 50 MB, an endless redirect chain, a
self-redirect and a redirect to another port, beside ordinary articles. Two crawls:

1. the shipped settings (crawl.extraction_timeout 20 s): the 100,000-link page is given up at
   its deadline and the crawl finishes on its own;
2. with no practical extraction deadline (3600 s): only the crawl's time limit stops it.

Goal: each crawl ends within its time limit + 30 s, under 1 GB for the crawl process and its
workers together (resident memory, sampled every 0.1 s). Prints the figures, the status and
the rejections; asserts nothing. Uses throwaway indices of the Elasticsearch at
ELASTICSEARCH_URL (default: settings.toml).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

from _throwaway import throwaway_indices  # noqa: E402
from archive.config import SiteSettings  # noqa: E402
from crawler.runner import run_crawl  # noqa: E402
from hostile_site import HostileSite, serve_hostile_site  # noqa: E402
from pipeline_throughput import PeakMemory  # noqa: E402
from search.indices import drop_all  # noqa: E402

HOSTILE_LINKS = ("/news/links-100k", "/listing-100k", "/bomb.html", "/redirect/endless/0", "/redirect/self", "/redirect/away")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument("--articles", type=int, default=50)
    args = parser.parse_args()

    base, client = throwaway_indices()
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start", flush=True)
    hostile = HostileSite(articles=args.articles, away_url="http://127.0.0.1:9/_cat/indices", extra_links=HOSTILE_LINKS)
    with serve_hostile_site(hostile) as server:
        site = SiteSettings(
            name="hostile",
            start_urls=(server.url("/"),),
            sitemaps=(server.url("/sitemap-bomb.xml.gz"),),
            allowed_domains=("127.0.0.1",),
            article_allow=(r"^/news/\d+$", r"^/news/links-100k$"),
            follow_allow=(r"^/(\?page=\d+)?$", r"^/listing-100k$", r"^/bomb", r"^/redirect/"),
            max_depth=10,
        )
        for label, deadline in (("extraction deadline 20 s (shipped)", base.crawl.extraction_timeout),
                                ("no extraction deadline (3600 s)", 3600.0)):
            with tempfile.TemporaryDirectory(prefix="archive-bench-") as data_dir:
                settings = replace(
                    base, data_dir=Path(data_dir), sites=(site,),
                    crawl=replace(base.crawl, download_delay=0.0, autothrottle=False, progress_interval=30.0,
                                  time_limit=args.time_limit, extraction_timeout=deadline),
                )
                memory = PeakMemory()
                started = time.perf_counter()
                try:
                    outcome = run_crawl(settings, ["hostile"], on_start=memory.watch)
                finally:
                    memory.stop()
                    drop_all(client, settings.elasticsearch)
                seconds = time.perf_counter() - started
            summary = outcome.sites.get("hostile", {})
            within = "yes" if seconds <= args.time_limit + 30 else "NO"
            under = "yes" if memory.peak < 1 << 30 else "NO"
            print(f"\n{label}, time limit {args.time_limit:.0f} s:")
            print(f"  status {outcome.status}; wall {seconds:.1f} s (within limit + 30 s: {within}); "
                  f"peak memory {memory.peak / 2**20:.0f} MiB over {len(memory.rss)} processes (under 1 GB: {under})")
            print(f"  articles new {summary.get('articles_new', 0)}; links left out {summary.get('links_left_out', 0)}; "
                  f"rejections {summary.get('rejections', {})}")
            if outcome.error:
                print(f"  {outcome.error}")
    load = os.getloadavg()
    print(f"\nload average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
