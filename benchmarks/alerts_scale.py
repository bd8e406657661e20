"""Benchmark: what saved searches cost a crawl, how soon their matches are delivered, and how
fast `archive alerts check` answers when nothing is new.

    .venv/bin/python benchmarks/alerts_scale.py [--articles 600] [--searches 0,100,1000]

For each count of saved searches: fresh throwaway indices, that many saved searches (queries
made of the demo site's own words: word pairs, three-word phrases, some limited to the site),
a local webhook receiver, then one crawl of the demo site (N articles) with the crawl's own
delivery rounds (alerts.deliver_every from settings.toml). Prints per count:

- the crawl's articles per second: over the crawl child's whole run (its last matching and
  delivery round included), and over the span from the first article fetched to the last;
- for every match delivered: time from the article's fetch (crawled_at, stored just after) to
  the webhook receiving it, and from its match entry (matched_at) to receipt: p50, p95, max,
  and the share delivered within 60 s;
- `archive alerts check` wall time when nothing is new (a fresh process each time, as a user
  runs it: median of 5).

Saved searches are stored as `alerts add` stores them (compiled query, validated), in one bulk
request rather than one command each, so setting up 1,000 does not take minutes.
Uses throwaway indices of the Elasticsearch at ELASTICSEARCH_URL (default: settings.toml).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _throwaway import throwaway_indices  # noqa: E402
from archive.demo_site import DemoSite, serve_demo_site  # noqa: E402
from crawler.runner import run_crawl  # noqa: E402
from search.alerts import SavedSearch, utcnow  # noqa: E402
from search.indices import drop_all, ensure_all  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
STOP = {"the", "a", "an", "of", "to", "in", "and", "on", "for", "at", "by", "with", "is", "was", "its", "it", "as", "that",
        "from", "after", "be", "has", "have", "are", "were", "this", "their", "said", "would", "will", "but", "not"}


class Receiver:
    """The webhook: keeps when each (saved search, article) arrived."""

    def __init__(self):
        self.arrivals: dict[tuple[str, str], float] = {}
        self.posts = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                now = time.time()
                receiver.posts += 1
                for match in body["matches"]:
                    receiver.arrivals.setdefault((body["saved_search"], match["article_id"]), now)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def queries(site: DemoSite, count: int, seed: int = 19) -> list[SavedSearch]:
    """Saved searches a newsroom might keep, from the site's own words."""
    rng = random.Random(seed)
    titles = [[w for w in re.findall(r"[a-z]+", a.title.lower()) if w not in STOP and len(w) > 3] for a in site.articles]
    bodies = [re.findall(r"[a-z]+", a.body_text.lower()) for a in site.articles]
    searches = []
    for i in range(count):
        kind = i % 10
        if kind < 2:  # an exact phrase from some article
            words = rng.choice(bodies)
            start = rng.randrange(max(1, len(words) - 3))
            text = '"' + " ".join(words[start:start + 3]) + '"'
        else:  # two words of some headline, anywhere in an article
            words = rng.choice([t for t in titles if len(t) >= 2] or [["harbour", "council"]])
            text = " ".join(rng.sample(words, 2))
        sites = ("demo",) if kind == 9 else ()
        searches.append(SavedSearch(name=f"beat-{i:04d}", query=text, sites=sites))
    return searches


def save_all(client, es, searches: list[SavedSearch]) -> None:
    from elasticsearch import helpers

    now = utcnow()
    actions = ({"_op_type": "create", "_index": es.alerts_alias, "_id": s.doc_id,
                "_source": replace(s.compile(), created_at=now).as_source()} for s in searches)
    helpers.bulk(client, actions, refresh=True)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))] if ordered else float("nan")


def check_seconds(config: Path, runs: int = 5) -> float:
    env = {**os.environ, "ARCHIVE_CONFIG": str(config)}
    command = [str(ROOT / ".venv" / "bin" / "archive"), "alerts", "check"]
    subprocess.run(command, env=env, capture_output=True, check=False)  # delivers anything left; marks checked
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            print(f"  alerts check failed: {done.stderr.strip()[:300]}")
    return statistics.median(times)


def run_one(base, client, site: DemoSite, count: int, workdir: Path) -> dict:
    from search.alerts import AlertStore

    settings, _ = base
    prefix = f"bench-alerts-{count}-{os.getpid()}"
    es = settings.elasticsearch.with_index_prefix(prefix)
    receiver = Receiver()
    with serve_demo_site(site, port=0) as server:
        demo = settings.site("demo")
        run_settings = replace(
            settings,
            elasticsearch=es,
            data_dir=workdir / f"var-{count}",
            sites=(replace(demo, start_urls=(server.base_url + "/",), feeds=(server.base_url + "/feed.xml",),
                           max_pages=len(site.articles) * 3),),
            crawl=replace(settings.crawl, download_delay=0.0, autothrottle=False, concurrent_requests_per_host=8,
                          progress_interval=60.0),
            alerts=replace(settings.alerts, webhook_url=receiver.url),
        )
        try:
            ensure_all(client, es)
            save_all(client, es, queries(site, count))
            load = os.getloadavg()[0]
            outcome = run_crawl(run_settings, ["demo"])
            summary = outcome.sites.get("demo", {})
            client.indices.refresh(index=es.articles_alias)
            span = client.search(index=es.articles_alias, size=0, aggs={"first": {"min": {"field": "crawled_at"}},
                                                                        "last": {"max": {"field": "crawled_at"}}})["aggregations"]
            fetching = (span["last"]["value"] - span["first"]["value"]) / 1000 if span["first"]["value"] else 0.0
            time.sleep(1)
            store = AlertStore(client, es)
            latencies, after_match = [], []
            matches = 0
            for search in store.list():
                for match in store.matches(search.name, limit=10_000):
                    matches += 1
                    arrived = receiver.arrivals.get((search.name, match.article_id))
                    if arrived is None:
                        continue
                    fetched = datetime.fromisoformat(client.get(index=es.articles_alias, id=match.article_id,
                                                                source_includes=["crawled_at"])["_source"]["crawled_at"])
                    latencies.append(arrived - fetched.timestamp())
                    after_match.append(arrived - datetime.fromisoformat(match.matched_at).timestamp())
            config = workdir / f"settings-{count}.json"
            check_time = check_seconds(_settings_file(run_settings, config))
            return {
                "searches": count, "status": outcome.status, "new": summary.get("articles_new", 0),
                "seconds": outcome.duration_seconds, "fetching": fetching, "load": load, "matches": matches, "delivered": len(latencies),
                "posts": receiver.posts, "latencies": latencies, "after_match": after_match, "check": check_time,
            }
        finally:
            receiver.close()
            drop_all(client, es)


def _settings_file(settings, path: Path) -> Path:
    """A settings file `archive` reads (ARCHIVE_CONFIG) with the run's indices and webhook."""
    es = settings.elasticsearch
    lines = [f'data_dir = "{settings.data_dir}"', "", "[elasticsearch]", f'url = "{es.url}"']
    lines += [f'{key} = "{getattr(es, key)}"' for key in ("articles_alias", "versions_alias", "runs_index", "alerts_alias")]
    lines += ["", "[alerts]", f'webhook_url = "{settings.alerts.webhook_url}"']
    path = path.with_suffix(".toml")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=600)
    parser.add_argument("--searches", default="0,100,1000")
    args = parser.parse_args()
    counts = [int(c) for c in args.searches.split(",")]

    settings, client = throwaway_indices()
    site = DemoSite(article_count=args.articles)
    print(f"demo site of {len(site.articles)} articles; saved searches: {', '.join(map(str, counts))}; "
          f"deliver_every {settings.alerts.deliver_every:.0f} s; {os.cpu_count()} CPUs", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="archive-bench-alerts-") as workdir:
        for count in counts:
            print(f"crawling with {count} saved searches ...", flush=True)
            rows.append(run_one((settings, client), client, site, count, Path(workdir)))
    print()
    print(f"{'searches':>8} {'load':>5} {'status':>8} {'new':>5} {'crawl s':>8} {'art/s':>6} {'vs 0':>6} {'fetch/s':>7} {'vs 0':>6} {'matches':>8} "
          f"{'deliv.':>6} {'posts':>6} {'p50 s':>6} {'p95 s':>6} {'max s':>6} {'<=60s':>6} {'m->d p95':>8} {'check s':>7}")
    baseline = fetch_baseline = None
    for r in rows:
        rate = r["new"] / r["seconds"] if r["seconds"] else 0.0
        fetch_rate = r["new"] / r["fetching"] if r["fetching"] else 0.0
        baseline = baseline or rate
        fetch_baseline = fetch_baseline or fetch_rate
        within = sum(1 for x in r["latencies"] if x <= 60) / len(r["latencies"]) if r["latencies"] else float("nan")
        print(f"{r['searches']:>8} {r['load']:>5.2f} {r['status']:>8} {r['new']:>5} {r['seconds']:>8.1f} {rate:>6.1f} "
              f"{rate / baseline:>6.2f} {fetch_rate:>7.1f} {fetch_rate / fetch_baseline:>6.2f} {r['matches']:>8} {r['delivered']:>6} {r['posts']:>6} "
              f"{percentile(r['latencies'], 0.5):>6.1f} {percentile(r['latencies'], 0.95):>6.1f} "
              f"{max(r['latencies'], default=float('nan')):>6.1f} {within:>6.0%} "
              f"{percentile(r['after_match'], 0.95):>8.1f} {r['check']:>7.2f}")
    print()
    print("load: 1-minute load average when the crawl started; crawl s, art/s: the whole crawl process, its last matching")
    print("and delivery round included; fetch/s: articles over the span of their fetch times (first to last article);")
    print("p50/p95/max: fetched -> webhook received;")
    print("m->d: match entry -> webhook received; check: `archive alerts check` wall time, nothing new (median of 5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
