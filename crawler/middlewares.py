"""Downloader middlewares: polite retries with backoff that honour Retry-After."""

from __future__ import annotations

import email.utils
import logging
import time

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.response import response_status_message
from twisted.internet import task

logger = logging.getLogger(__name__)


def retry_after_seconds(value: bytes | str | None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's RetryMiddleware retries at once; a struggling site deserves a pause.

    The pause is the server's Retry-After when given, else base * 2**attempt, capped. A
    Retry-After longer than the cap means the site asks us to come back another night: give up.
    """

    def __init__(self, settings):
        super().__init__(settings)
        self.backoff_base = settings.getfloat("ARCHIVE_RETRY_BACKOFF_BASE", 1.0)
        self.backoff_max = settings.getfloat("ARCHIVE_RETRY_BACKOFF_MAX", 60.0)

    async def process_response(self, request, response, spider=None):
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        attempt = request.meta.get("retry_times", 0)
        if attempt >= request.meta.get("max_retry_times", self.max_retry_times):
            return self._retry(request, response_status_message(response.status)) or response
        delay = retry_after_seconds(response.headers.get(b"Retry-After"))
        if delay is None:
            delay = self.backoff_base * (2**attempt)
        elif delay > self.backoff_max:
            logger.warning("%s asks to retry after %.0fs; giving up for this run", request.url, delay)
            return response
        delay = min(delay, self.backoff_max)
        self.crawler.stats.inc_value("retry/backoff_seconds", delay)
        # A Twisted timer, awaitable under any reactor (asyncio.sleep needs the asyncio one).
        from twisted.internet import reactor

        await maybe_deferred_to_future(task.deferLater(reactor, delay))
        return self._retry(request, response_status_message(response.status)) or response
