"""The per-URL crawl state in Elasticsearch, for crawls on several machines (crawl.state =
"elasticsearch"): the same interface and meaning as the SQLite file in crawler/state.py.

One document per known URL (``kind: page``: doc id, validators, sitemap lastmod, content hash)
and per known-bad URL (``kind: bad``: reason, failures, retry_after), one per site for its listing
walk (``kind: cursor``: frontier, reached_end, walking; crawler/walk.py), in the index behind
``elasticsearch.state_alias`` (search/definitions/crawl-state.json). The id is a hash of the
URL, so a URL is one document however many machines record it.

- ``load_site`` pages through one site's URLs with ``search_after`` (1,000 a request), never
  one huge response.
- ``record``/``touch`` are buffered and written in one bulk request by ``flush``, which the
  pipeline calls after each batch of articles is stored: the order "WARC, then the article, then
  the state" holds. A partial update keeps what an answer did not say (an ETag, a lastmod), as
  the SQLite ``COALESCE`` does; ``first_fetch`` is only set when the URL is new.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from datetime import datetime, timezone

from elasticsearch import ApiError, helpers

from crawler.state import BadUrl, BadUrlPolicy, PageState
from crawler.walk import ListingCursor
from search.client import make_client
from search.indices import ensure_index, replica_count

logger = logging.getLogger(__name__)

STATE_DEFINITION = "crawl-state.json"
PAGE_SIZE = 1000
STARTING_ATTEMPTS = 30  # one a second: how long a starting shard may take to answer
PAGE_FIELDS = ["url", "doc_id", "last_fetch", "etag", "last_modified", "lastmod", "published", "content_hash"]
BAD_FIELDS = ["url", "reason", "detail", "failures", "retry_after"]


def state_id(kind: str, url: str) -> str:
    return f"{kind}-{hashlib.sha256(url.encode('utf-8')).hexdigest()[:40]}"


class StateWriteError(RuntimeError):
    """Elasticsearch refused crawl-state updates (the articles are stored; those URLs are fetched again)."""


class ElasticsearchCrawlState:
    def __init__(self, es_settings, client=None, page_size: int = PAGE_SIZE):
        self.alias = es_settings.state_alias
        self._own_client = client is None
        self.client = client or make_client(es_settings)
        self.page_size = page_size
        self._pending: list[dict] = []
        self._closed = False
        ensure_index(self.client, self.alias, STATE_DEFINITION, replicas=replica_count(self.client, es_settings.replicas))
        # A just-created index answers searches with 503 until its shard has started (two crawls
        # starting at once: one creates it, the other searches it at once).
        self.client.cluster.health(index=self.alias, wait_for_status="yellow", timeout="60s")

    # -- reading, page by page -------------------------------------------------------------------

    def _search(self, **request):
        """A search, asked again while the index's shard is still starting: the health wait above
        can pass before a just-created shard answers searches (a 503 seen on a loaded machine)."""
        for attempt in range(STARTING_ATTEMPTS):
            try:
                return self.client.search(index=self.alias, **request)
            except ApiError as exc:
                if exc.meta.status != 503 or attempt == STARTING_ATTEMPTS - 1:
                    raise
                logger.info("crawl state: %s not searchable yet (503); asking again", self.alias)
                time.sleep(1.0)

    def _scan(self, query: dict, fields: list[str]):
        after = None
        while True:
            response = self._search(query=query, sort=[{"url": "asc"}], size=self.page_size, source=fields,
                                    search_after=after, track_total_hits=False)
            hits = response["hits"]["hits"]
            for hit in hits:
                yield hit["_source"]
            if len(hits) < self.page_size:
                return
            after = hits[-1]["sort"]

    def load_site(self, site: str) -> dict[str, PageState]:
        query = {"bool": {"filter": [{"term": {"kind": "page"}}, {"term": {"site": site}}]}}
        return {doc["url"]: PageState(*(doc.get(f) for f in PAGE_FIELDS)) for doc in self._scan(query, PAGE_FIELDS)}

    def load_bad(self, site: str, now: datetime | None = None) -> dict[str, BadUrl]:
        now = now or datetime.now(timezone.utc)
        query = {"bool": {"filter": [{"term": {"kind": "bad"}}, {"term": {"site": site}},
                                     {"range": {"retry_after": {"gt": now.isoformat(timespec="seconds")}}}]}}
        return {doc["url"]: BadUrl(*(doc.get(f) for f in BAD_FIELDS)) for doc in self._scan(query, BAD_FIELDS)}

    # -- writing, buffered until flush -----------------------------------------------------------

    def record(self, site: str, urls: list[str], doc_id: str | None, fetched_at: str, status: int,
               etag: str | None, last_modified: str | None, lastmod: str | None, published: str | None,
               content_hash: str | None) -> None:
        said = {"etag": etag, "last_modified": last_modified, "lastmod": lastmod, "published": published,
                "content_hash": content_hash}
        for url in urls:
            doc = {"kind": "page", "site": site, "url": url, "doc_id": doc_id, "last_fetch": fetched_at, "status": status,
                   **{k: v for k, v in said.items() if v is not None}}
            self._pending.append({"_op_type": "update", "_index": self.alias, "_id": state_id("page", url), "doc": doc,
                                  "upsert": {**doc, "first_fetch": fetched_at}})

    def touch(self, url: str, fetched_at: str, status: int) -> None:
        """A conditional request answered 304: the page is as we have it (nothing if unknown)."""
        self._pending.append({"_op_type": "update", "_index": self.alias, "_id": state_id("page", url),
                              "doc": {"last_fetch": fetched_at, "status": status}})

    def flush(self) -> None:
        actions, self._pending = self._pending, []
        if not actions:
            return
        failed = []
        for ok, item in helpers.streaming_bulk(self.client, actions, chunk_size=500, raise_on_error=False,
                                               max_retries=3):
            result = item.get("update", {})
            if not ok and result.get("status") != 404:  # 404: a touch of a URL never recorded, as in SQLite
                failed.append(result)
        if failed:
            raise StateWriteError(f"{len(failed)} crawl-state updates refused, e.g. {failed[0].get('error')}")

    def record_bad(self, site: str, url: str, reason: str, detail: str, policy: BadUrlPolicy,
                   now: datetime | None = None) -> BadUrl:
        now = now or datetime.now(timezone.utc)
        doc_id = state_id("bad", url)
        found = self.client.options(ignore_status=404).get(index=self.alias, id=doc_id, source=["failures", "first_seen"])
        known = found.get("_source") if found.get("found") else None
        failures = (known["failures"] if known else 0) + 1
        retry_after = policy.retry_after(failures, now).isoformat(timespec="seconds")
        stamp = now.isoformat(timespec="seconds")
        self.client.index(index=self.alias, id=doc_id, document={
            "kind": "bad", "site": site, "url": url, "reason": reason, "detail": detail, "failures": failures,
            "first_seen": known["first_seen"] if known else stamp, "last_seen": stamp, "retry_after": retry_after})
        return BadUrl(url, reason, detail, failures, retry_after)

    def forget_bad(self, site: str, urls) -> None:
        """These URLs answered properly again."""
        query = {"bool": {"filter": [{"term": {"kind": "bad"}}, {"term": {"site": site}}]}}
        gone = {doc["url"] for doc in self._scan(query, ["url"])}.intersection(urls)
        if gone:
            helpers.bulk(self.client, ({"_op_type": "delete", "_index": self.alias, "_id": state_id("bad", u)} for u in gone),
                         raise_on_error=False)

    # -- the listing walk's cursor, written at once (start_walk must be on record before the walk) --

    def load_cursor(self, site: str) -> ListingCursor:
        found = self.client.options(ignore_status=404).get(index=self.alias, id=state_id("cursor", site))
        if not found.get("found"):
            return ListingCursor()  # never walked with a cursor: no "caught up" until one walk is done
        doc = found["_source"]
        return ListingCursor(frontier=tuple((u, int(d)) for u, d in doc.get("frontier", [])),
                             reached_end=bool(doc.get("reached_end")), interrupted=bool(doc.get("walking")))

    def start_walk(self, site: str) -> None:
        """Said before a walk starts: if the crawl dies, the next run knows this walk never ended."""
        self._write_cursor(site, self.load_cursor(site), walking=True)

    def save_cursor(self, site: str, cursor: ListingCursor) -> None:
        self._write_cursor(site, cursor, walking=False)

    def _write_cursor(self, site: str, cursor: ListingCursor, walking: bool) -> None:
        self.client.index(index=self.alias, id=state_id("cursor", site), refresh="wait_for", document={
            "kind": "cursor", "site": site, "frontier": [list(f) for f in cursor.frontier],
            "reached_end": cursor.reached_end, "walking": walking,
            "updated": datetime.now(timezone.utc).isoformat(timespec="seconds")})

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.flush()
            self.client.indices.refresh(index=self.alias)  # the next crawl, on any machine, sees it all
        finally:
            if self._own_client:
                self.client.close()


def copy_from_sqlite(sqlite_path, state: ElasticsearchCrawlState) -> tuple[int, int, list[dict]]:
    """`archive state migrate`: every row of a SQLite crawl state into Elasticsearch, as it is
    (known pages, known-bad URLs with their back-off, each site's listing cursor). Idempotent: ids are the URLs' hashes, so a
    second copy overwrites the first. Returns (pages copied, bad URLs copied, refusals)."""
    import sqlite3

    db = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    try:
        page_cols = ["url", "site", "doc_id", "first_fetch", "last_fetch", "status", "etag", "last_modified", "lastmod",
                     "published", "content_hash"]
        bad_cols = ["url", "site", "reason", "detail", "failures", "first_seen", "last_seen", "retry_after"]

        def actions():
            for row in db.execute(f"SELECT {', '.join(page_cols)} FROM pages"):
                doc = {k: v for k, v in zip(page_cols, row) if v is not None}
                yield {"_index": state.alias, "_id": state_id("page", doc["url"]), "_source": {"kind": "page", **doc}}
            for row in db.execute(f"SELECT {', '.join(bad_cols)} FROM bad_urls"):
                doc = {k: v for k, v in zip(bad_cols, row) if v is not None}
                yield {"_index": state.alias, "_id": state_id("bad", doc["url"]), "_source": {"kind": "bad", **doc}}
            if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'listing_cursor'").fetchone():  # older files have none
                for site, frontier, reached_end, walking, updated in db.execute(
                        "SELECT site, frontier, reached_end, walking, updated FROM listing_cursor"):
                    yield {"_index": state.alias, "_id": state_id("cursor", site), "_source": {
                        "kind": "cursor", "site": site, "frontier": json.loads(frontier), "reached_end": bool(reached_end),
                        "walking": bool(walking), "updated": updated}}

        copied = {"page": 0, "bad": 0, "cursor": 0}
        refused = []
        for ok, item in helpers.streaming_bulk(state.client, actions(), chunk_size=1000, raise_on_error=False, max_retries=3):
            result = item["index"]
            if ok:
                copied[result["_id"].split("-", 1)[0]] += 1
            else:
                refused.append(result)
    finally:
        db.close()
    state.client.indices.refresh(index=state.alias)
    return copied["page"], copied["bad"], refused
