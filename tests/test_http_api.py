"""The search page and the JSON API, served by uvicorn over real HTTP, against the real Elasticsearch."""

from __future__ import annotations

import csv
import io
import json
import socket
import urllib.error
import urllib.request
from dataclasses import replace
from urllib.parse import quote

import pytest

from archive.urls import document_id
from search.http_api import create_app, running_server
from search.indices import ensure_all
from search.writer import ArticleWriter
from _web import signed_in_everywhere

ARTICLES = [
    {"url": "https://news.example/2025/03/04/harbour", "title": "Harbour closed after crane collapse", "site": "news",
     "authors": ["Sofia Lindqvist"], "published": "2025-03-04T09:00:00+00:00", "tags": ["transport"], "language": "en",
     "body": "Late on Monday the harbour authority confirmed the closure of the container quay.", "content_hash": "a"},
    {"url": "https://news.example/2025/05/01/budget", "title": "Budget scrutiny for the harbour authority", "site": "news",
     "authors": ["Maren Okafor"], "published": "2025-05-01T09:00:00+00:00", "tags": ["politics"], "language": "en",
     "body": "Councillors questioned the authority's spending on the harbour and its closure plans.", "content_hash": "b"},
    {"url": "https://evil.example/2025/05/02/x", "title": 'Tram <b>bold</b> <script>alert("title")</script>', "site": "evil",
     "authors": ["<img src=x onerror=alert(1)>"], "published": "2025-05-02T09:00:00+00:00", "tags": ["politics"], "language": "en",
     "body": 'The tram depot <script>alert("body")</script> reopened.\n<a href="javascript:alert(2)">click</a> tram', "content_hash": "c"},
] + [
    {"url": f"https://news.example/2025/06/{i:02d}/vote", "title": f"Council vote {i}", "site": "news", "authors": ["Ana Ruiz"],
     "published": f"2025-06-{i:02d}T09:00:00+00:00", "tags": ["politics"], "language": "en",
     "body": f"The council voted on motion {i} about the budget.", "content_hash": f"v{i}"}
    for i in range(1, 11)
] + [
    {"url": "https://news.example/2025/07/01/ferry", "title": "Ferry back on the sound", "site": "news", "authors": [],
     "published": "2025-07-01T09:00:00+00:00", "tags": ["transport"], "language": "en",
     "body": "The ferry resumed its crossings of the sound.", "content_hash": "f", "short": True},
    {"url": "https://news.example/2025/07/02/ferry-fares", "title": "Ferry fares to rise", "site": "news", "authors": [],
     "published": "2025-07-02T09:00:00+00:00", "tags": ["transport"], "language": "en",
     "body": "Ferry fares will rise by a tenth from August, the operator said. " * 8, "content_hash": "g"},
]


@pytest.fixture
def api(es_client, archive_settings, web_admin):
    es = archive_settings.elasticsearch
    ensure_all(es_client, es)
    ArticleWriter(es_client, es).write({document_id(a["url"]): {**a, "crawled_at": "2025-07-01T00:00:00+00:00"} for a in ARTICLES})
    es_client.indices.refresh(index=es.articles_alias)
    with running_server(create_app(archive_settings, es_client)) as base, signed_in_everywhere(base, web_admin):
        yield base


def get(url: str, accept: str | None = None) -> tuple[int, str, str]:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.headers["Content-Type"], response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode("utf-8")


def test_phrase_search_returns_highlighted_json(api):
    status, content_type, body = get(api + "/search?q=" + quote('"authority confirmed the closure"'))
    assert status == 200 and content_type.startswith("application/json")
    payload = json.loads(body)
    assert payload["total"] == 1
    hit = payload["hits"][0]
    assert hit["url"] == ARTICLES[0]["url"]
    assert "<mark>" in hit["snippets"][0]
    assert payload["facets"]["sites"] == {"news": 1}


def test_filters_sort_and_csv(api):
    status, _, body = get(api + "/search?q=harbour&sort=oldest&author=Maren+Okafor")
    assert [h["title"] for h in json.loads(body)["hits"]] == [ARTICLES[1]["title"]]
    status, content_type, body = get(api + "/search.csv?q=harbour&sort=newest")
    assert status == 200 and content_type.startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [r["url"] for r in rows] == [ARTICLES[1]["url"], ARTICLES[0]["url"]]


def test_exports_hold_every_hit_not_one_page(api):
    # 12 politics articles: more than a page of 10, and all of them in every export.
    status, content_type, body = get(api + "/export.csv?tag=politics&sort=oldest")
    assert status == 200 and content_type.startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == 12 and len({r["url"] for r in rows}) == 12
    assert "<mark>" not in body
    assert len(list(csv.DictReader(io.StringIO(get(api + "/search.csv?tag=politics")[2])))) == 12
    assert len(list(csv.DictReader(io.StringIO(get(api + "/search.csv?tag=politics&size=5")[2])))) == 5
    assert len(list(csv.DictReader(io.StringIO(get(api + "/search.csv?tag=politics&size=5&page=3")[2])))) == 2
    status, _, body = get(api + "/search.csv?tag=politics&page=2")
    assert status == 400 and "size=" in json.loads(body)["error"]
    exported = json.loads(get(api + "/export.json?tag=politics")[2])  # one JSON document, as `archive search --format json`
    assert len(exported) == 12 and len({h["url"] for h in exported}) == 12
    assert len(json.loads(get(api + "/export.json?tag=politics&size=3")[2])) == 3
    assert json.loads(get(api + "/export.json?q=nothingmatchesthis")[2]) == []
    with_body = json.loads(get(api + "/export.json?q=crane&with_body=1")[2])
    assert with_body[0]["body"] == ARTICLES[0]["body"]
    lines = get(api + "/export.ndjson?tag=Politics")[2].splitlines()
    assert len(lines) == 12 and all(json.loads(line)["url"] for line in lines)


def test_one_article_by_id_and_by_url(api):
    status, _, body = get(api + "/articles/" + document_id(ARTICLES[0]["url"]))
    assert status == 200 and json.loads(body)["body"] == ARTICLES[0]["body"]
    status, _, body = get(api + "/articles?url=" + quote(ARTICLES[1]["url"] + "?utm_source=x"))
    assert status == 200 and json.loads(body)["title"] == ARTICLES[1]["title"]
    status, _, body = get(api + "/articles/" + "0" * 32)
    assert status == 404 and "no archived article" in json.loads(body)["error"]
    status, content_type, body = get(api + "/article/" + "0" * 32)
    assert status == 404 and content_type.startswith("text/html") and "no archived article" in body


def test_bad_input_gets_a_400_that_says_why(api):
    status, _, body = get(api + "/search?q=" + quote('"unclosed phrase'))
    assert status == 400 and "unclosed quote" in json.loads(body)["error"]
    status, _, body = get(api + "/search?q=x&since=last+week")
    assert status == 400 and "YYYY-MM-DD" in json.loads(body)["error"]
    status, _, body = get(api + "/search?q=x&size=100000")
    assert status == 400
    status, _, body = get(api + "/search?q=x&site=nosuchsite")
    assert status == 400 and "sites in the archive: news (14 articles), evil (1 article)" in json.loads(body)["error"]
    status, _, body = get(api + "/search?q=x&lang=german")
    assert status == 400 and "languages in the archive: en (15 articles)" in json.loads(body)["error"]
    status, _, body = get(api + "/export.csv?tag=nosuchtag")
    assert status == 400 and "politics" in json.loads(body)["error"]
    status, content_type, body = get(api + "/?q=x&site=nosuchsite")
    assert status == 400 and content_type.startswith("text/html") and "sites in the archive: news (14 articles)" in body


def test_sites_and_languages_are_case_insensitive(api):
    status, _, body = get(api + "/search?site=NEWS&lang=EN&q=harbour")
    assert status == 200 and json.loads(body)["total"] == 2


def test_health(api):
    status, _, body = get(api + "/health")
    assert status == 200
    assert json.loads(body)["articles"] == len(ARTICLES)
    assert json.loads(body)["elasticsearch"] in ("green", "yellow")


def test_search_page_shows_results_facets_and_paging_in_the_url(api):
    status, content_type, html = get(api + "/?q=council&sort=oldest", accept="text/html")
    assert status == 200 and content_type.startswith("text/html")
    assert '<meta name="viewport"' in html
    assert "<strong>10</strong> articles" in html
    assert "<mark>Council</mark> vote 1" in html
    assert 'href="/?q=council&amp;sort=oldest&amp;page=2"' not in html  # 10 hits fit one page
    assert 'href="/?q=council&amp;sort=oldest&amp;site=news"' in html  # the site facet adds a filter
    assert 'id="coverage-chart"' in html and 'href="/coverage.csv?q=council&amp;sort=oldest&amp;by=' in html  # coverage over time
    assert 'href="/export.csv?q=council&amp;sort=oldest&amp;bom=1"' in html  # the page's download opens in spreadsheets
    status, _, html = get(api + "/?q=council&sort=oldest&size=4&page=2")
    assert "showing 5–8" in html and 'href="/?q=council&amp;sort=oldest&amp;size=4&amp;page=3"' in html
    # The page's JSON twin holds the same hits.
    twin = json.loads(get(api + "/search?q=council&sort=oldest&size=4&page=2")[2])
    assert [h["title"] for h in twin["hits"]] == ["Council vote 5", "Council vote 6", "Council vote 7", "Council vote 8"]


def test_crawled_markup_is_shown_as_text_never_as_html(api):
    evil = document_id(ARTICLES[2]["url"])
    for path in ("/?q=tram", "/?q=" + quote("depot"), f"/article/{evil}"):
        status, _, html = get(api + path)
        assert status == 200, path
        assert "<script>alert" not in html and "<b>bold</b>" not in html and "<img src=x" not in html, path
        assert '<a href="javascript' not in html, path
    html = get(api + f"/article/{evil}")[2]
    assert "&lt;script&gt;alert(&#34;body&#34;)&lt;/script&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


def test_a_stored_javascript_url_is_never_a_link(api, es_client, archive_settings):
    trap = {**ARTICLES[2], "url": "javascript:alert(document.cookie)", "title": "Trap", "content_hash": "t"}
    ArticleWriter(es_client, archive_settings.elasticsearch).write({"f" * 32: {**trap, "crawled_at": "2025-07-01T00:00:00+00:00"}})
    es_client.indices.refresh(index=archive_settings.elasticsearch.articles_alias)
    for path in ("/?q=trap", "/article/" + "f" * 32):
        html = get(api + path)[2]
        assert "Trap" in html and 'href="javascript' not in html, path


def test_article_page_has_metadata_text_and_no_versions_yet(api):
    status, _, html = get(api + "/article/" + document_id(ARTICLES[0]["url"]))
    assert status == 200
    assert "Harbour closed after crane collapse" in html and "Sofia Lindqvist" in html
    assert "harbour authority confirmed the closure" in html
    assert "Never changed since it was first archived." in html
    assert "no raw capture recorded" in html
    twin = json.loads(get(api + "/article/" + document_id(ARTICLES[0]["url"]) + ".json")[2])
    assert twin["versions"][0]["current"] is True and twin["changes"] == []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_elasticsearch_down_is_a_503_with_one_line_that_says_what_to_do(archive_settings):
    down = replace(archive_settings, elasticsearch=replace(archive_settings.elasticsearch, url=f"http://127.0.0.1:{free_port()}", request_timeout=2.0))
    with running_server(create_app(down)) as base:
        status, content_type, body = get(base + "/search?q=harbour")
        assert status == 503 and content_type.startswith("application/json")
        message = json.loads(body)["error"]
        assert down.elasticsearch.url in message and "archive es start" in message and "\n" not in message
        status, content_type, html = get(base + "/?q=harbour")
        assert status == 503 and content_type.startswith("text/html") and "The archive is down" in html
        assert "archive es start" not in html  # the operator's fix is in the log and /health, not on the journalist's page
        assert "Traceback" not in html


def test_same_query_language_as_the_cli_quotes_suggestions_and_earlier_versions(api, es_client, archive_settings):
    straight = json.loads(get(api + "/search?q=" + quote('"authority confirmed the closure"'))[2])
    curly = json.loads(get(api + "/search?q=" + quote("“authority confirmed the closure”"))[2])
    assert [h["url"] for h in curly["hits"]] == [h["url"] for h in straight["hits"]] == [ARTICLES[0]["url"]]

    twin = json.loads(get(api + "/search?q=councl")[2])
    assert twin["total"] == 0 and twin["suggestions"][0]["text"] == "council"
    html = get(api + "/?q=councl")[2]
    assert "Did you mean" in html and 'href="/?q=council"' in html

    # A headline that changed: the old one is found with include_earlier, marked with its capture date.
    old = ARTICLES[0]
    ArticleWriter(es_client, archive_settings.elasticsearch).write(
        {document_id(old["url"]): {**old, "title": "Quay reopens", "content_hash": "a2", "crawled_at": "2025-07-02T00:00:00+00:00"}})
    es_client.indices.refresh(index=f"{archive_settings.elasticsearch.articles_alias},{archive_settings.elasticsearch.versions_alias}")
    assert json.loads(get(api + "/search?q=" + quote('"crane collapse"'))[2])["total"] == 0
    found = json.loads(get(api + "/search?include_earlier=1&q=" + quote('"crane collapse"'))[2])
    (hit,) = found["hits"]
    assert hit["earlier_version_of"] == document_id(old["url"]) and hit["captured_at"].startswith("2025-07-01")
    assert hit["archive_page"] == "/article/" + document_id(old["url"])
    html = get(api + "/?include_earlier=1&q=" + quote('"crane collapse"'))[2]
    assert "earlier version, captured 2025-07-01" in html
    rows = list(csv.DictReader(io.StringIO(get(api + "/export.csv?include_earlier=1&q=" + quote('"crane collapse"'))[2])))
    assert [r["earlier_version_of"] for r in rows] == [document_id(old["url"])]


def test_briefs_0_leaves_short_articles_out_on_the_page_and_in_json(api):
    _, _, everything = get(api + "/search?q=ferry&sort=newest")
    _, _, full_only = get(api + "/search?q=ferry&sort=newest&briefs=0")
    assert [h["title"] for h in json.loads(everything)["hits"]] == ["Ferry fares to rise", "Ferry back on the sound"]
    assert [h["title"] for h in json.loads(full_only)["hits"]] == ["Ferry fares to rise"]
    _, _, page = get(api + "/?q=ferry&briefs=0", accept="text/html")
    assert "back on the sound" not in page and "fares to rise" in page  # titles carry <mark>Ferry</mark>
    assert 'name="briefs" type="checkbox" value="0" checked' in page
    # Saving this search would not keep briefs=0: the page says so beside the save form.
    assert "it does not keep “leave out short briefs”" in page
