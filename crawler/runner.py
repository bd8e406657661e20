"""Runs a crawl in a child process and reports how it went.

Used by `archive crawl` and by the scheduler. The child gets the settings as JSON, its own
process group (so nothing outlives it), and a time limit: past the limit it is asked to stop
(SIGTERM: Scrapy closes gracefully, the pipeline flushes), then killed.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from archive.config import Settings, settings_to_dict
from crawler.diagnosis import archived_nothing, no_articles_message

logger = logging.getLogger(__name__)

# After SIGTERM, how long a crawl may take to flush and close before it is killed.
SHUTDOWN_GRACE_SECONDS = 30.0
PARENT_ENV = "ARCHIVE_CRAWL_PARENT_PID"

OK, FAILED, TIMED_OUT, INTERRUPTED = "ok", "failed", "timed-out", "interrupted"
NO_ARTICLES = "no-articles"  # pages were fetched but not one article archived: the patterns are wrong, or the site changed
INCOMPLETE = "incomplete"  # the page budget ended the run: listing pages and links wait for the next run
OK_SPOOLED = "ok-spooled"  # finished, but Elasticsearch was unreachable or a write failed: articles wait in the spool (`archive flush`)
# A run's status is its worst site's; these three still exit 0 (the crawl did its work).
SEVERITY = (FAILED, TIMED_OUT, INTERRUPTED, NO_ARTICLES, INCOMPLETE, OK_SPOOLED, OK)
SUCCESSFUL = (OK, OK_SPOOLED, INCOMPLETE)


@dataclass
class CrawlOutcome:
    status: str
    started: datetime
    ended: datetime
    exit_code: int | None
    sites: dict[str, dict] = field(default_factory=dict)  # site -> summary (crawler/progress.py)
    error: str | None = None
    requested_sites: list[str] = field(default_factory=list)

    @property
    def duration_seconds(self) -> float:
        return (self.ended - self.started).total_seconds()


def run_crawl(
    settings: Settings,
    site_names: list[str] | tuple[str, ...] = (),
    time_limit: float | None = None,
    stop_event: threading.Event | None = None,
    on_start=None,
    extra_env: dict[str, str] | None = None,
    inherit_fds: tuple[int, ...] = (),
) -> CrawlOutcome:
    """Crawl the named sites (all when empty) in a child process; never raises for a crawl failure.

    `inherit_fds`: the site locks' descriptors, handed to the child so that the lock stays held
    by whichever process still crawls (a flock lives as long as any process holds it open)."""
    sites = [s.name for s in settings.select_sites(site_names)]
    limit = time_limit if time_limit is not None else settings.crawl.time_limit
    started = datetime.now(timezone.utc)
    with tempfile.TemporaryDirectory(prefix="archive-crawl-") as workdir:
        settings_file = Path(workdir, "settings.json")
        # The child's own clean stop comes first: CLOSESPIDER_TIMEOUT at the limit.
        raw = settings_to_dict(settings)
        raw["crawl"]["time_limit"] = limit
        # Readable by this user only (it may hold a webhook URL); the child deletes it once read.
        with os.fdopen(os.open(settings_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as out:
            out.write(json.dumps(raw))
        summary_dir = Path(workdir, "summaries")
        # The child watches this pid: if we die (even by SIGKILL) it stops cleanly instead of crawling on alone.
        env = {**os.environ, **(extra_env or {}), PARENT_ENV: str(os.getpid())}
        child = subprocess.Popen(
            [sys.executable, "-m", "crawler.run", str(settings_file), str(summary_dir), *sites],
            env=env,
            start_new_session=True,  # its own process group: killed as a whole, no orphans
            pass_fds=inherit_fds,
        )
        if on_start:
            on_start(child.pid)
        try:
            status, exit_code = _supervise(child, limit, stop_event)
        except KeyboardInterrupt:
            # The child has its own session, so Ctrl-C reached only us: stop it, then say so.
            status, exit_code = INTERRUPTED, _stop(child)
        summaries = _read_summaries(summary_dir)

    ended = datetime.now(timezone.utc)
    error = None
    for name, summary in summaries.items():  # sites finished before a stop keep their own status
        summary["status"], summary["error"] = site_status(settings, name, summary)
    if status == OK:
        missing = [s for s in sites if s not in summaries]
        if exit_code != 0 or missing:
            status = FAILED
            error = f"crawl process exited with code {exit_code}" + (f"; no summary for {', '.join(missing)}" if missing else "")
        else:
            status = min((s["status"] for s in summaries.values()), key=SEVERITY.index, default=OK)
            error = "\n".join(f"{name}: {s['error']}" if len(summaries) > 1 else s["error"]
                              for name, s in sorted(summaries.items()) if s.get("error") and s["status"] == status) or None
    elif status == TIMED_OUT:
        error = f"crawl exceeded its time limit of {limit:.0f}s"
    elif status == INTERRUPTED:
        error = "crawl stopped by a signal"
    return CrawlOutcome(
        status=status, started=started, ended=ended, exit_code=exit_code, sites=summaries, error=error, requested_sites=sites
    )


def site_status(settings: Settings, name: str, summary: dict) -> tuple[str, str | None]:
    """One site's status and the one line that explains it, from its summary."""
    reason = summary.get("finish_reason")
    if reason == "robots-unreadable":
        return FAILED, f"{summary.get('robots_unreadable')}; nothing of the site was crawled, it is tried again next run"
    if summary.get("articles_lost", 0):
        return FAILED, f"{summary['articles_lost']} articles could be neither stored nor spooled: {summary.get('lost_error')}"
    if summary.get("pages_fetched", 0) == 0:
        # Scrapy finishes "normally" when every request failed; an operator calls that failed.
        return FAILED, f"no page could be fetched from {name}"
    if reason == "closespider_timeout":
        return TIMED_OUT, f"stopped at its time limit; {_remaining(summary)}"
    if reason == "shutdown":
        return INTERRUPTED, "crawl stopped by a signal"
    # Only a crawl that ran to its end can say its patterns matched nothing.
    if archived_nothing(summary):
        message = no_articles_message(settings.site(name), summary)
        summary["diagnosis"] = message  # the run record of each such site says so, and why
        return NO_ARTICLES, message
    if summary.get("remaining_listings", 0) or summary.get("over_budget", 0):
        return INCOMPLETE, f"page budget reached; {_remaining(summary)}"
    if summary.get("articles_spooled", 0):
        why = summary.get("spool_error")
        cause = "Elasticsearch was unreachable" if why in (None, "unreachable") else f"the write to Elasticsearch failed ({why})"
        return OK_SPOOLED, f"{cause}: {summary['articles_spooled']} articles wait in the spool; run `archive flush`"
    return OK, None


def _remaining(summary: dict) -> str:
    return (f"{summary.get('remaining_listings', 0)} listing pages and {summary.get('over_budget', 0)} links "
            "over the budget wait for the next run")


def _supervise(child: subprocess.Popen, limit: float, stop_event: threading.Event | None) -> tuple[str, int | None]:
    # The child closes itself at the limit; the parent steps in only if it does not.
    deadline = time.monotonic() + limit + SHUTDOWN_GRACE_SECONDS
    while True:
        try:
            return OK, child.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            pass
        if stop_event is not None and stop_event.is_set():
            return INTERRUPTED, _stop(child)
        if time.monotonic() > deadline:
            logger.error("crawl pid %d exceeded its time limit; stopping it", child.pid)
            return TIMED_OUT, _stop(child)


def _stop(child: subprocess.Popen) -> int | None:
    """SIGTERM (Scrapy shuts down gracefully and flushes), then SIGKILL to the whole group."""
    try:
        os.killpg(child.pid, signal.SIGTERM)
    except ProcessLookupError:
        return child.poll()
    try:
        return child.wait(timeout=SHUTDOWN_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return child.wait()


def _read_summaries(directory: Path) -> dict[str, dict]:
    summaries = {}
    if directory.exists():
        for path in directory.glob("*.json"):
            try:
                summaries[path.stem] = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                logger.warning("unreadable crawl summary %s", path)
    return summaries
