"""Rebuild the archive's documents from the WARC captures, without the network.

``reextract(settings, client)`` reads every capture a crawl kept under
``settings.data_dir / "warc" / <site>``, keeps the newest capture of each canonical URL, runs
today's extractor on its bytes (in the crawl's extraction worker pool, crawler/workers.py, so
every core works) and writes the result like a crawl would (``ArticleWriter``: new,
updated, or unchanged by content hash, earlier versions kept). Use it after the extractor got
better, or to rebuild an index from scratch.

Nothing already archived is lost: a capture the extractor now rejects is counted under its
reason and the stored document is left as it is. No site is contacted.

With a broker (crawls on several machines), the work is split by WARC file: ``plan`` reads
every capture once here and picks the newest of each URL, as above; each file's chosen records
(``FileJob``: its path and offsets) go to whichever `archive worker` is free, which extracts
them with ``reextract_file`` (archive/scheduling/reextract_jobs.py queues and collects them).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

from elasticsearch import Elasticsearch

from archive.config import Settings
from archive.warc_storage import WarcStorage, read_storage
from crawler.rejections import Reason, Rejected
from crawler.items import archive_document
from archive.urls import canonicalize, document_id
from crawler.workers import ExtractionPool, workers_within_budget
from crawler.warc import WarcError, WarcLocation, iter_captures, read_capture
from search.indices import ensure_all
from search.writer import ArticleWriter, WriteResult

logger = logging.getLogger(__name__)

HTML_TYPES = ("text/html", "application/xhtml+xml")
PROGRESS_EVERY = 100
MAX_ERRORS_KEPT = 50


class NoCaptures(LookupError):
    """A site has no WARC files to rebuild from."""

    def __init__(self, site: str, folder: str | Path):
        self.site = site
        self.folder = folder
        super().__init__(f"no WARC captures for site {site} in {folder}: crawl it first")


@dataclass
class SiteReextract:
    """What re-extraction did for one site."""

    site: str
    files: int = 0
    captures: int = 0           # response records read
    urls: int = 0               # distinct canonical URLs with a 2xx capture (the newest is extracted)
    extracted: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0             # documents Elasticsearch refused
    rejected: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def reject(self, reason: Reason | str) -> None:
        key = str(Reason(reason))
        self.rejected[key] = self.rejected.get(key, 0) + 1

    def error(self, message: str) -> None:
        logger.error("%s: %s", self.site, message)
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(message)

    def add_write(self, result: WriteResult) -> None:
        self.new += result.new
        self.updated += result.updated
        self.unchanged += result.unchanged
        self.failed += result.failed
        for message in result.errors:
            if len(self.errors) < MAX_ERRORS_KEPT:
                self.errors.append(message)

    def as_dict(self) -> dict:
        return {**asdict(self), "rejected_total": self.rejected_total}


@dataclass
class ReextractResult:
    sites: dict[str, SiteReextract] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)   # configured sites without captures (all-sites mode)
    duration_seconds: float = 0.0

    def _sum(self, name: str) -> int:
        return sum(getattr(s, name) for s in self.sites.values())

    @property
    def captures(self) -> int:
        return self._sum("captures")

    @property
    def urls(self) -> int:
        return self._sum("urls")

    @property
    def extracted(self) -> int:
        return self._sum("extracted")

    @property
    def new(self) -> int:
        return self._sum("new")

    @property
    def updated(self) -> int:
        return self._sum("updated")

    @property
    def unchanged(self) -> int:
        return self._sum("unchanged")

    @property
    def failed(self) -> int:
        return self._sum("failed")

    @property
    def rejected(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for s in self.sites.values():
            for reason, n in s.rejected.items():
                total[reason] = total.get(reason, 0) + n
        return dict(sorted(total.items()))

    @property
    def errors(self) -> list[str]:
        return [f"{s.site}: {e}" for s in self.sites.values() for e in s.errors]

    @property
    def ok(self) -> bool:
        return not self.errors and not self.failed

    def as_dict(self) -> dict:
        return {
            "captures": self.captures,
            "urls": self.urls,
            "extracted": self.extracted,
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "rejected": self.rejected,
            "errors": self.errors,
            "skipped": list(self.skipped),
            "duration_seconds": round(self.duration_seconds, 3),
            "sites": {name: s.as_dict() for name, s in self.sites.items()},
        }


@dataclass(frozen=True)
class FileJob:
    """The records of one WARC file to extract again: the newest capture of each of their URLs."""

    site: str
    file: str                 # relative to the WARC folder, as in WarcLocation
    offsets: tuple[int, ...]


@dataclass(frozen=True)
class ReextractProgress:
    site: str
    phase: str        # "scan" (reading captures) or "extract"
    done: int         # captures scanned, or URLs extracted, so far in this phase
    total: int | None  # URLs to extract (None while scanning)
    result: ReextractResult


ProgressCallback = Callable[[ReextractProgress], None]


def reextract(
    settings: Settings,
    client: Elasticsearch,
    site_names: Iterable[str] = (),
    on_progress: ProgressCallback | None = None,
    progress_every: int = PROGRESS_EVERY,
) -> ReextractResult:
    """Rebuild the documents of ``site_names`` (all configured sites when empty) from WARC.

    Raises ``NoCaptures`` when a named site (or, with no names, every site) has no WARC files,
    ``ConfigError`` for an unknown site, and the client's errors when Elasticsearch cannot be
    reached. Per-page problems are counted, never raised.
    """
    started = time.monotonic()
    root = read_storage(settings)  # the shared folder or bucket every machine reads, when there is one
    result = ReextractResult()
    todo = _sites_with_captures(settings, site_names, result)

    ensure_all(client, settings.elasticsearch)
    writer = ArticleWriter(client, settings.elasticsearch)
    every = max(1, progress_every)
    pool = extraction_pool(settings)
    try:
        for site in todo:
            _reextract_site(root, site, pool, writer, settings.elasticsearch.bulk_size, result, on_progress, every)
    finally:
        pool.close()

    if result.new or result.updated:
        client.indices.refresh(index=settings.elasticsearch.articles_alias)
    result.duration_seconds = time.monotonic() - started
    return result


def _sites_with_captures(settings: Settings, site_names: Iterable[str], result: ReextractResult) -> list[str]:
    """The sites to rebuild; sites without captures are skipped (all-sites mode) or an error (named)."""
    names = tuple(site_names)
    sites = settings.select_sites(names)
    root = read_storage(settings)
    todo = []
    for site in sites:
        if root.files(site.name):
            todo.append(site.name)
        elif names:
            raise NoCaptures(site.name, root.place(site.name))
        else:
            result.skipped.append(site.name)
    if not todo:
        raise NoCaptures(", ".join(s.name for s in sites) or "(none configured)", root.where)
    return todo


def extraction_pool(settings: Settings) -> ExtractionPool:
    """The crawl's extraction pool, sized the same way (one crawl's share of the memory budget)."""
    return ExtractionPool(settings.extraction, settings.crawl.extraction_workers
                          or workers_within_budget(settings.crawl.memory_budget_mb, 1),
                          timeout=settings.crawl.extraction_timeout)


def plan(settings: Settings, site_names: Iterable[str] = (), on_progress: ProgressCallback | None = None,
         progress_every: int = PROGRESS_EVERY) -> tuple[ReextractResult, list[FileJob]]:
    """Read every capture once and pick the newest of each URL; the picks grouped by WARC file,
    one job per file. The result holds what the reading found (captures, URLs, rejections)."""
    result = ReextractResult()
    root = read_storage(settings)
    jobs = []
    for site in _sites_with_captures(settings, site_names, result):
        counts = result.sites[site] = SiteReextract(site=site, files=len(root.files(site)))
        newest = _newest_captures(root, site, counts, result, on_progress, max(1, progress_every))
        counts.urls = len(newest)
        by_file: dict[str, list[int]] = {}
        for location, _fetched_at in newest.values():
            by_file.setdefault(location.file, []).append(location.offset)
        jobs += [FileJob(site, file, tuple(sorted(offsets))) for file, offsets in sorted(by_file.items())]
    return result, jobs


def reextract_file(settings: Settings, client: Elasticsearch, job: FileJob) -> SiteReextract:
    """One file's share of a split re-extraction, on a worker: its chosen records, extracted
    and written. The counts cover only what this file's records gave."""
    counts = SiteReextract(site=job.site)
    root = read_storage(settings)
    if not _holds(root, job.file):
        counts.error(f"{job.file} is not in {root.where}: set warc.storage to a folder every crawl machine "
                     "mounts or an S3 bucket")
        return counts
    pool = extraction_pool(settings)
    try:
        locations = [WarcLocation(job.file, offset) for offset in job.offsets]
        _extract(root, job.site, locations, pool, ArticleWriter(client, settings.elasticsearch),
                 settings.elasticsearch.bulk_size, counts)
    finally:
        pool.close()
    return counts


def _holds(root: WarcStorage, relative: str) -> bool:
    try:
        return root.size(relative) is not None
    except ValueError:  # not <site>/<file>: never one of ours
        return False


def _reextract_site(root: WarcStorage, site: str, pool: ExtractionPool, writer: ArticleWriter, bulk_size: int,
                    result: ReextractResult, on_progress: ProgressCallback | None, every: int) -> None:
    counts = result.sites[site] = SiteReextract(site=site, files=len(root.files(site)))
    newest = _newest_captures(root, site, counts, result, on_progress, every)
    counts.urls = len(newest)

    def extracted(done: int) -> None:
        if on_progress and done % every == 0:
            on_progress(ReextractProgress(site, "extract", done, len(newest), result))

    _extract(root, site, [location for _canonical, (location, _at) in sorted(newest.items())], pool, writer,
             bulk_size, counts, extracted)
    if on_progress:  # written too: the last figures
        on_progress(ReextractProgress(site, "extract", len(newest), len(newest), result))
    logger.info(
        "%s: %d captures, %d URLs: %d new, %d updated, %d unchanged, %d rejected, %d errors",
        site, counts.captures, counts.urls, counts.new, counts.updated, counts.unchanged,
        counts.rejected_total, len(counts.errors) + counts.failed,
    )


def _extract(root: WarcStorage, site: str, locations: list[WarcLocation], pool: ExtractionPool, writer: ArticleWriter,
             bulk_size: int, counts: SiteReextract, on_done: Callable[[int], None] | None = None) -> None:
    """Extract the captures at ``locations`` in the pool and write them, in bulk batches."""
    batch: dict[str, dict] = {}
    pending: deque = deque()  # pages in the pool, in order; a window keeps memory bounded
    window = pool.workers * 8

    def settle(item) -> None:
        canonical, location, url, fetched_at, future = item
        document = _document_of(future, canonical, location, url, fetched_at, site, counts)
        if document is not None:
            batch[document_id(canonical)] = document
        if len(batch) >= bulk_size:
            counts.add_write(writer.write(dict(batch)))
            batch.clear()

    for done, location in enumerate(locations, start=1):
        capture = _readable_capture(root, location, counts)
        if capture is not None:
            canonical = _canonical_of(capture)
            pending.append((canonical, location, capture.url, capture.fetched_at, pool.submit(capture.content(), capture.url)))
        while pending and (len(pending) >= window or pending[0][-1].done()):
            settle(pending.popleft())
        if on_done:
            on_done(done)
    while pending:
        settle(pending.popleft())
    if batch:
        counts.add_write(writer.write(batch))


def _canonical_of(capture) -> str:
    return capture.canonical_url or canonicalize(capture.url)


def _newest_captures(root: WarcStorage, site: str, counts: SiteReextract, result: ReextractResult,
                     on_progress: ProgressCallback | None, every: int) -> dict[str, tuple[WarcLocation, str]]:
    """canonical URL -> (location, fetched_at) of its newest successful (2xx) capture. Only
    locations are kept, not bodies: the chosen captures are read again by offset. A URL with
    no 2xx capture at all is counted as rejected http-error."""
    newest: dict[str, tuple[WarcLocation, str]] = {}
    failed_only: dict[str, WarcLocation] = {}
    for location, capture in iter_captures(root, site):
        counts.captures += 1
        try:
            canonical = _canonical_of(capture)
        except Exception as exc:  # noqa: BLE001 - a bad URL in one record stops nothing
            counts.error(f"{location.file}@{location.offset}: unusable URL {capture.url!r}: {exc}")
            continue
        if not 200 <= capture.status < 300:
            # A 304 or an error says nothing new about the page: an earlier 200 still stands.
            failed_only.setdefault(canonical, location)
            continue
        seen = newest.get(canonical)
        # Later files and later records win ties: they were written later.
        if seen is None or _sort_time(capture.fetched_at) >= _sort_time(seen[1]):
            newest[canonical] = (location, capture.fetched_at)
        if on_progress and counts.captures % every == 0:
            on_progress(ReextractProgress(site, "scan", counts.captures, None, result))
    for _url in failed_only.keys() - newest.keys():
        counts.reject(Reason.HTTP_ERROR)  # never fetched whole: nothing to rebuild
    return newest


def _readable_capture(root: WarcStorage, location: WarcLocation, counts: SiteReextract):
    """The capture at ``location`` if it is an HTML page that answered 2xx; else counted, None."""
    try:
        capture = read_capture(root, location)
    except WarcError as exc:
        counts.error(str(exc))
        return None
    if not 200 <= capture.status < 300:
        counts.reject(Reason.HTTP_ERROR)
        return None
    if capture.content_type and capture.content_type not in HTML_TYPES:
        counts.reject(Reason.NON_HTML)
        return None
    return capture


def _document_of(future, canonical: str, location: WarcLocation, url: str, fetched_at: str, site: str,
                 counts: SiteReextract) -> dict | None:
    """The document of one extracted capture, as the spider builds it; None when rejected."""
    try:
        article = future.result()
    except Rejected as rejected:  # the pool turns every failure, a dead worker included, into this
        counts.reject(rejected.reason)
        if rejected.reason == Reason.EXTRACTION_ERROR:
            counts.error(f"{url}: extraction failed: {rejected.detail}")
        logger.debug("rejected %s (%s) %s", url, rejected.reason, rejected.detail)
        return None
    counts.extracted += 1
    document = archive_document(article, canonical, site, fetched_at, [url])
    document.update(warc_file=location.file, warc_offset=location.offset)
    return document


def _sort_time(iso: str) -> datetime:
    try:
        when = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=timezone.utc)
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
