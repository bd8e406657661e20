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

OK, FAILED, TIMED_OUT, INTERRUPTED = "ok", "failed", "timed-out", "interrupted"
NO_ARTICLES = "no-articles"  # pages were fetched but not one article archived: the patterns are wrong, or the site changed


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
) -> CrawlOutcome:
    """Crawl the named sites (all when empty) in a child process; never raises for a crawl failure."""
    sites = [s.name for s in settings.select_sites(site_names)]
    limit = time_limit if time_limit is not None else settings.crawl.time_limit
    started = datetime.now(timezone.utc)
    with tempfile.TemporaryDirectory(prefix="archive-crawl-") as workdir:
        settings_file = Path(workdir, "settings.json")
        # The child's own clean stop comes first: CLOSESPIDER_TIMEOUT at the limit.
        raw = settings_to_dict(settings)
        raw["crawl"]["time_limit"] = limit
        settings_file.write_text(json.dumps(raw), encoding="utf-8")
        summary_dir = Path(workdir, "summaries")
        env = {**os.environ, **(extra_env or {})}
        child = subprocess.Popen(
            [sys.executable, "-m", "crawler.run", str(settings_file), str(summary_dir), *sites],
            env=env,
            start_new_session=True,  # its own process group: killed as a whole, no orphans
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
    if status == OK:
        missing = [s for s in sites if s not in summaries]
        if exit_code != 0 or missing:
            status = FAILED
            error = f"crawl process exited with code {exit_code}" + (f"; no summary for {', '.join(missing)}" if missing else "")
        elif any(s.get("pages_fetched", 0) == 0 for s in summaries.values()):
            # Scrapy finishes "normally" when every request failed; an operator calls that failed.
            status = FAILED
            dead = sorted(name for name, s in summaries.items() if s.get("pages_fetched", 0) == 0)
            error = f"no page could be fetched from {', '.join(dead)}"
        elif any(s.get("finish_reason") == "closespider_timeout" for s in summaries.values()):
            status = TIMED_OUT
        elif any(s.get("finish_reason") == "shutdown" for s in summaries.values()):
            status = INTERRUPTED
        # Only a crawl that ran to its end can say its patterns matched nothing.
        elif any(archived_nothing(s) for s in summaries.values()):
            status = NO_ARTICLES
            for name, s in summaries.items():
                if archived_nothing(s):  # the run record of each such site says so, and why
                    s.update(status=NO_ARTICLES, diagnosis=no_articles_message(settings.site(name), s))
            error = "\n".join(s["diagnosis"] for _, s in sorted(summaries.items()) if s.get("diagnosis"))
    elif status == TIMED_OUT:
        error = f"crawl exceeded its time limit of {limit:.0f}s"
    elif status == INTERRUPTED:
        error = "crawl stopped by a signal"
    return CrawlOutcome(
        status=status, started=started, ended=ended, exit_code=exit_code, sites=summaries, error=error, requested_sites=sites
    )


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
