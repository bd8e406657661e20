"""Downloader middlewares that keep a hostile site in its box, each failure under a named reason.

Scrapy's own middlewares do the work (OffsiteMiddleware, RedirectMiddleware,
HttpCompressionMiddleware); these subclasses only add what the archive needs: ports in
allowed_domains, redirects checked like links (no detour to an internal service), and a
``RefusedRequest`` carrying the rejection reason where Scrapy raises a bare IgnoreRequest or
drops the request without a word (a redirect back to a URL already seen).
"""

from __future__ import annotations

from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.downloadermiddlewares.offsite import OffsiteMiddleware
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.exceptions import IgnoreRequest

from crawler.rejections import Reason
from crawler.urls import SiteScope, canonicalize


class RefusedRequest(IgnoreRequest):
    """A request given up for a named reason; the spider's errback counts it as a rejection."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        self.reason = Reason(reason)
        self.detail = detail
        super().__init__(f"{self.reason.value}: {detail}")


def _scope(spider) -> SiteScope | None:
    return getattr(spider, "scope", None)


class SiteScopeMiddleware(OffsiteMiddleware):
    """allowed_domains with ports (crawler.urls.SiteScope) instead of host names only."""

    def should_follow(self, request, spider) -> bool:
        scope = _scope(spider)
        return super().should_follow(request, spider) if scope is None else scope.allows(request.url)


class CheckedRedirectMiddleware(RedirectMiddleware):
    """A redirect is checked like a link, here where the original request can still be told:
    out of the site's scope or to an internal address it is `redirect-offsite`; back into its
    own chain (Scrapy's duplicate filter would drop it silently) or longer than
    REDIRECT_MAX_TIMES it is `redirect-loop`."""

    def _redirect(self, redirected, request, reason):
        chain = [*request.meta.get("redirect_urls", []), request.url]
        scope = _scope(self.crawler.spider)
        why = scope.refuses_redirect(redirected.url) if scope is not None else None
        if why:
            raise RefusedRequest(Reason.REDIRECT_OFFSITE, f"{request.url} redirects to {why}")
        if canonicalize(redirected.url) in {canonicalize(u) for u in chain}:
            raise RefusedRequest(Reason.REDIRECT_LOOP, f"{request.url} redirects back to {redirected.url} (chain of {len(chain)})")
        try:
            return super()._redirect(redirected, request, reason)
        except IgnoreRequest:
            raise RefusedRequest(Reason.REDIRECT_LOOP, f"more than {self.max_redirect_times} redirects from {chain[0]}") from None


class SizeCappedCompressionMiddleware(HttpCompressionMiddleware):
    """A body that passes DOWNLOAD_MAXSIZE only once decompressed (a gzip bomb) is `too-large`."""

    def process_response(self, request, response):
        try:
            return super().process_response(request, response)
        except IgnoreRequest as exc:
            if "DOWNLOAD_MAXSIZE" in str(exc):
                raise RefusedRequest(Reason.TOO_LARGE, f"{len(response.body)} bytes compressed, over the size limit once decompressed") from None
            raise
