"""The item pipeline: keep the raw page, archive the article, remember what was archived.

Order matters for "nothing lost": the raw response goes to WARC first (fsynced), then the
article is written to Elasticsearch in bulk — or, if Elasticsearch cannot be reached, to the
local spool, replayed at the next start — and only then is the URL recorded in the crawl
state. A crawl killed at any point re-fetches at most what was not yet safely stored.
The pipeline never switches itself off silently: every outcome is a counter in the stats.

Bulk writes run in a thread, one batch after another, so fetching and extraction go on while
Elasticsearch indexes; an item's processing ends once its batch is stored (Scrapy's own
backpressure then slows fetching if Elasticsearch falls behind). Stats and the SQLite crawl
state are only touched in the reactor thread.
"""

from __future__ import annotations

import logging
import time

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import defer, threads

from archive.warc_storage import shared_storage
from crawler.items import ArticleItem, NotModifiedItem
from crawler.state import CrawlState, open_state
from crawler.warc import WarcStore
from search.client import make_client
from search.alert_matching import DeferredMatcher
from search.indices import ensure_all
from search.spool import Spool
from search.stories import StoryLookupError
from search.writer import ArticleWriter, WriteResult

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 5.0
UNREACHABLE = (TransportConnectionError, ConnectionTimeout)


class ArchivePipeline:
    def __init__(self, crawler):
        self.crawler = crawler
        self.settings = crawler.settings["ARCHIVE_SETTINGS"]
        self.buffer: dict[str, ArticleItem] = {}
        self.batch_size = self.settings.elasticsearch.bulk_size
        self.spool = Spool(self.settings.data_dir / "spool")
        self.writer: ArticleWriter | None = None
        self.state: CrawlState | None = None
        self.warc: WarcStore | None = None
        self.site = ""
        self.last_flush = time.monotonic()
        self._one_writer = defer.DeferredLock()  # batches are written one after another, in order

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def open_spider(self, spider=None):
        spider = spider or self.crawler.spider
        self.site = spider.name
        self.state = open_state(self.settings)
        self.warc = WarcStore(self.settings.data_dir / "warc", self.site, shared=shared_storage(self.settings.warc))
        client = make_client(self.settings.elasticsearch)
        # Saved searches are matched by the delivery rounds (the scheduler's, `archive crawl`'s),
        # never on the crawl's write path: the crawl leaves each stored batch as a ready marker.
        self.writer = ArticleWriter(client, self.settings.elasticsearch, alerts=DeferredMatcher(client, self.settings.elasticsearch))
        try:
            ensure_all(client, self.settings.elasticsearch)
            if self.spool.files():
                logger.info("replaying %d spooled articles from an earlier run", self.spool.pending())
                try:
                    self._count(self.spool.replay(self.writer), prefix="spool_replayed")
                except (ApiError, StoryLookupError) as exc:  # the spool keeps what it could not write
                    self.crawler.stats.inc_value("index/errors")
                    logger.error("Elasticsearch refused the spooled articles (%s); they stay in the spool", exc)
        except UNREACHABLE as exc:
            logger.error("Elasticsearch unreachable at start (%s); articles will be spooled", exc)

    async def process_item(self, item, spider=None):
        if isinstance(item, NotModifiedItem):
            self.state.touch(item.url, item.fetched_at, 304)
            return item
        if item.capture is not None:
            location = self.warc.append(item.capture, sync=False)  # synced before its batch is written
            item.document.update(warc_file=location.file, warc_offset=location.offset)
            item.capture = None  # the raw page is in the WARC file: do not hold it until the batch is written
        self.buffer[item.doc_id] = item
        # Full batches for throughput; a time bound so progress is real and a kill loses little.
        if len(self.buffer) >= self.batch_size or time.monotonic() - self.last_flush > FLUSH_SECONDS:
            await maybe_deferred_to_future(self.flush())
        return item

    async def close_spider(self, spider=None):
        await maybe_deferred_to_future(self.flush())
        self.warc.close()
        self.state.close()

    def flush(self) -> defer.Deferred:
        """Hand the buffered batch to the writer thread, after the batches before it; the
        Deferred fires once it is stored (or spooled) and recorded in the crawl state."""
        batch, self.buffer = self.buffer, {}
        self.last_flush = time.monotonic()
        if not batch:
            return defer.succeed(None)
        return self._one_writer.run(self._write_batch, batch)

    def _write_batch(self, batch: dict[str, ArticleItem]) -> defer.Deferred:
        documents = {doc_id: item.document for doc_id, item in batch.items()}
        return threads.deferToThread(self._write, documents).addCallback(self._stored, batch)

    def _write(self, documents: dict[str, dict]):
        """In the writer thread: the batch's WARC records made durable, then Elasticsearch, or the
        spool when it cannot take the batch."""
        self.warc.sync()
        try:
            return self.writer.write(documents), None
        except Exception as exc:  # noqa: BLE001 - unreachable, refused or a look-up that failed: spooled, and said why
            try:
                return self.spool.append(documents), exc
            except OSError as spool_error:  # a full or read-only disk: the batch is lost, and said so
                return -len(documents), f"{exc}; spool: {spool_error}"

    def _stored(self, outcome, batch: dict[str, ArticleItem]) -> None:
        result, error = outcome
        failed: set[str] = set()
        if error is None:
            self._count(result)
            failed = set(result.failed_ids)  # refused by Elasticsearch: fetch again next run
        elif result < 0:
            self.crawler.stats.inc_value("articles/lost", -result)
            self.crawler.stats.set_value("articles/lost_error", str(error)[:300])
            self.crawler.stats.inc_value("index/errors")
            logger.error("Elasticsearch write failed and the spool could not take the batch (%s); %d articles not stored", error, -result)
            return  # not recorded in the crawl state: the next run fetches them again
        else:
            self.crawler.stats.inc_value("articles/spooled", result)
            self.crawler.stats.set_value("articles/spool_error", "unreachable" if isinstance(error, UNREACHABLE) else str(error)[:300])
            self.crawler.stats.inc_value("index/errors")
            logger.error("Elasticsearch write failed (%s); %d articles spooled to %s", error, result, self.spool.directory)
        # Stored (or spooled): from now on a later run need not fetch these again.
        for doc_id, item in batch.items():
            if doc_id in failed:
                continue
            fetch = item.fetch
            self.state.record(
                self.site,
                fetch.get("urls") or [item.document["url"]],
                doc_id,
                fetched_at=fetch.get("fetched_at") or item.document.get("crawled_at"),
                status=fetch.get("status", 200),
                etag=fetch.get("etag"),
                last_modified=fetch.get("last_modified"),
                lastmod=fetch.get("lastmod"),
                published=item.document.get("published"),
                content_hash=item.document.get("content_hash"),
            )
        self._flush_state()

    def _flush_state(self) -> None:
        try:
            self.state.flush()
        except Exception as exc:  # the articles are stored: their URLs are only fetched again next run
            self.crawler.stats.inc_value("state/errors")
            logger.error("crawl state not updated (%s); those pages will be fetched again next run", exc)

    def _count(self, result: WriteResult, prefix: str = "articles") -> None:
        stats = self.crawler.stats
        stats.inc_value(f"{prefix}/new", result.new)
        stats.inc_value(f"{prefix}/updated", result.updated)
        stats.inc_value(f"{prefix}/unchanged", result.unchanged)
        if result.failed:
            stats.inc_value("index/document_errors", result.failed)
            errors = stats.get_value("index/error_samples") or []
            stats.set_value("index/error_samples", (errors + result.errors)[:20])
