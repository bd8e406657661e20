"""Benchmark: search latency at 100,000 articles, before and after language-aware matching.

    .venv/bin/python benchmarks/search_latency.py [--articles 100000] [--runs 20] [--breakdown]

Generates realistic articles with the demo site's generator (unique titles, bodies from
section templates, several sites, a few German articles), loads them twice into throwaway
indices of the Elasticsearch at ELASTICSEARCH_URL (default: settings.toml):

    before  the articles mapping without the *_stem fields, queried as before (one
            simple_query_string over the exact fields)
    after   the current mapping, documents with their folded, stemmed fields (as the writer
            stores them), queried with search.query / search.service

and prints p50/p95/p99 of `search.service.search` (highlights and facets on, as the CLI asks)
over a mix of words, phrases, prefixes, booleans and filters, plus each index's size and the
load average (the machine is shared: compare runs at similar load). --breakdown also times the
'after' search with parts left out (the stem marks' highlight_query, all highlighting, the
facets), interleaved, to show where the node's time goes. The indices are deleted at the end.
Goal: p95 <= 50 ms at 100,000 articles.
"""

from __future__ import annotations

import argparse
import copy
import os
import random
import signal
import statistics
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from elasticsearch import helpers  # noqa: E402

from _throwaway import throwaway_indices  # noqa: E402
from archive.demo_site.content import hand_written_articles  # noqa: E402
from archive.demo_site.generator import generate_articles  # noqa: E402
from archive.urls import document_id  # noqa: E402
from search.analysis import with_stems  # noqa: E402
from search.indices import ARTICLES_DEFINITION, load_definition  # noqa: E402
from search.query import SearchRequest, build_search_body, parse_response  # noqa: E402
from search.service import search  # noqa: E402

SITES = ("demo", "northmere-post", "coastal-times", "valemouth-herald")

# (kind, what a journalist types, the same in the old simple_query_string syntax, filters)
MIX = [
    ("word", "council", "council", {}),
    ("word", "budget residents", "budget residents", {}),
    ("word", "councils", "councils", {}),  # a plural: only the stemmed fields find 'council'
    ("phrase", '"bridge repairs"', '"bridge repairs"', {}),
    ("phrase", "“trade unions said”", '"trade unions said"', {}),
    ("prefix", "municipal*", "municipal*", {}),
    ("prefix", "elect* turnout", "elect* turnout", {}),
    ("boolean", "(storm OR flood) AND council", "( storm | flood ) + council", {}),
    ("boolean", "trade NOT budget", "trade -budget", {}),
    ("boolean", "flood | storm", "flood | storm", {}),
    ("filter", "budget", "budget", {"sites": ("demo",), "since": date(2025, 1, 1)}),
    ("filter", "water", "water", {"tags": ("jobs",), "sort": "newest"}),
    ("filter", "", "", {"sites": ("coastal-times",), "sort": "newest"}),
]


def documents(count: int, seed: int = 7):
    """Generated articles as the crawler would store them (a few in German)."""
    rng = random.Random(seed)
    german = [a for a in hand_written_articles() if a.language == "de"]
    for i, article in enumerate(generate_articles(count, seed=seed)):
        if german and i % 50 == 0:  # 2%: a German article under a unique slug
            article = replace(german[0], slug=f"{german[0].slug}-{i}", published=article.published)
        body = article.body_text
        yield {
            "url": f"https://{SITES[i % len(SITES)]}.example{article.path}",
            "site": SITES[i % len(SITES)],
            "title": article.title,
            "authors": list(article.authors),
            "published": article.published.isoformat(),
            "tags": list(article.tags) + [article.section],
            "section": article.section,
            "description": article.description,
            "language": article.language,
            "body": body,
            "word_count": len(body.split()),
            "content_hash": f"{rng.getrandbits(64):016x}",
            "crawled_at": "2026-01-01T00:00:00+00:00",
        }


def plain_definition() -> dict:
    body = copy.deepcopy(load_definition(ARTICLES_DEFINITION))
    body["mappings"].pop("_source", None)
    for name in ("title_stem", "description_stem", "body_stem"):
        body["mappings"]["properties"].pop(name)
    return body


def load(client, indices: dict[str, str], count: int) -> float:
    started = time.perf_counter()

    def actions():
        for doc in documents(count):
            doc_id = document_id(doc["url"])
            yield {"_index": indices["before"], "_id": doc_id, "_source": doc}
            # Each its own story: the search collapses on it as on a crawled archive (no look-up cost here).
            yield {"_index": indices["after"], "_id": doc_id, "_source": {**with_stems(doc), "story": doc_id}}

    done = 0
    for ok, item in helpers.streaming_bulk(client, actions(), chunk_size=1000, max_retries=5, initial_backoff=2, raise_on_error=False):
        if not ok:
            raise SystemExit(f"bulk error: {item}")
        done += 1
        if done % 40_000 == 0:
            print(f"  {done // 2:,} articles loaded ({time.perf_counter() - started:.0f} s)", flush=True)
    for index in indices.values():
        client.indices.put_settings(index=index, settings={"index": {"refresh_interval": "1s"}})
        client.indices.refresh(index=index)
    return time.perf_counter() - started


class TookRecorder:
    """The client, noting Elasticsearch's own `took` (ms) of each search: the node's share of
    the latency, apart from Python's on a busy machine."""

    def __init__(self, client):
        self.client = client
        self.took = 0

    def search(self, **kwargs):
        response = self.client.search(**kwargs)
        self.took += response["took"]
        return response

    def __getattr__(self, name):
        return getattr(self.client, name)


def before_search(client, index: str, old_query: str, filters: dict) -> float:
    """The search as it was: one simple_query_string over the exact fields."""
    body = build_search_body(SearchRequest(**filters))
    if old_query:
        sqs = {"simple_query_string": {"query": old_query, "fields": ["title^3", "authors^2", "description^1.5", "body"],
                                       "default_operator": "and", "flags": "AND|OR|NOT|PHRASE|PREFIX|PRECEDENCE|WHITESPACE|ESCAPE",
                                       "lenient": True}}
        query = body["query"]
        body["query"] = {"bool": {"must": [sqs], "filter": query["bool"]["filter"] if "bool" in query else []}}
        highlight = build_search_body(SearchRequest(text=old_query))["highlight"]
        highlight.pop("highlight_query", None)  # the stem-aware marking is new
        body["highlight"] = highlight
    started = time.perf_counter()
    parse_response(client.search(index=index, body=body))
    return time.perf_counter() - started


def after_search(client, index: str, typed: str, filters: dict) -> float:
    started = time.perf_counter()
    search(client, index, SearchRequest(text=typed, **filters))
    return time.perf_counter() - started


def breakdown(client, index: str, runs: int) -> None:
    """The node's time ('took') of the 'after' search with parts of the request left out."""

    def without(part):
        def body(request):
            full = build_search_body(request)
            if part == "stem marks (highlight_query)":
                full.get("highlight", {}).pop("highlight_query", None)
            elif part == "highlighting":
                full.pop("highlight", None)
            elif part == "facets":
                full.pop("aggs", None)
            return full
        return body

    parts = ["nothing", "stem marks (highlight_query)", "highlighting", "facets"]
    took: dict[str, list[float]] = {part: [] for part in parts}
    for _ in range(runs):
        for kind, typed, old, filters in MIX:
            for part in parts:  # interleaved: each variant meets the same load
                response = client.search(index=index, body=without(part)(SearchRequest(text=typed, **filters)))
                took[part].append(response["took"] / 1000)
    print("\nafter, node time ('took') with a part of the request left out:")
    for part in parts:
        label = "full request" if part == "nothing" else "without " + part
        print(f"  {label:<38} {percentiles(took[part])}")


def percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return f"p50 {q[49]:6.1f} ms   p95 {q[94]:6.1f} ms   p99 {q[98]:6.1f} ms   (n={len(ms)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20, help="times each query of the mix is run")
    parser.add_argument("--breakdown", action="store_true", help="also time the search without highlights, stem marks, facets")
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))  # still delete the indices
    settings, client = throwaway_indices()
    prefix = settings.elasticsearch.articles_alias.rsplit("-", 1)[0]
    # Named like the archive's articles indices, so the archive's service role may create them.
    indices = {"before": f"{prefix}-articles-before", "after": f"{prefix}-articles-after"}
    plain, current = plain_definition(), load_definition(ARTICLES_DEFINITION)
    try:
        for name, definition in (("before", plain), ("after", current)):
            client.indices.create(index=indices[name], mappings=definition["mappings"],
                                  settings={**definition["settings"], "refresh_interval": "-1"})
        print(f"loading {args.articles:,} generated articles into {indices['before']} and {indices['after']} ...", flush=True)
        seconds = load(client, indices, args.articles)
        print(f"loaded in {seconds:.0f} s")
        for name, index in indices.items():
            stats = client.indices.stats(index=index, metric="store,docs")["indices"][index]["primaries"]
            print(f"{name:>6}: {stats['docs']['count']:,} documents, {stats['store']['size_in_bytes'] / 2**20:,.1f} MiB")

        timings: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
        for _ in range(2):  # warm the caches the same way for both
            for kind, typed, old, filters in MIX:
                before_search(client, indices["before"], old, filters)
                after_search(client, indices["after"], typed, filters)
        took: dict[str, list[float]] = {"before": [], "after": []}
        for _ in range(args.runs):
            for kind, typed, old, filters in MIX:
                for name, run, text in (("before", before_search, old), ("after", after_search, typed)):
                    recorder = TookRecorder(client)
                    timings[name].setdefault(kind, []).append(run(recorder, indices[name], text, filters))
                    took[name].append(recorder.took / 1000)
        for name in ("before", "after"):
            print(f"\n{name}: search.service with highlights and facets (wall time in this process)")
            for kind, samples in timings[name].items():
                print(f"  {kind:<8} {percentiles(samples)}")
            print(f"  {'all':<8} {percentiles([s for v in timings[name].values() for s in v])}")
            print(f"  {'node':<8} {percentiles(took[name])}   (Elasticsearch's own 'took')")
        for word in ("councils", "Schaden"):
            hits = search(client, indices["after"], SearchRequest(text=word)).total
            plain_hits = search(client, indices["before"], SearchRequest(text=word)).total
            print(f"'{word}': {plain_hits:,} hits before, {hits:,} after")
        if args.breakdown:
            breakdown(client, indices["after"], args.runs)
        print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    finally:
        client.indices.delete(index=",".join(indices.values()), ignore_unavailable=True)
        print(f"deleted {', '.join(indices.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
