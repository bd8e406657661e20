"""The schedule: APScheduler 3.x with a persistent job store, from settings.toml ``[schedule]``.

- One job per site (``crawl:<site>``) when ``per_site = true``, else one job ``crawl:all``.
  Jobs have explicit ids and are re-added at every start with ``replace_existing=True``;
  jobs of sites no longer configured are removed.
- The job store (``<data_dir>/scheduler.sqlite``) survives restarts. A restart keeps a job's
  stored next run time when its trigger is unchanged, so a run missed while the scheduler was
  down still happens at start (once: ``coalesce=True``) if it is within
  ``misfire_grace_seconds``. A changed cron or time zone starts afresh from the new trigger.
- SIGTERM/SIGINT: the scheduler pauses and shuts down (no new run starts), running crawls are
  stopped cleanly and recorded as interrupted, then the process exits.
"""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler, SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger as _CronTrigger

from archive.config import ScheduleSettings, Settings, settings_to_dict
from archive.scheduling import jobs

logger = logging.getLogger("archive.scheduler")

ALL_SITES_JOB = "crawl:all"
DELIVERY_JOB = "alerts:deliver"


@dataclass(frozen=True)
class JobSpec:
    """A job as the settings want it."""

    id: str
    sites: tuple[str, ...]  # empty: every configured site


@dataclass(frozen=True)
class ScheduledJob:
    """A job as `--list` and `archive status` show it."""

    id: str
    sites: tuple[str, ...]
    schedule: str  # e.g. "0 2 * * * Europe/Berlin"
    next_run: datetime | None
    state: str  # "scheduled", "missed" (runs at start if within the grace), "new", "removed at start"

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "sites": list(self.sites),
            "schedule": self.schedule,
            "next_run": self.next_run.isoformat() if self.next_run else None,
            "state": self.state,
        }


def job_id(site: str) -> str:
    return f"crawl:{site}"


def desired_jobs(settings: Settings) -> list[JobSpec]:
    if settings.schedule.per_site:
        return [JobSpec(job_id(s.name), (s.name,)) for s in settings.sites]
    return [JobSpec(ALL_SITES_JOB, ())] if settings.sites else []


class CronTrigger(_CronTrigger):
    """APScheduler's cron trigger with cron's rule for the hour that repeats when clocks go back:
    a job at a fixed hour ("0 2 * * *") runs once that night, not at 02:00 summer time and again
    at 02:00 winter time. Jobs with a wildcard hour ("0 * * * *") run in both hours, as in cron.
    (The hour skipped when clocks go forward fires at the first moment after it, 03:00, as in
    cron; APScheduler already does that.)"""

    def get_next_fire_time(self, previous_fire_time, now):
        moment = super().get_next_fire_time(previous_fire_time, now)
        if moment is None or not self._repeat_of_a_fixed_hour(moment):
            return moment
        # Search again from the end of the repeated hour. (Searching from just after `moment`
        # returns `moment` again: APScheduler's wall-clock arithmetic loses the fold.)
        probe = moment.astimezone(timezone.utc)
        while _ambiguous(probe.astimezone(self.timezone)):
            probe += timedelta(minutes=1)
        return super().get_next_fire_time(None, probe.astimezone(self.timezone))

    def _repeat_of_a_fixed_hour(self, moment: datetime) -> bool:
        hour = next(f for f in self.fields if f.name == "hour")
        if str(hour).startswith("*"):
            return False
        wall = moment.replace(tzinfo=None)
        return _ambiguous(moment) and moment.timestamp() == wall.replace(tzinfo=self.timezone, fold=1).timestamp()


def _ambiguous(moment: datetime) -> bool:
    """A wall-clock time that happens twice (clocks went back)."""
    wall = moment.replace(tzinfo=None)
    return wall.replace(tzinfo=moment.tzinfo, fold=0).timestamp() != wall.replace(tzinfo=moment.tzinfo, fold=1).timestamp()


def make_trigger(schedule: ScheduleSettings) -> CronTrigger:
    return CronTrigger.from_crontab(schedule.cron, timezone=schedule.timezone)


def next_fire_time(schedule: ScheduleSettings, after: datetime) -> datetime | None:
    """The first run after ``after`` (an aware datetime), in the schedule's time zone."""
    return make_trigger(schedule).get_next_fire_time(None, after)


def jobstore_path(settings: Settings) -> Path:
    return settings.data_dir / "scheduler.sqlite"


def jobstore_url(settings: Settings) -> str:
    return f"sqlite:///{jobstore_path(settings)}"


def _trigger_key(trigger) -> str:
    # repr includes the fields and the time zone (str() leaves the zone out).
    return repr(trigger)


def read_stored_jobs(settings: Settings) -> dict:
    """The jobs in the job store, without starting a scheduler (and without creating a store)."""
    if not jobstore_path(settings).exists():
        return {}
    store = SQLAlchemyJobStore(url=jobstore_url(settings))
    # A job store needs a scheduler to rebuild jobs; this one is never started.
    store.start(BackgroundScheduler(timezone=settings.schedule.timezone), "default")
    try:
        return {job.id: job for job in store.get_all_jobs()}
    finally:
        store.shutdown()


def _remove_stored_jobs(settings: Settings, ids: list[str]) -> None:
    store = SQLAlchemyJobStore(url=jobstore_url(settings))
    store.start(BackgroundScheduler(timezone=settings.schedule.timezone), "default")
    try:
        for stale in ids:
            store.remove_job(stale)
    finally:
        store.shutdown()


def create_scheduler(settings: Settings, scheduler_class: type[BaseScheduler] = BlockingScheduler) -> BaseScheduler:
    """A scheduler with the persistent job store and the jobs the settings ask for, not started.
    Jobs of removed sites are deleted from the store now."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    specs = desired_jobs(settings)
    stored = read_stored_jobs(settings)
    wanted = {spec.id for spec in specs}
    stale = sorted(set(stored) - wanted)
    if stale:
        _remove_stored_jobs(settings, stale)
        for old in stale:
            logger.info("removed job %s: its site is no longer configured", old)

    scheduler = scheduler_class(
        # The delivery job is rebuilt at every start from the settings: kept in memory, not stored.
        jobstores={"default": SQLAlchemyJobStore(url=jobstore_url(settings)), "memory": MemoryJobStore()},
        # One thread per job: sites crawl side by side, so none waits past its misfire grace;
        # one more for the alert deliveries.
        executors={"default": ThreadPoolExecutor(max_workers=max(1, len(specs)) + 1)},
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": settings.schedule.misfire_grace_seconds,
        },
        timezone=settings.schedule.timezone,
    )
    trigger = make_trigger(settings.schedule)
    raw = settings_to_dict(settings)
    for spec in specs:
        options = {}
        old = stored.get(spec.id)
        if old is not None and old.next_run_time is not None and _trigger_key(old.trigger) == _trigger_key(trigger):
            # Same schedule: keep the stored next run, which may be a run missed while down.
            options["next_run_time"] = old.next_run_time
        scheduler.add_job(
            # With a broker the job only enqueues; `archive worker`s crawl.
            jobs.ENQUEUE_FUNC if settings.queue.enabled else jobs.JOB_FUNC,
            trigger=trigger,
            args=[list(spec.sites), raw],
            kwargs={"trigger": "schedule"},
            id=spec.id,
            name=f"crawl {', '.join(spec.sites) or 'all sites'}",
            replace_existing=True,
            **options,
        )
    scheduler.add_job(
        "archive.scheduling.jobs:deliver_job", trigger="interval", seconds=settings.alerts.deliver_every, args=[raw],
        id=DELIVERY_JOB, name="deliver saved-search alerts", jobstore="memory", replace_existing=True,
        misfire_grace_time=None,
    )
    return scheduler


def planned_jobs(settings: Settings, now: datetime | None = None) -> list[ScheduledJob]:
    """The schedule as it stands: the job store's next run times where the trigger is unchanged,
    computed from the settings otherwise. Reads only; starts nothing."""
    zone = ZoneInfo(settings.schedule.timezone)
    now = now or datetime.now(zone)
    trigger = make_trigger(settings.schedule)
    label = f"{settings.schedule.cron} {settings.schedule.timezone}"
    stored = read_stored_jobs(settings)
    result = []
    for spec in desired_jobs(settings):
        old = stored.get(spec.id)
        if old is not None and old.next_run_time is not None and _trigger_key(old.trigger) == _trigger_key(trigger):
            next_run = old.next_run_time.astimezone(zone)
            state = "missed" if next_run < now else "scheduled"
        else:
            next_run, state = trigger.get_next_fire_time(None, now), "new"
        result.append(ScheduledJob(spec.id, spec.sites, label, next_run, state))
    for stale_id in sorted(set(stored) - {spec.id for spec in desired_jobs(settings)}):
        old = stored[stale_id]
        result.append(ScheduledJob(stale_id, tuple(old.args[0]) if old.args else (), str(old.trigger), None, "removed at start"))
    return result


def job_for_site(settings: Settings, site: str) -> str:
    return job_id(site) if settings.schedule.per_site else ALL_SITES_JOB


def run_forever(settings: Settings) -> None:
    """The production main process: runs the schedule until SIGTERM or SIGINT."""
    scheduler = create_scheduler(settings, BlockingScheduler)
    stopping = threading.Event()

    def shut_down() -> None:
        try:
            scheduler.pause()  # no new runs from now on
            scheduler.shutdown(wait=False)  # running crawls see jobs.STOP and end themselves
        except SchedulerNotRunningError:
            pass

    def on_signal(signum, frame) -> None:
        name = signal.Signals(signum).name
        if stopping.is_set():
            logger.warning("received %s again: still stopping (running crawls get %.0fs to close)", name, 30)
            return
        stopping.set()
        running = ", ".join(sorted(jobs.active_sites())) or "none"
        logger.info("received %s: stopping; no new runs; running crawls (%s) are stopped and recorded", name, running)
        jobs.STOP.set()
        # Not in the handler itself: the main thread may be inside the scheduler's own locks.
        threading.Thread(target=shut_down, name="scheduler-shutdown", daemon=True).start()

    def on_started(event) -> None:
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        now = datetime.now(timezone.utc)
        for job in scheduler.get_jobs():
            if job.next_run_time is not None and job.next_run_time < now:
                logger.info(
                    "job %s: missed its run at %s while the scheduler was down; it runs now (once) if within %ss",
                    job.id, _when(job.next_run_time), settings.schedule.misfire_grace_seconds,
                )
            else:
                logger.info("job %s: next run %s", job.id, _when(job.next_run_time))

    scheduler.add_listener(on_started, EVENT_SCHEDULER_STARTED)
    logger.info(
        "scheduler starting: cron %r in %s, job store %s", settings.schedule.cron, settings.schedule.timezone, jobstore_path(settings)
    )
    scheduler.start()  # blocks until shut_down()
    if jobs.active_sites():
        logger.info("waiting for running crawls to stop: %s", ", ".join(sorted(jobs.active_sites())))
    jobs.wait_for_runs()
    logger.info("scheduler stopped")


def run_now(settings: Settings, site_names: tuple[str, ...] = ()) -> list[jobs.RunResult]:
    """Crawl now, under the site locks, like the schedule would (trigger "run-now"). With
    ``per_site`` each site runs in its own child process, one after another."""
    names = [s.name for s in settings.select_sites(site_names)]

    def on_signal(signum, frame) -> None:
        logger.info("received %s: stopping the crawl", signal.Signals(signum).name)
        jobs.STOP.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        groups = [[n] for n in names] if settings.schedule.per_site else [names]
        results = []
        for group in groups:
            if jobs.STOP.is_set():
                break
            results.append(jobs.run_sites(settings, group, trigger="run-now"))
        return results
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "never (paused)"
