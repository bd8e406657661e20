"""Saved searches that watch the archive: what is new on a journalist's beat since the last check.

A saved search and the articles it has reported live in one index behind an alias
(``settings.elasticsearch.alerts_alias``, definition ``definitions/saved-searches.json``):

    search:<key>               the saved search (query, filters, owner, created_at,
                               last_checked_at, last_delivery, its recipients, webhook, feed token)
    match:<key>:<article id>   one article the search reported (the "seen" mark, and a feed entry)

The key is `<owner>/<name>`: each journalist names their searches as they like, and two may
use the same name. A search without an owner (saved before searches had owners, or by the
operator without --owner) has the key `<name>` and belongs to the admins until
`archive alerts migrate --owner USER` gives it one. The owner is a plain field of the document.

Feed readers cannot sign in, so each saved search has a secret feed token: its feed is
/feeds/<token>.atom, without a session; rotating the token stops the old address.

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
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from elasticsearch import ConflictError, Elasticsearch, NotFoundError, helpers

from archive.config import ElasticsearchSettings
from archive.redact import safe_url, shorten_urls
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


EMAIL = re.compile(r"[^@\s,<>]+@[^@\s,<>]+\.[^@\s,<>]+")
MAX_RECIPIENTS = 20


def check_recipients(email_to: tuple[str, ...], webhook: str) -> None:
    """A saved search's own recipients and webhook, refused with a reason when unusable."""
    from urllib.parse import urlsplit

    for address in email_to:
        if len(address) > 254 or not EMAIL.fullmatch(address):
            raise AlertError(f"{address[:100]!r} is not an e-mail address")
    if len(email_to) > MAX_RECIPIENTS:
        raise AlertError(f"at most {MAX_RECIPIENTS} more recipients per saved search")
    if webhook and (urlsplit(webhook).scheme not in ("http", "https") or not urlsplit(webhook).hostname or len(webhook) > 2048):
        raise AlertError(f"the webhook must be an http(s) URL, not {webhook[:100]!r}")


def new_feed_token() -> str:
    return secrets.token_urlsafe(24)


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
    owner: str | None = None  # the Elasticsearch user who saved it; None: the admins'
    owner_email: str | None = None  # the owner's e-mail when it was saved (their Elasticsearch user's)
    email_to: tuple[str, ...] = ()  # more recipients of its alert mail
    webhook_url: str = ""  # its own webhook (a desk's chat channel); else the global one
    feed_token: str = field(default="", repr=False)  # the secret of its feed address

    @property
    def key(self) -> str:
        return f"{self.owner}/{self.name}" if self.owner else self.name

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
            "owner": self.owner,
            "owner_email": self.owner_email,
            "email_to": list(self.email_to),
            "webhook_url": safe_url(self.webhook_url) if self.webhook_url else "",
        }

    def document(self) -> dict:
        """As stored: with the feed token and the whole webhook URL (as_dict shows neither: the
        token only as feed_url, the webhook by scheme, host and port)."""
        return {"kind": "search", **self.as_dict(), "last_delivery": self.last_delivery,
                "webhook_url": self.webhook_url, "feed_token": self.feed_token}

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
            owner=source.get("owner") or None,
            owner_email=source.get("owner_email") or None,
            email_to=tuple(source.get("email_to") or ()),
            webhook_url=source.get("webhook_url") or "",
            feed_token=source.get("feed_token") or "",
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
        search = replace(search, created_at=search.created_at or utcnow(), last_checked_at=None,
                         feed_token=search.feed_token or new_feed_token())
        try:
            self.client.create(index=self.alias, id=f"search:{search.key}", document=search.document(), refresh="wait_for")
        except ConflictError:
            whose = f" of {search.owner}" if search.owner else ""
            raise AlertError(f"a saved search{whose} named {search.name!r} exists already: remove it first or pick another name") from None
        return search

    def get(self, name: str, owner: str | None = None) -> SavedSearch | None:
        key = f"{owner}/{name}" if owner else name
        try:
            return SavedSearch.from_source(self.client.get(index=self.alias, id=f"search:{key}")["_source"])
        except NotFoundError:
            return None

    def require(self, name: str, owner: str | None = None) -> SavedSearch:
        search = self.get(name, owner)
        if search is None:
            known = ", ".join(s.name for s in self.list(owner=owner, ownerless=owner is None)) or "none saved yet"
            raise AlertError(f"no saved search named {name!r} (saved: {known})")
        return search

    def list(self, owner: str | None = None, ownerless: bool = False) -> list[SavedSearch]:
        """Every saved search; or one owner's (owner=...); or those without an owner (ownerless=True)."""
        query: dict = {"bool": {"filter": [{"term": {"kind": "search"}}]}}
        if owner:
            query["bool"]["filter"].append({"term": {"owner": owner}})
        elif ownerless:
            query["bool"]["must_not"] = [{"exists": {"field": "owner"}}]
        try:
            response = self.client.search(index=self.alias, query=query, sort=[{"name": "asc"}], size=1000)
        except NotFoundError:
            return []
        return [SavedSearch.from_source(h["_source"]) for h in response["hits"]["hits"]]

    def by_feed_token(self, token: str) -> SavedSearch | None:
        if not token:
            return None
        try:
            response = self.client.search(index=self.alias, size=2, query={"bool": {"filter": [
                {"term": {"kind": "search"}}, {"term": {"feed_token": token}}]}})
        except NotFoundError:
            return None
        hits = response["hits"]["hits"]
        return SavedSearch.from_source(hits[0]["_source"]) if len(hits) == 1 else None

    def rotate_feed(self, search: SavedSearch) -> SavedSearch:
        """A new feed address; the old one stops at once."""
        rotated = replace(search, feed_token=new_feed_token())
        self.client.update(index=self.alias, id=f"search:{search.key}", doc={"feed_token": rotated.feed_token}, refresh="wait_for")
        return rotated

    def remove(self, name: str, owner: str | None = None) -> int:
        """Delete the saved search and its reported matches; returns how many matches went with it."""
        key = self.require(name, owner).key
        ids = self._match_ids(key)
        helpers.bulk(self.client, ({"_op_type": "delete", "_index": self.alias, "_id": i} for i in ids), raise_on_error=False)
        self.client.delete(index=self.alias, id=f"search:{key}", refresh="wait_for")
        return len(ids)

    def _match_ids(self, key: str) -> list[str]:
        # scan, then bulk: the development node has no delete_by_query (reindex module).
        return [h["_id"] for h in helpers.scan(self.client, index=self.alias, query={"query": {"bool": {"filter": [
            {"term": {"kind": "match"}}, {"term": {"name": key}}]}}}, _source=False)]

    def migrate(self, owner: str, owner_email: str | None = None) -> tuple[list[str], list[str]]:
        """Give every saved search without an owner to `owner`, with what it reported; returns
        (moved names, names left because the owner already has a search of that name)."""
        from search.indices import ALERTS_DEFINITION, load_definition

        # An index made before saved searches had owners lacks these fields' mapping.
        self.client.indices.put_mapping(index=self.alias, properties=load_definition(ALERTS_DEFINITION)["mappings"]["properties"])
        moved, kept = [], []
        for search in self.list(ownerless=True):
            owned = replace(search, owner=owner, owner_email=search.owner_email or owner_email,
                            feed_token=search.feed_token or new_feed_token())
            try:
                self.client.create(index=self.alias, id=f"search:{owned.key}", document=owned.document(), refresh="wait_for")
            except ConflictError:
                kept.append(search.name)
                continue
            old_ids = self._match_ids(search.key)
            copies = ({"_op_type": "create", "_index": self.alias, "_id": f"match:{owned.key}:{d['_source']['article_id']}",
                       "_source": {**d["_source"], "name": owned.key}}
                      for d in helpers.scan(self.client, index=self.alias, query={"query": {"bool": {"filter": [
                          {"term": {"kind": "match"}}, {"term": {"name": search.key}}]}}}))
            helpers.bulk(self.client, copies, raise_on_error=False, refresh="wait_for")
            helpers.bulk(self.client, ({"_op_type": "delete", "_index": self.alias, "_id": i} for i in old_ids), raise_on_error=False)
            self.client.delete(index=self.alias, id=f"search:{search.key}", refresh="wait_for")
            moved.append(search.name)
        return moved, kept

    def matches(self, name: str, limit: int = 50, owner: str | None = None) -> list[Match]:
        """What the search reported, newest first (the feed's entries)."""
        key = f"{owner}/{name}" if owner else name
        try:
            response = self.client.search(
                index=self.alias,
                query={"bool": {"filter": [{"term": {"kind": "match"}}, {"term": {"name": key}}]}},
                sort=[{"matched_at": "desc"}, {"first_seen": {"order": "desc", "missing": "_last"}}],
                size=limit,
            )
        except NotFoundError:
            return []
        return [_match_from_source(h["_source"]) for h in response["hits"]["hits"]]

    def record_delivery(self, search: SavedSearch, delivery: dict) -> None:
        # Replaced whole, never merged (a partial update merges objects): a failure must not keep
        # the last success's "status": 200. The node may have no scripting module: get, then index.
        found = self.client.get(index=self.alias, id=f"search:{search.key}")
        self.client.index(index=self.alias, id=f"search:{search.key}", document={**found["_source"], "last_delivery": delivery},
                          if_seq_no=found["_seq_no"], if_primary_term=found["_primary_term"], refresh="wait_for")

    # --- checking ---------------------------------------------------------------------------

    def check(self, search: SavedSearch, now: str | None = None) -> CheckResult:
        """Report (and mark as seen) what is new for the search since it was saved."""
        now = now or utcnow()
        # A check right after a crawl must see its last batch, and the earlier versions it kept.
        self.client.indices.refresh(index=f"{self.articles},{self.versions}", ignore_unavailable=True)
        new: list[Match] = []
        for batch in self._candidates(search):
            seen = self._seen(search.key, [h.id for h in batch])
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
                    self.client.create(index=self.alias, id=f"match:{search.key}:{hit.id}", document={"kind": "match", "name": search.key, **_match_source(match)})
                except ConflictError:  # another process reported it a moment ago
                    continue
                new.append(match)
        self.client.update(index=self.alias, id=f"search:{search.key}", doc={"last_checked_at": now}, refresh="wait_for")
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
