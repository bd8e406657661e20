"""Benchmark: the whole pipeline (discover, fetch, extract, index), against a minimal one.

    .venv/bin/python benchmarks/pipeline_throughput.py [--articles 2000] [--concurrency 8]
                     [--sites demo,realworld] [--save figures.json] [--compare before.json]

Serves two sites as static files from its own nginx on 127.0.0.1 (apt-get install -y nginx):
the generated demo site and N article URLs over the 41 real pages of ../shared/extraction-bench
(benchmarks/static_sites.py). On each site, one contender at a time, it runs

    archive    the archive's crawl (crawler/runner.py: the crawl child as in production)
    minimal    Scrapy + trafilatura.bare_extraction + helpers.bulk (benchmarks/minimal_pipeline.py)
    reextract  `archive reextract` over the archive crawl's WARC captures, into fresh indices

and prints one table: articles/s, CPU-ms per archived article (the process tree: crawl child
and its extraction workers, from getrusage), peak resident memory of that tree, and the CPU
Elasticsearch spent meanwhile (its share of crawl + Elasticsearch CPU). nginx's own pace on one
keep-alive connection is printed first: it must be well above the crawl's.

Uses throwaway indices (bench-<id>-*) of the Elasticsearch at ELASTICSEARCH_URL (default:
settings.toml) and deletes them afterwards. Politeness delays are off: this measures the
archive, not the delay. Elasticsearch and the CPU may be shared with other work: the load
average is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from _throwaway import throwaway_indices  # noqa: E402
from archive.config import settings_from_dict, settings_to_dict  # noqa: E402
from crawler.runner import run_crawl  # noqa: E402
from search.indices import drop_all  # noqa: E402
from static_sites import (free_port, keepalive_pages_per_second, nginx, render_demo_site,  # noqa: E402
                          render_real_site)

ARTICLE_PATTERNS = {
    "demo": r"^/(?:[a-z-]+/)?\d{4}/\d{2}/\d{2}/[a-z0-9-]+/?$",
    # the real pages' own links (/tennis/2019/...) point at nothing here: not articles of this site
    "realworld": r"^/2024/\d{2}/\d{2}/story-\d{5}$",
}


class PeakMemory:
    """Samples the resident memory of a process tree (the crawl child and anything it starts),
    and each process's CPU time: a cross-check of getrusage, which misses descendants that
    their parent never waited for."""

    def __init__(self, interval: float = 0.1):
        self.interval = interval
        self.peak = 0
        self.cpu: dict[int, float] = {}  # pid -> last CPU seconds seen
        self.rss: dict[int, int] = {}  # pid -> peak resident bytes
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
                total = 0
                for proc in [root, *root.children(recursive=True)]:
                    try:
                        with proc.oneshot():
                            rss = proc.memory_info().rss
                            total += rss
                            self.rss[proc.pid] = max(self.rss.get(proc.pid, 0), rss)
                            times = proc.cpu_times()
                            self.cpu[proc.pid] = times.user + times.system
                    except psutil.NoSuchProcess:
                        pass
                self.peak = max(self.peak, total)
            except psutil.NoSuchProcess:
                return
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()


@dataclass
class Figures:
    site: str
    contender: str
    articles: int
    seconds: float
    cpu_seconds: float
    peak_bytes: int
    es_cpu_seconds: float

    @property
    def per_second(self) -> float:
        return self.articles / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_article(self) -> float:
        return 1000 * self.cpu_seconds / self.articles if self.articles else float("nan")

    @property
    def es_share(self) -> float:
        total = self.cpu_seconds + self.es_cpu_seconds
        return self.es_cpu_seconds / total if total else 0.0


class Measure:
    """CPU of the children we wait for (getrusage: includes their reaped workers), wall time,
    peak memory of the tree, and Elasticsearch's CPU over the same interval."""

    def __init__(self, es_process: psutil.Process | None):
        self.es = es_process
        self.memory = PeakMemory()

    def __enter__(self):
        self.cpu0 = _children_cpu()
        self.es0 = _cpu(self.es)
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self.memory.stop()
        # getrusage counts reaped children exactly; sampling also sees unreaped descendants
        self.cpu_seconds = max(_children_cpu() - self.cpu0, sum(self.memory.cpu.values()))
        self.es_cpu_seconds = _cpu(self.es) - self.es0

    def figures(self, site: str, contender: str, articles: int) -> Figures:
        return Figures(site, contender, articles, self.seconds, self.cpu_seconds, self.memory.peak, self.es_cpu_seconds)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cpu(proc: psutil.Process | None) -> float:
    if proc is None:
        return 0.0
    try:
        times = proc.cpu_times()
        return times.user + times.system
    except psutil.Error:
        return 0.0


def elasticsearch_process(url: str) -> psutil.Process | None:
    """The JVM listening on the Elasticsearch port, when it runs on this machine."""
    port = urlsplit(url).port or 9200
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
                return psutil.Process(conn.pid)
    except psutil.Error:
        pass
    return None


def _count(client, index: str) -> int:
    client.indices.refresh(index=index)
    return client.count(index=index)["count"]


def run_archive(settings, site_name: str, measure: Measure) -> int:
    with measure:
        outcome = run_crawl(settings, [site_name], on_start=measure.memory.watch)
    peaks = sorted((b >> 20 for b in measure.memory.rss.values()), reverse=True)
    print(f"  peak resident MiB per process of the crawl tree: {peaks}", flush=True)
    summary = outcome.sites.get(site_name, {})
    if outcome.status != "ok":
        print(f"  archive crawl of {site_name}: {outcome.status} {outcome.error or ''}", flush=True)
    print(f"  archive rejections: {summary.get('rejections', {})}", flush=True)
    return summary.get("articles_new", 0)


def run_minimal(sitemap: str, es_url: str, index: str, concurrency: int, measure: Measure) -> int:
    cmd = [sys.executable, str(HERE / "minimal_pipeline.py"), sitemap, es_url, index, f"--concurrency={concurrency}"]
    with measure:
        child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        measure.memory.watch(child.pid)
        out, _ = child.communicate()
    if child.returncode != 0:
        print(f"  minimal pipeline exited with {child.returncode}", flush=True)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    return json.loads(lines[-1])["indexed"] if lines else 0


def run_reextract(settings, site_name: str, measure: Measure) -> int:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(settings_to_dict(settings), fh)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--reextract-child", fh.name, site_name]
    try:
        with measure:
            child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
            measure.memory.watch(child.pid)
            out, _ = child.communicate()
    finally:
        os.unlink(fh.name)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if child.returncode != 0 or not lines:
        print(f"  reextract exited with {child.returncode}", flush=True)
        return 0
    result = json.loads(lines[-1])
    return result["new"] + result["updated"] + result["unchanged"]


def reextract_child(settings_json: str, site_name: str) -> int:
    """The re-extraction as `archive reextract` runs it, in a process of its own (for its CPU)."""
    from crawler.reextract import reextract
    from search.client import make_client

    settings = settings_from_dict(json.loads(Path(settings_json).read_text()))
    result = reextract(settings, make_client(settings.elasticsearch), [site_name])
    site = result.sites[site_name]
    print(json.dumps({"new": site.new, "updated": site.updated, "unchanged": site.unchanged,
                      "rejected": site.rejected}), flush=True)
    return 0


def print_table(rows: list[Figures], before: list[dict] | None = None) -> None:
    earlier = {(r["site"], r["contender"]): r for r in before or []}
    head = f"{'site':<10} {'contender':<10} {'articles':>8} {'wall s':>7} {'art/s':>7} {'CPU-ms/art':>10} {'peak MiB':>8} {'ES CPU-ms/art':>13} {'ES share':>8}"
    if before is not None:
        head += f"   {'BEFORE art/s':>12} {'CPU-ms/art':>10} {'peak MiB':>8}"
    print(head)
    print("-" * len(head))
    for r in rows:
        es_ms = 1000 * r.es_cpu_seconds / r.articles if r.articles else float("nan")
        line = (f"{r.site:<10} {r.contender:<10} {r.articles:>8} {r.seconds:>7.1f} {r.per_second:>7.1f} "
                f"{r.cpu_ms_per_article:>10.1f} {r.peak_bytes / 2**20:>8.0f} {es_ms:>13.1f} {r.es_share:>8.0%}")
        if before is not None:
            b = earlier.get((r.site, r.contender))
            if b:
                b_art = b["articles"] / b["seconds"] if b["seconds"] else 0
                b_cpu = 1000 * b["cpu_seconds"] / b["articles"] if b["articles"] else float("nan")
                line += f"   {b_art:>12.1f} {b_cpu:>10.1f} {b['peak_bytes'] / 2**20:>8.0f}"
        print(line)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--reextract-child":
        return reextract_child(*sys.argv[2:4])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent requests per host")
    parser.add_argument("--workers", type=int, default=0, help="crawl.extraction_workers (0: one per CPU)")
    parser.add_argument("--sites", default="demo,realworld")
    parser.add_argument("--contenders", default="archive,minimal,reextract")
    parser.add_argument("--save", help="write the figures to this JSON file (a later --compare reads it)")
    parser.add_argument("--compare", help="figures saved by an earlier run: printed beside these")
    args = parser.parse_args()
    sites = [s for s in args.sites.split(",") if s]
    contenders = [c for c in args.contenders.split(",") if c]

    base, client = throwaway_indices()
    es_proc = elasticsearch_process(base.elasticsearch.url)
    rows: list[Figures] = []
    prefixes: list = []
    with tempfile.TemporaryDirectory(prefix="archive-bench-") as tmp:
        root = Path(tmp)
        ports = {name: free_port() for name in sites}
        docroots = {name: root / "www" / name for name in sites}
        for name in sites:
            url = f"http://127.0.0.1:{ports[name]}"
            print(f"rendering the {name} site ({args.articles} articles) for nginx at {url} ...", flush=True)
            if name == "demo":
                render_demo_site(docroots[name], url, args.articles)
            else:
                count = render_real_site(docroots[name], url, args.articles)
                print(f"  {args.articles} article URLs over {count} real pages", flush=True)
        with nginx(root / "nginx", {n: (ports[n], docroots[n]) for n in sites}):
            for name in sites:
                articles = sorted(str(p.relative_to(docroots[name])) for p in docroots[name].glob("20*/*/*/*") if p.is_file())
                pace = keepalive_pages_per_second(ports[name], ["/" + a for a in articles[:500]])
                print(f"nginx serves the {name} site at {pace:.0f} pages/s on ONE keep-alive connection", flush=True)
            try:
                for name in sites:
                    url = f"http://127.0.0.1:{ports[name]}"
                    es = base.elasticsearch.with_index_prefix(f"{base.elasticsearch.articles_alias.split('-articles')[0]}-{name}")
                    prefixes.append(es)
                    site = replace(
                        base.site("demo"), name=name, start_urls=(url + "/",), feeds=(),
                        sitemaps=(url + "/sitemap.xml",) if name == "realworld" else (),
                        article_allow=(ARTICLE_PATTERNS[name],), max_pages=args.articles * 2, max_age_days=0,
                    )
                    settings = replace(
                        base, elasticsearch=es, data_dir=root / f"data-{name}", sites=(site,),
                        crawl=replace(base.crawl, download_delay=0.0, autothrottle=False,
                                      concurrent_requests_per_host=args.concurrency, progress_interval=10.0,
                                      extraction_workers=args.workers),
                    )
                    if "archive" in contenders:
                        print(f"[{name}] archive crawl ...", flush=True)
                        m = Measure(es_proc)
                        run_archive(settings, name, m)
                        rows.append(m.figures(name, "archive", _count(client, es.articles_alias)))
                        print_table(rows[-1:])
                    if "minimal" in contenders:
                        print(f"[{name}] minimal pipeline ...", flush=True)
                        index = f"{es.articles_alias}-minimal"
                        sitemap = url + ("/sitemap.xml" if name == "realworld" else "/sitemap_index.xml")
                        m = Measure(es_proc)
                        try:
                            run_minimal(sitemap, es.url, index, args.concurrency, m)
                            rows.append(m.figures(name, "minimal", _count(client, index)))
                        finally:
                            client.indices.delete(index=index, ignore_unavailable=True)
                        print_table(rows[-1:])
                    if "reextract" in contenders and "archive" in contenders:
                        print(f"[{name}] archive reextract over the crawl's WARC captures ...", flush=True)
                        re_es = es.with_index_prefix(es.articles_alias.removesuffix("-articles") + "-re")
                        prefixes.append(re_es)
                        m = Measure(es_proc)
                        run_reextract(replace(settings, elasticsearch=re_es), name, m)
                        rows.append(m.figures(name, "reextract", _count(client, re_es.articles_alias)))
                        print_table(rows[-1:])
            finally:
                for es in prefixes:
                    drop_all(client, es)

    print()
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs; "
          f"Elasticsearch at {base.elasticsearch.url} (pid {es_proc.pid if es_proc else '?'}, shared with other work)")
    print(f"{args.articles} articles per site, {args.concurrency} concurrent requests per host, no politeness delay")
    before = json.loads(Path(args.compare).read_text()) if args.compare else None
    print_table(rows, before)
    if args.save:
        Path(args.save).write_text(json.dumps([asdict(r) for r in rows], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
