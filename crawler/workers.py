"""Article extraction in worker processes, off the reactor thread.

``ArticleExtractor.extract(html, url)`` is CPU-bound (trafilatura and lxml). Run in the reactor
thread, it stops fetching and indexing while it works, and the crawl uses one core at most. An
``ExtractionPool`` runs it in a ``ProcessPoolExecutor`` sized to the machine and hands back a
Twisted ``Deferred`` (fired in the reactor thread, whatever the reactor), so fetching,
extraction and bulk indexing overlap.

Nothing is lost when a worker dies (lxml crash, out-of-memory kill): the pages it held fail
with ``Rejected(extraction-error)``, counted like any other rejection, and a new pool takes the
next pages. With ``workers=0`` extraction runs in the calling thread (tests, debugging).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from twisted.internet import defer

from archive.config import ExtractionSettings
from crawler.extraction import ArticleExtractor, ExtractedArticle
from crawler.rejections import Reason, Rejected

logger = logging.getLogger(__name__)

_worker_extractor: ArticleExtractor | None = None  # one per worker process, built once


def _init_worker(settings: ExtractionSettings) -> None:
    global _worker_extractor
    _worker_extractor = ArticleExtractor(settings)


def _extract_in_worker(html: bytes, url: str) -> ExtractedArticle:
    return _worker_extractor.extract(html, url)


def default_workers() -> int:
    """One worker per CPU this process may use: the reactor thread mostly waits on I/O."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class ExtractionPool:
    def __init__(self, settings: ExtractionSettings, workers: int | None = None):
        self.settings = settings
        self.workers = default_workers() if workers is None else workers
        self.crashes = 0
        self._local = ArticleExtractor(settings) if self.workers == 0 else None
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # forkserver: workers start from a clean process, not a fork of the threaded reactor;
            # the preload imports trafilatura once for all of them.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["crawler.extraction"])
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context,
                                             initializer=_init_worker, initargs=(self.settings,))
        return self._pool

    def extract(self, html: bytes, url: str) -> defer.Deferred:
        """A Deferred that fires with an ExtractedArticle or fails with Rejected."""
        if self._local is not None:
            return defer.maybeDeferred(self._local.extract, html, url)
        from twisted.internet import reactor

        try:
            future = self._executor().submit(_extract_in_worker, html, url)
        except BrokenProcessPool:
            self._replace_pool()
            future = self._executor().submit(_extract_in_worker, html, url)
        d = defer.Deferred()
        # The callback runs in the executor's thread: hand the outcome to the reactor thread.
        future.add_done_callback(lambda f: reactor.callFromThread(self._fire, d, f, url))
        return d

    def _fire(self, d: defer.Deferred, future: Future, url: str) -> None:
        exc = future.exception()
        if exc is None:
            d.callback(future.result())
        elif isinstance(exc, Rejected):
            d.errback(exc)
        elif isinstance(exc, BrokenProcessPool):
            self._replace_pool(future)
            d.errback(Rejected(Reason.EXTRACTION_ERROR, f"the extraction worker died ({exc})"))
        else:
            logger.error("extraction failed on %s: %r", url, exc)
            d.errback(Rejected(Reason.EXTRACTION_ERROR, repr(exc)))

    def _replace_pool(self, failed: Future | None = None) -> None:
        """Once per broken pool (its pending pages all fail with it): a new one for the next pages."""
        pool = self._pool
        if pool is None or not getattr(pool, "_broken", False):
            return
        self.crashes += 1
        logger.error("an extraction worker died; its pages are rejected as extraction-error, starting new workers")
        self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
