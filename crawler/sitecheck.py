"""`archive sites check`: a dry run of a site's settings. Writes nothing (no Elasticsearch, no
crawl state, no WARC).

It fetches robots.txt, the sitemaps (configured and announced), the feeds and the start pages
politely (robots.txt obeyed, allowed domains only, the crawl's size limit, a small page budget),
classifies every URL found with the site's patterns (crawler/diagnosis.py: article, listing to
follow, ignored, offsite, with the pattern that decided), and extracts a sample of articles with
the crawl's own extractor. A plain synchronous client is enough for a few dozen requests.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from urllib.parse import urljoin, urlsplit

from protego import Protego

from archive.config import Settings, SiteSettings
from crawler import diagnosis, discovery
from crawler.rejections import Rejected
from crawler.urls import SiteScope, canonicalize

MAX_SITEMAPS = 20  # sitemap files read (an index can list hundreds: a sample shows the shape)
HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass
class Fetched:
    url: str
    status: int | None = None
    content_type: str = ""
    body: bytes = b""
    error: str | None = None  # why there is no usable body

    @property
    def ok(self) -> bool:
        return self.error is None


class PoliteFetcher:
    """GET with the crawl's user agent, time-out and size limit; robots.txt and domains obeyed."""

    def __init__(self, settings: Settings, scope: SiteScope):
        self.crawl = settings.crawl
        self.scope = scope
        self.robots: dict[str, Protego | None] = {}
        self.requests = 0

    def robots_for(self, url: str) -> tuple[Protego | None, Fetched]:
        parts = urlsplit(url)
        root = f"{parts.scheme}://{parts.netloc}"
        fetched = self._get(root + "/robots.txt")
        parser = Protego.parse(fetched.body.decode("utf-8", "replace")) if fetched.ok else None
        self.robots[root] = parser
        return parser, fetched

    def disallowed(self, url: str) -> bool:
        parts = urlsplit(url)
        root = f"{parts.scheme}://{parts.netloc}"
        if root not in self.robots:
            self.robots_for(url)
        parser = self.robots[root]
        return self.crawl.obey_robots and parser is not None and not parser.can_fetch(url, self.crawl.user_agent)

    def get(self, url: str) -> Fetched:
        if not self.scope.allows(url):
            return Fetched(url, error=f"offsite: host or port not in allowed_domains {self.scope.describe()}")
        if self.disallowed(url):
            return Fetched(url, error="robots: disallowed by robots.txt")
        return self._get(url)

    def _get(self, url: str) -> Fetched:
        self.requests += 1
        request = urllib.request.Request(url, headers={"User-Agent": self.crawl.user_agent})
        limit = self.crawl.max_response_bytes
        try:
            with urllib.request.urlopen(request, timeout=self.crawl.download_timeout) as reply:
                final = reply.geturl()
                content_type = (reply.headers.get("Content-Type") or "").split(";")[0].strip().lower()
                length = reply.headers.get("Content-Length")
                if length and length.isdigit() and int(length) > limit:
                    return Fetched(final, reply.status, content_type, error=f"too-large: {length} bytes (limit {limit})")
                body = reply.read(limit + 1)
                if len(body) > limit:
                    return Fetched(final, reply.status, content_type, error=f"too-large: over {limit} bytes")
                if final != url and self.scope.refuses_redirect(final):
                    return Fetched(final, reply.status, content_type, error=f"offsite: redirected to {final}")
                return Fetched(final, reply.status, content_type, body)
        except urllib.error.HTTPError as exc:
            return Fetched(url, exc.code, error=f"http-error: HTTP {exc.code}")
        except (urllib.error.URLError, OSError) as exc:
            return Fetched(url, error=f"network-error: {getattr(exc, 'reason', exc)}")


@dataclass
class Found:
    url: str
    source: str  # sitemap, feed, page (with its URL)
    kind: str    # article, listing, ignored, offsite
    why: str


@dataclass
class Sample:
    url: str
    title: str | None = None
    published: str | None = None
    published_source: str | None = None
    authors: list[str] = field(default_factory=list)
    word_count: int = 0
    first_lines: str = ""
    rejected: str | None = None  # reason: detail, when it would not be archived
    confidence: float | None = None  # how well its text is backed (crawler/scoring.py)
    low_confidence: bool = False     # below extraction.low_confidence: archived, and listed as unsure


@dataclass
class CheckReport:
    site: str
    patterns: dict[str, list[str]]
    fetched: list[dict] = field(default_factory=list)  # url, what, status or error
    urls: list[Found] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    requests: int = 0

    def of_kind(self, kind: str) -> list[Found]:
        return [u for u in self.urls if u.kind == kind]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["counts"] = {k: len(self.of_kind(k)) for k in (diagnosis.ARTICLE, diagnosis.LISTING, diagnosis.IGNORED, diagnosis.OFFSITE)}
        return data


def check_site(settings: Settings, site: SiteSettings, sample_size: int = 5, fetcher: PoliteFetcher | None = None) -> CheckReport:
    fetcher = fetcher or PoliteFetcher(settings, SiteScope.of(site))
    report = CheckReport(
        site=site.name,
        patterns={k: list(getattr(site, k)) for k in ("article_allow", "article_deny", "follow_allow", "follow_deny")},
    )
    seen: dict[str, Found] = {}

    def note(url: str, source: str) -> None:
        url = canonicalize(url)
        if url not in seen and url.startswith(("http://", "https://")):
            decision = diagnosis.decide(site, url)
            if decision.kind in (diagnosis.ARTICLE, diagnosis.LISTING) and fetcher.disallowed(url):
                decision = diagnosis.Decision(diagnosis.IGNORED, f"robots.txt disallows it ({decision.why})")
            seen[url] = Found(url, source, decision.kind, decision.why)

    def log(url: str, what: str, fetched: Fetched) -> None:
        report.fetched.append({"url": url, "what": what, "status": fetched.status, "error": fetched.error})

    sitemaps = list(site.sitemaps)
    if site.robots_sitemaps:
        for root in sorted({f"{urlsplit(u).scheme}://{urlsplit(u).netloc}" for u in site.start_urls + site.feeds}):
            _, robots = fetcher.robots_for(root)
            log(root + "/robots.txt", "robots.txt", robots)
            if robots.ok:
                sitemaps += [u for u in discovery.robots_sitemaps(robots.body, robots.url) if u not in sitemaps]
    done = 0
    while sitemaps and done < MAX_SITEMAPS:
        url = sitemaps.pop(0)
        done += 1
        fetched = fetcher.get(url)
        parsed = discovery.parse_sitemap(fetched.body) if fetched.ok else None
        if fetched.ok and parsed is None:
            fetched.error = "not a sitemap"
        log(url, "sitemap", fetched)
        for entry in parsed.entries if parsed else []:
            if parsed.is_index:
                sitemaps.append(urljoin(fetched.url, entry.url))
            else:
                note(urljoin(fetched.url, entry.url), "sitemap")
    for url in site.feeds:
        fetched = fetcher.get(url)
        entries = discovery.parse_feed(fetched.body) if fetched.ok else None
        if fetched.ok and entries is None:
            fetched.error = "not a feed"
        log(url, "feed", fetched)
        for entry in entries or []:
            note(urljoin(fetched.url, entry.url), "feed")
    for url in site.start_urls:
        fetched = fetcher.get(url)
        if fetched.ok and fetched.content_type and fetched.content_type not in HTML_TYPES:
            fetched.error = f"non-html: {fetched.content_type}"
        log(url, "start page", fetched)
        if fetched.ok:
            for link in page_links(fetched.body, fetched.url):
                note(link, f"page {fetched.url}")
    in_order = [f for f in seen.values() if f.kind == diagnosis.ARTICLE]  # as sitemaps and feeds list them
    report.urls = sorted(seen.values(), key=lambda f: (f.kind, f.url))
    report.samples = sample_articles(settings, fetcher, in_order, sample_size)
    report.requests = fetcher.requests
    return report


def page_links(body: bytes, base_url: str) -> list[str]:
    """Links of an HTML page, absolute (lxml, the parser Scrapy's link extractor uses)."""
    import lxml.html

    try:
        tree = lxml.html.fromstring(body, base_url=base_url)
    except (ValueError, lxml.etree.ParserError):
        return []
    tree.make_links_absolute(base_url, handle_failures="discard")
    return [link for element, attribute, link, _ in tree.iterlinks() if element.tag == "a" and attribute == "href"]


def sample_articles(settings: Settings, fetcher: PoliteFetcher, articles: list[Found], size: int) -> list[Sample]:
    from crawler.extraction import ArticleExtractor

    extractor = ArticleExtractor(settings.extraction)
    # In the order found, taking from each source (sitemap, feed, page) in turn.
    chosen = _spread(articles, size)
    samples = []
    for found in chosen:
        fetched = fetcher.get(found.url)
        if not fetched.ok:
            samples.append(Sample(found.url, rejected=fetched.error))
            continue
        if fetched.content_type and fetched.content_type not in HTML_TYPES:
            samples.append(Sample(found.url, rejected=f"non-html: {fetched.content_type}"))
            continue
        try:
            article = extractor.extract(fetched.body, fetched.url)
        except Rejected as exc:
            samples.append(Sample(found.url, rejected=str(exc)))
            continue
        document = article.to_document()
        body = document.get("body") or ""
        samples.append(
            Sample(
                found.url,
                title=document.get("title"),
                published=document.get("published"),
                published_source=document.get("published_source"),
                authors=list(document.get("authors") or []),
                word_count=int(document.get("word_count") or len(body.split())),
                first_lines=" ".join(body.split()[:40]),
                confidence=article.confidence,
                low_confidence=article.confidence is not None and article.confidence < settings.extraction.low_confidence,
            )
        )
    return samples


def _spread(items: list[Found], size: int) -> list[Found]:
    by_source: dict[str, list[Found]] = {}
    for item in items:
        by_source.setdefault(item.source.split(" ")[0], []).append(item)
    chosen: list[Found] = []
    while len(chosen) < size and any(by_source.values()):
        for queue in by_source.values():
            if queue and len(chosen) < size:
                chosen.append(queue.pop(0))
    return chosen
