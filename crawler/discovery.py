"""Where article URLs come from: robots.txt Sitemap lines, sitemaps (indexes, news sitemaps)
and RSS/Atom feeds. Pure functions over response bodies, so they are tested without a network.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree
from scrapy.utils.gz import gunzip, gzip_magic_number
from scrapy.utils.sitemap import sitemap_urls_from_robots

# Sitemaps and feeds come from the open web: never resolve entities or reach the network.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, recover=True, huge_tree=False)


@dataclass(frozen=True)
class Entry:
    url: str
    lastmod: str | None = None  # ISO 8601 as published by the site
    title: str | None = None


@dataclass(frozen=True)
class Sitemap:
    is_index: bool
    entries: list[Entry]


def robots_sitemaps(robots_txt: bytes, base_url: str) -> list[str]:
    if isinstance(robots_txt, str):
        robots_txt = robots_txt.encode("utf-8")
    return list(sitemap_urls_from_robots(robots_txt, base_url=base_url))


def _root(body: bytes, max_size: int):
    if gzip_magic_number_of(body):
        body = gunzip(body, max_size=max_size)
    body = body.lstrip()
    if not body.startswith(b"<"):
        return None
    try:
        return etree.fromstring(body, parser=_PARSER)
    except etree.XMLSyntaxError:
        return None


def gzip_magic_number_of(body: bytes) -> bool:
    return gzip_magic_number(_BodyOnly(body))


class _BodyOnly:
    """scrapy's gzip_magic_number wants a response; it only reads .body."""

    def __init__(self, body: bytes):
        self.body = body


def _local(tag) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _child_text(element, name: str) -> str | None:
    for child in element.iter():
        if _local(child.tag) == name and child.text and child.text.strip():
            return child.text.strip()
    return None


def parse_sitemap(body: bytes, max_size: int = 50_000_000) -> Sitemap | None:
    """A sitemap index or urlset; news sitemap dates and titles are kept. None if not a sitemap."""
    root = _root(body, max_size)
    if root is None or _local(root.tag) not in ("sitemapindex", "urlset"):
        return None
    is_index = _local(root.tag) == "sitemapindex"
    entries = []
    for item in root:
        if _local(item.tag) not in ("sitemap", "url"):
            continue
        loc = _child_text(item, "loc")
        if not loc:
            continue
        lastmod = _child_text(item, "lastmod") or _child_text(item, "publication_date")
        entries.append(Entry(url=loc, lastmod=lastmod, title=_child_text(item, "title")))
    return Sitemap(is_index=is_index, entries=entries)


def parse_feed(body: bytes, max_size: int = 50_000_000) -> list[Entry] | None:
    """Links of an RSS 2.0, RSS 1.0 or Atom feed. None if the body is not a feed."""
    root = _root(body, max_size)
    if root is None or _local(root.tag) not in ("rss", "feed", "RDF"):
        return None
    entries = []
    for item in root.iter():
        name = _local(item.tag)
        if name == "item":
            link = _child_text(item, "link")
            date = _child_text(item, "pubDate") or _child_text(item, "date")
        elif name == "entry":
            link = next(
                (l.get("href") for l in item if _local(l.tag) == "link" and l.get("rel", "alternate") == "alternate"),
                None,
            )
            date = _child_text(item, "published") or _child_text(item, "updated")
        else:
            continue
        if link:
            entries.append(Entry(url=link.strip(), lastmod=date, title=_child_text(item, "title")))
    return entries
