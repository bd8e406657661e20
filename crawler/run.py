"""The crawl child process: `python -m crawler.run SETTINGS_JSON SUMMARY_DIR [SITE ...]`.

Scrapy's Twisted reactor cannot be restarted in one process, so every crawl is a process of
its own, started by `archive crawl` or the scheduler (crawler/runner.py). It writes one
summary JSON per site into SUMMARY_DIR; its exit code is 0 when every spider finished.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

from archive.config import credentials_env, settings_from_dict


def main(argv: list[str]) -> int:
    settings_json, summary_dir, *site_names = argv
    with open(settings_json, encoding="utf-8") as f:
        raw = json.load(f)
    os.unlink(settings_json)  # read once; no copy of the settings stays on disk, however we end
    # The parent already applied environment overrides; only credentials come from the env.
    settings = settings_from_dict(raw, env=credentials_env(os.environ))
    sites = settings.select_sites(site_names)
    settings, sizing = size_extraction(settings, len(sites))

    from scrapy.crawler import CrawlerProcess

    from crawler.runner import PARENT_ENV
    from crawler.settings import scrapy_settings
    from crawler.spiders.news import NewsSpider

    quiet_library_loggers()
    process = CrawlerProcess(scrapy_settings(settings, summary_dir))
    logging.getLogger("crawler.run").log(*sizing)  # after Scrapy set up logging
    for site in sites:
        process.crawl(NewsSpider, site=site, app_settings=settings)
    parent = os.environ.get(PARENT_ENV)
    if parent and parent.isdigit():
        watch_parent(int(parent), process, Path(summary_dir).parent)
    process.start()
    return 0


def size_extraction(settings, pools: int):
    """Extraction workers per site within crawl.memory_budget_mb, shared by the crawls that may
    run at once on this machine (schedule.max_concurrent_crawls), unless set explicitly."""
    from crawler.workers import budget_needed, workers_within_budget

    crawl, slots = settings.crawl, settings.schedule.crawl_slots
    if crawl.extraction_workers:
        workers, how = crawl.extraction_workers, "crawl.extraction_workers"
    else:
        workers = workers_within_budget(crawl.memory_budget_mb, slots, pools)
        how = f"{slots} crawl(s) at once within crawl.memory_budget_mb = {crawl.memory_budget_mb}"
    needed = budget_needed(slots, workers, pools)
    sizing = (logging.WARNING if needed > crawl.memory_budget_mb else logging.INFO,
              "extraction: %d worker process(es) per site (%s); %d crawls like this one need about %d MB",
              workers, how, slots, needed)
    return replace(settings, crawl=replace(crawl, extraction_workers=workers)), sizing


# Once the parent is gone, how long the crawl may take to close cleanly before it exits anyway.
ORPHAN_GRACE_SECONDS = 30.0


def watch_parent(parent_pid: int, process, workdir: Path) -> None:
    """If the process that started the crawl dies (even by SIGKILL), the crawl stops: cleanly
    first (Scrapy's shutdown, the pipeline flushes), then for good. No orphan crawls on alone."""
    from twisted.internet import reactor

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        logging.getLogger("crawler.run").error("the process that started this crawl (pid %d) is gone; stopping", parent_pid)
        reactor.callFromThread(process.stop)
        time.sleep(ORPHAN_GRACE_SECONDS)
        shutil.rmtree(workdir, ignore_errors=True)  # nobody will read the summaries
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    # A clean stop after the parent died: remove what it would have removed.
    reactor.addSystemEventTrigger(
        "after", "shutdown", lambda: os.getppid() != parent_pid and shutil.rmtree(workdir, ignore_errors=True))


class QuietLibraries(logging.Filter):
    """Operators read progress lines and problems, not Scrapy's banner, its middleware lists
    or every Elasticsearch request. A filter, because Scrapy's logging set-up resets levels."""

    NAMES = ("elastic_transport.transport", "scrapy.middleware", "scrapy.crawler", "scrapy.addons", "scrapy.utils.log",
             "scrapy.extensions.telnet", "scrapy.core.engine", "py.warnings")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("elastic_transport") and record.exc_info:
            # A node of the cluster going away: one line saying why, not a traceback per retry.
            error = record.exc_info[1]
            record.msg, record.args = f"{record.getMessage()}: {type(error).__name__}: {error}", None
            record.exc_info = record.exc_text = None
        return record.levelno >= logging.WARNING or not record.name.startswith(self.NAMES)


def quiet_library_loggers() -> None:
    for name in QuietLibraries.NAMES:
        logging.getLogger(name).addFilter(QuietLibraries())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
