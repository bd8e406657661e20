"""A page of stories from the best hits, without making Elasticsearch visit every match.

Elasticsearch's `collapse`, and facets counted over every match, visit every article a search
matches: at a million articles a common word matches hundreds of thousands, and the page's
cost grows with them. A story ranks where its best copy ranks, so the first N stories are the
stories of the best hits in the order they first appear. This module reads the best hits
(ids and stories only, so Lucene skips what cannot make the page and stops counting at
count_limit), keeps the page's stories, and asks for those hits' highlights and their stories'
matching copies in a second small request. In parallel with the first (one msearch):

- the facets over at most count_limit + 1 matches (`terminate_after`): every match, exactly, for
  a search that matches no more, with the number of stories;
- for an archive larger than count_limit, the facets over more matches: a random sample
  (search.facet_sample) or every match.

The same stories come out as with `collapse` (tests/test_stories.py and
tests/test_search_facets.py run through here). The page falls back to `collapse` (returns None)
when it lies beyond the best hits read (BEST_HITS_READ), when copies of a few stories still fill
BEST_HITS_READ hits, when comparing searches, or when Elasticsearch refuses one of the searches
(the single request then says why).
"""

from __future__ import annotations

import logging
from dataclasses import replace

from elasticsearch import Elasticsearch

from search.query import (
    COPIES_LISTED,
    COPY_ORDER,
    SAMPLE_SEED,
    SearchRequest,
    SearchResponse,
    build_query,
    build_search_body,
    facet_aggregations,
    parse_response,
    story_aggregations,
)

logger = logging.getLogger(__name__)

HITS_PER_STORY = 3  # best hits read per story on the page (copies take a place each); more if copies fill them
BEST_HITS_READ = 1000  # at most; a page further down is grouped by Elasticsearch's collapse
_COPY_SOURCE = {"excludes": ["body", "url_variants", "body_candidates", "story_bands"]}


def grouped_page(client: Elasticsearch, alias: str, request: SearchRequest, page: int, many: bool) -> SearchResponse | None:
    """Page `page` of one hit per story, or None where only `collapse` can tell (see above).

    many: the archive holds more than count_limit articles, so a search may match more."""
    wanted = page * request.size
    read = wanted * HITS_PER_STORY
    if read > BEST_HITS_READ or request.compare or not request.limits.count_limit:
        return None
    searches = [best_hits_body(request, read)]
    if request.facets:
        searches.append(exact_facets_body(request))
        if many:
            searches.append(wide_facets_body(request))
    found = _msearch(client, alias, searches)
    if found is None:
        return None
    best, *facets = found
    firsts = story_firsts(best["hits"]["hits"])
    while len(best["hits"]["hits"]) == read and len(firsts) < wanted:  # copies of a few stories fill them
        if read == BEST_HITS_READ:
            return None
        read = min(BEST_HITS_READ, read * 4)
        best = client.search(index=alias, body=best_hits_body(request, read))
        firsts = story_firsts(best["hits"]["hits"])
    aggregations = _facets(best, *facets) if request.facets else {}
    if aggregations is None:
        return None
    shown = list(firsts.items())[(page - 1) * request.size : wanted]
    # Then, together: the shown hits, and the stories counted once the matches are known to be
    # few (counting them costs more than the rest of the facets, and a page that matched more
    # than count_limit shows no story count).
    second = [shown_hits_body(request, shown)] if shown else []
    count_stories = request.facets and best["hits"]["total"].get("relation") != "gte"
    if count_stories:
        second.append(stories_body(request))
    found = _msearch(client, alias, second) if second else []
    if found is None:
        return None
    hits = _hits_with_copies(found[0], shown) if shown else []
    if hits is None:
        return None
    if count_stories:
        aggregations = {**aggregations, "stories": found[-1].get("aggregations", {}).get("stories", {"value": 0})}
    response = parse_response({"hits": {"hits": hits, "total": best["hits"]["total"]}, "aggregations": aggregations})
    if response.stories is not None:
        response.stories += response.unstoried  # each a story of its own here
    return response


def best_hits_body(request: SearchRequest, size: int) -> dict:
    body = build_search_body(replace(request, all_copies=True, facets=False, highlight=False, size=size))
    # The story from doc values: reading it from _source would unpack each hit's whole text.
    body["_source"] = False
    body["docvalue_fields"] = ["story"]
    return body


def exact_facets_body(request: SearchRequest) -> dict:
    # terminate_after: a search that matches more stops after count_limit + 1 and says so
    # (terminated_early); its counts are then not used.
    return {"query": build_query(request), "size": 0, "track_total_hits": False,
            "terminate_after": request.limits.count_limit + 1,
            "aggs": facet_aggregations(request) | {"unstoried": story_aggregations()["unstoried"]}}


def stories_body(request: SearchRequest) -> dict:
    return {"query": build_query(request), "size": 0, "track_total_hits": False,
            "aggs": {"stories": story_aggregations()["stories"]}}


def wide_facets_body(request: SearchRequest) -> dict:
    aggs = facet_aggregations(request)
    if request.facet_sample:
        aggs = {"sample": {"random_sampler": {"probability": request.facet_sample, "seed": SAMPLE_SEED}, "aggs": aggs}}
    return {"query": build_query(request), "size": 0, "track_total_hits": False, "aggs": aggs}


def _msearch(client: Elasticsearch, alias: str, bodies: list[dict]) -> list[dict] | None:
    lines: list[dict] = []
    for body in bodies:
        lines += [{}, body]
    responses = client.msearch(index=alias, searches=lines)["responses"]
    for response in responses:
        if "error" in response:  # the single request will raise it with its status and reason
            logger.info("grouped page refused (%s): grouping with collapse", response["error"].get("type"))
            return None
    return responses


def story_firsts(hits: list[dict]) -> dict[str, str]:
    """story -> the id of its best hit, in the order stories first appear (an article without a
    story, stored before stories existed, is a story of its own)."""
    firsts: dict[str, str] = {}
    for hit in hits:
        firsts.setdefault((hit.get("fields", {}).get("story") or [hit["_id"]])[0], hit["_id"])
    return firsts


def _facets(best: dict, exact: dict, wide: dict | None = None) -> dict | None:
    """The aggregations the page shows, in the shape parse_response reads; None when the
    searches disagree (articles written between them) and only one request can tell."""
    counted_all = best["hits"]["total"].get("relation") != "gte"
    if counted_all and not exact.get("terminated_early"):
        return exact.get("aggregations", {})
    if not counted_all and exact.get("terminated_early") and wide is not None:
        return wide.get("aggregations", {})
    return None


def _hits_with_copies(response: dict, shown: list[tuple[str, str]]) -> list[dict] | None:
    """The page's hits, highlighted, each with its story's matching copies as `collapse`'s
    inner hits would list them (earliest first)."""
    found = {hit["_id"]: hit for hit in response["hits"]["hits"]}
    copies = {bucket["key"]: bucket for bucket in response.get("aggregations", {}).get("copies", {}).get("buckets", [])}
    hits = []
    for story, first in shown:
        hit = found.get(first)
        if hit is None:  # deleted since the first request: only one request can tell
            return None
        bucket = copies.get(story)
        if bucket is not None:
            hit = {**hit, "inner_hits": {"copies": {"hits": {"total": {"value": bucket["doc_count"]},
                                                             "hits": bucket["listed"]["hits"]["hits"]}}}}
        hits.append(hit)
    return hits


def shown_hits_body(request: SearchRequest, shown: list[tuple[str, str]]) -> dict:
    """The request for the page's hits (story, best hit id) and their stories' matching copies."""
    stories = [story for story, _ in shown]
    ids = [first for _, first in shown]
    body = build_search_body(replace(request, all_copies=True, facets=False, size=len(shown)))
    body["query"] = {"bool": {"must": [body["query"]],
                              "filter": [{"bool": {"should": [{"terms": {"story": stories}}, {"ids": {"values": ids}}]}}]}}
    body["post_filter"] = {"ids": {"values": ids}}  # the hits: the page's; the copies: every matching one
    body["track_total_hits"] = False
    # "map": the few matching copies' values directly, not global ordinals over every story.
    body["aggs"] = {"copies": {"terms": {"field": "story", "size": len(stories), "execution_hint": "map"},
                               "aggs": {"listed": {"top_hits": {"size": COPIES_LISTED, "sort": COPY_ORDER,
                                                                "_source": _COPY_SOURCE}}}}}
    return body
