"""`archive sites check` (a dry run that writes nothing) and `archive sites add` (an entry that,
used as is, archives the whole demo site and no trap). Over real HTTP to the demo site."""

from __future__ import annotations

import json
import tomllib
from dataclasses import replace

import pytest
from click.testing import CliRunner

from archive.cli import AppContext, cli
from archive.config import load_settings
from archive.demo_site import DemoSite, serve_demo_site
from crawler.runner import OK, run_crawl
from search.query import SearchRequest
from search.service import iterate

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server():
    with serve_demo_site(DemoSite(), host="127.0.0.1", port=0) as server:
        yield server


@pytest.fixture
def settings(archive_settings, demo_sites, server):
    return replace(archive_settings, sites=demo_sites(server.base_url))


def test_check_classifies_every_url_with_the_pattern_that_decided(settings, server, es_client):
    server.clear_requests()
    result = CliRunner().invoke(cli, ["sites", "check", "demo", "--format", "json", "--sample", "3"], obj=AppContext(None, settings))
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    by_path = {u["url"].removeprefix(server.base_url): u for u in report["urls"]}
    for article in server.site.articles:
        assert by_path[article.canonical_path]["kind"] == "article"
        assert "article_allow" in by_path[article.canonical_path]["why"]
    assert by_path["/section/world"]["kind"] == "listing"
    assert "follow_allow" in by_path["/section/world"]["why"]
    assert by_path[server.site.traps["tag"]]["kind"] == "ignored"
    assert "follow_deny '^/tag/'" in by_path[server.site.traps["tag"]]["why"]
    assert by_path[server.site.traps["calendar"]]["kind"] == "ignored"
    private = by_path[server.site.traps["private"]]
    assert private["kind"] == "ignored" and "robots.txt" in private["why"]
    assert server.count(path=server.site.traps["private"]) == 0  # robots.txt obeyed
    assert {f["what"] for f in report["fetched"]} == {"robots.txt", "sitemap", "feed", "start page"}

    samples = [s for s in report["samples"] if not s["rejected"]]
    assert samples
    for sample in samples:
        article = server.site.by_path[sample["url"].removeprefix(server.base_url)]
        assert sample["title"] == article.title
        assert sample["authors"] == list(article.authors)
        assert sample["published_source"]
        assert sample["word_count"] > 60
        assert sample["first_lines"][:30] == article.body_text[:30]
    # A dry run: nothing written anywhere.
    assert not settings.data_dir.exists()
    assert not es_client.indices.exists(index=settings.elasticsearch.articles_alias)


def test_check_text_output_and_a_site_whose_patterns_match_nothing(settings, server):
    wrong = replace(settings, sites=(replace(settings.sites[0], article_allow=(r"^/news/\d+$",)),))
    result = CliRunner().invoke(cli, ["sites", "check", "demo", "--sample", "0"], obj=AppContext(None, wrong))
    assert result.exit_code == 1
    assert "matched against the path and query" in result.output
    assert "Would be archived as articles: 0" in result.output
    assert "a crawl would archive nothing" in result.output
    assert r"article_allow = ['^/news/\d+$']" in result.output
    unknown = CliRunner().invoke(cli, ["sites", "check", "nosuch"], obj=AppContext(None, settings))
    assert unknown.exit_code == 1 and "unknown site 'nosuch'" in unknown.output


def test_add_proposes_an_entry_that_archives_the_whole_demo_site_and_no_trap(archive_settings, server, tmp_path, es_client):
    config = tmp_path / "settings.toml"
    original = f'data_dir = "{tmp_path / "var"}"\n\n[elasticsearch]\nurl = "{archive_settings.elasticsearch.url}"\n'
    config.write_text(original, encoding="utf-8")
    runner = CliRunner()

    dry = runner.invoke(cli, ["sites", "add", server.base_url + "/", "--name", "courier", "--dry-run"], obj=AppContext(str(config)))
    assert dry.exit_code == 0, dry.output
    assert "[[sites]]" in dry.output and "matched against the path and query" in dry.output
    assert config.read_text(encoding="utf-8") == original  # --dry-run writes nothing

    added = runner.invoke(cli, ["sites", "add", server.base_url + "/", "--name", "courier"], obj=AppContext(str(config)))
    assert added.exit_code == 0, added.output
    text = config.read_text(encoding="utf-8")
    assert text.startswith(original) and "# Added by `archive sites add" in text
    (site,) = load_settings(config, env={}).sites
    assert tomllib.loads(text)["sites"][0]["name"] == "courier"

    # The entry as written, crawled for real.
    settings = replace(archive_settings, sites=(site,), crawl=replace(archive_settings.crawl, download_delay=0.0))
    outcome = run_crawl(settings, ["courier"])
    assert outcome.status == OK, outcome.error
    es_client.indices.refresh(index=settings.elasticsearch.articles_alias)
    archived = {h.url.removeprefix(server.base_url) for h in iterate(es_client, settings.elasticsearch.articles_alias, SearchRequest(sort="oldest"))}
    assert archived == {a.canonical_path for a in server.site.articles}
    for trap in ("private", "too_short", "too_large", "pdf", "calendar", "tag", "search", "missing"):
        assert server.site.traps[trap] not in archived, trap

    again = runner.invoke(cli, ["sites", "add", server.base_url + "/", "--name", "courier"], obj=AppContext(str(config)))
    assert again.exit_code == 1 and "already configured" in again.output


@pytest.mark.parametrize(
    "paths, matching, not_matching",
    [
        (["/2025/03/14/harbour-closed", "/2024/11/02/tram-strike", "/2026/01/30/budget-vote"],
         ["/2027/12/31/a-story-of-tomorrow"], ["/section/world", "/tag/budget", "/2025/03/14"]),
        (["/world/2025/03/14/harbour-closed", "/politics/2024/11/02/tram-strike", "/business/2026/01/30/budget"],
         ["/climate/2027/05/01/new-story"], ["/world", "/world/2025/03/14"]),
        (["/news/123456", "/news/98765", "/news/1234567"], ["/news/42"], ["/news/", "/video/123456", "/news/abc"]),
        (["/articles/harbour-closed.html", "/articles/tram-strike.html"], ["/articles/x-y.html"], ["/articles/", "/about.html"]),
    ],
)
def test_inferred_patterns_take_tomorrows_articles_and_not_listings(paths, matching, not_matching):
    import re

    from crawler.siteinfer import infer_patterns

    patterns = infer_patterns(paths)
    for path in paths + matching:
        assert any(re.search(p, path) for p in patterns), (path, patterns)
    for path in not_matching:
        assert not any(re.search(p, path) for p in patterns), (path, patterns)
