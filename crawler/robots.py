"""robots.txt read as search engines read it.

Scrapy's RobotsTxtMiddleware allows everything when robots.txt cannot be fetched (and logs a
traceback). Here:
- 2xx: the rules apply;
- 404 and other 4xx: the site has no rules, everything is allowed (no rejection);
- 5xx (after the usual retries), too large, a time-out or a broken connection: the rules
  cannot be known, which is a temporary failure. The site's crawl stops at once, crawls nothing
  of the site this run, and says why; the next run tries again.
"""

from __future__ import annotations

import logging

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.http import Request
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

from crawler.containment import RefusedRequest
from crawler.rejections import Reason

logger = logging.getLogger(__name__)

FINISH_REASON = "robots-unreadable"
STATS_KEY = "robots/unreadable"


class Unreadable:
    def __init__(self, url: str, why: str):
        self.url, self.why = url, why

    def __str__(self) -> str:
        return f"{self.url} could not be read ({self.why})"


class StrictRobotsTxtMiddleware(RobotsTxtMiddleware):
    def process_request_2(self, rp, request) -> None:
        if isinstance(rp, Unreadable):
            raise RefusedRequest(Reason.ROBOTS_UNREADABLE, str(rp))
        super().process_request_2(rp, request)

    async def robot_parser(self, request):
        url = urlparse_cached(request)
        netloc = url.netloc
        if netloc not in self._parsers:
            self._parsers[netloc] = Deferred()
            robots_url = f"{url.scheme}://{netloc}/robots.txt"
            robots_request = Request(robots_url, priority=self.DOWNLOAD_PRIORITY, meta={"dont_obey_robotstxt": True},
                                     callback=NO_CALLBACK)
            try:
                response = await self.crawler.engine.download_async(robots_request)
            except Exception as exc:  # too large, time-out, connection refused... after retries
                why = exc.detail if isinstance(exc, RefusedRequest) else (str(exc) or type(exc).__name__)
                self._settle(netloc, Unreadable(robots_url, why[:300]))
            else:
                await self._read(response, netloc, request, robots_url)
            self._stats.inc_value("robotstxt/request_count")
        parser = self._parsers[netloc]
        if isinstance(parser, Deferred):
            return await maybe_deferred_to_future(parser)
        return parser

    async def _read(self, response, netloc: str, request, robots_url: str) -> None:
        if response.status >= 500 or response.status == 429:
            self._stats.inc_value(f"robotstxt/response_status_count/{response.status}")
            self._settle(netloc, Unreadable(robots_url, f"HTTP {response.status}"))
        elif 400 <= response.status < 500:
            self._stats.inc_value(f"robotstxt/response_status_count/{response.status}")
            logger.info("%s answered HTTP %d: no robots rules, everything allowed", robots_url, response.status)
            self._settle(netloc, None)
        else:
            await self._parse_robots(response, netloc, request)

    def _settle(self, netloc: str, parser) -> None:
        waiting = self._parsers[netloc]
        self._parsers[netloc] = parser
        if isinstance(parser, Unreadable):
            self._give_up_on_site(parser)
        if isinstance(waiting, Deferred):
            waiting.callback(parser)

    def _give_up_on_site(self, unreadable: Unreadable) -> None:
        if self._stats.get_value(STATS_KEY):
            return
        self._stats.set_value(STATS_KEY, str(unreadable))
        logger.error("%s; nothing of the site is crawled this run, it is tried again next run", unreadable)
        deferred_from_coro(self.crawler.engine.close_spider_async(reason=FINISH_REASON))

