"""Article extraction in worker processes, off the reactor thread.

``ArticleExtractor.extract(html, url)`` is CPU-bound (trafilatura and lxml). Run in the reactor
thread, it stops fetching and indexing while it works, and the crawl uses one core at most. An
``ExtractionPool`` runs it in a pebble ``ProcessPool`` sized to the machine and hands back a
Twisted ``Deferred`` (fired in the reactor thread, whatever the reactor), so fetching,
extraction and bulk indexing overlap.

A hostile page is contained: a page that takes longer than its deadline
(``crawl.extraction_timeout``) is rejected as ``extraction-timeout`` and pebble replaces the
worker that was stuck on it. A worker that dies (lxml crash, out-of-memory kill) costs only its
page, rejected as ``extraction-error``. ``abort()`` (the crawl's time limit) rejects every page
still waiting, at once, so the crawl can close on time. With ``workers=0`` extraction runs in
the calling thread (tests, debugging).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from concurrent.futures import CancelledError, Future, InvalidStateError, TimeoutError

from pebble import ProcessExpired, ProcessPool
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
    def __init__(self, settings: ExtractionSettings, workers: int | None = None, timeout: float | None = 20.0):
        self.settings = settings
        self.workers = default_workers() if workers is None else workers
        self.timeout = timeout
        self.crashes = 0
        self.timeouts = 0
        self._local = None
        self._aborted: str | None = None
        if self.workers == 0:
            from crawler.extraction import ArticleExtractor

            self._local = ArticleExtractor(settings)
        self._pool: ProcessPool | None = None
        self._lock = threading.Lock()
        self._waiting: set[Future] = set()  # outcomes not settled yet (abort settles them)

    def _executor(self) -> ProcessPool:
        with self._lock:
            if self._pool is None:
                # spawn: workers start from a clean interpreter, not a fork of the threaded
                # reactor, and are the crawl's own children (their CPU and memory count as its).
                self._pool = ProcessPool(self.workers, initializer=_init_worker, initargs=(self.settings,),
                                         context=multiprocessing.get_context("spawn"))
            return self._pool

    @property
    def aborted(self) -> bool:
        return self._aborted is not None

    def worker_pids(self) -> list[int]:
        pool = self._pool
        return list(pool._pool_manager.worker_manager.workers) if pool is not None else []

    def submit(self, html: bytes, url: str) -> Future:
        """A Future of the ExtractedArticle; it fails only with Rejected (a crash or the deadline included)."""
        outcome: Future = Future()
        if self._aborted:
            outcome.set_exception(Rejected(Reason.EXTRACTION_TIMEOUT, self._aborted))
            return outcome
        with self._lock:
            self._waiting.add(outcome)
        outcome.add_done_callback(self._forget)
        work = self._executor().schedule(_extract_in_worker, args=(html, url), timeout=self.timeout)
        work.add_done_callback(lambda done: self._settle(outcome, done, url))
        return outcome

    def _forget(self, outcome: Future) -> None:
        with self._lock:
            self._waiting.discard(outcome)

    def _settle(self, outcome: Future, done: Future, url: str) -> None:
        try:
            self._settle_with(outcome, done, url)
        except InvalidStateError:
            pass  # settled by abort() already

    def _settle_with(self, outcome: Future, done: Future, url: str) -> None:
        try:
            exc = done.exception()
        except CancelledError:
            exc = CancelledError()
        if exc is None:
            outcome.set_result(done.result())
        elif isinstance(exc, Rejected):
            outcome.set_exception(exc)
        elif isinstance(exc, TimeoutError):
            self.timeouts += 1
            logger.warning("extraction of %s passed its %.0fs deadline; its worker is replaced", url, self.timeout)
            outcome.set_exception(Rejected(Reason.EXTRACTION_TIMEOUT, f"longer than {self.timeout:.0f}s; the worker was replaced"))
        elif isinstance(exc, CancelledError):
            outcome.set_exception(Rejected(Reason.EXTRACTION_TIMEOUT, self._aborted or "extraction cancelled"))
        elif isinstance(exc, ProcessExpired):
            self.crashes += 1
            logger.error("an extraction worker died on %s (%s); a new one takes the next pages", url, exc)
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

        # The Future completes in the pool's thread: hand the outcome to the reactor thread.
        self.submit(html, url).add_done_callback(lambda outcome: reactor.callFromThread(fire, outcome))
        return d

    def abort(self, why: str) -> None:
        """Reject every page waiting or being extracted, and stop the workers, now."""
        self._aborted = why
        with self._lock:
            pool, self._pool = self._pool, None
            waiting, self._waiting = self._waiting, set()
        for outcome in waiting:  # pebble's stop() leaves a running task's future unsettled
            try:
                outcome.set_exception(Rejected(Reason.EXTRACTION_TIMEOUT, why))
            except InvalidStateError:
                pass
        if pool is not None:
            pool.stop()  # the workers are terminated

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.stop()  # nothing is waiting any more when the spider closes
            pool.join(timeout=10)
