"""What each page shows, as plain data: the HTML page renders it, its JSON twin returns it.

Building the context once for both (as Datasette does) means the page and the API cannot
drift. Parameters are the CLI's: q, site, author, tag, lang, since, until, edited, briefs=0, sort, size,
page (repeat site/author/tag/lang for several values); copies=all lists every copy of a story; by=day,
week or month sets the coverage chart's period; q2= and q3= compare other queries on the chart.
"""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import date
from urllib.parse import parse_qs, urlencode, urlsplit

from elasticsearch import Elasticsearch

from archive.warc_storage import WarcStorage, read_storage
from search.coverage import Coverage, checked_interval, choose_interval, coverage, date_span, span_of
from search.export import export_filename, neutralised
from search.filters import validate_filters
from search.holdings import holdings
from search.query import INTERVALS, MARK_POST, MARK_PRE, SORTS, QuerySyntaxError, SearchRequest, check_size, highlight_query, sample_note, text_query
from search.service import get_article, search
from search.stories import copies_of, related_stories
from search.understood import line as understood_line
from search.versions import captures, changes, text_diff
from search.web.chart import chart

PAGE_SIZE_LIMIT = 100
MAX_PAGE = 1_000_000


class BadRequest(ValueError):
    """A parameter cannot be used as given; the message names it and says what works."""


Params = dict[str, list[str]]


def whole_number(value: str) -> int | None:
    """ASCII digits only ('²' or '٣' are not numbers here), at most 9 of them; None otherwise."""
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else None


def params_from(multi) -> Params:
    """Starlette's query or form data → {name: [values]} (empty values dropped: an empty form field means 'any')."""
    out: Params = {}
    for key, value in multi.multi_items():
        if value.strip():
            out.setdefault(key, []).append(value.strip())
    return out


def request_from_params(params: Params, default_size: int = 10) -> tuple[SearchRequest, int]:
    """The HTTP parameters as a SearchRequest (the same meaning as `archive search` options) and the page."""

    def one(name: str, default: str | None = None) -> str | None:
        values = params.get(name)
        return values[-1] if values else default

    def day(name: str) -> date | None:
        value = one(name)
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise BadRequest(f"{name}={value!r} is not a date: use YYYY-MM-DD") from None

    def number(name: str, default: int, low: int, high: int) -> int:
        number = whole_number(one(name, str(default)))
        if number is None or not low <= number <= high:
            raise BadRequest(f"{name} must be a whole number from {low} to {high}")
        return number

    def flag(name: str) -> bool:
        return one(name) in ("1", "true", "yes", "on")

    sort = one("sort", "relevance")
    if sort not in SORTS:
        raise BadRequest(f"sort must be one of {', '.join(SORTS)}")
    since, until = day("since"), day("until")
    if since and until and since > until:
        raise BadRequest(f"since={since} is after until={until}")
    request = SearchRequest(
        text=one("q", "") or "",
        sites=tuple(params.get("site", [])),
        authors=tuple(params.get("author", [])),
        tags=tuple(params.get("tag", [])),
        languages=tuple(params.get("lang", [])),
        since=since,
        until=until,
        edited=flag("edited"),
        sort=sort,
        size=number("size", default_size, 1, PAGE_SIZE_LIMIT),
        include_earlier=flag("include_earlier"),
        with_body=flag("with_body"),
        briefs=one("briefs", "1") not in ("0", "false", "no", "off"),  # briefs=0: leave short articles out
        all_copies=one("copies") == "all",
        compare=tuple(q for q in (one("q2"), one("q3")) if q),
    )
    copies = one("copies")
    if copies not in (None, "all"):
        raise BadRequest(f"copies={copies!r}: use copies=all to list every copy of a story, or leave it out")
    try:
        checked_interval(one("by"))
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return request, number("page", 1, 1, MAX_PAGE)


def with_interval(request: SearchRequest, params: Params, span: tuple) -> SearchRequest:
    """The request with its chart's period: by= if given, else chosen from the dates asked for,
    else from the archive's first and last (span)."""
    chosen = (params.get("by") or [None])[-1]
    if chosen is None:
        chosen = choose_interval(request.since or span[0], request.until or span[1])
    return replace(request, interval=chosen)


def known_values(client: Elasticsearch, alias: str, max_age: float = 60.0) -> dict:
    """Sites, languages and tags the archive holds, for the form's choices, and its first and
    last dates (span), for the chart's period; as last seen (search/holdings.py)."""
    held = holdings(client, alias, max_age)
    return {**held.as_choices(), "span": held.span}


def validated(client: Elasticsearch, settings, request: SearchRequest) -> SearchRequest:
    """The request with its sites and languages as the archive spells them; an unknown site,
    language or tag raises search.filters.UnknownFilter listing the known ones (a 400). A query
    over the size limits (settings.search) is refused first, before it costs anything."""
    check_size(request.text, settings.search)
    request = replace(request, limits=settings.search)
    return validate_filters(client, settings.elasticsearch.articles_alias, request, [s.name for s in settings.sites])


def url_with(path: str, params: Params, **changes) -> str:
    """path?params, with some parameters replaced (None removes one; a list sets several)."""
    merged = {k: list(v) for k, v in params.items()}
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value if isinstance(value, list) else [str(value)]
    pairs = [(k, v) for k, values in merged.items() for v in values]
    return path + ("?" + urlencode(pairs) if pairs else "")


def typed_query(params: Params) -> dict:
    """The form's fields exactly as typed (for a page that could not search with them)."""

    def one(name: str) -> str:
        return (params.get(name) or [""])[-1]

    return {
        "q": one("q"),
        "site": list(params.get("site", [])),
        "author": list(params.get("author", [])),
        "tag": list(params.get("tag", [])),
        "lang": list(params.get("lang", [])),
        "since": one("since"),
        "until": one("until"),
        "edited": one("edited") in ("1", "true", "yes", "on"),
        "include_earlier": one("include_earlier") in ("1", "true", "yes", "on"),
        "briefs": one("briefs") not in ("0", "false", "no", "off"),
        "sort": one("sort") or "relevance",
        "size": one("size"),
    }


def back_link(value: str | None) -> dict | None:
    """The results an article was opened from: only this server's search page (never another
    site: the link is shown on the page), with the words to highlight."""
    if not value or len(value) > 4000:
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path != "/":
        return None
    return {"url": value, "q": (parse_qs(parts.query).get("q") or [""])[-1]}


def search_context(client: Elasticsearch, settings, params: Params) -> dict:
    es = settings.elasticsearch
    request, page = request_from_params(params)
    request = validated(client, settings, request)
    known = known_values(client, es.articles_alias, settings.search.holdings_seconds)
    request = with_interval(request, params, known.pop("span"))
    response = search(client, es.articles_alias, request, page=page, versions_alias=es.versions_alias)
    here = url_with("/", params)  # this page of results, for the articles' "back to results"
    params = {k: v for k, v in params.items() if k != "page"}
    listed = response.total if response.stories is None else response.stories  # hits are stories when copies are grouped
    last_page = max(1, -(-min(listed, 10_000_000) // request.size))
    if response.total_more and response.hits:  # counting stopped: pages go on while they are full
        last_page = max(last_page, page + 1 if len(response.hits) == request.size else page)
    first = (page - 1) * request.size + 1
    selected_sites = set(request.sites)
    beyond = not response.hits and response.total > 0
    return {
        "total": response.total,
        "total_more": response.total_more,  # more than `total` hits: counting stopped there
        "count": response.count_text(),
        "understood": {"line": understood_line(response.understood), "terms": [r.as_dict() for r in response.understood]},
        "page": page,
        "hits": [_hit(h) for h in response.hits],
        "results_url": here,
        # A page past the end says so, as the CLI does, with the way to the last page.
        "beyond": {"message": f"No articles on page {page:,}: {response.count_text()} in all.",
                   "last": url_with("/", params, page=last_page), "last_page": last_page} if beyond else None,
        "suggestions": [{"text": s.text, "hits": s.hits, "url": url_with("/", params, q=s.text)} for s in response.suggestions],
        "hints": list(response.hints),
        "stories": response.stories,
        # Copies are grouped when stories were counted, or (many matches) would have been.
        "all_copies_url": url_with("/", params, copies="all")
        if response.stories is not None or (response.total_more and request.collapsed) else None,
        "grouped_url": url_with("/", params, copies=None) if request.all_copies else None,
        # estimated: the counts are a random sample's, scaled up (more than count_limit matched).
        "facets": {"sites": dict(response.sites), "estimated": bool(response.facet_sample),
                   "sample": response.facet_sample},
        "facets_note": sample_note(response.facet_sample) if response.facet_sample else "",
        "coverage": coverage_context(coverage(response, [request.text, *request.compare], request.interval), params),
        "query": {
            "q": request.text,
            "site": list(request.sites),
            "author": list(request.authors),
            "tag": list(request.tags),
            "lang": list(request.languages),
            "since": request.since.isoformat() if request.since else "",
            "until": request.until.isoformat() if request.until else "",
            "edited": request.edited,
            "include_earlier": request.include_earlier,
            "briefs": request.briefs,
            "sort": request.sort,
            "size": request.size,
            "copies": "all" if request.all_copies else "",
            "q2": request.compare[0] if request.compare else "",
            "q3": request.compare[1] if len(request.compare) > 1 else "",
        },
        "showing": {"from": first if response.hits else 0, "to": first + len(response.hits) - 1 if response.hits else 0},
        "pages": {
            "last": last_page,
            "previous": url_with("/", params, page=page - 1) if 1 < page <= last_page else None,
            "next": url_with("/", params, page=page + 1) if page < last_page else None,
        },
        "facet_links": {
            "sites": [
                {"value": site, "count": count, "count_text": response.facet_count_text(count),
                 "selected": site in selected_sites, "url": url_with("/", params, site=site)}
                for site, count in response.sites
            ],
        },
        "links": {
            "json": url_with("/search", params, page=page),
            "export_csv": url_with("/export.csv", params, size=None, bom=1),  # opens in Excel as UTF-8
            "export_json": url_with("/export.json", params, size=None),
            "export_ndjson": url_with("/export.ndjson", params, size=None),
            "coverage_csv": url_with("/coverage.csv", params, page=None, size=None, by=request.interval),
        },
        "known": known,
        "sorts": list(SORTS),
    }


def _hit(hit) -> dict:
    """A hit as the API gives it, plus what the page needs; an earlier version links to its article."""
    data = {**hit.as_dict(), "title_highlight": hit.title_highlight}
    data["archive_page"] = f"/article/{data.get('earlier_version_of') or hit.id}"
    return data


def coverage_context(counted: Coverage, params: Params) -> dict:
    """The chart (search/web/chart.py), its table and the links to change its period."""
    return {
        "interval": counted.interval,
        "series": [{"query": s.query, "total": s.total, "total_text": s.total_text, "number": n}
                   for n, s in enumerate(counted.series, start=1)],
        "note": sample_note(counted.sample) if counted.sample else "",
        "rows": counted.rows(),
        "chart": chart(counted),
        "periods": {i: url_with("/", params, by=i, page=None) for i in INTERVALS},
    }


def coverage_csv(client: Elasticsearch, settings, params: Params) -> tuple[str, str]:
    """(the file name, the CSV) of a search's counts over time, as the page's chart shows them."""
    request, _ = request_from_params(params)
    request = validated(client, settings, request)
    request = with_interval(request, params, date_span(client, settings.elasticsearch.articles_alias))
    # A file of counts holds every match counted, never a sample's estimates.
    request = replace(request, size=1, highlight=False, fields=("url",), all_copies=True,
                      limits=replace(request.limits, facet_sample=0.0))
    counted = coverage(search(client, settings.elasticsearch.articles_alias, request), [request.text, *request.compare],
                       request.interval)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([counted.interval, *(neutralised(s.query or "all articles") for s in counted.series)])
    writer.writerows(counted.rows())
    name = export_filename(request.text, "csv", counted.interval).replace(".csv", "-over-time.csv")
    return name, buffer.getvalue()


def article_context(client: Elasticsearch, settings, key: str, highlight: str | None = None) -> dict | None:
    """The article as the API always returned it (id, then its fields, body included), plus its
    captures, the changes between them, and the raw capture kept in the WARC store; with
    ``highlight`` (the words searched), the body with those words marked."""
    es = settings.elasticsearch
    article = get_article(client, es.articles_alias, key)
    if article is None:
        return None
    history = captures(client, es.versions_alias, article)
    marked = highlighted_body(client, es.articles_alias, article, highlight) if highlight else None
    return {
        **({"body_marked": marked} if marked else {}),
        **article,
        "versions": [
            {"captured_at": c.captured_at, "title": c.title, "content_hash": c.content_hash, "current": c.current}
            for c in history
        ],
        "changes": [
            {"from": e.before.captured_at, "to": e.after.captured_at, "title_changed": e.title_changed,
             "title_before": e.before.title, "title_after": e.after.title, "diff": e.diff,
             "diff_lines": diff_lines(e.diff)}
            for e in changes(history)
        ],
        "raw_capture": raw_capture(read_storage(settings), article),
        "copies": copies_context(copies_of(client, es.articles_alias, article), article["id"]),
        "related": related_stories(client, es.articles_alias, article),
        # Chosen among candidate texts with little support: the page marks it (crawler/scoring.py).
        "low_confidence": article.get("confidence") is not None and article["confidence"] < settings.extraction.low_confidence,
    }


def copies_context(copies: list[dict], article_id: str) -> list[dict]:
    """The story's copies, earliest first, each but the first with what differs from it (empty: no other copy)."""
    if len(copies) < 2:
        return []
    first = copies[0]
    listed = []
    for n, copy in enumerate(copies):
        diff = "" if n == 0 else text_diff(first.get("body", ""), copy.get("body", ""), first.get("url", ""), copy.get("url", ""))
        listed.append({
            "id": copy["id"], "url": copy.get("url"), "site": copy.get("site"), "title": copy.get("title"),
            "published": copy.get("published") or copy.get("display_date"), "first": n == 0, "this": copy["id"] == article_id,
            "title_differs": n > 0 and copy.get("title") != first.get("title"), "diff_lines": diff_lines(diff),
        })
    return listed


def highlighted_body(client: Elasticsearch, alias: str, article: dict, text: str) -> str | None:
    """The whole body with the searched words (and their inflected forms) marked, or None."""
    languages = tuple(filter(None, [article.get("language")]))
    try:
        words = text_query(text, languages)
        extra = highlight_query(text, languages)
    except QuerySyntaxError:  # a query that does not parse highlights nothing
        return None
    if words is None:
        return None
    response = client.search(
        index=alias, size=1, source=False,
        query={"ids": {"values": [article["id"]]}},
        highlight={
            "pre_tags": [MARK_PRE], "post_tags": [MARK_POST], "max_analyzed_offset": 999_999,
            "fields": {"body": {"number_of_fragments": 0}},
            "highlight_query": {"bool": {"should": [words, *([extra] if extra else [])]}},
        },
    )
    hits = response["hits"]["hits"]
    return (hits[0].get("highlight", {}).get("body") or [None])[0] if hits else None


def diff_lines(diff: str) -> list[dict]:
    """A unified diff as lines a page can colour: added, removed, unchanged, or a hunk marker."""
    lines = []
    for n, line in enumerate(diff.splitlines()):
        if n < 2 and line.startswith(("--- ", "+++ ")):  # the two file headers, nothing more
            continue
        kind = {"+": "added", "-": "removed", "@": "hunk"}.get(line[:1], "same")
        lines.append({"kind": kind, "text": line[1:] if kind in ("added", "removed", "same") else line})
    return lines


def raw_capture(storage: WarcStorage, article: dict) -> dict:
    """Where the page as fetched is kept (WARC file and offset) and the WARC record's date, read
    by offset from the WARC storage (a folder, or an S3 bucket: one Range GET)."""
    warc_file, offset = article.get("warc_file"), article.get("warc_offset")
    if not warc_file or offset is None:
        return {"warc_file": None, "warc_offset": None, "date": None, "note": "no raw capture recorded for this article"}
    info = {"warc_file": warc_file, "warc_offset": offset, "date": None, "note": ""}
    try:
        from warcio.archiveiterator import ArchiveIterator

        with storage.open(warc_file, int(offset)) as stream:
            record = next(iter(ArchiveIterator(stream)))
            info["date"] = record.rec_headers.get_header("WARC-Date")
            info["target"] = record.rec_headers.get_header("WARC-Target-URI")
    except FileNotFoundError:
        info["note"] = f"the WARC file is not in {storage.where} ({warc_file})"
    except Exception as exc:  # noqa: BLE001 (a damaged WARC must not break the article page)
        info["note"] = f"the WARC record could not be read: {type(exc).__name__}: {exc}"
    return info
