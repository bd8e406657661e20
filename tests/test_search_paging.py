"""Paging and exports go past Elasticsearch's 10,000-hit window."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from elasticsearch import helpers

from archive.config import SearchSettings
from search.indices import ARTICLES_DEFINITION, ensure_index
from search.query import SearchRequest
from search.service import iterate, search

COUNT = 10_030


def test_pages_beyond_ten_thousand_hits_and_full_exports(es_client, archive_settings):
    alias = archive_settings.elasticsearch.articles_alias
    ensure_index(es_client, alias, ARTICLES_DEFINITION)
    start = datetime(2020, 1, 1, tzinfo=timezone.utc)
    helpers.bulk(
        es_client,
        (
            {
                "_index": alias,
                "_id": f"{i:032x}",
                "_source": {
                    "url": f"https://news.example/{i:05d}",
                    "title": f"Council budget story {i}",
                    "site": "news",
                    "published": (start + timedelta(hours=i)).isoformat(),
                    "body": "The council debated the budget.",
                },
            }
            for i in range(COUNT)
        ),
        chunk_size=2000,
        refresh="wait_for",
    )

    request = SearchRequest(text="budget", sort="oldest", size=10, facets=False, highlight=False)
    page = search(es_client, alias, request, page=1002)  # hits 10,011 to 10,020
    # Counted up to search.count_limit (10,000), then "more than 10,000": never a wrong number.
    assert (page.total, page.total_more, page.count_text()) == (10_000, True, "more than 10,000 articles")
    assert [h.url for h in page.hits] == [f"https://news.example/{i:05d}" for i in range(10_010, 10_020)]
    assert search(es_client, alias, request, page=1004).hits == []  # past the end: empty, no error

    exact = search(es_client, alias, replace(request, limits=SearchSettings(count_limit=0)), page=1002)
    assert (exact.total, exact.total_more) == (COUNT, False)

    exported = [hit.url for hit in iterate(es_client, alias, request)]
    assert len(exported) == COUNT
    assert len(set(exported)) == COUNT
    assert exported[:2] == ["https://news.example/00000", "https://news.example/00001"]
