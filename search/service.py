"""The Python search API: what the CLI, the HTTP API and the tests call."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Iterator

from elasticsearch import BadRequestError, Elasticsearch, NotFoundError

from archive.urls import canonicalize, document_id
from search.analysis import DEFAULT_LANGUAGE
from search.grouping import grouped_page
from search.holdings import Holdings, holdings
from search.query import Hit, SearchRequest, SearchResponse, build_search_body, parse_response
from search.suggest import suggestions
from search.understood import understood

MAX_WINDOW = 10_000  # index.max_result_window: from+size cannot go past it
BEYOND_COLLAPSE = "Past the 10,000th hit every copy of a story is listed: Elasticsearch groups copies only on earlier pages."
INTERNAL_FIELDS = ["story_bands"]  # the store's own look-up keys, nothing a reader needs
_HEX_ID = re.compile(r"^[0-9a-f]{32}$")


def target(client: Elasticsearch, alias: str, request: SearchRequest, versions_alias: str | None = None) -> str:
    """The index expression a request searches: the articles, plus earlier versions if asked
    (and if any were kept: an archive without a versions index has no earlier versions)."""
    if not request.include_earlier:
        return alias
    if not versions_alias:
        raise ValueError("include_earlier needs the versions alias")
    if not client.indices.exists_alias(name=versions_alias):
        return alias
    return f"{alias},{versions_alias}"


def search(
    client: Elasticsearch, alias: str, request: SearchRequest, page: int = 1, *, versions_alias: str | None = None
) -> SearchResponse:
    """One page of hits, with did-you-mean suggestions and hints when there are few, and how
    each term of the query was searched.

    One request to Elasticsearch (hits, highlights and facets together), unless the search
    finds almost nothing (suggestions) or the page is beyond the 10,000th hit (reached with
    search_after). With request.include_earlier, earlier versions (versions_alias) are searched too."""
    if page < 1:
        raise ValueError("page numbers start at 1")
    alias = target(client, alias, request, versions_alias)
    held = holdings(client, alias, request.limits.holdings_seconds)
    request = with_facet_sample(with_held_languages(client, alias, request, held), held)
    response, ungrouped = _grouped_page(client, alias, request, page, many=held.articles > request.limits.count_limit)
    response.suggestions, response.hints = suggestions(client, alias, request, response.total)
    if ungrouped:
        response.hints.append(ungrouped)
    elif request.collapsed and page * request.size > MAX_WINDOW:  # reached with search_after, which cannot collapse
        response.hints.append(BEYOND_COLLAPSE)
    response.understood = understood(request, response.hits)
    return response


def with_held_languages(client: Elasticsearch, alias: str, request: SearchRequest, kept: Holdings | None = None) -> SearchRequest:
    """The request with its words to be stemmed for the languages the archive holds (and for
    articles of no known language), not for every supported one."""
    if request.languages or request.stem_languages:
        return request
    held = (kept or holdings(client, alias, request.limits.holdings_seconds)).languages
    if not held:  # nothing held yet (or no index): every language, as before
        return request
    return replace(request, stem_languages=(*sorted(held), DEFAULT_LANGUAGE))


def with_facet_sample(request: SearchRequest, held: Holdings) -> SearchRequest:
    """The request with its facets counted on a random sample of the matches, when the archive
    is large enough for a search to match more than count_limit: counting the sites and periods
    of half a million matches costs more than finding the ten best. A search that then matches
    fewer gets exact facets from the same request (search.query.build_search_body). Not in an
    archive with articles stored before stories (they need counting per search), nor when
    comparing searches (counted exactly)."""
    limits = request.limits
    if not (request.facets and limits.count_limit and limits.facet_sample) or request.compare:
        return request
    if held.articles <= limits.count_limit or held.unstoried:
        return request
    return replace(request, facet_sample=limits.facet_sample)


def _grouped_page(client: Elasticsearch, alias: str, request: SearchRequest, page: int, many: bool) -> tuple[SearchResponse, str | None]:
    """The page with one hit per story: from the best hits (search/grouping.py), else with
    Elasticsearch's collapse; every copy, and why, when collapsing meets articles without a
    story (stored before stories existed: their one missing value would be one group)."""
    if not request.collapsed:
        return _page(client, alias, request, page), None
    grouped = grouped_page(client, alias, request, page, many)
    if grouped is not None:
        return grouped, _ungrouped_hint(grouped.unstoried) if grouped.unstoried else None
    try:
        response = _page(client, alias, request, page)
        missing = response.unstoried
    except BadRequestError as exc:
        if "collapse" not in str(exc):
            raise
        missing = None  # an index made before stories: no story field at all
    if missing == 0:
        return response, None
    return _page(client, alias, replace(request, all_copies=True), page), _ungrouped_hint(missing)


def _ungrouped_hint(missing: int | None) -> str:
    some = "articles" if missing is None else f"{missing:,} of the matching articles"
    return f"Copies are not grouped into stories: {some} have no story yet. Run `archive index migrate`."


def _page(client: Elasticsearch, alias: str, request: SearchRequest, page: int) -> SearchResponse:
    offset = (page - 1) * request.size
    if offset + request.size <= MAX_WINDOW:
        body = build_search_body(request)
        body["from"] = offset
        return parse_response(client.search(index=alias, body=body))
    # Walk to the page with search_after, in large steps without highlights or facets.
    walker = replace(request, size=1000, facets=False, highlight=False, fields=("url",), all_copies=True)
    after = None
    skipped = 0
    while skipped < offset:
        step = min(1000, offset - skipped)
        body = build_search_body(replace(walker, size=step, search_after=after))
        response = parse_response(client.search(index=alias, body=body))
        if not response.hits:
            return SearchResponse(total=response.total, hits=[], sites=[], over_time=[], next_search_after=None)
        skipped += len(response.hits)
        after = tuple(response.next_search_after)
    return parse_response(client.search(index=alias, body=build_search_body(replace(request, search_after=after))))


def iterate(
    client: Elasticsearch,
    alias: str,
    request: SearchRequest,
    limit: int | None = None,
    *,
    versions_alias: str | None = None,
) -> Iterator[Hit]:
    """Every hit in order (for exports), however many, with search_after: memory stays flat.

    limit: stop after this many (None: all). request.with_body adds the text to each hit.
    Every copy of a story is a hit of its own (its `story` says which copies go together)."""
    alias = target(client, alias, request, versions_alias)
    request = replace(with_held_languages(client, alias, request), size=min(500, limit or 500), facets=False,
                      all_copies=True)
    yielded = 0
    after = None
    while True:
        response = parse_response(client.search(index=alias, body=build_search_body(replace(request, search_after=after))))
        for hit in response.hits:
            yield hit
            yielded += 1
            if limit is not None and yielded >= limit:
                return
        if len(response.hits) < request.size:
            return
        after = tuple(response.next_search_after)


def get_article(client: Elasticsearch, alias: str, url_or_id: str) -> dict | None:
    """An article by its id, its canonical URL, or any URL it was reached under."""
    candidates = []
    if _HEX_ID.match(url_or_id):
        candidates.append(url_or_id)
    if url_or_id.startswith(("http://", "https://")):
        try:
            canonical = canonicalize(url_or_id)
        except ValueError:  # 'http://[' or a port out of range: no article has it
            return None
        candidates.append(document_id(canonical))
    for doc_id in candidates:
        try:
            doc = client.get(index=alias, id=doc_id, source_excludes=INTERNAL_FIELDS)
            return {"id": doc["_id"], **doc["_source"]}
        except NotFoundError:
            continue
    if url_or_id.startswith(("http://", "https://")):
        response = client.search(
            index=alias, query={"terms": {"url_variants": [url_or_id, canonical]}}, size=1, source_excludes=INTERNAL_FIELDS
        )
        for hit in response["hits"]["hits"]:
            return {"id": hit["_id"], **hit["_source"]}
    return None
