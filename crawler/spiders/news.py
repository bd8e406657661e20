"""The one generic news spider. A site is a [[sites]] entry in settings.toml, not code.

Discovery: robots.txt Sitemap lines, sitemaps (indexes, news sitemaps), feeds, and section
pages with pagination (depth-bounded, so endless calendars end). Every page that does not
become an article is counted under a named reason in the stats (`rejected/<reason>`).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import urljoin, urlsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest
from scrapy.linkextractors import IGNORED_EXTENSIONS
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils._compression import _DecompressionMaxSizeExceeded
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future

from archive.config import Settings, SiteSettings
from crawler import diagnosis, discovery
from crawler.containment import RefusedRequest
from crawler.items import ArticleItem, NotModifiedItem, archive_document
from crawler.rejections import Rejected, Reason, record_rejection
from crawler.state import BadUrlPolicy, RecheckPolicy, conditional_headers, latest_change, open_state
from crawler.warc import Capture
from crawler.workers import ExtractionPool
from crawler.urls import SiteScope, canonicalize, document_id
from crawler.walk import FRONT, RESUMED, ListingWalk

logger = logging.getLogger(__name__)

HTML_TYPES = (b"text/html", b"application/xhtml+xml")


class _GivenUp(Exception):
    """An article page left unfinished by the time limit (not settled: fetched again next run)."""


class NewsSpider(scrapy.Spider):
    name = "news"

    def __init__(self, site: SiteSettings, app_settings: Settings, *args, **kwargs):
        super().__init__(name=site.name, *args, **kwargs)
        self.site = site
        self.app_settings = app_settings
        self.allowed_domains = list(site.allowed_domains)
        self.scope = SiteScope.of(site)  # hosts with their ports (crawler/containment.py uses it too)
        # Extraction runs in worker processes: the reactor keeps fetching meanwhile.
        self.extraction = ExtractionPool(app_settings.extraction, app_settings.crawl.extraction_workers or None,
                                         timeout=app_settings.crawl.extraction_timeout)
        # canonical URL -> (URL it was fetched at, content hash), for articles yielded this run
        self.archived: dict[str, tuple[str, str]] = {}
        self.requested: set[str] = set()  # URLs requested this run (the page budget counts these)
        state = open_state(app_settings)
        self.known = state.load_site(site.name)  # what earlier runs archived: the incremental part
        self.known_bad = state.load_bad(site.name)  # 404/410, too large, not HTML: left alone for now
        self.walk = ListingWalk(state.load_cursor(site.name))
        state.start_walk(site.name)
        state.close()
        crawl = app_settings.crawl
        self.bad_policy = BadUrlPolicy(crawl.bad_url_retry_days, crawl.bad_url_retry_max_days)
        self.bad_found: dict[str, tuple[str, str]] = {}  # url -> (reason, detail), written at close
        self.bad_skipped: set[str] = set()
        self.seen_links: set[str] = set()  # distinct URLs judged by the patterns (for the diagnosis)
        self.policy = RecheckPolicy(app_settings.crawl.recheck_days)
        self.scheduled = 0
        self.offsite_seen: set[str] = set()
        self._limit_logged = False

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.extraction.close, signal=signals.spider_closed)
        crawler.signals.connect(spider.on_dropped, signal=signals.request_dropped)
        crawler.signals.connect(spider.on_opened, signal=signals.spider_opened)
        return spider

    def on_opened(self, spider) -> None:
        from twisted.internet import reactor

        self._time_up = reactor.callLater(self.app_settings.crawl.time_limit, self._stop_at_time_limit)

    def _stop_at_time_limit(self) -> None:
        # Pages still being extracted are given up at once: Scrapy's close waits for them, and
        # a hostile page would hold it for minutes. Closed as CLOSESPIDER_TIMEOUT would (whichever
        # timer fires first), so the run says timed-out even if giving them up left it idle.
        self.extraction.abort("the crawl's time limit came first")
        deferred_from_coro(self.crawler.engine.close_spider_async(reason="closespider_timeout"))

    # -- counters ---------------------------------------------------------------------------

    def reject(self, reason: str, url: str, detail: str = "") -> None:
        record_rejection(self.crawler.stats, reason, url, detail)
        logger.debug("rejected %s (%s) %s", url, reason, detail)

    def note_url(self, url: str) -> None:
        """Count each distinct URL the patterns judge, keeping a few examples of each decision."""
        if url in self.seen_links:
            return
        self.seen_links.add(url)
        decision = diagnosis.decide(self.site, url)
        self.count("urls/seen")
        if decision.kind == diagnosis.ARTICLE:
            self.count("urls/article")
            return
        if decision.kind != diagnosis.OFFSITE and (miss := diagnosis.near_miss(self.site, url)):
            kept = self.crawler.stats.get_value("near_misses")
            if kept is None:
                kept = []
                self.crawler.stats.set_value("near_misses", kept)
            diagnosis.keep_near_miss(kept, miss)
        samples = self.crawler.stats.get_value("url_samples")
        if samples is None:
            samples = {}
            self.crawler.stats.set_value("url_samples", samples)
        kept = samples.setdefault(decision.kind, [])
        if len(kept) < diagnosis.SAMPLES_PER_DECISION:
            kept.append({"url": url, "why": decision.why})

    def remember_bad(self, request, reason: Reason, detail: str) -> None:
        """A page (not robots.txt, a sitemap or a feed) that will not become an article soon."""
        if self.bad_policy.retry_days > 0 and getattr(request.callback, "__name__", "") in ("parse_article", "parse_page"):
            # The URL as linked (before redirects) is the one the next run will meet.
            for url in {request.url, *request.meta.get("redirect_urls", ())}:
                self.bad_found[canonicalize(url)] = (reason.value, detail)

    def closed(self, reason: str) -> None:
        timer = getattr(self, "_time_up", None)
        if timer is not None and timer.active():
            timer.cancel()
        cursor = self.walk.next_cursor(finished=reason == "finished" and not self._limit_logged)
        self.crawler.stats.set_value("walk/frontier", len(cursor.frontier))
        if cursor.frontier:
            logger.info("%s: %d listing pages wait for the next run, from %s", self.site.name, len(cursor.frontier), cursor.frontier[0][0])
        state = open_state(self.app_settings)
        try:
            state.save_cursor(self.site.name, cursor)
            for url, (bad_reason, detail) in self.bad_found.items():
                state.record_bad(self.site.name, url, bad_reason, detail, self.bad_policy)
            # Asked again (their time had come) and answered properly: no longer bad.
            state.forget_bad(self.site.name, self.requested.difference(self.bad_found))
        finally:
            state.close()

    def count(self, key: str, n: int = 1) -> None:
        self.crawler.stats.inc_value(key, n)

    # -- requests ---------------------------------------------------------------------------

    def _request(self, url: str, callback, depth: int, headers: dict | None = None, priority: int = 0, **meta) -> scrapy.Request | None:
        """Every request goes through here: scope, page budget and the error handler."""
        if not url.startswith(("http://", "https://")) or url in self.requested:
            return None
        if not self.scope.allows(url):
            if url not in self.offsite_seen:
                self.offsite_seen.add(url)
                self.reject(Reason.OFFSITE, url)
            return None
        if self.scheduled >= self.site.max_pages:
            if not self._limit_logged:
                logger.warning("%s: page budget of %d reached; the rest waits for the next run", self.site.name, self.site.max_pages)
                self._limit_logged = True
            self.count("limits/max_pages_reached")
            self.walk.link_left(meta.get("listing"))  # the listing that linked it stays on the frontier
            return None
        self.scheduled += 1
        self.requested.add(url)
        if callback == self.parse_page:
            self.walk.scheduled(canonicalize(url), depth)
        elif meta.get("listing"):
            self.walk.article_requested(meta["listing"])
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.on_error,
            headers=headers,
            priority=priority,
            cb_kwargs={"depth": depth},
            meta={"depth": depth, **meta},
        )

    async def start(self):
        for request in self.start_requests_list():
            if request is not None:
                yield request

    def start_requests_list(self) -> list[scrapy.Request | None]:
        site = self.site
        requests = [self._request(u, self.parse_sitemap, 0) for u in site.sitemaps]
        requests += [self._request(u, self.parse_feed, 0) for u in site.feeds]
        if site.robots_sitemaps:
            roots = sorted({f"{urlsplit(u).scheme}://{urlsplit(u).netloc}" for u in site.start_urls + site.feeds})
            requests += [self._request(f"{root}/robots.txt", self.parse_robots, 0) for root in roots]
        requests += [self._request(u, self.parse_page, 0, origin=FRONT) for u in site.start_urls]
        # Then where the last walk stopped; listings after sitemaps and articles (lower priority).
        requests += [self._request(u, self.parse_page, d, priority=-1, origin=RESUMED)
                     for u, d in self.walk.cursor.frontier if self.site.may_follow(u)]
        return requests

    def follow(self, url: str, depth: int, **meta) -> scrapy.Request | None:
        """An article, a listing page worth following, or nothing."""
        url = canonicalize(url)
        self.note_url(url)
        bad = self.known_bad.get(url)
        if bad is not None:
            if url not in self.bad_skipped:
                self.bad_skipped.add(url)  # counted once per run
                self.reject(Reason.KNOWN_BAD, url, f"{bad.reason} ({bad.detail}); next try after {bad.retry_after}")
            return None
        if self.site.is_article_url(url):
            if url in self.archived:
                return None
            page = self.known.get(url)
            if page is None:
                return self._request(url, self.parse_article, depth, **meta)
            if not self.policy.should_recheck(page, meta.get("lastmod")):
                self.count("incremental/known_skipped")
                return None
            # Ask whether it changed: an unchanged page costs one 304 and no write.
            self.count("incremental/rechecked")
            return self._request(
                url, self.parse_article, depth, headers=conditional_headers(page),
                handle_httpstatus_list=[304], recheck=True, **meta,
            )
        if self.site.may_follow(url):
            if depth > self.site.max_depth:
                self.reject(Reason.TOO_DEEP, url)
                return None
            return self._request(url, self.parse_page, depth, priority=-1, **meta)
        if not self.scope.allows(url) and url not in self.offsite_seen:
            self.offsite_seen.add(url)
            self.reject(Reason.OFFSITE, url)
        return None

    # -- discovery --------------------------------------------------------------------------

    def parse_robots(self, response, depth: int):
        for sitemap_url in discovery.robots_sitemaps(response.body, response.url):
            yield self._request(sitemap_url, self.parse_sitemap, depth)

    def parse_sitemap(self, response, depth: int):
        try:
            sitemap = discovery.parse_sitemap(response.body)
        except _DecompressionMaxSizeExceeded as exc:
            self.reject(Reason.SITEMAP_TOO_LARGE, response.url, f"{len(response.body)} bytes gzipped, over 50 MB decompressed ({exc})")
            return
        if sitemap is None:
            self.count("discovery/invalid_sitemaps")
            logger.warning("not a sitemap: %s", response.url)
            return
        self.count("discovery/sitemap_urls", len(sitemap.entries))
        for entry in sitemap.entries:
            if sitemap.is_index:
                yield self._request(urljoin(response.url, entry.url), self.parse_sitemap, depth)
            elif self._recent_enough(entry.lastmod, entry.url):
                yield self.follow(urljoin(response.url, entry.url), depth + 1, lastmod=entry.lastmod)

    def parse_feed(self, response, depth: int):
        entries = discovery.parse_feed(response.body)
        if entries is None:
            self.count("discovery/invalid_feeds")
            logger.warning("not a feed: %s", response.url)
            return
        self.count("discovery/feed_urls", len(entries))
        for entry in entries:
            yield self.follow(urljoin(response.url, entry.url), depth + 1)

    async def parse_page(self, response, depth: int):
        """A home or section page: follow its article links and its pagination."""
        self.walk.parsed(_asked_for(response.request))
        if not self._is_html(response):
            return
        if self.site.is_article_url(canonicalize(response.url)):
            async for result in self.parse_article(response, depth):
                yield result
            return
        self.count("pages/listing")
        for request in self._listing_links(response, depth):
            yield request

    def _listing_links(self, response, depth: int):
        listing = _asked_for(response.request) if response.request else canonicalize(response.url)
        origin = response.meta.get("origin", FRONT)
        links = [canonicalize(url) for url in self._page_links(response)]
        articles = [u for u in links if self.site.is_article_url(u)]
        if (self.known and depth > 0 and articles and not any(u not in self.known for u in articles)
                and self.walk.may_stop_at_known(origin)):
            # Caught up: a listing of only known articles, and its older pages were walked before.
            self.count("incremental/caught_up_listings")
            links = articles
        for url in links:
            yield self.follow(url, depth + 1, listing=listing, origin=origin)

    def _page_links(self, response) -> list[str]:
        links = page_links(response)
        cap = self.app_settings.crawl.max_links_per_page
        if len(links) > cap:
            self.count("links/capped_pages")
            self.count("links/left_out", len(links) - cap)
            logger.warning("%s: %d links, only the first %d taken (crawl.max_links_per_page)", response.url, len(links), cap)
            links = links[:cap]
        return links

    # -- articles ---------------------------------------------------------------------------

    async def parse_article(self, response, depth: int):
        settled = True
        try:
            async for result in self._article(response, depth):
                yield result
        except _GivenUp:
            settled = False  # stopped by the time limit: its listing stays on the frontier
        finally:
            if settled:
                self.walk.article_settled(response.meta.get("listing"))

    async def _article(self, response, depth: int):
        if response.status == 304:
            self.count("articles/not_modified")
            yield NotModifiedItem(url=canonicalize(response.url), fetched_at=_now())
            return
        if not self._is_html(response):
            return
        try:
            article = await maybe_deferred_to_future(self.extraction.extract(response.body, response.url))
        except Rejected as rejected:
            self.reject(rejected.reason, response.url, rejected.detail)
            if self.extraction.aborted:
                raise _GivenUp() from None
            # Wide article patterns (even '/') also match sections: a listing is still followed.
            if rejected.reason == Reason.NOT_ARTICLE and depth <= self.site.max_depth and self.site.may_follow(canonicalize(response.url)):
                for request in self._listing_links(response, depth):
                    yield request
            return
        own = canonicalize(response.url)
        canonical = self._canonical_url(article, own, response.meta.get("own_url", False))
        claim = self.archived.get(canonical)
        if claim is not None:
            claimed_by, claimed_hash = claim
            if claimed_hash == article.content_hash or claimed_by == own:
                self.reject(Reason.DUPLICATE, response.url, f"same article as {canonical}")
                return
            # The page at its own URL takes its record back from a page that claimed it, and
            # that page is fetched again to be stored under its own URL.
            self._canonical_conflict(claimed_by, canonical)
            yield scrapy.Request(claimed_by, callback=self.parse_article, errback=self.on_error, dont_filter=True,
                                 cb_kwargs={"depth": depth}, meta={"depth": depth, "own_url": True})
        if self.site.max_age_days and article.published and self._too_old(article.published):
            self.reject(Reason.TOO_OLD, response.url, article.published)
            return
        self.archived[canonical] = (own, article.content_hash)
        self.count("articles/extracted")
        now = _now()
        requested = response.request.url if response.request else canonical
        document = archive_document(article, canonical, self.site.name, now, [response.url, requested])
        variants = document["url_variants"]
        last_modified = _header(response, b"Last-Modified")
        yield ArticleItem(
            doc_id=document_id(canonical),
            document=document,
            fetch={
                "urls": variants,
                "status": response.status,
                "fetched_at": now,
                "etag": _header(response, b"ETag"),
                "last_modified": last_modified,
                # The latest the site says of its last change: a news sitemap's "lastmod" is its
                # publication date, earlier than the full sitemap's lastmod the next night compares.
                "lastmod": latest_change(response.meta.get("lastmod"), article.modified, last_modified),
            },
            capture=Capture(
                url=response.url,
                status=response.status,
                headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, vs in response.headers.items() for v in vs],
                body=response.body,
                fetched_at=now,
                canonical_url=canonical,
            ),
        )
        # Related links inside articles lead to more articles; listings stay depth-bounded.
        for url in self._page_links(response):
            url = canonicalize(url)
            if self.site.is_article_url(url) and depth < self.site.max_depth + 2:
                yield self.follow(url, depth + 1)

    def _canonical_url(self, article, own: str, keep_own: bool) -> str:
        """The page's canonical link wins, unless it points off the site, or to another article
        known under that URL with a different text (a page cannot take over another's record)."""
        declared = article.canonical_url
        if keep_own or not declared or not declared.startswith(("http://", "https://")) or not self.scope.allows(declared):
            return own
        canonical = canonicalize(declared)
        if canonical == own:
            return own
        claim = self.archived.get(canonical)
        known = self.known.get(canonical)
        other_hash = claim[1] if claim else (known.content_hash if known else None)
        if other_hash and other_hash != article.content_hash:
            self._canonical_conflict(own, canonical)
            return own
        return canonical

    def _canonical_conflict(self, page: str, claimed: str) -> None:
        self.count("canonical/conflicts")
        samples = self.crawler.stats.get_value("canonical/conflict_samples") or []
        if len(samples) < 20:
            samples.append({"url": page, "claimed": claimed})
            self.crawler.stats.set_value("canonical/conflict_samples", samples)
        logger.warning("%s declares the canonical URL %s, another article with a different text; stored under its own URL",
                       page, claimed)

    # -- filters ----------------------------------------------------------------------------

    def _is_html(self, response) -> bool:
        content_type = (response.headers.get(b"Content-Type") or b"").split(b";")[0].strip().lower()
        if content_type and content_type not in HTML_TYPES:
            self.reject(Reason.NON_HTML, response.url, content_type.decode("latin-1"))
            self.remember_bad(response.request, Reason.NON_HTML, content_type.decode("latin-1"))
            return False
        if not isinstance(response, scrapy.http.TextResponse):
            self.reject(Reason.NON_HTML, response.url, "binary body")
            return False
        return True

    def _recent_enough(self, lastmod: str | None, url: str) -> bool:
        if not self.site.max_age_days or not lastmod:
            return True
        if self._too_old(lastmod):
            self.reject(Reason.TOO_OLD, url, lastmod)
            return False
        return True

    def _too_old(self, iso_date: str) -> bool:
        try:
            when = datetime.fromisoformat(iso_date.replace("Z", "+00:00"))
        except ValueError:
            return False
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return when < datetime.now(timezone.utc) - timedelta(days=self.site.max_age_days)

    # -- failures ---------------------------------------------------------------------------

    def on_dropped(self, request, spider=None) -> None:
        """Scrapy's duplicate filter drops a redirect to a URL fetched already: said, not silent."""
        if request.meta.get("redirect_urls"):
            self.reject(Reason.DUPLICATE, request.meta["redirect_urls"][0], f"redirects to {request.url}, fetched already this run")
            self.walk.article_settled(request.meta.get("listing"))

    def on_error(self, failure):
        request = failure.request
        self._settle_failed(request, failure)
        if failure.check(RefusedRequest):
            refused = failure.value
            self.reject(refused.reason, request.url, refused.detail)
            if refused.reason == Reason.TOO_LARGE:
                self.remember_bad(request, Reason.TOO_LARGE, refused.detail[:200])
            logger.info("%s: %s", refused.reason, refused.detail)
        elif failure.check(HttpError):
            status = failure.value.response.status
            if status in (404, 410) and request.callback == self.parse_robots:
                # No robots.txt: no Sitemap lines, and everything is allowed (as crawlers read it).
                logger.info("%s answered HTTP %d: no robots.txt sitemaps", request.url, status)
                return
            self.count(f"http_errors/{status}")
            self.reject(Reason.HTTP_ERROR, request.url, f"HTTP {status}")
            if status in (404, 410):
                self.remember_bad(request, Reason.HTTP_ERROR, f"HTTP {status}")
            logger.info("HTTP %s for %s", status, request.url)
        elif failure.check(IgnoreRequest):
            message = str(failure.value).lower()
            if "robots" in message:
                self.reject(Reason.ROBOTS, request.url)
            elif "offsite" in message:
                self.reject(Reason.OFFSITE, request.url)
            else:
                self.count("requests/ignored")
        elif failure.check(DownloadCancelledError):
            self.reject(Reason.TOO_LARGE, request.url, str(failure.value))
            self.remember_bad(request, Reason.TOO_LARGE, str(failure.value)[:200])
        else:
            self.reject(Reason.NETWORK_ERROR, request.url, repr(failure.value))
            logger.warning("could not fetch %s: %s", request.url, failure.value)

    def _settle_failed(self, request, failure) -> None:
        """A listing that failed for now (5xx, network) is walked again next run; one that is
        gone (404, refused) is done. An article request that failed is settled either way."""
        if request.callback == self.parse_page:
            if failure.check(RefusedRequest):
                temporary = failure.value.reason == Reason.ROBOTS_UNREADABLE
            elif failure.check(HttpError):
                temporary = failure.value.response.status >= 500
            else:
                temporary = not failure.check(IgnoreRequest, DownloadCancelledError)
            if temporary:
                self.walk.failed(_asked_for(request))
            else:
                self.walk.parsed(_asked_for(request))
        else:
            self.walk.article_settled(request.meta.get("listing"))


# Links to files (images, PDFs, archives...) are never pages to crawl.
_FILE_LINK = re.compile(r"\.(?:" + "|".join(re.escape(e) for e in IGNORED_EXTENSIONS) + r")$", re.IGNORECASE)


def page_links(response) -> list[str]:
    """Every <a href> of a page as an absolute URL, once each, in page order, files left out.
    What Scrapy's LinkExtractor gives here, at a third of its cost (it tests every link
    against each ignored extension in turn)."""
    urls = (response.urljoin(href.strip()) for href in response.xpath("//a/@href").getall() if href.strip())
    return [u for u in dict.fromkeys(urls) if not _FILE_LINK.search(urlsplit(u).path)]


def _asked_for(request) -> str:
    """The URL the spider requested, before any redirect: the walk knows its listings by it."""
    return canonicalize((request.meta.get("redirect_urls") or [request.url])[0])


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _header(response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
