"""Per-URL crawl state, so a night's crawl fetches only what is new or may have changed.

One SQLite file in the data folder (the default), or an Elasticsearch index every crawl machine
shares (crawl.state = "elasticsearch": crawler/state_elasticsearch.py, the same interface;
``open_state`` picks one). A row is written only once its article is safely stored
(in Elasticsearch or the spool), so a crawl killed at any point resumes without re-fetching
what it archived and without losing what it did not.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path

from crawler.walk import ListingCursor

SCHEMA = """
CREATE TABLE IF NOT EXISTS pages (
    url           TEXT PRIMARY KEY,
    site          TEXT NOT NULL,
    doc_id        TEXT,
    first_fetch   TEXT NOT NULL,
    last_fetch    TEXT NOT NULL,
    status        INTEGER,
    etag          TEXT,
    last_modified TEXT,   -- the Last-Modified header as sent
    lastmod       TEXT,   -- what the site said of the article's last change (sitemap or header), ISO
    published     TEXT,
    content_hash  TEXT
);
CREATE INDEX IF NOT EXISTS pages_site ON pages(site);
-- URLs that answered 404/410, were too large or not HTML: not asked again before retry_after.
CREATE TABLE IF NOT EXISTS bad_urls (
    url         TEXT PRIMARY KEY,
    site        TEXT NOT NULL,
    reason      TEXT NOT NULL,
    detail      TEXT,
    failures    INTEGER NOT NULL,
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    retry_after TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bad_urls_site ON bad_urls(site);
-- The listing walk's cursor per site (crawler/walk.py): where the next run resumes.
CREATE TABLE IF NOT EXISTS listing_cursor (
    site        TEXT PRIMARY KEY,
    frontier    TEXT NOT NULL,      -- JSON [[url, depth], ...]: listing pages not finished
    reached_end INTEGER NOT NULL,   -- a walk went to the end at least once
    walking     INTEGER NOT NULL,   -- 1 while a crawl walks: still 1 after a crash
    updated     TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class PageState:
    url: str
    doc_id: str | None
    last_fetch: str
    etag: str | None
    last_modified: str | None
    lastmod: str | None
    published: str | None
    content_hash: str | None


def parse_when(value: str | None) -> datetime | None:
    """ISO 8601 (sitemaps, JSON-LD) or an HTTP date (headers), as an aware datetime."""
    if not value:
        return None
    value = value.strip()
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def latest_change(*claims: str | None) -> str | None:
    """The latest of what the site says of an article's last change (sitemap lastmod or a news
    sitemap's publication date, the page's own modified date, Last-Modified), as given."""
    dated = [(when, claim) for claim in claims if (when := parse_when(claim)) is not None]
    return max(dated, key=lambda pair: pair[0])[1] if dated else None


@dataclass(frozen=True)
class BadUrl:
    url: str
    reason: str
    detail: str | None
    failures: int
    retry_after: str


@dataclass(frozen=True)
class BadUrlPolicy:
    """How long a known-bad URL is left alone: retry_days, doubled after each failure, capped."""

    retry_days: float
    max_days: float

    def retry_after(self, failures: int, now: datetime) -> datetime:
        days = min(self.retry_days * 2 ** max(failures - 1, 0), self.max_days)
        return now + timedelta(days=days)


class CrawlState:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        # One writer (the crawl's pipeline); WAL lets `archive status` read while it writes.
        self.db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def load_site(self, site: str) -> dict[str, PageState]:
        rows = self.db.execute(
            "SELECT url, doc_id, last_fetch, etag, last_modified, lastmod, published, content_hash FROM pages WHERE site = ?",
            (site,),
        )
        return {row[0]: PageState(*row) for row in rows}

    def record(self, site: str, urls: list[str], doc_id: str | None, fetched_at: str, status: int,
               etag: str | None, last_modified: str | None, lastmod: str | None, published: str | None,
               content_hash: str | None) -> None:
        for url in urls:
            self.db.execute(
                """INSERT INTO pages (url, site, doc_id, first_fetch, last_fetch, status, etag, last_modified, lastmod, published, content_hash)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(url) DO UPDATE SET doc_id=excluded.doc_id, last_fetch=excluded.last_fetch,
                       status=excluded.status, etag=COALESCE(excluded.etag, etag),
                       last_modified=COALESCE(excluded.last_modified, last_modified),
                       lastmod=COALESCE(excluded.lastmod, lastmod), published=COALESCE(excluded.published, published),
                       content_hash=COALESCE(excluded.content_hash, content_hash)""",
                (url, site, doc_id, fetched_at, fetched_at, status, etag, last_modified, lastmod, published, content_hash),
            )

    def touch(self, url: str, fetched_at: str, status: int) -> None:
        """A conditional request answered 304: the page is as we have it."""
        self.db.execute("UPDATE pages SET last_fetch = ?, status = ? WHERE url = ?", (fetched_at, status, url))

    def load_bad(self, site: str, now: datetime | None = None) -> dict[str, BadUrl]:
        """The site's known-bad URLs whose retry time has not come yet."""
        now = now or datetime.now(timezone.utc)
        rows = self.db.execute(
            "SELECT url, reason, detail, failures, retry_after FROM bad_urls WHERE site = ? AND retry_after > ?",
            (site, now.isoformat(timespec="seconds")),
        )
        return {row[0]: BadUrl(*row) for row in rows}

    def record_bad(self, site: str, url: str, reason: str, detail: str, policy: BadUrlPolicy,
                   now: datetime | None = None) -> BadUrl:
        now = now or datetime.now(timezone.utc)
        row = self.db.execute("SELECT failures FROM bad_urls WHERE url = ?", (url,)).fetchone()
        failures = (row[0] if row else 0) + 1
        retry_after = policy.retry_after(failures, now).isoformat(timespec="seconds")
        stamp = now.isoformat(timespec="seconds")
        self.db.execute(
            """INSERT INTO bad_urls (url, site, reason, detail, failures, first_seen, last_seen, retry_after)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(url) DO UPDATE SET reason=excluded.reason, detail=excluded.detail,
                   failures=excluded.failures, last_seen=excluded.last_seen, retry_after=excluded.retry_after""",
            (url, site, reason, detail, failures, stamp, stamp, retry_after),
        )
        return BadUrl(url, reason, detail, failures, retry_after)

    def forget_bad(self, site: str, urls) -> None:
        """These URLs answered properly again."""
        bad = {row[0] for row in self.db.execute("SELECT url FROM bad_urls WHERE site = ?", (site,))}
        self.db.executemany("DELETE FROM bad_urls WHERE url = ?", [(u,) for u in bad.intersection(urls)])

    def load_cursor(self, site: str) -> ListingCursor:
        row = self.db.execute("SELECT frontier, reached_end, walking FROM listing_cursor WHERE site = ?", (site,)).fetchone()
        if row is None:
            return ListingCursor()  # never walked with a cursor: no "caught up" until one walk is done
        return ListingCursor(frontier=tuple((u, int(d)) for u, d in json.loads(row[0])), reached_end=bool(row[1]),
                             interrupted=bool(row[2]))

    def start_walk(self, site: str) -> None:
        """Said before a walk starts: if the crawl dies, the next run knows this walk never ended."""
        cursor = self.load_cursor(site)
        self._write_cursor(site, cursor, walking=True)

    def save_cursor(self, site: str, cursor: ListingCursor) -> None:
        self._write_cursor(site, cursor, walking=False)

    def _write_cursor(self, site: str, cursor: ListingCursor, walking: bool) -> None:
        self.db.execute(
            """INSERT INTO listing_cursor (site, frontier, reached_end, walking, updated) VALUES (?, ?, ?, ?, ?)
               ON CONFLICT(site) DO UPDATE SET frontier=excluded.frontier, reached_end=excluded.reached_end,
                   walking=excluded.walking, updated=excluded.updated""",
            (site, json.dumps([list(f) for f in cursor.frontier]), int(cursor.reached_end), int(walking),
             datetime.now(timezone.utc).isoformat(timespec="seconds")),
        )

    def flush(self) -> None:
        """Every write is already committed (autocommit); the Elasticsearch backend buffers."""

    def close(self) -> None:
        self.db.close()


def open_state(settings):
    """The crawl state the settings ask for: this machine's SQLite file (crawl.state = "sqlite"),
    or the Elasticsearch index every machine shares (crawler/state_elasticsearch.py)."""
    if settings.crawl.state == "elasticsearch":
        from crawler.state_elasticsearch import ElasticsearchCrawlState

        return ElasticsearchCrawlState(settings.elasticsearch)
    return CrawlState(state_path(settings))


def state_path(settings) -> Path:
    return settings.data_dir / "crawl-state.sqlite"


@dataclass(frozen=True)
class RecheckPolicy:
    """Which known articles tonight's crawl asks about again (with a conditional request)."""

    recheck_days: int

    def should_recheck(self, page: PageState, sitemap_lastmod: str | None, now: datetime | None = None) -> bool:
        now = now or datetime.now(timezone.utc)
        site_says = parse_when(sitemap_lastmod)
        if site_says is not None:
            known = parse_when(page.lastmod) or parse_when(page.last_fetch)
            if known is None or site_says > known:
                return True  # the site says it changed since our capture
        published = parse_when(page.published)
        return published is not None and published >= now - timedelta(days=self.recheck_days)


def conditional_headers(page: PageState) -> dict[str, str]:
    headers = {}
    if page.etag:
        headers["If-None-Match"] = page.etag
    if page.last_modified:
        headers["If-Modified-Since"] = page.last_modified
    return headers
