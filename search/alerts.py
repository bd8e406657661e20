"""Saved searches that watch the archive: what is new on a journalist's beat since the last check.

A saved search and the articles it has reported live in one index behind an alias
(``settings.elasticsearch.alerts_alias``, definition ``definitions/saved-searches.json``):

    search:<name>              the saved search (query, filters, created_at, last_checked_at,
                               last_delivery)
    match:<name>:<article id>  one article the search reported (the "seen" mark, and a feed entry)

"New" for a check means an article that matches now, was not reported before (the match
document is created with op_type=create, so an article is never reported twice), and either
was first archived after the search was saved, or was already there, changed after the search
was saved, and its text at save time did not match (reported once, as "edited"). An article
archived late (e.g. spooled while Elasticsearch was down) is reported late rather than lost,
which a strict "first_seen after the last check" window would do.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from elasticsearch import ConflictError, Elasticsearch, NotFoundError, helpers

from archive.config import ElasticsearchSettings
from archive.redact import shorten_urls
from search.query import SearchRequest, build_search_body, parse_response, unmarked

logger = logging.getLogger(__name__)

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
NEW, EDITED = "new", "edited"


class AlertError(ValueError):
    """A saved search cannot be added, found or checked as asked; the message says why."""


def utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def delivery_shown(delivery: dict) -> dict:
    """A delivery record whose messages name endpoints by scheme, host and port only: a webhook
    URL is a secret, also in records written before its errors were redacted."""
    return {
        channel: {k: shorten_urls(v) if isinstance(v, str) else v for k, v in status.items()} if isinstance(status, dict) else status
        for channel, status in (delivery or {}).items()
    }


@dataclass(frozen=True)
class SavedSearch:
    name: str
    query: str
    sites: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    created_at: str = ""
    last_checked_at: str | None = None
    last_delivery: dict = field(default_factory=dict)

    def request(self, **changes) -> SearchRequest:
        return SearchRequest(
            text=self.query, sites=self.sites, authors=self.authors, tags=self.tags, languages=self.languages, **changes
        )

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "query": self.query,
            "sites": list(self.sites),
            "authors": list(self.authors),
            "tags": list(self.tags),
            "languages": list(self.languages),
            "created_at": self.created_at,
            "last_checked_at": self.last_checked_at,
            "last_delivery": delivery_shown(self.last_delivery),
        }

    @classmethod
    def from_source(cls, source: dict) -> "SavedSearch":
        return cls(
            name=source["name"],
            query=source.get("query", ""),
            sites=tuple(source.get("sites") or ()),
            authors=tuple(source.get("authors") or ()),
            tags=tuple(source.get("tags") or ()),
            languages=tuple(source.get("languages") or ()),
            created_at=source.get("created_at", ""),
            last_checked_at=source.get("last_checked_at"),
            last_delivery=source.get("last_delivery") or {},
        )


@dataclass(frozen=True)
class Match:
    article_id: str
    url: str
    title: str
    site: str
    published: str | None
    first_seen: str | None
    snippet: str  # with the highlight markers of search.query (MARK_PRE/MARK_POST)
    change: str  # NEW or EDITED
    matched_at: str

    @property
    def plain_snippet(self) -> str:
        return unmarked(self.snippet)

    def as_dict(self) -> dict:
        return {
            "article_id": self.article_id,
            "url": self.url,
            "title": self.title,
            "site": self.site,
            "published": self.published,
            "first_seen": self.first_seen,
            "snippet": self.plain_snippet,
            "change": self.change,
            "matched_at": self.matched_at,
        }


@dataclass
class CheckResult:
    search: SavedSearch
    new: list[Match]
    delivery: dict = field(default_factory=dict)


class AlertStore:
    def __init__(self, client: Elasticsearch, settings: ElasticsearchSettings):
        self.client = client
        self.alias = settings.alerts_alias
        self.articles = settings.articles_alias
        self.versions = settings.versions_alias

    # --- saved searches -------------------------------------------------------------------

    def add(self, search: SavedSearch) -> SavedSearch:
        if not NAME_PATTERN.match(search.name):
            raise AlertError(
                f"name {search.name!r}: use up to 64 lowercase letters, digits, '-' or '_' (it becomes the feed's URL)"
            )
        build_search_body(search.request())  # refuses a query that cannot be read, before it is saved
        search = replace(search, created_at=search.created_at or utcnow(), last_checked_at=None)
        try:
            self.client.create(index=self.alias, id=f"search:{search.name}", document={"kind": "search", **search.as_dict()}, refresh="wait_for")
        except ConflictError:
            raise AlertError(f"a saved search named {search.name!r} exists already: remove it first or pick another name") from None
        return search

    def get(self, name: str) -> SavedSearch | None:
        try:
            return SavedSearch.from_source(self.client.get(index=self.alias, id=f"search:{name}")["_source"])
        except NotFoundError:
            return None

    def require(self, name: str) -> SavedSearch:
        search = self.get(name)
        if search is None:
            known = ", ".join(s.name for s in self.list()) or "none saved yet"
            raise AlertError(f"no saved search named {name!r} (saved: {known})")
        return search

    def list(self) -> list[SavedSearch]:
        try:
            response = self.client.search(index=self.alias, query={"term": {"kind": "search"}}, sort=[{"name": "asc"}], size=1000)
        except NotFoundError:
            return []
        return [SavedSearch.from_source(h["_source"]) for h in response["hits"]["hits"]]

    def remove(self, name: str) -> int:
        """Delete the saved search and its reported matches; returns how many matches went with it."""
        self.require(name)
        # scan + bulk delete: the development node has no delete_by_query (reindex module).
        ids = [h["_id"] for h in helpers.scan(self.client, index=self.alias, query={"query": {"bool": {"filter": [
            {"term": {"kind": "match"}}, {"term": {"name": name}}]}}}, _source=False)]
        helpers.bulk(self.client, ({"_op_type": "delete", "_index": self.alias, "_id": i} for i in ids), raise_on_error=False)
        self.client.delete(index=self.alias, id=f"search:{name}", refresh="wait_for")
        return len(ids)

    def matches(self, name: str, limit: int = 50) -> list[Match]:
        """What the search reported, newest first (the feed's entries)."""
        try:
            response = self.client.search(
                index=self.alias,
                query={"bool": {"filter": [{"term": {"kind": "match"}}, {"term": {"name": name}}]}},
                sort=[{"matched_at": "desc"}, {"first_seen": {"order": "desc", "missing": "_last"}}],
                size=limit,
            )
        except NotFoundError:
            return []
        return [_match_from_source(h["_source"]) for h in response["hits"]["hits"]]

    def record_delivery(self, name: str, delivery: dict) -> None:
        # Replaced whole, never merged (a partial update merges objects): a failure must not keep
        # the last success's "status": 200. The node may have no scripting module: get, then index.
        found = self.client.get(index=self.alias, id=f"search:{name}")
        self.client.index(index=self.alias, id=f"search:{name}", document={**found["_source"], "last_delivery": delivery},
                          if_seq_no=found["_seq_no"], if_primary_term=found["_primary_term"], refresh="wait_for")

    # --- checking ---------------------------------------------------------------------------

    def check(self, search: SavedSearch, now: str | None = None) -> CheckResult:
        """Report (and mark as seen) what is new for the search since it was saved."""
        now = now or utcnow()
        # A check right after a crawl must see its last batch, and the earlier versions it kept.
        self.client.indices.refresh(index=f"{self.articles},{self.versions}", ignore_unavailable=True)
        new: list[Match] = []
        for batch in self._candidates(search):
            seen = self._seen(search.name, [h.id for h in batch])
            for hit in batch:
                if hit.id in seen:
                    continue
                change = self._change(search, hit)
                if change is None:
                    continue
                match = Match(
                    article_id=hit.id,
                    url=hit.url,
                    title=hit.title,
                    site=hit.site,
                    published=hit.published,
                    first_seen=hit.source.get("first_seen"),
                    snippet=(hit.snippets or [hit.source.get("description") or ""])[0],
                    change=change,
                    matched_at=now,
                )
                try:
                    self.client.create(index=self.alias, id=f"match:{search.name}:{hit.id}", document={"kind": "match", "name": search.name, **_match_source(match)})
                except ConflictError:  # another process reported it a moment ago
                    continue
                new.append(match)
        self.client.update(index=self.alias, id=f"search:{search.name}", doc={"last_checked_at": now}, refresh="wait_for")
        return CheckResult(search=replace(search, last_checked_at=now), new=new)

    def _candidates(self, search: SavedSearch):
        """Hits of the search archived or changed after it was saved, in pages of 500."""
        since = {"gt": search.created_at}
        changed_since = {"bool": {"should": [
            {"range": {"first_seen": since}},
            {"bool": {"filter": [{"term": {"edited": True}}, {"range": {"crawled_at": since}}]}},
        ], "minimum_should_match": 1}}
        request = search.request(sort="oldest", size=500, facets=False)
        after = None
        while True:
            body = build_search_body(replace(request, search_after=after))
            body["query"] = {"bool": {"must": [body["query"]], "filter": [changed_since]}}
            body["_source"] = {"excludes": ["body", "url_variants"]}
            response = parse_response(self.client.search(index=self.articles, body=body))
            if response.hits:
                yield response.hits
            if len(response.hits) < request.size:
                return
            after = tuple(response.next_search_after)

    def _seen(self, name: str, ids: list[str]) -> set[str]:
        docs = self.client.mget(index=self.alias, ids=[f"match:{name}:{i}" for i in ids], source=False)["docs"]
        return {i for i, d in zip(ids, docs) if d.get("found")}

    def _change(self, search: SavedSearch, hit) -> str | None:
        first_seen = hit.source.get("first_seen") or ""
        edited = bool(hit.source.get("edited"))
        if _after(first_seen, search.created_at):
            if edited and search.last_checked_at and not _after(first_seen, search.last_checked_at):
                return EDITED  # archived earlier without matching; an edit made it match
            return NEW
        # Already archived when the search was saved: it counts only if its text then did not match.
        return None if self._matched_when_saved(search, hit.id) else EDITED

    def _matched_when_saved(self, search: SavedSearch, article_id: str) -> bool:
        try:
            response = self.client.search(
                index=self.versions,
                query={"bool": {"filter": [{"term": {"article_id": article_id}}, {"range": {"captured_at": {"lte": search.created_at}}}]}},
                sort=[{"captured_at": "desc"}],
                size=1,
                source=False,
            )
        except NotFoundError:
            return False
        hits = response["hits"]["hits"]
        if not hits:
            return False
        # Versions keep the text, site and authors, not tags or language: compare on what they keep.
        body = build_search_body(SearchRequest(text=search.query, sites=search.sites, authors=search.authors, facets=False, highlight=False))
        query = {"bool": {"must": [body["query"]], "filter": [{"ids": {"values": [hits[0]["_id"]]}}]}}
        return self.client.count(index=self.versions, query=query)["count"] > 0


def _after(moment: str, reference: str) -> bool:
    """moment > reference, for ISO 8601 times with offsets (compared as instants)."""
    if not moment or not reference:
        return False
    return _instant(moment) > _instant(reference)


def _instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _match_source(match: Match) -> dict:
    return {
        "article_id": match.article_id,
        "url": match.url,
        "title": match.title,
        "site": match.site,
        "published": match.published,
        "first_seen": match.first_seen,
        "snippet": match.snippet,
        "change": match.change,
        "matched_at": match.matched_at,
    }


def _match_from_source(source: dict) -> Match:
    return Match(**{k: source.get(k) for k in Match.__dataclass_fields__})
