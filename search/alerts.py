"""Saved searches that watch the archive: what is new on a journalist's beat.

A saved search and what it reported live in one index behind an alias
(``settings.elasticsearch.alerts_alias``, definition ``definitions/saved-searches.json``):

    checked:all                    when `alerts check` last ran for every saved search
    search:<key>                   the saved search: its query, filters, owner, recipients, webhook,
                                   feed token and the query compiled for Elasticsearch (what
                                   `archive search` runs, stems included)
    match:<key>:<article id>       one article the search reported, and its delivery (the outbox
                                   entry: search/outbox.py)
    match:<key>:<article>:<hash>   one change of a followed article
    pending:<uuid>                 a batch the writer stored and has not yet matched (written in the
                                   same bulk request as the articles; see search/alert_matching.py)

The key is `<owner>/<name>`: each journalist names their searches as they like, and two may
use the same name. A search without an owner (saved before searches had owners, or by the
operator without --owner) has the key `<name>` and belongs to the admins until
`archive alerts migrate --owner USER` gives it one. Match entries carry the key in `name` and
the owner in `owner`.

Feed readers cannot sign in, so each saved search has a secret feed token: its feed is
/feeds/<token>.atom, without a session; rotating the token stops the old address.

Stored articles are matched against every saved search at once (search/alert_matching.py: a
crawl's batches by the next delivery round), not by re-running every saved search after a crawl. "New" means stored after the search was saved; "edited" means
an article that did not match before and matches after an edit. Each article is reported once,
ever, per saved search: the match document is created with op_type=create.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

from elasticsearch import ApiError, ConflictError, Elasticsearch, NotFoundError

from archive.config import ElasticsearchSettings
from archive.redact import safe_url, shorten_urls
from search.query import SearchRequest, build_search_body, unmarked

logger = logging.getLogger(__name__)

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")  # matched whole (fullmatch): no trailing newline
NEW, EDITED, CHANGED, FIRST = "new", "edited", "changed", "first appearance"
# What a match entry's delivery is: waiting (or retrying), done, or given up after alerts.retry_hours.
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
LEASE = timedelta(minutes=5)  # a claimed entry is another round's again after this (its sender died)
# Bump when the query language compiles saved searches differently: `archive index migrate`
# recompiles them, and the matcher recompiles any compiled with another version.
COMPILED_WITH = 1
CHECKED_ALL = "checked:all"  # when `alerts check` last ran for every saved search
MATCH_FIELDS = ("url", "title", "site", "published", "first_seen", "edited", "description", "content_hash", "language")


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
        raise AlertError(f"the webhook must be an http(s) URL, not {safe_url(webhook)[:100]!r}")


def new_feed_token() -> str:
    return secrets.token_urlsafe(24)


def search_key(name: str, owner: str | None) -> str:
    return f"{owner}/{name}" if owner else name


@dataclass(frozen=True)
class SavedSearch:
    name: str
    query: str = ""
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
    follows: str | None = None  # an article id: report each change of that article
    first_appearance: bool = False  # report only the first article that matches, then stay quiet
    quiet: bool = False  # a first-appearance search that has reported
    digest_hour: int | None = None  # None: deliver at once; else one digest a day at this hour (UTC)
    error: dict = field(default_factory=dict)  # the last error Elasticsearch gave for its query
    compiled: dict = field(default_factory=dict)  # query and highlight, as build_search_body makes them
    compiled_with: int = 0

    @property
    def key(self) -> str:
        return search_key(self.name, self.owner)

    @property
    def doc_id(self) -> str:
        return f"search:{self.key}"

    def request(self, **changes) -> SearchRequest:
        return SearchRequest(
            text=self.query, sites=self.sites, authors=self.authors, tags=self.tags, languages=self.languages, **changes
        )

    def compile(self) -> "SavedSearch":
        """With the query Elasticsearch runs for it: the search's own query and highlight."""
        if self.follows:
            return replace(self, compiled={}, compiled_with=COMPILED_WITH)
        body = build_search_body(self.request(facets=False, size=1))
        compiled = {"query": body["query"]}
        if "highlight" in body:
            compiled["highlight"] = body["highlight"]
        return replace(self, compiled=compiled, compiled_with=COMPILED_WITH)

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
            "follows": self.follows,
            "first_appearance": self.first_appearance,
            "quiet": self.quiet,
            "digest_hour": self.digest_hour,
            "error": self.error,
        }

    def as_source(self) -> dict:
        """As stored: with the feed token and the whole webhook URL (as_dict shows neither: the
        token only as feed_url, the webhook by scheme, host and port)."""
        return {"kind": "search", **self.as_dict(), "last_delivery": self.last_delivery, "webhook_url": self.webhook_url,
                "feed_token": self.feed_token, "compiled": self.compiled, "compiled_with": self.compiled_with}

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
            follows=source.get("follows"),
            first_appearance=bool(source.get("first_appearance")),
            quiet=bool(source.get("quiet")),
            digest_hour=source.get("digest_hour"),
            error=source.get("error") or {},
            compiled=source.get("compiled") or {},
            compiled_with=int(source.get("compiled_with") or 0),
        )


@dataclass(frozen=True)
class Match:
    """One article a saved search reported (or one change of a followed article), with its delivery."""

    article_id: str
    url: str
    title: str
    site: str
    published: str | None
    first_seen: str | None
    snippet: str  # with the highlight markers of search.query (MARK_PRE/MARK_POST)
    change: str  # NEW, EDITED, CHANGED (a followed article) or FIRST
    matched_at: str
    state: str = DELIVERED  # entries stored before the outbox existed were delivered when found
    delivery: dict = field(default_factory=dict)  # channel -> {ok, attempts, at, error}
    diff: dict = field(default_factory=dict)  # CHANGED: title_before, title_after, removed, added
    delivered_at: str | None = None
    next_attempt_at: str | None = None

    @property
    def plain_snippet(self) -> str:
        return unmarked(self.snippet or "")

    @property
    def delivery_status(self) -> str:
        """'delivered', 'feed only', 'waiting', 'retrying at ... (webhook: ...)', 'FAILED (...)'."""
        failing = "; ".join(f"{ch}: {st.get('error')}" for ch, st in self.delivery.items() if not st.get("ok"))
        if self.state == DELIVERED:
            return "delivered" if self.delivery else "feed only"
        if self.state == FAILED:
            return f"FAILED ({failing})"
        if not failing:
            return f"waiting (due {(self.next_attempt_at or '')[:16].replace('T', ' ')})"
        return f"retrying at {(self.next_attempt_at or '')[:16].replace('T', ' ')} ({failing})"

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
            "state": self.state,
            "delivery": self.delivery,
            "delivered_at": self.delivered_at,
            "next_attempt_at": self.next_attempt_at,
            "delivery_status": self.delivery_status,
            **({"diff": self.diff} if self.diff else {}),
        }


@dataclass
class CheckResult:
    """What `alerts check` tells about one saved search: its matches since the last check."""

    search: SavedSearch
    new: list[Match]
    since: str | None = None
    last: Match | None = None  # the latest match ever, for "nothing new since ...; last reported: ..."
    delivery: dict = field(default_factory=dict)


class AlertStore:
    def __init__(self, client: Elasticsearch, settings: ElasticsearchSettings):
        self.client = client
        self.alias = settings.alerts_alias
        self.articles = settings.articles_alias
        self.versions = settings.versions_alias

    # --- saved searches -------------------------------------------------------------------

    def add(self, search: SavedSearch) -> SavedSearch:
        if not NAME_PATTERN.fullmatch(search.name):
            raise AlertError(
                f"name {search.name!r}: use up to 64 lowercase letters, digits, '-' or '_' (it becomes the feed's URL)"
            )
        if search.digest_hour is not None and not 0 <= search.digest_hour <= 23:
            raise AlertError(f"digest hour {search.digest_hour}: give an hour from 0 to 23 (UTC)")
        search = search.compile()  # refuses a query that cannot be read, before it is saved
        if not search.follows:
            existing = self._validate(search)
            if search.first_appearance and existing:
                raise AlertError(
                    f"{search.query!r} already appears in {existing} archived article{'s' if existing != 1 else ''}: "
                    "a first-appearance search would never report; save it as an ordinary search instead"
                )
        search = replace(search, created_at=search.created_at or utcnow(), last_checked_at=None,
                         feed_token=search.feed_token or new_feed_token())
        try:
            self.client.create(index=self.alias, id=search.doc_id, document=search.as_source(), refresh="wait_for")
        except ConflictError:
            whose = f" of {search.owner}" if search.owner else ""
            raise AlertError(f"a saved search{whose} named {search.name!r} exists already: remove it first or pick another name") from None
        return search

    def _validate(self, search: SavedSearch) -> int:
        """Run the query once as the matcher will: a query Elasticsearch refuses (a slop past its
        limit, too many clauses) is refused now, with its reason, not stored to fail later.
        Returns how many archived articles match it now."""
        try:
            return int(self.client.count(index=self.articles, query=search.compiled["query"])["count"])
        except NotFoundError:
            return 0  # nothing archived yet
        except ApiError as exc:
            raise AlertError(f"Elasticsearch refuses this query, so it cannot be saved: {es_reason(exc)}") from None

    def follow(self, article_id: str, name: str = "", owner: str | None = None, owner_email: str | None = None) -> SavedSearch:
        """Report each change of one article (its headline and changed paragraphs)."""
        try:
            article = self.client.get(index=self.articles, id=article_id, source_includes=["title", "url"])["_source"]
        except NotFoundError:
            raise AlertError(f"no archived article {article_id!r}: give the URL (or id) of an archived article") from None
        name = name or f"follow-{article_id[:12].lower()}"
        existing = self.get(name, owner)
        if existing is not None and existing.follows == article_id:
            return existing
        return self.add(SavedSearch(name=name, query=f"changes of {article.get('title') or article.get('url')}"[:200],
                                    follows=article_id, owner=owner, owner_email=owner_email))

    def get(self, name: str, owner: str | None = None) -> SavedSearch | None:
        try:
            search = SavedSearch.from_source(self.client.get(index=self.alias, id=f"search:{search_key(name, owner)}")["_source"])
        except NotFoundError:
            return None
        return self._with_check_of_all([search])[0]

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
            response = self.client.search(index=self.alias, query=query, sort=[{"name": "asc"}],
                                          size=10_000, source_excludes=["compiled"])
        except NotFoundError:
            return []
        return self._with_check_of_all([SavedSearch.from_source(h["_source"]) for h in response["hits"]["hits"]])

    def by_feed_token(self, token: str) -> SavedSearch | None:
        if not token:
            return None
        try:
            response = self.client.search(index=self.alias, size=2, source_excludes=["compiled"], query={"bool": {"filter": [
                {"term": {"kind": "search"}}, {"term": {"feed_token": token}}]}})
        except NotFoundError:
            return None
        hits = response["hits"]["hits"]
        return SavedSearch.from_source(hits[0]["_source"]) if len(hits) == 1 else None

    def rotate_feed(self, search: SavedSearch) -> SavedSearch:
        """A new feed address; the old one stops at once."""
        rotated = replace(search, feed_token=new_feed_token())
        self.client.update(index=self.alias, id=search.doc_id, doc={"feed_token": rotated.feed_token}, refresh="wait_for")
        return rotated

    def _with_check_of_all(self, searches: list[SavedSearch]) -> list[SavedSearch]:
        """A check of every search is kept once (CHECKED_ALL), not on each: each search's last
        check is the later of its own and that one."""
        try:
            everything = self.client.get(index=self.alias, id=CHECKED_ALL)["_source"].get("last_checked_at")
        except NotFoundError:
            return searches
        return [s if s.last_checked_at and _instant(s.last_checked_at) >= _instant(everything) else replace(s, last_checked_at=everything)
                for s in searches]

    def failed_deliveries(self) -> dict[str, int]:
        """Saved search key -> matches whose delivery was given up (shown in list, page, status)."""
        try:
            response = self.client.search(index=self.alias, size=0, query={"bool": {"filter": [
                {"term": {"kind": "match"}}, {"term": {"state": FAILED}}]}},
                aggs={"names": {"terms": {"field": "name", "size": 10_000}}})
        except NotFoundError:
            return {}
        return {b["key"]: b["doc_count"] for b in response["aggregations"]["names"]["buckets"]}

    def problems(self) -> list[str]:
        """One line per saved search that needs a person: its query refused, deliveries given up."""
        failed = self.failed_deliveries()
        lines = []
        for search in self.list():
            if search.error.get("message"):
                lines.append(f"saved search {search.key}: Elasticsearch refuses its query: {search.error['message']}")
            if failed.get(search.key):
                whose = f" --owner {search.owner}" if search.owner else ""
                lines.append(f"saved search {search.key}: {failed[search.key]} match(es) not delivered after retries "
                             f"(`archive alerts show {search.name}{whose}`)")
        return lines

    def remove(self, name: str, owner: str | None = None) -> int:
        """Delete the saved search and its reported matches; returns how many matches went with it."""
        from elasticsearch import helpers  # here: it loads the async client, ~0.5 s of a command's start

        search = self.require(name, owner)
        ids = [h["_id"] for h in self._match_hits(search.key, source=False)]
        helpers.bulk(self.client, ({"_op_type": "delete", "_index": self.alias, "_id": i} for i in ids), raise_on_error=False)
        self.client.delete(index=self.alias, id=search.doc_id, refresh="wait_for")
        return len(ids)

    def _match_hits(self, key: str, source: bool = True):
        from elasticsearch import helpers  # here: it loads the async client, ~0.5 s of a command's start

        # scan, then bulk: the development node has no delete_by_query (reindex module).
        return helpers.scan(self.client, index=self.alias, _source=source, query={"query": {"bool": {"filter": [
            {"term": {"kind": "match"}}, {"term": {"name": key}}]}}})

    def migrate(self, owner: str, owner_email: str | None = None) -> tuple[list[str], list[str]]:
        """Give every saved search without an owner to `owner`, with what it reported and what
        waits in the outbox; returns (moved names, names left because the owner already has a
        search of that name)."""
        from elasticsearch import helpers  # here: it loads the async client, ~0.5 s of a command's start

        from search.indices import ensure_alert_fields

        ensure_alert_fields(self.client, self.alias)  # an index made before saved searches had owners
        moved, kept = [], []
        for search in self.list(ownerless=True):
            stored = self.client.get(index=self.alias, id=search.doc_id)["_source"]  # with its compiled query
            owned = replace(SavedSearch.from_source(stored), owner=owner, owner_email=search.owner_email or owner_email,
                            feed_token=search.feed_token or new_feed_token())
            try:
                self.client.create(index=self.alias, id=owned.doc_id, document=owned.as_source(), refresh="wait_for")
            except ConflictError:
                kept.append(search.name)
                continue
            old = list(self._match_hits(search.key))
            prefix = f"match:{search.key}:"
            copies = ({"_op_type": "create", "_index": self.alias, "_id": f"match:{owned.key}:{h['_id'][len(prefix):]}",
                       "_source": {**h["_source"], "name": owned.key, "owner": owner, "search_id": owned.doc_id}} for h in old)
            helpers.bulk(self.client, copies, raise_on_error=False, refresh="wait_for")
            helpers.bulk(self.client, ({"_op_type": "delete", "_index": self.alias, "_id": h["_id"]} for h in old), raise_on_error=False)
            self.client.delete(index=self.alias, id=search.doc_id, refresh="wait_for")
            moved.append(search.name)
        return moved, kept

    def matches(self, name: str, limit: int = 50, since: str | None = None, owner: str | None = None) -> list[Match]:
        """What the search reported, newest first (the feed's entries, `alerts show`)."""
        filters = [{"term": {"kind": "match"}}, {"term": {"name": search_key(name, owner)}}]
        if since:
            filters.append({"range": {"matched_at": {"gt": since}}})
        try:
            response = self.client.search(
                index=self.alias,
                query={"bool": {"filter": filters}},
                sort=[{"matched_at": "desc"}, {"first_seen": {"order": "desc", "missing": "_last"}}],
                size=limit,
            )
        except NotFoundError:
            return []
        return [match_from_source(h["_source"]) for h in response["hits"]["hits"]]

    def record_error(self, search: SavedSearch, message: str | None) -> None:
        """Keep (or clear) the error Elasticsearch gave for the search's query: shown on its page,
        in `alerts list` and `archive status`. Written only when it changes."""
        if (search.error or {}).get("message") == message:
            return
        error = {"message": message, "at": utcnow()} if message else None
        self.client.update(index=self.alias, id=search.doc_id, doc={"error": error})

    def recompile_all(self) -> int:
        """Compile every saved search again (the query language changed): `archive index migrate`."""
        from elasticsearch import helpers  # here: it loads the async client, ~0.5 s of a command's start

        try:
            hits = list(helpers.scan(self.client, index=self.alias, query={"query": {"term": {"kind": "search"}}}))
        except NotFoundError:
            return 0
        updates = []
        for hit in hits:
            search = SavedSearch.from_source(hit["_source"])
            try:
                compiled = search.compile()
            except ValueError as exc:  # the language no longer reads it: say so on the search
                updates.append({"_op_type": "update", "_index": self.alias, "_id": hit["_id"],
                                "doc": {"error": {"message": f"query no longer readable: {exc}", "at": utcnow()}}})
                continue
            updates.append({"_op_type": "update", "_index": self.alias, "_id": hit["_id"],
                            "doc": {"compiled": compiled.compiled, "compiled_with": COMPILED_WITH}})
        helpers.bulk(self.client, updates, raise_on_error=False)
        return len(updates)

    # --- what `alerts check` tells -------------------------------------------------------------

    def check(self, searches: list[SavedSearch], everything: bool = False, now: str | None = None) -> list[CheckResult]:
        """Each search's matches since its last check (found as articles were stored) and its
        latest match; the check time is kept for the next one. A constant number of requests,
        however many searches: `alerts check` answers at once when nothing is new."""
        now = now or utcnow()
        if not searches:
            return []
        since = {s.key: s.last_checked_at or s.created_at for s in searches}
        names = [s.key for s in searches]
        filters = [{"term": {"kind": "match"}}, {"terms": {"name": names}}, {"range": {"matched_at": {"gt": min(since.values())}}}]
        response = self.client.search(
            index=self.alias, query={"bool": {"filter": filters}}, sort=[{"matched_at": "asc"}], size=10_000,
            aggs={"names": {"terms": {"field": "name", "size": len(names)},
                            "aggs": {"latest": {"top_hits": {"size": 1, "sort": [{"matched_at": "desc"}]}}}}},
        )
        new: dict[str, list[Match]] = {n: [] for n in names}
        for hit in response["hits"]["hits"]:
            match = match_from_source(hit["_source"])
            name = hit["_source"]["name"]
            if _instant(match.matched_at) > _instant(since[name]):
                new[name].append(match)
        latest = {b["key"]: match_from_source(b["latest"]["hits"]["hits"][0]["_source"]) for b in response["aggregations"]["names"]["buckets"]}
        missing = [n for n in names if n not in latest]
        if missing:  # no match since the oldest check: find each one's latest match ever
            # Collapsed on the search: one pass for a thousand searches (a top_hits bucket each costs ~3x).
            older = self.client.search(index=self.alias, size=len(missing), query={"bool": {"filter": [
                {"term": {"kind": "match"}}, {"terms": {"name": missing}}]}},
                collapse={"field": "name"}, sort=[{"matched_at": "desc"}], track_total_hits=False)
            latest.update({h["_source"]["name"]: match_from_source(h["_source"]) for h in older["hits"]["hits"]})
        if everything:  # one write, however many searches; read back by a (real-time) get: no refresh needed
            self.client.index(index=self.alias, id=CHECKED_ALL, document={"kind": "checked", "last_checked_at": now})
        else:
            operations = [line for s in searches for line in ({"update": {"_id": s.doc_id}}, {"doc": {"last_checked_at": now}})]
            self.client.bulk(index=self.alias, operations=operations, refresh=True)
        return [CheckResult(search=replace(s, last_checked_at=now), new=new[s.key], since=since[s.key], last=latest.get(s.key))
                for s in searches]


def _instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def es_reason(exc: ApiError) -> str:
    """The root cause Elasticsearch gave, in one line."""
    info = getattr(exc, "info", None) or getattr(exc, "body", None) or {}
    error = info.get("error") if isinstance(info, dict) else None
    if isinstance(error, dict):
        causes = error.get("root_cause") or []
        cause = error.get("caused_by") or (causes[0] if causes else error)
        while isinstance(cause.get("caused_by"), dict):
            cause = cause["caused_by"]
        return f"{cause.get('type', 'error')}: {cause.get('reason', '')}"[:500]
    return str(exc)[:500]


def match_source(match: Match) -> dict:
    return {k: getattr(match, k) for k in Match.__dataclass_fields__}


def match_from_source(source: dict) -> Match:
    values = {k: source.get(k) for k in Match.__dataclass_fields__ if k in source}
    values.setdefault("state", DELIVERED)
    for key in ("delivery", "diff"):
        values[key] = values.get(key) or {}
    for key in ("article_id", "url", "title", "site", "published", "first_seen", "snippet", "change", "matched_at"):
        values.setdefault(key, None)
    return Match(**values)
