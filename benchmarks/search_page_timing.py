"""Times the search page's data over a mix of queries, as it is now and as it was (search_latency.py)."""

from __future__ import annotations

import statistics
import time
from dataclasses import replace

from search import grouping
from search.analysis import DEFAULT_LANGUAGE, STEMMERS
from search.holdings import holdings
from search.web.context import request_from_params, search_context, validated
from search.service import search

EVERY_LANGUAGE = (*STEMMERS, DEFAULT_LANGUAGE)
# What issue 20 changed, each of which can be put back alone: capped counts, stems for the
# languages held, one request per render, facets sampled past count_limit (search.facet_sample),
# and copies grouped from the best hits (search/grouping.py) rather than by Elasticsearch's collapse.
BEFORE = {"exact counts": True, "every language": True, "ask each time": True, "facet sample": 0.0}
VARIANTS = {
    "after": {},
    "before": BEFORE,
    "exact counts": {"exact counts": True},
    "all-language stems": {"every language": True},
    "choices/filters asked": {"ask each time": True},
    "facets over every match (facet_sample 0)": {"facet sample": 0.0},
    "copies grouped by collapse": {"collapse": True},
    "collapse and facets over every match": {"collapse": True, "facet sample": 0.0},
    "every copy (no grouping)": {"every copy": True},
}


class Recorder:
    """The client, counting the searches sent and adding up Elasticsearch's own `took` (ms)."""

    def __init__(self, client):
        self.client = client
        self.took = 0
        self.requests = 0

    def search(self, **kwargs):
        response = self.client.search(**kwargs)
        self.took += response["took"]
        self.requests += 1
        return response

    def msearch(self, **kwargs):
        response = self.client.msearch(**kwargs)
        self.took += sum(r.get("took", 0) for r in response["responses"])
        self.requests += 1
        return response

    def count(self, **kwargs):
        self.requests += 1
        return self.client.count(**kwargs)

    def __getattr__(self, name):
        return getattr(self.client, name)


def render(client, settings, params: dict, changes: dict) -> None:
    """The page's data as search_context gets it, with some of issue 20's changes put back."""
    if changes.get("collapse"):
        read, grouping.BEST_HITS_READ = grouping.BEST_HITS_READ, 0  # every page falls back to collapse
        try:
            return render(client, settings, params, {k: v for k, v in changes.items() if k != "collapse"})
        finally:
            grouping.BEST_HITS_READ = read
    kept = settings.search.holdings_seconds
    limits = replace(settings.search, count_limit=0 if changes.get("exact counts") else settings.search.count_limit,
                     facet_sample=changes.get("facet sample", settings.search.facet_sample))
    settings = replace(settings, search=replace(limits, holdings_seconds=0 if changes.get("ask each time") else kept))
    if changes.get("every copy"):
        params = {**params, "copies": ["all"]}
    if not (changes.get("every language") or changes.get("ask each time")):
        search_context(client, settings, params)
        return
    alias = settings.elasticsearch.articles_alias
    request, page = request_from_params(params)
    request = validated(client, settings, request)
    held = holdings(client, alias, settings.search.holdings_seconds)  # the form's choices
    languages = EVERY_LANGUAGE if changes.get("every language") else (*sorted(held.languages), DEFAULT_LANGUAGE)
    # The search itself reads what the archive holds from the kept copy, as it did before.
    search(client, alias, replace(request, stem_languages=languages, limits=limits), page=page)


def percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return f"p50 {q[49]:6.1f} ms   p95 {q[94]:6.1f} ms   p99 {q[98]:6.1f} ms"


def run_mix(client, settings, mix, runs: int, before: bool, levers: bool) -> None:
    names = ["after"] + (["before"] if before else []) + ([n for n in VARIANTS if n not in ("after", "before")] if levers else [])
    wall: dict[str, dict[str, list[float]]] = {name: {} for name in names}
    took: dict[str, list[float]] = {name: [] for name in names}
    requests: dict[str, list[int]] = {name: [] for name in names}
    for warm in (True, False):
        for _ in range(2 if warm else runs):
            for kind, typed, filters in mix:
                params = {"q": [typed]} if typed else {}
                params.update(filters)
                for name in names:  # interleaved: every variant meets the same load
                    # Each render is a first view: the request cache would answer a repeat of the
                    # same search (the exact-facets request has size 0) without searching.
                    client.indices.clear_cache(index=settings.elasticsearch.articles_alias, request=True)
                    recorder = Recorder(client)
                    started = time.perf_counter()
                    render(recorder, settings, params, VARIANTS[name])
                    if not warm:
                        wall[name].setdefault(kind, []).append(time.perf_counter() - started)
                        took[name].append(recorder.took / 1000)
                        requests[name].append(recorder.requests)
    for name in names:
        print(f"\n{name}: the search page's data (search_context), wall time in this process")
        for kind, samples in wall[name].items():
            print(f"  {kind:<8} {percentiles(samples)}")
        print(f"  {'all':<8} {percentiles([s for v in wall[name].values() for s in v])}   (n={sum(map(len, wall[name].values()))})")
        print(f"  {'node':<8} {percentiles(took[name])}   (Elasticsearch's own 'took', summed per page)")
        print(f"  requests to Elasticsearch per page: {statistics.mean(requests[name]):.2f} on average, at most {max(requests[name])}")
