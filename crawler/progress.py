"""Progress while a crawl runs, and its summary written for the parent process at the end."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from scrapy import signals
from twisted.internet import task

logger = logging.getLogger("crawler.progress")


def summarize(stats: dict) -> dict:
    """The figures an operator reads, from Scrapy's raw stats."""
    rejections = {k.split("/", 1)[1]: v for k, v in stats.items() if k.startswith("rejected/") and v}
    # Scrapy's own middlewares count these; they are rejections too.
    if stats.get("robotstxt/forbidden") and "robots" not in rejections:
        rejections["robots"] = stats["robotstxt/forbidden"]
    return {
        "pages_fetched": int(stats.get("response_received_count", 0)),
        "requests": int(stats.get("downloader/request_count", 0)),
        "not_modified": int(stats.get("downloader/response_status_count/304", 0)),
        "rechecked": int(stats.get("incremental/rechecked", 0)),
        "known_skipped": int(stats.get("incremental/known_skipped", 0)),
        "articles_extracted": int(stats.get("articles/extracted", 0)),
        "articles_new": int(stats.get("articles/new", 0)),
        "articles_updated": int(stats.get("articles/updated", 0)),
        "articles_unchanged": int(stats.get("articles/unchanged", 0)),
        "articles_spooled": int(stats.get("articles/spooled", 0)),
        "spool_error": stats.get("articles/spool_error"),  # why they were spooled: "unreachable" or Elasticsearch's refusal
        "articles_lost": int(stats.get("articles/lost", 0)),  # neither stored nor spooled
        "lost_error": stats.get("articles/lost_error"),
        # What a run cut short leaves for the next one (crawler/walk.py)
        "remaining_listings": int(stats.get("walk/frontier", 0)),
        "over_budget": int(stats.get("limits/max_pages_reached", 0)),
        "links_left_out": int(stats.get("links/left_out", 0)),  # past crawl.max_links_per_page
        "canonical_conflicts": int(stats.get("canonical/conflicts", 0)),
        "canonical_conflict_samples": stats.get("canonical/conflict_samples") or [],
        "robots_unreadable": stats.get("robots/unreadable"),
        "index_errors": int(stats.get("index/document_errors", 0)) + int(stats.get("index/errors", 0)),
        "rejections": dict(sorted(rejections.items())),
        "rejected_total": sum(rejections.values()),
        "finish_reason": stats.get("finish_reason"),
        "errors": list(stats.get("index/error_samples") or []),
        # For "why is nothing / this story not archived?" (crawler/diagnosis.py, archive runs --rejections)
        "urls_seen": int(stats.get("urls/seen", 0)),
        "article_urls": int(stats.get("urls/article", 0)),
        "url_samples": stats.get("url_samples") or {},
        "near_misses": stats.get("near_misses") or [],
        "rejected_samples": stats.get("rejected_samples") or {},
    }


def progress_line(site: str, summary: dict) -> str:
    rejected = ", ".join(f"{k} {v}" for k, v in summary["rejections"].items()) or "none"
    return (
        f"[{site}] pages {summary['pages_fetched']} | articles {summary['articles_extracted']} "
        f"(new {summary['articles_new']}, updated {summary['articles_updated']}, "
        f"unchanged {summary['articles_unchanged']}) | rejected {summary['rejected_total']} ({rejected})"
    )


class CrawlProgress:
    """Logs a progress line every few seconds; writes the summary as JSON when the spider closes."""

    def __init__(self, crawler, interval: float, summary_dir: str | None):
        self.crawler = crawler
        self.interval = interval
        self.summary_dir = Path(summary_dir) if summary_dir else None
        self.loop: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler):
        ext = cls(crawler, crawler.settings.getfloat("ARCHIVE_PROGRESS_INTERVAL", 5.0), crawler.settings.get("ARCHIVE_SUMMARY_DIR"))
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider):
        self.loop = task.LoopingCall(self.log_progress, spider)
        self.loop.start(self.interval, now=False)

    def log_progress(self, spider):
        logger.info(progress_line(spider.name, summarize(self.crawler.stats.get_stats())))

    def spider_closed(self, spider, reason):
        if self.loop and self.loop.running:
            self.loop.stop()
        stats = self.crawler.stats.get_stats()
        summary = summarize(stats)
        summary["finish_reason"] = reason
        logger.info("finished (%s): %s", reason, progress_line(spider.name, summary))
        if self.summary_dir:
            self.summary_dir.mkdir(parents=True, exist_ok=True)
            path = self.summary_dir / f"{spider.name}.json"
            path.write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
