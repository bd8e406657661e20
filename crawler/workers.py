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
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from twisted.internet import defer

from archive.config import ExtractionSettings
from crawler.rejections import Reason, Rejected

logger = logging.getLogger(__name__)

_worker_extractor = None  # one ArticleExtractor per worker process, built once


def _init_worker(settings: ExtractionSettings) -> None:
    # Imported here: the crawl process itself never loads trafilatura, only its workers do.
    from crawler.extraction import ArticleExtractor

    global _worker_extractor
    _worker_extractor = ArticleExtractor(settings)


def _extract_in_worker(html: bytes, url: str):
    return _worker_extractor.extract(html, url)


# What one crawl costs, measured on the demo site and on 175 KiB real pages
# (benchmarks/pipeline_throughput.py, docs/scaling.md): the crawl process 175-355 MB,
# each extraction worker 66-152 MB. The larger figures size the budget.
CRAWL_PROCESS_MB = 350
EXTRACTION_WORKER_MB = 150


def workers_within_budget(budget_mb: int, crawls_at_once: int, pools_per_crawl: int = 1) -> int:
    """Extraction workers per pool so that ``crawls_at_once`` crawls, each with
    ``pools_per_crawl`` pools (one per site it crawls), stay within ``budget_mb``: never more
    than one per CPU, never fewer than one (a budget too small for that is reported, not obeyed)."""
    per_crawl = budget_mb / max(1, crawls_at_once)
    per_pool = (per_crawl - CRAWL_PROCESS_MB) / max(1, pools_per_crawl)
    return max(1, min(default_workers(), int(per_pool // EXTRACTION_WORKER_MB)))


def budget_needed(crawls_at_once: int, workers: int, pools_per_crawl: int = 1) -> int:
    return crawls_at_once * (CRAWL_PROCESS_MB + pools_per_crawl * workers * EXTRACTION_WORKER_MB)


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
        self._local = None
        if self.workers == 0:
            from crawler.extraction import ArticleExtractor

            self._local = ArticleExtractor(settings)
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()  # the pool is replaced from the executor's thread too

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            return self._pool or self._start_pool()

    def _start_pool(self) -> ProcessPoolExecutor:
        # spawn: workers start from a clean interpreter, not a fork of the threaded reactor,
        # and are the crawl's own children (their CPU and memory count as the crawl's).
        context = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(self.workers, mp_context=context,
                                         initializer=_init_worker, initargs=(self.settings,))
        return self._pool

    def submit(self, html: bytes, url: str) -> Future:
        """A Future of the ExtractedArticle; it fails only with Rejected (a crash included)."""
        outcome: Future = Future()
        try:
            work = self._executor().submit(_extract_in_worker, html, url)
        except BrokenProcessPool:  # broke since the last page: a new pool takes this one
            self._replace_pool()
            work = self._executor().submit(_extract_in_worker, html, url)
        work.add_done_callback(lambda done: self._settle(outcome, done, url))
        return outcome

    def _settle(self, outcome: Future, done: Future, url: str) -> None:
        exc = done.exception()
        if exc is None:
            outcome.set_result(done.result())
        elif isinstance(exc, Rejected):
            outcome.set_exception(exc)
        elif isinstance(exc, BrokenProcessPool):
            self._replace_pool()
            outcome.set_exception(Rejected(Reason.EXTRACTION_ERROR, f"the extraction worker died ({exc})"))
        else:
            logger.error("extraction failed on %s: %r", url, exc)
            outcome.set_exception(Rejected(Reason.EXTRACTION_ERROR, repr(exc)))

    def extract(self, html: bytes, url: str) -> defer.Deferred:
        """A Deferred, fired in the reactor thread, with an ExtractedArticle or a Rejected failure."""
        if self._local is not None:
            return defer.maybeDeferred(self._local.extract, html, url)
        from twisted.internet import reactor

        d: defer.Deferred = defer.Deferred()

        def fire(outcome: Future) -> None:
            exc = outcome.exception()
            d.errback(exc) if exc is not None else d.callback(outcome.result())

        # The Future completes in the executor's thread: hand the outcome to the reactor thread.
        self.submit(html, url).add_done_callback(lambda outcome: reactor.callFromThread(fire, outcome))
        return d

    def _replace_pool(self) -> None:
        """Once per broken pool (its pending pages all fail with it): new workers for the next pages."""
        with self._lock:
            pool = self._pool
            if pool is None or not getattr(pool, "_broken", False):
                return
            self.crashes += 1
            self._pool = None
        logger.error("an extraction worker died; its pages are rejected as extraction-error, starting new workers")
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
