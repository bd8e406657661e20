"""What the spider hands to the pipeline: one archived article, ready for Elasticsearch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
