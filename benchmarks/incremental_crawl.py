"""Benchmark: what the second night's crawl costs compared with the first.

    .venv/bin/python benchmarks/incremental_crawl.py [--articles 2000]

Night 1 crawls the demo site (N articles); night 2 crawls its "next night" edition (5 new
articles, 3 edited, 1 new headline). Prints requests made and time taken by each night and
the second as a fraction of the first. Politeness delays are off: this measures requests.
Uses throwaway indices of the Elasticsearch at ELASTICSEARCH_URL (default: settings.toml).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _throwaway import throwaway_indices  # noqa: E402
from archive.demo_site import DemoSite, serve_demo_site  # noqa: E402
from crawler.runner import run_crawl  # noqa: E402
from search.indices import drop_all  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    base, client = throwaway_indices()
    es = base.elasticsearch
    print(f"building a demo site of {args.articles} articles ...", flush=True)
    nights = []
    with tempfile.TemporaryDirectory(prefix="archive-bench-") as data_dir, serve_demo_site(DemoSite(article_count=args.articles), port=0) as server:
        demo = base.site("demo")
        site = replace(
            demo,
            start_urls=(server.base_url + "/",),
            feeds=(server.base_url + "/feed.xml",),
            max_pages=args.articles * 3,
        )
        settings = replace(
            base,
            elasticsearch=es,
            data_dir=Path(data_dir),
            sites=(site,),
            crawl=replace(base.crawl, download_delay=0.0, autothrottle=False,
                          concurrent_requests_per_host=args.concurrency, progress_interval=15.0),
        )
        try:
            for edition in (1, 2):
                server.set_edition(edition)
                server.clear_requests()
                started = time.perf_counter()
                outcome = run_crawl(settings, ["demo"])
                elapsed = time.perf_counter() - started
                summary = outcome.sites.get("demo", {})
                nights.append(
                    {
                        "edition": edition,
                        "status": outcome.status,
                        "requests": server.count(),
                        "not_modified": server.count(status=304),
                        "seconds": elapsed,
                        "new": summary.get("articles_new", 0),
                        "updated": summary.get("articles_updated", 0),
                        "unchanged": summary.get("articles_unchanged", 0),
                    }
                )
        finally:
            drop_all(client, es)

    first, second = nights
    print()
    print(f"{'':24}{'night 1':>10}{'night 2':>10}{'2 / 1':>8}")
    for key, label in (("requests", "requests"), ("seconds", "seconds"), ("not_modified", "304 answers"),
                       ("new", "articles new"), ("updated", "articles updated"), ("unchanged", "articles unchanged")):
        a, b = first[key], second[key]
        ratio = f"{b / a:.3f}" if key in ("requests", "seconds") and a else ""
        fmt = "{:>10.1f}" if key == "seconds" else "{:>10}"
        print(f"{label:24}" + fmt.format(a) + fmt.format(b) + f"{ratio:>8}")
    ok = first["status"] == second["status"] == "ok"
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
