"""Wire and syndicated copies grouped into stories: a site that republishes three of another
site's articles under its own chrome (both served over HTTP and crawled) gives three stories of
two copies, and articles that share only a site's boilerplate stay apart. Searches show a story
once, as its earliest copy, saying who else published it; --all-copies lists every copy."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from dataclasses import replace

import pytest
from click.testing import CliRunner

from _small_site import ARTICLES as GAZETTE_ARTICLES, serve_small_site
from _syndicated_site import COPIES, serve_courier_site
from archive.cli import AppContext, cli
from archive.config import SiteSettings
from crawler.runner import OK, run_crawl
from search.indices import drop_all
from search.query import SearchRequest
from search.service import iterate, search

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def archive(es_settings, es_client, tmp_path_factory):
    """(settings, gazette, courier) after crawling both sites once."""
    es = es_settings.elasticsearch.with_index_prefix(f"test-stories-{uuid.uuid4().hex[:8]}")
    with serve_small_site() as gazette, serve_courier_site() as courier:
        sites = (
            SiteSettings(name="gazette", start_urls=(gazette.base_url + "/",), allowed_domains=("127.0.0.1",),
                         article_allow=(r"^/news/\d{4}/\d{2}/[a-z0-9-]+/$",)),
            SiteSettings(name="courier", start_urls=(courier.base_url + "/",), allowed_domains=("127.0.0.1",),
                         article_allow=(r"^/stories/[a-z0-9-]+\.html$",)),
        )
        settings = replace(es_settings, elasticsearch=es, data_dir=tmp_path_factory.mktemp("var"), sites=sites,
                           crawl=replace(es_settings.crawl, download_delay=0.0, progress_interval=30.0))
        outcome = run_crawl(settings, ["gazette"])
        assert outcome.status == OK, outcome.error
        outcome = run_crawl(settings, ["courier"])
        assert outcome.status == OK, outcome.error
        es_client.indices.refresh(index=es.articles_alias)
        yield settings, gazette, courier
        drop_all(es_client, es)


def stories_of(es_client, settings) -> dict[str, list[str]]:
    """story id -> the paths of its copies (as site:path)."""
    stories = defaultdict(list)
    for hit in iterate(es_client, settings.elasticsearch.articles_alias, SearchRequest(sort="oldest")):
        stories[hit.source["story"]].append(f"{hit.site}:{hit.url.split('//', 1)[1].split('/', 1)[1]}")
    return stories


def test_three_republished_articles_give_three_stories_of_two_copies_and_boilerplate_groups_nothing(archive, es_client):
    settings, _, _ = archive
    stories = stories_of(es_client, settings)
    assert sum(len(copies) for copies in stories.values()) == len(GAZETTE_ARTICLES) + 6
    grouped = sorted(sorted(copies) for copies in stories.values() if len(copies) > 1)
    expected = sorted(sorted([f"gazette:news/2026/11/{c.republished_from}/", f"courier:stories/{c.slug}.html"]) for c in COPIES)
    assert grouped == expected  # and no other group: the shared filler and boilerplate paragraphs group nothing


def test_a_search_shows_a_story_once_as_its_earliest_copy_with_the_sites_that_also_published_it(archive, es_client):
    settings, gazette, courier = archive
    alias = settings.elasticsearch.articles_alias
    response = search(es_client, alias, SearchRequest(text="ferry crossings"))
    assert response.total == 2 and response.stories == 1
    [hit] = response.hits
    assert hit.site == "gazette" and hit.url.startswith(gazette.base_url)  # published a day before the copy
    assert hit.copies_total == 2 and hit.other_sites == ["courier"]
    assert hit.as_dict()["copies"] == [courier.base_url + "/stories/gazette-ferry-timetable-cut.html"]

    every = search(es_client, alias, SearchRequest(text="ferry crossings", all_copies=True))
    assert sorted(h.site for h in every.hits) == ["courier", "gazette"] and every.stories is None


def test_cli_all_copies_show_json_and_exports_say_how_copies_are_treated(archive):
    settings, gazette, courier = archive
    runner = CliRunner()
    grouped = runner.invoke(cli, ["search", "dunes"], obj=AppContext(None, settings))
    assert grouped.exit_code == 0, grouped.output
    assert "also published by courier" in grouped.output and "1 story" in grouped.output
    every = runner.invoke(cli, ["search", "dunes", "--all-copies"], obj=AppContext(None, settings))
    assert courier.base_url + "/stories/gazette-dune-repairs-begin.html" in every.output

    original = gazette.base_url + "/news/2026/11/dune-repairs-begin/"
    shown = json.loads(runner.invoke(cli, ["show", original, "--format", "json"], obj=AppContext(None, settings)).output)
    assert shown["story"] == shown["id"]
    assert shown["copies"] == [courier.base_url + "/stories/gazette-dune-repairs-begin.html"]

    exported = runner.invoke(cli, ["search", "dunes", "--format", "csv"], obj=AppContext(None, settings))
    header, *rows = exported.stdout.splitlines()
    assert "story" in header.split(",") and len(rows) == 2  # every copy, each saying its story
    assert all(shown["id"] in row for row in rows)
    assert "every copy of a story is a row" in exported.stderr
