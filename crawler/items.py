"""What the spider hands to the pipeline: one archived article, ready for Elasticsearch."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ArticleItem:
    doc_id: str
    document: dict  # fields of search/definitions/articles.json
    fetch: dict = field(default_factory=dict)  # HTTP facts for incremental crawls: etag, last_modified, status
