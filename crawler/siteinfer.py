"""`archive sites add URL`: propose a [[sites]] entry from what the site publishes about itself.

Discovery: robots.txt Sitemap lines (else /sitemap.xml and /sitemap_index.xml), news sitemaps,
and the feeds the home page announces (<link rel="alternate" type="application/rss+xml">).
article_allow is inferred from the shapes of the article URLs those list: each path segment
becomes a class (a 4-digit year, 2-digit month or day, a number, a slug, or a literal when
every URL has the same word there); shapes that cover few URLs are left out. Listing pages to
follow are the home page and the section links of its navigation, with their pagination.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from archive.config import Settings, SiteSettings
from crawler import discovery
from crawler.sitecheck import PoliteFetcher, page_links
from crawler.urls import SiteScope, canonicalize, host_of

MIN_SHAPE_SHARE = 0.05  # a URL shape used by fewer of the listed articles is not a pattern
PAGINATION = r"(?:\?page=\d+|/page/\d+/?)?"
# Listings that never end or only repeat other listings: not followed even when linked.
FOLLOW_DENY = [r"^/search", r"^/tags?/", r"^/calendar/", r"^/author/", r"[?&](?:q|s|query)="]
NAV_XPATH = "//nav//a/@href | //header//a/@href"
# Links of the page's chrome: sections in the navigation, static pages (about, contact) in the footer.
CHROME_XPATH = NAV_XPATH + " | //footer//a/@href"
PAGES_TRIED_PER_SHAPE = 2  # pages of a minor URL shape extracted to see whether they are articles


@dataclass
class Proposal:
    name: str
    home: str
    sitemaps: list[str] = field(default_factory=list)  # found, but not announced in robots.txt
    robots_sitemaps: list[str] = field(default_factory=list)
    feeds: list[str] = field(default_factory=list)
    article_urls: list[str] = field(default_factory=list)
    article_allow: list[str] = field(default_factory=list)
    article_deny: list[str] = field(default_factory=list)
    follow_allow: list[str] = field(default_factory=list)
    follow_deny: list[str] = field(default_factory=lambda: list(FOLLOW_DENY))
    notes: list[str] = field(default_factory=list)

    def site(self) -> SiteSettings:
        return SiteSettings(
            name=self.name,
            start_urls=(self.home,),
            sitemaps=tuple(self.sitemaps),
            feeds=tuple(self.feeds),
            allowed_domains=(host_of(self.home),),
            article_allow=tuple(self.article_allow),
            article_deny=tuple(self.article_deny),
            follow_allow=tuple(self.follow_allow),
            follow_deny=tuple(self.follow_deny),
        )


def site_name(url: str) -> str:
    host = host_of(url).removeprefix("www.")
    label = host.split(".")[0] if not re.fullmatch(r"[\d.]+", host) else host.replace(".", "-")
    return re.sub(r"[^a-z0-9_-]", "-", label.lower()).strip("-") or "site"


def propose(settings: Settings, url: str, name: str | None = None) -> Proposal:
    home = canonicalize(url if urlsplit(url).path else url + "/")
    root = f"{urlsplit(home).scheme}://{urlsplit(home).netloc}"
    proposal = Proposal(name=name or site_name(home), home=home)
    # The home page's host, on its port (what the proposed entry's allowed_domains will allow).
    fetcher = PoliteFetcher(settings, SiteScope.of(SiteSettings(name="proposal", start_urls=(home,),
                                                                allowed_domains=(host_of(home),), article_allow=("^/",))))

    _, robots = fetcher.robots_for(home)
    announced = discovery.robots_sitemaps(robots.body, robots.url) if robots.ok else []
    proposal.robots_sitemaps = announced
    queue = list(announced)
    if not queue:
        queue = [root + "/sitemap_index.xml", root + "/sitemap.xml"]
        proposal.notes.append("robots.txt announces no sitemap; tried /sitemap_index.xml and /sitemap.xml")
    urls: list[str] = []
    done = 0
    while queue and done < 20:
        sitemap_url = queue.pop(0)
        done += 1
        fetched = fetcher.get(sitemap_url)
        parsed = discovery.parse_sitemap(fetched.body) if fetched.ok else None
        if parsed is None:
            continue
        if not announced and sitemap_url not in proposal.sitemaps:
            proposal.sitemaps.append(sitemap_url)
        for entry in parsed.entries:
            target = urljoin(fetched.url, entry.url)
            (queue if parsed.is_index else urls).append(target)

    page = fetcher.get(home)
    if not page.ok:
        raise ValueError(f"cannot fetch the home page {home}: {page.error}")
    proposal.feeds = announced_feeds(page.body, page.url)
    for feed_url in proposal.feeds:
        fetched = fetcher.get(feed_url)
        for entry in (discovery.parse_feed(fetched.body) if fetched.ok else None) or []:
            urls.append(urljoin(fetched.url, entry.url))

    host = host_of(home)
    articles = list(dict.fromkeys(canonicalize(u) for u in urls if host_of(u) == host))
    proposal.article_urls = articles
    if not articles:
        raise ValueError(
            f"{home}: no article URLs found in sitemaps or feeds; write article_allow by hand "
            "(see README, Adding a site) and try `archive sites check NAME`"
        )
    chrome = chrome_paths(page.body, page.url, host)
    proposal.article_allow, proposal.article_deny = _articles_only(
        settings, fetcher, infer_patterns([urlsplit(u).path for u in articles]), articles, chrome, proposal.notes
    )
    proposal.follow_allow = ["^/$"] + section_patterns(page.body, page.url, host, proposal.article_allow)
    return proposal


def _articles_only(settings: Settings, fetcher: PoliteFetcher, patterns: list[str], urls: list[str],
                   chrome: list[str], notes: list[str]) -> tuple[list[str], list[str]]:
    """(article_allow, article_deny) without the shapes of sections and static pages.

    Sitemaps often list the home page, sections and "about" beside the articles. A minor shape
    that matches a link of the page's navigation or footer, or whose pages are not articles
    when extracted, is left out (with a note); the main shape keeps its pattern, and the chrome
    pages it would take are denied by name."""
    from crawler.extraction import ArticleExtractor
    from crawler.rejections import Rejected

    extractor = ArticleExtractor(settings.extraction)

    def is_article(url: str) -> bool:
        fetched = fetcher.get(url)
        if not fetched.ok:
            return True  # unknown: the shape stays, `sites check` will show the page
        try:
            extractor.extract(fetched.body, fetched.url)
        except Rejected:
            return False
        return True

    allow: list[str] = []
    deny: list[str] = []
    for pattern in patterns:
        in_chrome = [p for p in chrome if re.search(pattern, p)]
        if not allow:
            if in_chrome:
                deny.append("^(?:" + "|".join(re.escape(p) for p in in_chrome) + ")$")
                notes.append(f"article_deny: {', '.join(in_chrome)} match the article pattern but are the site's own "
                             "sections and pages (linked from its navigation or footer)")
            allow.append(pattern)
            continue
        members = [u for u in urls if re.search(pattern, urlsplit(u).path)][:PAGES_TRIED_PER_SHAPE]
        if in_chrome:
            notes.append(f"left out {pattern!r}: it matches {', '.join(in_chrome)}, sections and pages of the site's "
                         "navigation or footer, not articles")
        elif not any(is_article(u) for u in members):
            shown = ", ".join(urlsplit(u).path for u in members)
            notes.append(f"left out {pattern!r}: its pages ({shown}) are not articles when extracted")
        else:
            allow.append(pattern)
    return allow, deny


def chrome_paths(body: bytes, base_url: str, host: str) -> list[str]:
    """Paths of the page's navigation, header and footer links on the site's own host."""
    import lxml.html

    try:
        tree = lxml.html.fromstring(body)
    except (ValueError, lxml.etree.ParserError):
        return []
    paths = []
    for href in tree.xpath(CHROME_XPATH):
        url = urljoin(base_url, href)
        if host_of(url) == host and urlsplit(url).path not in ("", "/"):
            paths.append(urlsplit(url).path)
    return list(dict.fromkeys(paths))


def announced_feeds(body: bytes, base_url: str) -> list[str]:
    import lxml.html

    try:
        tree = lxml.html.fromstring(body)
    except (ValueError, lxml.etree.ParserError):
        return []
    hrefs = tree.xpath(
        "//link[@rel='alternate'][contains(@type, 'rss') or contains(@type, 'atom')]/@href"
    )
    return list(dict.fromkeys(urljoin(base_url, h.strip()) for h in hrefs if h.strip()))


def _segment_class(values: list[str], last: bool) -> str:
    if all(v.isdigit() for v in values):  # dates and ids: tomorrow's differ from today's
        lengths = {len(v) for v in values}
        return rf"\d{{{lengths.pop()}}}" if len(lengths) == 1 else r"\d+"
    if len(set(values)) == 1 and not last:  # the same word in every URL, e.g. /news/
        return re.escape(values[0])
    if all(re.fullmatch(r"[a-z0-9-]+", v) for v in values):
        return "[a-z0-9-]+"
    if all(re.fullmatch(r"[A-Za-z0-9_-]+\.html?", v) for v in values):
        return r"[A-Za-z0-9_-]+\.html?"
    return "[^/]+"


def _shape(path: str) -> tuple:
    segments = [s for s in path.split("/") if s]

    def kind(segment: str) -> str:
        if segment.isdigit():  # years, months and days keep their width; ids of any length are one shape
            return f"d{len(segment)}" if len(segment) in (2, 4) else "id"
        return "file" if "." in segment else "text"

    return (len(segments), tuple(kind(s) for s in segments), path.endswith("/"))


def infer_patterns(paths: list[str]) -> list[str]:
    """Regular expressions (matched against the path) for the shapes most article URLs share."""
    groups: dict[tuple, list[str]] = {}
    for path in paths:
        groups.setdefault(_shape(path), []).append(path)
    patterns = []
    for shape, members in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        if len(members) < max(2, MIN_SHAPE_SHARE * len(paths)) and patterns:
            continue
        columns = list(zip(*[[s for s in p.split("/") if s] for p in members]))
        # A varying text segment before the slug (a section) becomes a class, not a list of words.
        classes = [_segment_class(list(values), i == len(columns) - 1) for i, values in enumerate(columns)]
        pattern = "^/" + "/".join(classes) + ("/" if shape[2] else "/?") + "$"
        if pattern not in patterns:
            patterns.append(pattern)
    return patterns


def section_patterns(body: bytes, base_url: str, host: str, article_allow: list[str]) -> list[str]:
    """The navigation's section links (not articles), generalised, with their pagination."""
    import lxml.html

    try:
        tree = lxml.html.fromstring(body)
    except (ValueError, lxml.etree.ParserError):
        return []
    paths = []
    for href in tree.xpath(NAV_XPATH):
        url = urljoin(base_url, href)
        path = urlsplit(url).path
        if host_of(url) != host or path in ("", "/") or any(re.search(p, path) for p in article_allow):
            continue
        if any(re.search(p, path) for p in FOLLOW_DENY) or "." in path.rsplit("/", 1)[-1]:
            continue  # traps, and files (feed.xml, sitemap.xml) that are not listing pages
        paths.append(path.rstrip("/"))
    by_prefix = Counter(p.split("/")[1] for p in paths if p.count("/") == 2)
    patterns = []
    for prefix, count in by_prefix.items():
        if count >= 2:  # /section/politics, /section/world: one pattern for the family
            patterns.append(f"^/{re.escape(prefix)}/[a-z0-9-]+/?{PAGINATION}$")
    singles = sorted({p.strip("/") for p in paths if p.count("/") == 1})
    if singles:
        patterns.append("^/(?:" + "|".join(re.escape(s) for s in singles) + f")/?{PAGINATION}$")
    return patterns


def _toml_string(value: str) -> str:
    if "'" not in value and "\n" not in value:
        return f"'{value}'"  # a literal string: backslashes stay as written
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(_toml_string(v) for v in values) + "]"


def toml_entry(proposal: Proposal, examples: int = 3) -> str:
    """A commented [[sites]] table, ready to append to settings.toml."""
    host = host_of(proposal.home)
    sample = [urlsplit(u).path for u in proposal.article_urls[:examples]]
    lines = [
        "",
        f"# Added by `archive sites add {proposal.home}`: {len(proposal.article_urls)} article URLs found in "
        "sitemaps and feeds.",
        "# Patterns are regular expressions matched against the path and query, e.g. "
        + ", ".join(f"`{p}`" for p in sample) + ".",
        "# Check it with `archive sites check " + proposal.name + "` before the first crawl.",
        "[[sites]]",
        f"name = {_toml_string(proposal.name)}",
        f"start_urls = {_toml_list([proposal.home])}",
    ]
    if proposal.robots_sitemaps:
        lines.append("# sitemaps: announced in robots.txt (" + ", ".join(proposal.robots_sitemaps) + "), read from there")
    if proposal.sitemaps:
        lines.append(f"sitemaps = {_toml_list(proposal.sitemaps)}")
    if proposal.feeds:
        lines.append(f"feeds = {_toml_list(proposal.feeds)}  # announced by the home page")
    lines += [
        f"allowed_domains = {_toml_list([host])}",
        "# Article URLs, inferred from the shapes of the article URLs listed:",
        f"article_allow = {_toml_list(proposal.article_allow)}",
        *([f"article_deny = {_toml_list(proposal.article_deny)}"] if proposal.article_deny else []),
        "# Listing pages followed for links: the home page and the sections in its navigation (with pages).",
        f"follow_allow = {_toml_list(proposal.follow_allow)}",
        "# Never followed: search, tag, calendar and author pages repeat other listings or never end.",
        f"follow_deny = {_toml_list(proposal.follow_deny)}",
        "max_pages = 5000",
        "max_depth = 3",
    ]
    for note in proposal.notes:
        lines.insert(2, f"# Note: {note}")
    return "\n".join(lines) + "\n"
