"""Benchmark: what one search page costs, at 100,000 or 1,000,000 articles of real news prose.

    .venv/bin/python benchmarks/search_latency.py [--articles 100000] [--runs 20] [--before] [--levers]
    nice .venv/bin/python benchmarks/search_latency.py --articles 1000000 --index-prefix bench-1m --keep
    .venv/bin/python benchmarks/search_latency.py --articles 1000000 --index-prefix bench-1m --reuse --before --levers

Loads generated articles of real prose (benchmarks/prose_articles.py: paragraphs of the
extraction benchmarks' true bodies, recombined) through the archive's own writer, stems
included, into an articles index of the current definition at ELASTICSEARCH_URL, and times the
search page's data (`search.web.context.search_context`: filter checks, the form's choices,
one page of hits with highlights and facets, how the query was understood) over a mix of
words, phrases, prefixes, booleans and filters. It prints p50/p95/p99 by kind of query, the
wall time in this process and Elasticsearch's own `took`, the index size and the load average
(the machine may be shared: compare runs at similar load).

--before   also times the page as it was before issue 20, against the same index: exact hit
           counts, every typed word stemmed for every supported language, and one request for
           the form's choices and one for the filter checks on every render. Offsets in the
           postings (articles definition v3) cannot be switched off on a loaded index: that
           lever's "before" is the figure measured on the previous definition.
--levers   times the new page with one change at a time put back, to show what each is worth:
           facets over every match (search.facet_sample = 0), copies grouped by
           Elasticsearch's collapse (alone, and with facets over every match: the page before
           search/grouping.py), and every copy listed (what grouping copies costs at all).
Each render is timed as a first view: Elasticsearch's request cache is cleared before it.
--reuse    searches an index a previous run kept (--keep) instead of loading one: loading a
           million articles takes most of an hour on two cores.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _throwaway import throwaway_indices  # noqa: E402
from prose_articles import load  # noqa: E402
from search.indices import ARTICLES_DEFINITION, current_index, ensure_index  # noqa: E402

# (kind, what a journalist types, filters as the page's parameters)
MIX = [
    ("word", "government", {}),
    ("word", "company prices", {}),
    ("word", "elections", {}),  # a plural: the stemmed fields find 'election' too
    ("phrase", '"prime minister"', {}),
    ("phrase", "“the united states”", {}),
    ("prefix", "electr*", {}),
    ("prefix", "govern* tax", {}),
    ("boolean", "(police OR court) AND city", {}),
    ("boolean", "market NOT price", {}),
    ("boolean", "energy | climate", {}),
    ("filter", "water", {"site": ["coastal-times"], "since": ["2024-01-01"]}),
    ("filter", "health", {"tag": ["science"], "sort": ["newest"]}),
    ("filter", "", {"site": ["harbour-daily"], "sort": ["newest"]}),
]


def percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return f"p50 {q[49]:6.1f} ms   p95 {q[94]:6.1f} ms   p99 {q[98]:6.1f} ms   (n={len(ms)})"


def prepared_index(client, settings, args) -> str:
    """The alias holding args.articles articles: loaded now, or kept by an earlier run (--reuse)."""
    es = settings.elasticsearch
    if args.reuse:
        index = current_index(client, es.articles_alias)
        count = client.count(index=es.articles_alias)["count"] if index else 0
        if count < args.articles:
            raise SystemExit(f"--reuse: {es.articles_alias} holds {count:,} articles, not {args.articles:,}: load it first (--keep)")
        print(f"reusing {es.articles_alias} -> {index}: {count:,} articles")
        return index
    index = ensure_index(client, es.articles_alias, ARTICLES_DEFINITION).index
    ensure_index(client, es.versions_alias, ARTICLES_DEFINITION)
    print(f"loading {args.articles:,} articles of real prose into {index} with {args.processes} writers ...", flush=True)
    seconds = load(client, es, args.articles, args.processes)
    print(f"loaded in {seconds / 60:.1f} min ({args.articles / seconds:,.0f} articles/s)")
    if args.force_merge:
        started = time.perf_counter()
        client.options(request_timeout=7200).indices.forcemerge(index=index, max_num_segments=args.force_merge)
        print(f"force-merged to {args.force_merge} segments in {time.perf_counter() - started:.0f} s")
    return index


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20, help="times each query of the mix is run")
    parser.add_argument("--processes", type=int, default=2, help="writer processes while loading")
    parser.add_argument("--index-prefix", help="index names <prefix>-articles... (default: a throwaway prefix)")
    parser.add_argument("--keep", action="store_true", help="keep the loaded index for later runs (--reuse)")
    parser.add_argument("--reuse", action="store_true", help="search the index a run with --keep left")
    parser.add_argument("--force-merge", type=int, default=0, metavar="SEGMENTS", help="force-merge after loading")
    parser.add_argument("--before", action="store_true", help="also time the page as it was before (same index)")
    parser.add_argument("--levers", action="store_true", help="also time the page with one change at a time undone")
    parser.add_argument("--load-only", action="store_true", help="load (and keep) the index, time nothing")
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))  # still delete the indices
    settings, client = throwaway_indices()
    if args.index_prefix:
        settings = replace(settings, elasticsearch=settings.elasticsearch.with_index_prefix(args.index_prefix))
    es = settings.elasticsearch
    keep = args.keep or args.reuse or args.load_only
    try:
        index = prepared_index(client, settings, args)
        stats = client.indices.stats(index=index, metric="store,docs,segments")["indices"][index]["primaries"]
        print(f"{index}: {stats['docs']['count']:,} documents, {stats['store']['size_in_bytes'] / 2**30:,.2f} GiB, "
              f"{stats['segments']['count']} segments")
        if not args.load_only:
            from search_page_timing import run_mix

            run_mix(client, settings, MIX, args.runs, before=args.before, levers=args.levers)
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    finally:
        if not keep:
            names = [name for alias in (es.articles_alias, es.versions_alias)
                     for name in client.indices.get_alias(name=alias, ignore_unavailable=True).body]
            if names:
                client.indices.delete(index=",".join(names))
            print(f"deleted {es.articles_alias} and {es.versions_alias}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
