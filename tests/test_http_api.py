"""The read-only HTTP search API, against the real Elasticsearch."""

from __future__ import annotations

import csv
import io
import json
import threading
import urllib.error
import urllib.request
from urllib.parse import quote

import pytest

from crawler.urls import document_id
from search.http_api import make_server
from search.indices import ensure_all
from search.writer import ArticleWriter

ARTICLES = [
    {"url": "https://news.example/2025/03/04/harbour", "title": "Harbour closed after crane collapse", "site": "news",
     "authors": ["Sofia Lindqvist"], "published": "2025-03-04T09:00:00+00:00",
     "body": "Late on Monday the harbour authority confirmed the closure of the container quay.", "content_hash": "a"},
    {"url": "https://news.example/2025/05/01/budget", "title": "Budget scrutiny for the harbour authority", "site": "news",
     "authors": ["Maren Okafor"], "published": "2025-05-01T09:00:00+00:00",
     "body": "Councillors questioned the authority's spending on the harbour and its closure plans.", "content_hash": "b"},
]


@pytest.fixture
def api(es_client, archive_settings):
    es = archive_settings.elasticsearch
    ensure_all(es_client, es)
    ArticleWriter(es_client, es).write({document_id(a["url"]): a for a in ARTICLES})
    es_client.indices.refresh(index=es.articles_alias)
    server = make_server(es_client, es, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
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


def test_one_article_by_id_and_by_url(api):
    status, _, body = get(api + "/articles/" + document_id(ARTICLES[0]["url"]))
    assert status == 200 and json.loads(body)["body"] == ARTICLES[0]["body"]
    status, _, body = get(api + "/articles?url=" + quote(ARTICLES[1]["url"] + "?utm_source=x"))
    assert status == 200 and json.loads(body)["title"] == ARTICLES[1]["title"]
    status, _, body = get(api + "/articles/" + "0" * 32)
    assert status == 404 and "no archived article" in json.loads(body)["error"]


def test_bad_input_gets_a_400_that_says_why(api):
    status, _, body = get(api + "/search?q=" + quote('"unclosed phrase'))
    assert status == 400 and "unclosed quote" in json.loads(body)["error"]
    status, _, body = get(api + "/search?q=x&since=last+week")
    assert status == 400 and "YYYY-MM-DD" in json.loads(body)["error"]
    status, _, body = get(api + "/search?q=x&size=100000")
    assert status == 400


def test_health(api):
    status, _, body = get(api + "/health")
    assert status == 200
    assert json.loads(body) == {"elasticsearch": json.loads(body)["elasticsearch"], "articles": 2}
    assert json.loads(body)["elasticsearch"] in ("green", "yellow")
