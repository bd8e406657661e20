"""The bridge from the archive's typed settings to Scrapy's settings."""

from __future__ import annotations

import sys

from archive.config import Settings

TWISTED_REACTOR = (
    "twisted.internet.epollreactor.EPollReactor" if sys.platform.startswith("linux")
    else "twisted.internet.selectreactor.SelectReactor"
)
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]


def scrapy_settings(settings: Settings, summary_dir: str | None = None) -> dict:
    crawl = settings.crawl
    return {
        "BOT_NAME": "newsroom-archive",
        "SPIDER_MODULES": ["crawler.spiders"],
        "USER_AGENT": crawl.user_agent,
        "ROBOTSTXT_OBEY": crawl.obey_robots,
        # Not Scrapy 2.19's default asyncio reactor: there the downloader ignores the per-host
        # concurrency limit (up to CONCURRENT_REQUESTS at once to one host, worst right after
        # robots.txt) and crawls stall; see benchmarks/robots_stall_repro.py and docs/scaling.md.
        "TWISTED_REACTOR": TWISTED_REACTOR,
        "CONCURRENT_REQUESTS": max(16, crawl.concurrent_requests_per_host * 4),
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.concurrent_requests_per_host,
        # Scrapy starts this many cooperative tasks for every response's output (default 100);
        # a page yields one article and a few links, so 100 per page was pure overhead.
        "CONCURRENT_ITEMS": 8,
        # Responses waiting for extraction count here; past this many bytes Scrapy stops fetching
        # (default 5 MB: hundreds of small pages held in memory while the workers catch up).
        "SCRAPER_SLOT_MAX_ACTIVE_SIZE": 2_000_000,
        "DOWNLOAD_DELAY": crawl.download_delay,
        "DOWNLOAD_DELAY_JITTER": 0.5,  # ±50%: requests do not arrive on a metronome
        "AUTOTHROTTLE_ENABLED": crawl.autothrottle,
        "AUTOTHROTTLE_START_DELAY": max(crawl.download_delay, 0.1),
        "AUTOTHROTTLE_MAX_DELAY": 30.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(crawl.concurrent_requests_per_host),
        "DOWNLOAD_TIMEOUT": crawl.download_timeout,
        "DOWNLOAD_MAXSIZE": crawl.max_response_bytes,
        "DOWNLOAD_WARNSIZE": crawl.max_response_bytes // 2,
        "RETRY_ENABLED": True,
        "RETRY_TIMES": crawl.retry_times,
        "RETRY_HTTP_CODES": RETRY_HTTP_CODES,
        "ARCHIVE_RETRY_BACKOFF_BASE": crawl.retry_backoff_base,
        "ARCHIVE_RETRY_BACKOFF_MAX": crawl.retry_backoff_max,
        "REDIRECT_MAX_TIMES": 10,  # a longer chain is a redirect-loop
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            "crawler.middlewares.BackoffRetryMiddleware": 550,
            # Scrapy's own, each with the archive's rule and a named rejection (crawler/containment.py)
            "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
            "crawler.containment.SiteScopeMiddleware": 50,
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            "crawler.robots.StrictRobotsTxtMiddleware": 100,
            "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": None,
            "crawler.containment.SizeCappedCompressionMiddleware": 590,
            "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
            "crawler.containment.CheckedRedirectMiddleware": 600,
        },
        "ITEM_PIPELINES": {"crawler.pipelines.ArchivePipeline": 300},
        "EXTENSIONS": {
            "scrapy.extensions.logstats.LogStats": None,
            "scrapy.extensions.telnet.TelnetConsole": None,
            # Scrapy 2.19 starts an HTTP server that executes code sent to it: never in a crawler.
            "scrapy.extensions.remote_control.RemoteControl": None,
            "crawler.progress.CrawlProgress": 500,
        },
        "CLOSESPIDER_TIMEOUT": crawl.time_limit,
        "DEPTH_LIMIT": 0,  # the spider bounds depth itself and counts what it leaves out
        "REMOTE_CONTROL_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "COOKIES_ENABLED": False,
        "STATS_DUMP": False,
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "%(asctime)s %(levelname)s %(name)s: %(message)s",
        "ARCHIVE_SETTINGS": settings,
        "ARCHIVE_PROGRESS_INTERVAL": crawl.progress_interval,
        "ARCHIVE_SUMMARY_DIR": summary_dir,
        "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
    }
