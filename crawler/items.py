"""What the spider hands to the pipeline: one archived article, ready for Elasticsearch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crawler.urls import canonicalize, host_of


@dataclass
class ArticleItem:
    doc_id: str
    document: dict  # fields of search/definitions/articles.json
    fetch: dict = field(default_factory=dict)  # for the crawl state: urls, etag, last_modified, lastmod, fetched_at
    capture: Any = None  # crawler.warc.Capture: the raw response, kept in WARC


@dataclass
class NotModifiedItem:
    """A conditional request answered 304: nothing to write but the time we asked."""

    url: str
    fetched_at: str


def archive_document(article, canonical: str, site: str, crawled_at: str, seen_urls: list[str]) -> dict:
    """The Elasticsearch document of an extracted article (crawl and re-extraction alike)."""
    document = article.to_document()
    document.update(
        url=canonical,
        url_variants=sorted({canonical, *(canonicalize(u) for u in seen_urls)}),
        site=site,
        hostname=host_of(canonical),
        crawled_at=crawled_at,
    )
    return document
