"""Benchmark: what each part of the search page's request costs Elasticsearch, on a loaded index.

    .venv/bin/python benchmarks/search_request_shapes.py --index-prefix bench-1m [--runs 10]

Takes the search page's request for each query of search_latency.py's mix (as
search.query.build_search_body makes it) and sends it in several shapes, interleaved so every
shape meets the same load, with Elasticsearch's request cache cleared before each: the page as
it is, and with parts left out or done another way (copies grouped or not, facets exact or from
a random sample, highlights or not). Prints Elasticsearch's own `took` per shape, p50/p95/p99,
over the whole mix and for the slowest kinds, and the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from archive.config import load_settings  # noqa: E402
from search import grouping  # noqa: E402
from search.client import make_client  # noqa: E402
from search.holdings import holdings  # noqa: E402
from search.query import build_search_body  # noqa: E402
from search.service import with_held_languages  # noqa: E402
from search.web.context import request_from_params, validated  # noqa: E402
from search_latency import MIX  # noqa: E402


def shapes(client, alias, request) -> dict[str, list[dict]]:
    """shape name -> the request bodies one page sends in that shape."""
    best = grouping.best_hits_body(request, request.size * grouping.HITS_PER_STORY)
    shown = list(grouping.story_firsts(client.search(index=alias, body=best)["hits"]["hits"]).items())[: request.size]
    wide_every = grouping.wide_facets_body(replace(request, facet_sample=0.0))
    wide_sampled = grouping.wide_facets_body(replace(request, facet_sample=0.1))
    grouped = {
        "grouped: best hits (ids and stories)": [best],
        "grouped: exact facets (terminate_after)": [grouping.exact_facets_body(request)],
        "grouped: stories counted (when few match)": [grouping.stories_body(request)],
        "grouped: facets of a 10% sample": [wide_sampled],
        "grouped: facets over every match": [wide_every],
        "grouped: shown hits, highlights, copies": [grouping.shown_hits_body(request, shown)] if shown else [],
        "grouped: shown hits without highlights": [grouping.shown_hits_body(replace(request, highlight=False), shown)]
        if shown else [],
    }
    sampled = replace(request, facet_sample=0.1)
    flat = replace(request, all_copies=True)
    flat_sampled = build_search_body(replace(flat, facet_sample=0.1))
    flat_sampled["aggs"].pop("few")
    hits_only = build_search_body(replace(flat, facets=False))
    no_highlight = build_search_body(replace(flat, facets=False, highlight=False))
    collapse_bare = build_search_body(replace(request, facets=False))
    collapse_bare.pop("aggs", None)
    collapse_bare["collapse"].pop("inner_hits")
    return {
        "page (collapse, inner hits, exact facets, stories counted)": [build_search_body(request)],
        "page, facets sampled (random_sampler + sampler for few)": [build_search_body(sampled)],
        "every copy, exact facets": [build_search_body(flat)],
        "every copy, facets from random_sampler only": [flat_sampled],
        "every copy, no facets": [hits_only],
        "every copy, no facets, no highlight": [no_highlight],
        "collapse only (no inner hits, no aggregations)": [collapse_bare],
        **grouped,
    }


def quantiles(samples: list[float]) -> str:
    q = statistics.quantiles(sorted(samples), n=100, method="inclusive")
    return f"p50 {q[49]:6.1f}   p95 {q[94]:6.1f}   p99 {q[98]:6.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index-prefix", required=True, help="the prefix a search_latency.py --keep run loaded")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    base = load_settings()
    settings = replace(base, elasticsearch=base.elasticsearch.with_index_prefix(args.index_prefix))
    alias = settings.elasticsearch.articles_alias
    client = make_client(settings.elasticsearch).options(request_timeout=120)
    print(f"{alias}: {client.count(index=alias)['count']:,} articles")
    held = holdings(client, alias, 3600)
    pages = []
    for kind, typed, filters in MIX:
        params = {"q": [typed]} if typed else {}
        params.update(filters)
        request, _ = request_from_params(params)
        request = with_held_languages(client, alias, validated(client, settings, request), held)
        pages.append((kind, shapes(client, alias, request)))
    names = list(pages[0][1])
    took: dict[str, dict[str, list[float]]] = {name: {} for name in names}
    for run in range(args.runs + 1):
        for kind, bodies in pages:
            for name in names:
                client.indices.clear_cache(index=alias, request=True)
                spent = sum(client.search(index=alias, body=body)["took"] for body in bodies[name])
                if run:  # the first round warms up
                    took[name].setdefault(kind, []).append(spent)
    for name in names:
        every = [t for samples in took[name].values() for t in samples]
        print(f"\n{name}\n  {'all':<8} {quantiles(every)}")
        for kind, samples in took[name].items():
            print(f"  {kind:<8} {quantiles(samples)}")
    print(f"\nload average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
