"""`archive reextract` with a broker: one job per WARC file, extracted by whichever `archive
worker` is free (crawler/reextract.py plans the jobs and extracts a file's records).

The command reads every capture once (cheap: no extraction) to pick the newest capture of each
URL, so splitting by file never lets an older capture overwrite a newer one. Each job carries a
file's path relative to the WARC folder and the offsets of its chosen records; the worker reads
them from its own WARC storage (`archive.warc_storage.read_storage`: with several machines,
what `warc.storage` names, a folder every machine mounts or an S3 bucket), under one of its crawl slots (the memory budget holds), and
returns its counts through Redis, where the command collects them.
"""

from __future__ import annotations

import logging
import time
from typing import Callable, Iterable

from elasticsearch import Elasticsearch

from archive.config import Settings
from archive.scheduling.locks import broker_address

logger = logging.getLogger("archive.scheduler")

TASK_NAME = "archive.reextract_file"
QUEUE_NAME = "archive-reextract"
POLL_SECONDS = 0.5

# (site, file, worker, that file's counts as a dict, or an error message)
FileDone = Callable[[str, str, str, dict | None, str | None], None]


def register(app) -> None:
    app.task(name=TASK_NAME, bind=True, ignore_result=False, queue=QUEUE_NAME)(_reextract_file)


def reextract_on_workers(settings: Settings, client: Elasticsearch, site_names: Iterable[str] = (), on_progress=None,
                         on_file: FileDone | None = None, on_queued: Callable[[int], None] | None = None):
    """Plan here, extract on the workers; the merged ReextractResult, as `reextract` returns it."""
    from kombu.exceptions import OperationalError

    from archive.scheduling.queue import QueueError, make_app
    from crawler.reextract import plan
    from search.indices import ensure_all

    started = time.monotonic()
    result, jobs = plan(settings, site_names, on_progress=on_progress)
    ensure_all(client, settings.elasticsearch)  # before any worker writes
    app = make_app(settings, results=True)
    try:
        with app.connection_for_write() as connection:  # a dead broker said at once, not after the result store's retries
            connection.ensure_connection(max_retries=1)
        pending = {app.send_task(TASK_NAME, args=[job.site, job.file, list(job.offsets)], queue=QUEUE_NAME,
                                 retry=True, retry_policy={"max_retries": 3, "interval_start": 1}): job
                   for job in jobs}
    except OperationalError as exc:
        raise QueueError(f"the broker at {broker_address(settings)} does not answer ({exc})") from None
    if on_queued:
        on_queued(len(pending))
    while pending:
        for handle in [h for h in pending if h.ready()]:
            job = pending.pop(handle)
            counts = result.sites[job.site]
            if handle.successful():
                done = handle.result
                _merge(counts, done)
                error = None
            else:
                error = f"{job.file}: the worker failed: {handle.result!r}"
                counts.error(error)
                done = {}
            if on_file:
                on_file(job.site, job.file, done.get("worker", "?"), done or None, error)
            handle.forget()
        if pending:
            time.sleep(POLL_SECONDS)
    if result.new or result.updated:
        client.indices.refresh(index=settings.elasticsearch.articles_alias)
    result.duration_seconds = time.monotonic() - started
    return result


def _merge(counts, done: dict) -> None:
    for name in ("extracted", "new", "updated", "unchanged", "failed"):
        setattr(counts, name, getattr(counts, name) + int(done.get(name, 0)))
    for reason, n in done.get("rejected", {}).items():
        counts.rejected[reason] = counts.rejected.get(reason, 0) + int(n)
    for message in done.get("errors", []):
        counts.error(message)


def _reextract_file(task, site: str, file: str, offsets: list[int]) -> dict:
    from celery.exceptions import Reject

    from archive.scheduling import jobs
    from archive.scheduling.queue import worker_settings
    from archive.scheduling.slots import CrawlSlot, NoSlot
    from crawler.reextract import FileJob, reextract_file
    from search.client import make_client

    settings = worker_settings()
    if not isinstance(file, str) or not all(isinstance(o, int) and o >= 0 for o in offsets):
        logger.error("job %s: not a re-extraction job (file %r); dropped", task.request.id, file)
        return {"worker": task.request.hostname, "errors": [f"job {task.request.id}: malformed, dropped"]}
    job = FileJob(site, file, tuple(offsets))
    try:
        with CrawlSlot(settings.data_dir, settings.schedule.crawl_slots, f"re-extraction of {file}", jobs.STOP):
            client = make_client(settings.elasticsearch)
            try:
                counts = reextract_file(settings, client, job)
            finally:
                client.close()
    except NoSlot:
        raise Reject("worker stopping", requeue=True) from None
    logger.info("job %s: re-extracted %d records of %s: %d new, %d updated, %d unchanged, %d rejected, %d errors",
                task.request.id, len(offsets), file, counts.new, counts.updated, counts.unchanged,
                counts.rejected_total, len(counts.errors) + counts.failed)
    return {"worker": task.request.hostname, **counts.as_dict()}
