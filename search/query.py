"""Journalists' queries → Elasticsearch requests.

The query language: words (all must match), "exact phrases", prefix*, AND / OR / NOT (also
+ | -), and parentheses. It is translated to a `simple_query_string`, which never throws on
odd input; what would silently mean something else (an unclosed quote or parenthesis, a
dangling operator) is refused with a message that says how to fix it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

SEARCH_FIELDS = ["title^3", "authors^2", "description^1.5", "body"]
HIGHLIGHT_FIELDS = ("title", "body")
SORTS = {
    "relevance": [{"_score": "desc"}, {"published": {"order": "desc", "missing": "_last"}}, {"url": "asc"}],
    "newest": [{"published": {"order": "desc", "missing": "_last"}}, {"url": "asc"}],
    "oldest": [{"published": {"order": "asc", "missing": "_last"}}, {"url": "asc"}],
}
MARK_PRE, MARK_POST = "<mark>", "</mark>"


class QuerySyntaxError(ValueError):
    """The query cannot be read as the journalist meant it; the message says how to fix it."""


@dataclass(frozen=True)
class SearchRequest:
    text: str = ""
    sites: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None
    edited: bool = False
    sort: str = "relevance"
    size: int = 10
    search_after: tuple | None = None
    facets: bool = True
    highlight: bool = True
    fields: tuple[str, ...] | None = None  # _source fields; None = all but the body


_TOKEN = re.compile(r'"[^"]*"|\(|\)|[^\s()"]+|"')
_OPERATORS = {"AND": "+", "OR": "|", "NOT": "-"}


def translate_query(text: str) -> str:
    """'brexit AND (fish OR fishing) NOT "common policy"' → simple_query_string syntax."""
    text = text.strip()
    if text.count('"') % 2:
        position = text.rfind('"')
        raise QuerySyntaxError(f'unclosed quote at character {position + 1}: close the phrase with a second "')
    depth = 0
    tokens = _TOKEN.findall(text)
    out: list[str] = []
    previous_operator = True  # at the start, a binary operator would dangle
    for i, token in enumerate(tokens):
        if token == "(":
            depth += 1
        elif token == ")":
            depth -= 1
            if depth < 0:
                raise QuerySyntaxError("a ')' closes a parenthesis that was never opened")
        upper = token if token in ("AND", "OR", "NOT") else None
        if upper in ("AND", "OR"):
            if previous_operator or i == len(tokens) - 1:
                raise QuerySyntaxError(f"'{token}' needs words on both sides, e.g. climate {token} summit")
            out.append(_OPERATORS[upper])
            previous_operator = True
            continue
        if upper == "NOT":
            if i == len(tokens) - 1:
                raise QuerySyntaxError("'NOT' needs a word after it, e.g. summit NOT trade")
            out.append("-")
            previous_operator = True
            continue
        if token.endswith("*") and len(token.strip("*")) < 2 and not token.startswith('"'):
            raise QuerySyntaxError(f"prefix '{token}' is too short: give at least two letters before *")
        # Glue a NOT/minus to the word it negates, as simple_query_string expects.
        if out and out[-1] == "-":
            out[-1] = "-" + token
        else:
            out.append(token)
        previous_operator = token == "("
    if depth > 0:
        raise QuerySyntaxError("a '(' is never closed: add the missing ')'")
    return " ".join(out)


def build_query(request: SearchRequest) -> dict:
    must: list[dict] = []
    if request.text.strip():
        must.append(
            {
                "simple_query_string": {
                    "query": translate_query(request.text),
                    "fields": SEARCH_FIELDS,
                    "default_operator": "and",
                    "flags": "AND|OR|NOT|PHRASE|PREFIX|PRECEDENCE|WHITESPACE|ESCAPE",
                    "lenient": True,
                }
            }
        )
    filters: list[dict] = []
    if request.sites:
        filters.append({"terms": {"site": list(request.sites)}})
    if request.authors:
        # Exact author names (case-insensitive), or any author whose name has these words.
        filters.append(
            {
                "bool": {
                    "should": [{"terms": {"authors.raw": [a.lower() for a in request.authors]}}]
                    + [{"match_phrase": {"authors": a}} for a in request.authors],
                    "minimum_should_match": 1,
                }
            }
        )
    if request.tags:
        filters.append({"terms": {"tags": [t.lower() for t in request.tags]}})
    if request.languages:
        filters.append({"terms": {"language": [lang.lower() for lang in request.languages]}})
    if request.since or request.until:
        if request.since and request.until and request.since > request.until:
            raise QuerySyntaxError(f"--since {request.since} is after --until {request.until}")
        bounds = {}
        if request.since:
            bounds["gte"] = request.since.isoformat()
        if request.until:
            bounds["lte"] = request.until.isoformat()  # the whole 'until' day counts
        filters.append({"range": {"published": {**bounds, "format": "strict_date_optional_time||yyyy-MM-dd"}}})
    if request.edited:
        filters.append({"term": {"edited": True}})
    if not must and not filters:
        return {"match_all": {}}
    return {"bool": {"must": must or [{"match_all": {}}], "filter": filters}}


def build_search_body(request: SearchRequest) -> dict:
    if request.sort not in SORTS:
        raise QuerySyntaxError(f"unknown sort {request.sort!r}: use one of {', '.join(SORTS)}")
    if not 1 <= request.size <= 1000:
        raise QuerySyntaxError("page size must be between 1 and 1000")
    body: dict = {
        "query": build_query(request),
        "sort": SORTS[request.sort],
        "size": request.size,
        "track_total_hits": True,
        "_source": {"includes": list(request.fields)} if request.fields else {"excludes": ["body", "url_variants"]},
    }
    if request.search_after:
        body["search_after"] = list(request.search_after)
    if request.highlight and request.text.strip():
        body["highlight"] = {
            "pre_tags": [MARK_PRE],
            "post_tags": [MARK_POST],
            "max_analyzed_offset": 999_999,  # very long bodies highlight their start instead of failing
            "fields": {
                "title": {"number_of_fragments": 0},
                "body": {"fragment_size": 180, "number_of_fragments": 3, "no_match_size": 180},
            },
        }
    if request.facets:
        body["aggs"] = {
            "sites": {"terms": {"field": "site", "size": 50}},
            "months": {
                "date_histogram": {"field": "published", "calendar_interval": "month", "format": "yyyy-MM", "min_doc_count": 1}
            },
        }
    return body


@dataclass
class Hit:
    id: str
    score: float | None
    url: str
    title: str
    site: str
    authors: list[str]
    published: str | None
    snippets: list[str]
    title_highlight: str | None
    source: dict
    sort: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "url": self.url,
            "title": self.title,
            "site": self.site,
            "authors": self.authors,
            "published": self.published,
            "score": self.score,
            "snippets": self.snippets,
            "tags": self.source.get("tags", []),
            "section": self.source.get("section"),
            "language": self.source.get("language"),
            "edited": self.source.get("edited", False),
        }


@dataclass
class SearchResponse:
    total: int
    hits: list[Hit]
    sites: list[tuple[str, int]]
    months: list[tuple[str, int]]
    next_search_after: list | None


def parse_response(response: dict) -> SearchResponse:
    hits = []
    for raw in response["hits"]["hits"]:
        source = raw.get("_source", {})
        highlight = raw.get("highlight", {})
        hits.append(
            Hit(
                id=raw["_id"],
                score=raw.get("_score"),
                url=source.get("url", ""),
                title=source.get("title", ""),
                site=source.get("site", ""),
                authors=source.get("authors", []) or [],
                published=source.get("published"),
                snippets=highlight.get("body", []),
                title_highlight=(highlight.get("title") or [None])[0],
                source=source,
                sort=raw.get("sort", []),
            )
        )
    aggs = response.get("aggregations", {})
    sites = [(b["key"], b["doc_count"]) for b in aggs.get("sites", {}).get("buckets", [])]
    months = [(b["key_as_string"], b["doc_count"]) for b in aggs.get("months", {}).get("buckets", [])]
    return SearchResponse(
        total=response["hits"]["total"]["value"],
        hits=hits,
        sites=sites,
        months=months,
        next_search_after=hits[-1].sort if hits else None,
    )
