"""What a scheduled (or run-now) crawl does: take the site locks, run the crawl in a child
process with the time limit, record the outcome, and log how it went.

``crawl_job`` is the function the job store refers to by name
(``archive.scheduling.jobs:crawl_job``); its arguments are pickled into the store, so they are
plain data: the site names and the settings as a dict (``archive.config.settings_to_dict``).

A trigger that finds a site's lock taken crawls nothing for that site, records nothing and logs
"skipped: a crawl of X is already running". The run history holds crawls, not triggers.
"""

from __future__ import annotations

import logging
import os
import threading
from contextlib import ExitStack
from dataclasses import dataclass, field

from archive.config import Settings, credentials_env, settings_from_dict
from archive.scheduling.locks import LockTaken, site_lock
from archive.scheduling.slots import CrawlSlot, NoSlot
from crawler.runner import SUCCESSFUL, CrawlOutcome, run_crawl
from search.runs import record_outcome

logger = logging.getLogger("archive.scheduler")

JOB_FUNC = "archive.scheduling.jobs:crawl_job"
ENQUEUE_FUNC = "archive.scheduling.jobs:enqueue_job"
SKIPPED = "skipped"

# Set on SIGTERM/SIGINT: running crawls stop cleanly (recorded as interrupted), none start.
STOP = threading.Event()

_active: set[str] = set()
_active_changed = threading.Condition()


@dataclass
class RunResult:
    trigger: str
    sites: list[str]  # the sites crawled (their locks were free)
    skipped: list[str] = field(default_factory=list)  # the sites another run was crawling
    outcome: CrawlOutcome | None = None

    @property
    def status(self) -> str:
        return self.outcome.status if self.outcome else SKIPPED

    @property
    def ok(self) -> bool:
        return self.outcome is not None and self.outcome.status in SUCCESSFUL


def crawl_job(site_names: list[str], settings_raw: dict, trigger: str = "schedule") -> None:
    """The scheduled job. Never raises: a failed crawl is recorded and logged, and the
    scheduler goes on with the other sites and the next night."""
    try:
        # The scheduler applied the environment overrides before pickling; credentials come
        # from the environment only (as in the crawl child).
        settings = settings_from_dict(settings_raw, env=credentials_env(os.environ))
        run_sites(settings, site_names, trigger=trigger)
    except Exception:
        logger.exception("crawl of %s could not run", ", ".join(site_names) or "all sites")


def enqueue_job(site_names: list[str], settings_raw: dict, trigger: str = "schedule") -> None:
    """The scheduled job when a broker is configured: one queued crawl per site, run by whichever
    `archive worker` takes it. Never raises: a broker that does not answer is logged."""
    from archive.scheduling.queue import enqueue

    try:
        settings = settings_from_dict(settings_raw, env=credentials_env(os.environ))
        for site, job in enqueue(settings, site_names, trigger=trigger):
            logger.info("queued crawl of %s (job %s, trigger %s)", site, job, trigger)
    except Exception as exc:
        logger.error("crawl of %s could not be queued: %s", ", ".join(site_names) or "all sites", exc)


def run_sites(
    settings: Settings,
    site_names: list[str] | tuple[str, ...] = (),
    trigger: str = "schedule",
    stop_event: threading.Event = STOP,
    job_id: str | None = None,
) -> RunResult:
    """Crawl the sites (all when empty) in one child process, each under its lock. Sites whose
    lock is taken are skipped; the others are crawled and their outcome recorded. ``job_id``:
    the queued job this crawl runs (its broker lock is taken over when the job is redelivered)."""
    names = [s.name for s in settings.select_sites(site_names)]
    label = ", ".join(names)
    if stop_event.is_set():
        logger.warning("crawl of %s not started: the scheduler is stopping", label)
        return RunResult(trigger=trigger, sites=[], skipped=names)
    with ExitStack() as locks:
        sites, skipped, held = [], [], []
        for name in names:
            try:
                held.append(locks.enter_context(site_lock(settings, name, trigger=trigger, job_id=job_id)))
                sites.append(name)
            except LockTaken as exc:
                logger.warning("skipped: %s", exc)
                skipped.append(name)
        result = RunResult(trigger=trigger, sites=sites, skipped=skipped)
        if not sites:
            return result
        _track(sites, +1)
        label = ", ".join(sites)
        try:
            def started(pid: int) -> None:
                logger.info("crawl of %s runs as pid %d", label, pid)
                for lock in held:
                    lock.crawled_by(pid)

            # One of the machine's crawl slots for the child's whole life; the site locks are
            # held while waiting, so a second trigger of a waiting site is skipped as usual.
            with CrawlSlot(settings.data_dir, settings.schedule.crawl_slots, label, stop_event) as slot:
                logger.info(
                    "crawl of %s started (trigger %s, time limit %.0fs)", label, trigger, settings.crawl.time_limit
                )
                result.outcome = run_crawl(
                    settings,
                    sites,
                    time_limit=settings.crawl.time_limit,
                    stop_event=stop_event,
                    on_start=started,
                    # Lock files and the slot: the child keeps them held if this process dies.
                    inherit_fds=tuple(fd for fd in [slot.fd, *(lock.fd for lock in held)] if fd is not None),
                )
            record_outcome(settings, result.outcome, trigger=trigger)
            _log_outcome(result.outcome)
        except NoSlot as exc:
            logger.warning("%s", exc)
            result.sites, result.skipped = [], names
        finally:
            _track(sites, -1)
    return result


def deliver_job(settings_raw: dict) -> None:
    """The scheduler's delivery round for saved searches (retries, digests, what a crawl left):
    every alerts.deliver_every seconds. Never raises."""
    from search.outbox import deliver_round

    deliver_round(settings_from_dict(settings_raw, env=credentials_env(os.environ)))


def _log_outcome(outcome: CrawlOutcome) -> None:
    for site in outcome.requested_sites or sorted(outcome.sites):
        s = outcome.sites.get(site, {})
        errors = (1 if outcome.error else 0) + s.get("index_errors", 0)
        logger.log(
            logging.INFO if s.get("status", outcome.status) == "ok" else logging.WARNING if outcome.status in SUCCESSFUL else logging.ERROR,
            "crawl of %s ended: %s in %.1fs; %d pages, %d new, %d updated, %d unchanged, %d rejected, %d errors%s",
            site,
            s.get("status", outcome.status),
            outcome.duration_seconds,
            s.get("pages_fetched", 0),
            s.get("articles_new", 0),
            s.get("articles_updated", 0),
            s.get("articles_unchanged", 0),
            s.get("rejected_total", 0),
            errors,
            f" ({s.get('error') or outcome.error})" if s.get("error") or outcome.error else "",
        )


def _track(sites: list[str], delta: int) -> None:
    with _active_changed:
        if delta > 0:
            _active.update(sites)
        else:
            _active.difference_update(sites)
        _active_changed.notify_all()


def active_sites() -> set[str]:
    with _active_changed:
        return set(_active)


def wait_for_runs(timeout: float | None = None) -> bool:
    """Wait until no crawl runs in this process (after STOP, they end within the runner's grace)."""
    with _active_changed:
        return _active_changed.wait_for(lambda: not _active, timeout=timeout)
