"""A small archive of the demo site's hand-written articles, written through the store's own
writer (as a crawl would) into the test's indices: no crawl needed to test searching."""

from __future__ import annotations

import hashlib

import pytest

from archive.demo_site.content import Article, hand_written_articles
from archive.urls import document_id
from search.indices import ensure_all
from search.writer import ArticleWriter

BASE = "http://demo.example"


def document(article: Article, crawled_at: str = "2026-01-01T00:00:00+00:00") -> dict:
    body = article.body_text
    return {
        "url": BASE + article.path,
        "site": "demo",
        "title": article.title,
        "authors": list(article.authors),
        "published": article.published.isoformat(),
        "tags": list(article.tags),
        "section": article.section,
        "description": article.description,
        "language": article.language,
        "body": body,
        "word_count": len(body.split()),
        "content_hash": hashlib.sha256((article.title + body).encode()).hexdigest(),
        "crawled_at": crawled_at,
    }


def write(client, es, documents: list[dict]) -> None:
    ArticleWriter(client, es).write({document_id(d["url"]): d for d in documents})
    client.indices.refresh(index=f"{es.articles_alias},{es.versions_alias}")


@pytest.fixture
def demo_archive(es_client, archive_settings):
    """archive_settings whose indices hold the demo site's hand-written articles."""
    es = archive_settings.elasticsearch
    ensure_all(es_client, es)
    write(es_client, es, [document(a) for a in hand_written_articles()])
    return archive_settings
