"""Filter values checked against the archive, so a typo is refused instead of answering "0 hits".

Sites and languages match case-insensitively (``--site Demo`` is ``demo``); a language may be
given by name (``--lang german`` is ``de``). Unknown values are refused with the known ones;
an author nobody by that name wrote for is refused with the closest names ("did you mean
Maren Okafor?").
"""

from __future__ import annotations

import difflib
from dataclasses import replace
from typing import Iterable

from elasticsearch import Elasticsearch

from search.holdings import Holdings, holdings
from search.query import SearchRequest, author_filter, count_noun, tag_filter

# Names journalists type for the languages the archive stems (search/analysis.py), in English
# and in the language itself.
LANGUAGE_NAMES = {
    "english": "en", "german": "de", "deutsch": "de", "french": "fr", "français": "fr", "francais": "fr",
    "spanish": "es", "español": "es", "espanol": "es", "castellano": "es", "italian": "it", "italiano": "it",
    "portuguese": "pt", "português": "pt", "portugues": "pt", "dutch": "nl", "nederlands": "nl",
    "swedish": "sv", "svenska": "sv", "danish": "da", "dansk": "da", "norwegian": "no", "norsk": "no",
    "finnish": "fi", "suomi": "fi", "russian": "ru",
}


class UnknownFilter(ValueError):
    """A --site/--lang/--tag value the archive does not know; the message lists the known ones."""


def validate_filters(
    client: Elasticsearch, alias: str, request: SearchRequest, configured_sites: Iterable[str] = ()
) -> SearchRequest:
    """The request with its site and language values in the archive's spelling, or UnknownFilter.

    configured_sites: site names from settings.toml, accepted even before their first crawl.
    Sites, languages and tags are checked against what the archive holds as last seen
    (search/holdings.py: no request on most searches); a value not seen there is looked up
    again before it is refused. Authors are asked each time (one request, only when given)."""
    if not (request.sites or request.languages or request.tags or request.authors):
        return request
    max_age = request.limits.holdings_seconds
    try:
        request = _checked(client, alias, request, configured_sites, holdings(client, alias, max_age))
    except UnknownFilter:  # perhaps new since the last look
        request = _checked(client, alias, request, configured_sites, holdings(client, alias, max_age, fresh=True))
    unknown_authors = _without_articles(client, alias, list(request.authors), author_filter) if request.authors else []
    if unknown_authors:
        raise UnknownFilter(_unknown_authors_message(client, alias, unknown_authors))
    return request


def _without_articles(client: Elasticsearch, alias: str, values: list[str], value_filter) -> list[str]:
    """The values no article has (one request for all of them)."""
    aggs = {f"v{i}": {"filter": value_filter((value,))} for i, value in enumerate(values)}
    found = client.search(index=alias, size=0, aggs=aggs, track_total_hits=False).get("aggregations", {})
    return [value for i, value in enumerate(values) if not found[f"v{i}"]["doc_count"]]


def _checked(client: Elasticsearch, alias: str, request: SearchRequest, configured_sites: Iterable[str],
             held: Holdings) -> SearchRequest:
    sites = _checked_sites(request.sites, held.sites, configured_sites)
    languages = _checked_languages(request.languages, held.languages)
    rare = [tag for tag in request.tags if tag.lower() not in held.tags and tag.lower() not in held.sections]
    unknown_tags = _without_articles(client, alias, rare, tag_filter) if rare else []  # beyond the most used
    if unknown_tags:
        raise UnknownFilter(_unknown_tags_message(client, alias, unknown_tags))
    return replace(request, sites=sites, languages=languages)


def _buckets(aggs: dict, name: str) -> dict[str, int]:
    return {b["key"]: b["doc_count"] for b in aggs.get(name, {}).get("buckets", [])}


def _listing(counts: dict[str, int], noun: str = "article") -> str:
    if not counts:
        return "none yet"
    return ", ".join(f"{key} ({count_noun(n, noun)})" for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _checked_sites(values: tuple[str, ...], in_archive: dict[str, int], configured: Iterable[str]) -> tuple[str, ...]:
    known = {name.lower(): name for name in [*configured, *in_archive]}
    out = []
    for value in values:
        name = known.get(value.lower())
        if name is None:
            configured_only = sorted(set(configured) - set(in_archive))
            also = f"; configured, not crawled yet: {', '.join(configured_only)}" if configured_only else ""
            raise UnknownFilter(f"unknown site {value!r}: sites in the archive: {_listing(in_archive)}{also}")
        out.append(name)
    return tuple(out)


def _checked_languages(values: tuple[str, ...], in_archive: dict[str, int]) -> tuple[str, ...]:
    known = {code.lower(): code for code in in_archive}
    out = []
    for value in values:
        code = value.lower().replace("_", "-")
        code = LANGUAGE_NAMES.get(code, code)
        if code not in known:
            named = f" ({code})" if code != value.lower() else ""
            raise UnknownFilter(
                f"no articles in language {value!r}{named}: use a code; languages in the archive: {_listing(in_archive)}"
            )
        out.append(known[code])
    return tuple(out)


def _unknown_tags_message(client: Elasticsearch, alias: str, unknown: list[str]) -> str:
    aggs = {name: {"terms": {"field": name, "size": 5000}} for name in ("tags", "section")}
    response = client.search(index=alias, size=0, aggs=aggs)
    counts = _buckets(response.get("aggregations", {}), "tags")
    for section, n in _buckets(response.get("aggregations", {}), "section").items():
        counts[section] = max(n, counts.get(section, 0))
    parts = []
    for tag in unknown:
        close = difflib.get_close_matches(tag.lower(), list(counts), n=5, cutoff=0.6)
        parts.append(f"no article has the tag or section {tag!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
    common = sorted(counts, key=lambda t: (-counts[t], t))[:12]
    return "; ".join(parts) + (f"; most used tags: {', '.join(common)}" if common else "; the archive has no tags yet")


def _unknown_authors_message(client: Elasticsearch, alias: str, unknown: list[str]) -> str:
    response = client.search(index=alias, size=0, aggs={"authors": {"terms": {"field": "authors.raw", "size": 5000}}})
    counts = _buckets(response.get("aggregations", {}), "authors")  # names in lowercase (the field's normalizer)
    parts = []
    for author in unknown:
        close = difflib.get_close_matches(author.lower(), list(counts), n=3, cutoff=0.6)
        # Also a surname typed alone ("okafr" for "Maren Okafor").
        close += [name for name in counts if name not in close and any(
            difflib.SequenceMatcher(None, author.lower(), part).ratio() >= 0.8 for part in name.split())][:3 - len(close)]
        spelled = [_as_written(client, alias, name) for name in close]
        parts.append(f"no article by {author!r}" + (f" (did you mean {' or '.join(spelled)}?)" if spelled else ""))
    return "; ".join(parts) + (f"; {len(counts)} authors in the archive" if counts else "; the archive has no authors yet")


def _as_written(client: Elasticsearch, alias: str, lowered: str) -> str:
    """An author's name as an article writes it (the keyword field keeps it in lowercase)."""
    response = client.search(index=alias, size=1, query={"term": {"authors.raw": lowered}}, source=["authors"])
    for hit in response["hits"]["hits"]:
        for name in hit["_source"].get("authors") or []:
            if name.lower() == lowered:
                return name
    return lowered
