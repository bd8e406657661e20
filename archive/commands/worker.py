"""`archive worker`: take per-site crawl jobs from the queue (Celery, Redis) on this machine."""

from __future__ import annotations

import click


@click.command()
@click.option("--concurrency", type=int, help="Crawls at once (default: worker.concurrency, else schedule.max_concurrent_crawls).")
@click.option("--name", help="The worker's name in logs (default: archive@HOSTNAME).")
@click.pass_obj
def worker(app, concurrency: int | None, name: str | None) -> None:
    """Run a crawl worker: take per-site crawl jobs from the broker until SIGTERM or Ctrl-C.

    Each job is one site's crawl, run as `archive crawl --site X` runs it (site lock, crawl slot,
    run record, alerts), with this machine's settings, data folder and credentials. A job is
    acknowledged only when its crawl has ended: if this machine dies mid-crawl, another worker
    runs the site again once the lock timeout has passed. On SIGTERM running crawls stop cleanly
    (recorded as interrupted) and their jobs go back on the queue.

    \b
    Needs [queue] broker_url or ARCHIVE_BROKER_URL, e.g. redis://127.0.0.1:6379/0.
    Examples:
      archive worker
      ARCHIVE_BROKER_URL=redis://queue.internal:6379/0 archive worker --concurrency 2
      archive crawl --site demo --queue     # a job for whichever worker is free
    """
    from archive.scheduling.queue import run_worker

    settings = app.settings
    if not settings.queue.enabled:
        raise click.ClickException("no broker configured: set [queue] broker_url in settings.toml or ARCHIVE_BROKER_URL")
    n = concurrency or settings.worker.concurrency or settings.schedule.crawl_slots
    if n < 1:
        raise click.BadParameter("at least 1", param_hint="--concurrency")
    run_worker(settings, n, name)
