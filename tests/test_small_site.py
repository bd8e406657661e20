"""A newsroom adds a small site of its own (tests/_small_site.py, served over HTTP): the proposed
entry takes its articles and none of its sections or static pages; an undated page that declares
no article is archived with a low confidence, and listed as such; a pattern that almost fits says how near the URLs came; a site
already configured is not added twice."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import replace

import pytest
from click.testing import CliRunner

from archive.cli import AppContext, cli
from archive.config import SiteSettings, load_settings
from crawler.runner import OK, run_crawl
from search.query import SearchRequest
from search.service import iterate
from _small_site import ARTICLES, serve_small_site

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def site():
    with serve_small_site() as site:
        yield site


def small_site(site, **changes) -> SiteSettings:
    entry = SiteSettings(name="gazette", start_urls=(site.base_url + "/",), sitemaps=(site.base_url + "/sitemap.xml",),
                         allowed_domains=("127.0.0.1",), article_allow=(r"^/news/\d{4}/\d{2}/[a-z0-9-]+/$",))
    return replace(entry, **changes)


def crawl_settings(archive_settings, site_settings):
    return replace(archive_settings, sites=(site_settings,),
                   crawl=replace(archive_settings.crawl, download_delay=0.0, progress_interval=30.0))


def archived_paths(es_client, settings, site) -> set[str]:
    es_client.indices.refresh(index=settings.elasticsearch.articles_alias)
    return {h.url.removeprefix(site.base_url) for h in iterate(es_client, settings.elasticsearch.articles_alias, SearchRequest())}


def test_add_proposes_the_article_pattern_and_not_one_for_sections_and_static_pages(archive_settings, site, tmp_path):
    config = tmp_path / "settings.toml"
    config.write_text(f'data_dir = "{tmp_path / "var"}"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["sites", "add", site.base_url + "/", "--name", "gazette", "--dry-run"],
                                obj=AppContext(str(config)))
    assert result.exit_code == 0, result.output
    entry = tomllib.loads(result.output[result.output.index("[[sites]]"):])["sites"][0]
    assert entry["article_allow"] == [r"^/news/\d{4}/\d{2}/[a-z0-9-]+/$"], entry
    for page in ("/about/", "/politics/", "/", "/tag/transport/"):
        assert not any(re.search(p, page) for p in entry["article_allow"]), page
    assert "left out '^/[a-z0-9-]+/$'" in result.output  # the proposal says what it did not take, and why
    for article in ARTICLES:
        assert any(re.search(p, article.path) for p in entry["article_allow"])


def test_an_undated_page_without_article_declarations_is_kept_as_low_confidence_and_check_says_so(archive_settings, site, es_client):
    wide = small_site(site, article_allow=(r"^/news/\d{4}/\d{2}/[a-z0-9-]+/$", r"^/[a-z0-9-]+/$"))
    settings = crawl_settings(archive_settings, wide)
    checked = CliRunner().invoke(cli, ["sites", "check", "gazette", "--sample", "10", "--format", "json"],
                                 obj=AppContext(None, settings))
    samples = {s["url"].removeprefix(site.base_url): s for s in json.loads(checked.output)["samples"]}
    assert samples["/about/"]["rejected"] is None
    assert samples["/about/"]["low_confidence"] is True
    assert samples[ARTICLES[0].path]["published_source"] == "json-ld"
    assert samples[ARTICLES[0].path]["low_confidence"] is False

    outcome = run_crawl(settings, ["gazette"])
    assert outcome.status == OK, outcome.error
    assert archived_paths(es_client, settings, site) == {a.path for a in ARTICLES} | {"/about/"}
    summary = outcome.sites["gazette"]
    rejected = [s["url"].removeprefix(site.base_url) for samples in summary["rejected_samples"].values() for s in samples]
    assert rejected == ["/politics/"], summary["rejected_samples"]  # a section page is still refused, counted and named

    # Stored with the confidence `archive runs --low-confidence` and the article page look at.
    stored = {h["_source"]["url"].removeprefix(site.base_url): h["_source"]["confidence"]
              for h in es_client.search(index=settings.elasticsearch.articles_alias, size=20)["hits"]["hits"]}
    low = {path for path, confidence in stored.items() if confidence < settings.extraction.low_confidence}
    assert low == {"/about/"}, stored


def test_a_pattern_that_almost_fits_shows_the_nearest_misses_first_with_the_pattern(archive_settings, site):
    no_slash = small_site(site, article_allow=(r"^/news/\d{4}/\d{2}/[a-z0-9-]+$",))
    settings = crawl_settings(archive_settings, no_slash)
    result = CliRunner().invoke(cli, ["crawl", "--site", "gazette"], obj=AppContext(None, settings))
    assert result.exit_code == 1, result.output
    output = result.output
    assert "/2025/03/14/slug" not in output  # the demo site's shape is no example for this site
    misses = output.index("Nearest misses")
    first_news = output.index("/news/2026/11/", misses)
    assert first_news < output.find("/about/", misses) or output.find("/about/", misses) == -1
    assert r"'^/news/\d{4}/\d{2}/[a-z0-9-]+$'" in output[misses:]
    assert re.search(r"/news/2026/11/[a-z-]+»/", output), output  # the mark shows where the pattern stops fitting


def test_add_refuses_a_site_already_configured_under_another_name(archive_settings, site, tmp_path):
    config = tmp_path / "settings.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "var"}"\n\n[[sites]]\nname = "mine"\nstart_urls = ["{site.base_url}/"]\n'
        "article_allow = ['^/news/']\n",
        encoding="utf-8",
    )
    before = config.read_text(encoding="utf-8")
    result = CliRunner().invoke(cli, ["sites", "add", site.base_url], obj=AppContext(str(config)))
    assert result.exit_code == 1
    assert "already configured as site 'mine'" in result.output
    assert config.read_text(encoding="utf-8") == before
    assert [s.name for s in load_settings(config, env={}).sites] == ["mine"]
