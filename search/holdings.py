"""What the archive holds: its sites, languages, tags and sections, asked of Elasticsearch now and then.

The search page lists them in its form, filters are checked against them, and a typed word is
stemmed only for the languages the archive holds (an archive of English articles needs one
stem per word, not one per supported language). Asking on every search cost an aggregation
over the whole archive per page; these values change only when a crawl brings a new site,
language or tag, so they are kept for ``search.holdings_seconds`` per alias. A value that is not
in the kept ones is asked again before it is refused (search/filters.py), and this process's
writer forgets them when it writes (search/writer.py), so a stale copy never refuses a filter;
at worst a language new since the last look is matched by its exact words for that long.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from elasticsearch import Elasticsearch, NotFoundError

from search.coverage import span_of


@dataclass(frozen=True)
class Holdings:
    """Values in the archive with how many articles have each."""

    sites: dict[str, int]
    languages: dict[str, int]
    tags: dict[str, int]  # lowercase (the field's normalizer), as sections
    sections: dict[str, int]
    span: tuple = (None, None)  # the first and last display dates (the coverage chart's default range)
    articles: int = 0  # how many the archive holds: facets are sampled only in a large one
    unstoried: int = 0  # articles without a story (stored before stories; `archive index migrate`)

    def as_choices(self) -> dict[str, list[str]]:
        """The form's choices: each kind's values, sorted."""
        return {"sites": sorted(self.sites), "languages": sorted(self.languages), "tags": sorted(self.tags)}


EMPTY = Holdings({}, {}, {}, {})
_kept: dict[tuple, tuple[float, Holdings]] = {}
_lock = threading.Lock()


def _key(client: Elasticsearch, alias: str) -> tuple:
    # Two nodes (tests, benchmarks) may use the same alias name.
    return alias, tuple(sorted(str(node.base_url) for node in client.transport.node_pool.all()))


def ask(client: Elasticsearch, alias: str) -> Holdings:
    """The values as Elasticsearch has them now (one aggregation request)."""
    try:
        response = client.search(
            index=alias,
            size=0,
            track_total_hits=True,
            aggs={
                "sites": {"terms": {"field": "site", "size": 1000}},
                "languages": {"terms": {"field": "language", "size": 200}},
                "tags": {"terms": {"field": "tags", "size": 2000}},
                "sections": {"terms": {"field": "section", "size": 500}},
                "first": {"min": {"field": "display_date"}},
                "last": {"max": {"field": "display_date"}},
                "unstoried": {"missing": {"field": "story"}},
            },
        )
    except NotFoundError:
        return EMPTY
    aggs = response.get("aggregations", {})
    counts = {name: {b["key"]: b["doc_count"] for b in aggs.get(name, {}).get("buckets", [])} for name in ("sites", "languages", "tags", "sections")}
    return Holdings(**counts, span=span_of(aggs), articles=response["hits"]["total"]["value"],
                    unstoried=aggs.get("unstoried", {}).get("doc_count", 0))


def holdings(client: Elasticsearch, alias: str, max_age: float = 60.0, fresh: bool = False) -> Holdings:
    """The values, asked again when the kept ones are older than max_age seconds (or fresh)."""
    key = _key(client, alias)
    now = time.monotonic()
    with _lock:
        kept = _kept.get(key)
    if kept and not fresh and now - kept[0] < max_age:
        return kept[1]
    found = ask(client, alias)
    with _lock:
        _kept[key] = (now, found)
    return found


def forget(alias: str) -> None:
    """Ask again next time (called after this process wrote articles through the alias)."""
    with _lock:
        for key in [k for k in _kept if k[0] == alias]:
            del _kept[key]
