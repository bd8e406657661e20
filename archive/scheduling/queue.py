"""Per-site crawl jobs on a queue: Celery, with Redis as the broker.

A job is one site's crawl, nothing smaller: politeness caps a site at a few pages a second,
which one crawl process handles. The scheduler (or `archive crawl --queue`) enqueues one job
per site; `archive worker` on each crawl machine takes jobs and runs each exactly as the
scheduler runs a crawl without a broker (``jobs.run_sites``: lock, crawl slot, child process,
run record, alerts), with the worker machine's own settings.toml, data folder and credentials.
A job carries only the site's name and the trigger. Workers also take `archive reextract`'s
per-WARC-file jobs (archive/scheduling/reextract_jobs.py), from a queue of their own.

- Late acknowledgement (``task_acks_late``) with one job reserved at a time per crawl slot: a
  job is removed from the broker only when its crawl has ended. When a worker dies, Redis gives
  its unacknowledged job to another worker after the visibility timeout, which is longer than
  any crawl (``locks.lock_timeout``), so a running crawl is never handed out twice.
- The site lock lives in Redis too (``locks.BrokerSiteLock``), with the same timeout: the lock
  of a machine that died expires, and the redelivered job takes over its own lock.
- A worker stopped with SIGTERM stops its crawls cleanly (recorded as interrupted) and puts their
  jobs back on the queue for another worker.
"""

from __future__ import annotations

import logging
import socket

from archive.config import Settings
from archive.scheduling import reextract_jobs
from archive.scheduling.locks import broker_address, lock_timeout

logger = logging.getLogger("archive.scheduler")

TASK_NAME = "archive.crawl_site"
QUEUE_NAME = "archive-crawls"

_worker_settings: Settings | None = None  # the worker machine's settings, set by run_worker


class QueueError(RuntimeError):
    """The broker cannot take the jobs."""


def make_app(settings: Settings, results: bool = False):
    """The Celery app; ``results``: with Redis as result store too, for the workers and for
    `archive reextract` (its per-file counts come back that way; crawls' results are their run records)."""
    from celery import Celery

    app = Celery("archive", broker=settings.queue.broker_url, backend=settings.queue.broker_url if results else None,
                 set_as_current=False)
    app.conf.update(
        task_acks_late=True,  # acknowledged once the crawl has ended
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # no job waits on a busy worker while another is free
        task_ignore_result=True,  # a crawl's run record in Elasticsearch is its result
        result_expires=86400,
        task_default_queue=QUEUE_NAME,
        # A job a dead worker held goes back on the queue once its visibility timeout (as long as
        # the site lock's) has passed; live workers look for such jobs every 10 seconds.
        broker_transport_options={"visibility_timeout": lock_timeout(settings),
                                  "unacked_restore_interval": 10, "unacked_restore_throttle": 1},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,  # the archive's log format, as in every other command
        worker_redirect_stdouts=False,
        worker_enable_remote_control=False,  # no pidbox queues: workers need no broadcast channel
        worker_send_task_events=False,
    )
    app.task(name=TASK_NAME, bind=True)(_crawl_site)
    reextract_jobs.register(app)
    return app


def worker_settings() -> Settings:
    """The settings of the worker machine this job runs on."""
    return _worker_settings


def enqueue(settings: Settings, site_names, trigger: str = "schedule") -> list[tuple[str, str]]:
    """One job per site (all configured sites when none is named); returns (site, job id) pairs."""
    from kombu.exceptions import OperationalError

    if not settings.queue.enabled:
        raise QueueError("no broker configured: set [queue] broker_url or ARCHIVE_BROKER_URL")
    names = [s.name for s in settings.select_sites(site_names)]
    app = make_app(settings)
    queued = []
    try:
        with app.connection_for_write() as connection:
            for name in names:
                result = app.send_task(TASK_NAME, args=[name, trigger], connection=connection,
                                       retry=True, retry_policy={"max_retries": 3, "interval_start": 1})
                queued.append((name, result.id))
    except OperationalError as exc:
        done = f"; queued before it failed: {', '.join(n for n, _ in queued)}" if queued else ""
        raise QueueError(f"the broker at {broker_address(settings)} does not answer ({exc}){done}") from None
    return queued


def _crawl_site(task, site: str, trigger: str) -> str:
    from celery.exceptions import Reject

    from archive.scheduling import jobs
    from crawler.runner import INTERRUPTED

    settings = _worker_settings
    redelivered = bool(task.request.delivery_info and task.request.delivery_info.get("redelivered"))
    logger.info("job %s: crawl of %s (trigger %s)%s", task.request.id, site, trigger,
                ", delivered again after its worker was lost" if redelivered else "")
    try:
        settings.site(site)
    except ValueError:
        # Another machine's settings know this site and ours do not: say so, drop the job.
        logger.error("job %s: site %r is not in this worker's settings (%s); job dropped", task.request.id, site, settings.path)
        return "unknown-site"
    result = jobs.run_sites(settings, [site], trigger=trigger, stop_event=jobs.STOP, job_id=task.request.id)
    if jobs.STOP.is_set() and (result.outcome is None or result.outcome.status == INTERRUPTED):
        logger.info("job %s: worker stopping; crawl of %s goes back on the queue", task.request.id, site)
        raise Reject("worker stopping", requeue=True)
    return result.status


def run_worker(settings: Settings, concurrency: int, name: str | None = None) -> None:
    """`archive worker`: take crawl jobs until SIGTERM/SIGINT (running crawls stop cleanly and
    their jobs go back on the queue)."""
    from celery.signals import worker_shutting_down

    from archive.scheduling import jobs

    global _worker_settings
    _worker_settings = settings
    app = make_app(settings, results=True)
    worker_shutting_down.connect(lambda **_: jobs.STOP.set(), weak=False)
    hostname = name or f"archive@{socket.gethostname()}"
    logger.info("worker %s: %d crawl(s) at once, broker %s, data folder %s", hostname, concurrency,
                broker_address(settings), settings.data_dir)
    app.worker_main([
        "worker", "--pool=threads", f"--concurrency={concurrency}", "--loglevel=INFO", f"--hostname={hostname}",
        f"--queues={QUEUE_NAME},{reextract_jobs.QUEUE_NAME}", "--without-gossip", "--without-mingle", "--without-heartbeat",
    ])
