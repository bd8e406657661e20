"""Very short articles (news briefs, stored with short: true) can be left out of a search,
on the real node: `archive search --no-briefs` and SearchRequest(briefs=False)."""

from __future__ import annotations

from click.testing import CliRunner

from _search_archive import BASE, demo_archive, write  # noqa: F401 (fixture)
from archive.cli import AppContext, cli
from search.query import SearchRequest
from search.service import search

BRIEF = {
    "url": BASE + "/2025/07/20/harbour-ferry-brief",
    "site": "demo",
    "title": "Harbour ferry resumes after storm",
    "published": "2025-07-20T09:00:00+00:00",
    "language": "en",
    "body": "The harbour ferry resumed its crossings on Sunday morning after the storm.",
    "word_count": 12,
    "short": True,
    "content_hash": "brief-1",
    "crawled_at": "2026-01-01T00:00:00+00:00",
}


def test_no_briefs_leaves_out_short_articles_and_only_them(demo_archive, es_client):
    es = demo_archive.elasticsearch
    write(es_client, es, [BRIEF])
    everything = search(es_client, es.articles_alias, SearchRequest(text="harbour", size=100))
    full_only = search(es_client, es.articles_alias, SearchRequest(text="harbour", size=100, briefs=False))
    assert BRIEF["title"] in [h.title for h in everything.hits]
    # Articles stored without the flag (every demo article here) are full articles: all stay.
    assert sorted(h.title for h in full_only.hits) == sorted(h.title for h in everything.hits if h.title != BRIEF["title"])
    assert full_only.total == everything.total - 1
    assert sum(n for _, n in full_only.sites) == full_only.total  # the facets count the same articles


def test_archive_search_no_briefs(demo_archive, es_client):
    es = demo_archive.elasticsearch
    write(es_client, es, [BRIEF])
    runner = CliRunner()

    def shown(*options):
        result = runner.invoke(cli, ["search", "ferry", *options], obj=AppContext(None, demo_archive), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    assert "Harbour ferry resumes after storm" in shown()
    without = shown("--no-briefs")
    assert "Harbour ferry resumes after storm" not in without
    assert "--no-briefs" in runner.invoke(cli, ["search", "--help"]).output
