"""The item pipeline: archive extracted articles into Elasticsearch in bulk.

If Elasticsearch cannot be reached, the batch goes to the local spool (nothing is lost) and
the crawl goes on; the spool is replayed at the next start. The pipeline never switches
itself off silently: every outcome is a counter in the crawl's stats.
"""

from __future__ import annotations

import logging
import time

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError

from crawler.items import ArticleItem
from search.client import make_client
from search.indices import ensure_all
from search.spool import Spool
from search.writer import ArticleWriter, WriteResult

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 5.0
UNREACHABLE = (TransportConnectionError, ConnectionTimeout)


class ArchivePipeline:
    def __init__(self, crawler):
        self.crawler = crawler
        self.settings = crawler.settings["ARCHIVE_SETTINGS"]
        self.buffer: dict[str, dict] = {}
        self.batch_size = self.settings.elasticsearch.bulk_size
        self.spool = Spool(self.settings.data_dir / "spool")
        self.writer: ArticleWriter | None = None
        self.last_flush = time.monotonic()

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def open_spider(self, spider=None):
        client = make_client(self.settings.elasticsearch)
        self.writer = ArticleWriter(client, self.settings.elasticsearch)
        try:
            ensure_all(client, self.settings.elasticsearch)
            if self.spool.files():
                logger.info("replaying %d spooled articles from an earlier run", self.spool.pending())
                self._count(self.spool.replay(self.writer), prefix="spool_replayed")
        except UNREACHABLE as exc:
            logger.error("Elasticsearch unreachable at start (%s); articles will be spooled", exc)

    def process_item(self, item: ArticleItem, spider=None):
        self.buffer[item.doc_id] = item.document
        # Full batches for throughput; a time bound so progress is real and a kill loses little.
        if len(self.buffer) >= self.batch_size or time.monotonic() - self.last_flush > FLUSH_SECONDS:
            self.flush()
        return item

    def close_spider(self, spider=None):
        self.flush()

    def flush(self) -> None:
        batch, self.buffer = self.buffer, {}
        self.last_flush = time.monotonic()
        if not batch:
            return
        try:
            self._count(self.writer.write(batch))
        except UNREACHABLE + (ApiError,) as exc:
            spooled = self.spool.append(batch)
            self.crawler.stats.inc_value("articles/spooled", spooled)
            self.crawler.stats.inc_value("index/errors")
            logger.error("Elasticsearch write failed (%s); %d articles spooled to %s", exc, spooled, self.spool.directory)

    def _count(self, result: WriteResult, prefix: str = "articles") -> None:
        stats = self.crawler.stats
        stats.inc_value(f"{prefix}/new", result.new)
        stats.inc_value(f"{prefix}/updated", result.updated)
        stats.inc_value(f"{prefix}/unchanged", result.unchanged)
        if result.failed:
            stats.inc_value("index/document_errors", result.failed)
            errors = stats.get_value("index/error_samples") or []
            stats.set_value("index/error_samples", (errors + result.errors)[:20])
