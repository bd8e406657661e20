"""crawler/reextract.py and `archive reextract`: documents rebuilt from WARC captures of the
demo site (fetched over real HTTP, then the site is stopped), into the real Elasticsearch,
with every socket to anything but Elasticsearch refused."""

from __future__ import annotations

import json
import socket
import urllib.request
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from archive.cli import AppContext, cli
from archive.demo_site import DemoSite, serve_demo_site
from crawler.reextract import NoCaptures, reextract
from crawler.urls import canonicalize, document_id
from crawler.warc import Capture, WarcStore, read_capture, warc_root

N = 5


def fetch_capture(url: str, canonical: str | None, fetched_at: datetime) -> Capture:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return Capture(
            url=resp.url,
            status=resp.status,
            headers=list(resp.headers.items()),
            body=resp.read(),
            fetched_at=fetched_at.isoformat(timespec="seconds"),
            canonical_url=canonical,
        )


@pytest.fixture(scope="module")
def served():
    """Real page bytes of the demo site: N articles, a tracking-URL variant of the first, and
    the too-short trap. The server is stopped before any test runs."""
    site = DemoSite()
    when = datetime(2026, 11, 27, 2, 0, 3, tzinfo=timezone.utc)
    with serve_demo_site(site, host="127.0.0.1", port=0) as server:
        base = server.base_url
        articles = site.articles[:N]
        pages = [
            fetch_capture(base + a.path, canonicalize(base + a.path), when + timedelta(seconds=i))
            for i, a in enumerate(articles)
        ]
        tracking = fetch_capture(base + site.traps["tracking"], None, when - timedelta(days=1))
        short_path = site.traps["too_short"]
        too_short = fetch_capture(base + short_path, canonicalize(base + short_path), when)
    assert server_is_down(base)
    return {"site": site, "base": base, "articles": articles, "pages": pages, "tracking": tracking, "too_short": too_short}


def server_is_down(base: str) -> bool:
    try:
        urllib.request.urlopen(base + "/", timeout=2)
    except OSError:
        return True
    return False


@pytest.fixture
def offline(monkeypatch, archive_settings):
    """Only Elasticsearch may be reached: any other connection attempt fails the test."""
    es_port = archive_settings.elasticsearch.port
    attempts: list = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def allowed(address) -> bool:
        return isinstance(address, tuple) and address[1] == es_port and address[0] in ("127.0.0.1", "::1", "localhost")

    def connect(self, address):
        if not allowed(address):
            attempts.append(address)
            raise OSError(f"network is off in this test: connection to {address} refused")
        return real_connect(self, address)

    def connect_ex(self, address):
        if not allowed(address):
            attempts.append(address)
            raise OSError(f"network is off in this test: connection to {address} refused")
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    yield attempts
    assert attempts == [], f"something tried to reach the network: {attempts}"


def store_captures(settings, captures) -> list:
    with WarcStore(warc_root(settings.data_dir), "demo") as store:
        return [store.append(c) for c in captures]


def stored(es_client, settings, url: str) -> dict | None:
    response = es_client.options(ignore_status=404).get(index=settings.elasticsearch.articles_alias, id=document_id(url))
    return response["_source"] if response.get("found") else None


def test_documents_are_rebuilt_from_warc_alone(served, archive_settings, es_client, offline):
    locations = store_captures(archive_settings, served["pages"])

    result = reextract(archive_settings, es_client, ["demo"])

    assert result.captures == N and result.urls == N
    assert (result.new, result.updated, result.unchanged, result.failed) == (N, 0, 0, 0)
    assert result.rejected == {} and result.errors == [] and result.ok
    base = served["base"]
    for article, location, capture in zip(served["articles"], locations, served["pages"]):
        url = canonicalize(base + article.path)
        doc = stored(es_client, archive_settings, url)
        assert doc is not None, url
        assert doc["url"] == url
        assert doc["title"] == article.title
        assert doc["authors"] == list(article.authors)
        assert datetime.fromisoformat(doc["published"]) == article.published
        assert doc["body"] == article.body_text
        assert doc["site"] == "demo" and doc["hostname"] == "127.0.0.1"
        assert doc["crawled_at"] == capture.fetched_at
        assert doc["url_variants"] == [url]
        assert (doc["warc_file"], doc["warc_offset"]) == (location.file, location.offset)
        # the document points at the very bytes it was made from
        assert read_capture(warc_root(archive_settings.data_dir), location).body == capture.body
    assert offline == []


def test_a_second_run_writes_nothing(served, archive_settings, es_client, offline):
    store_captures(archive_settings, served["pages"])
    first = reextract(archive_settings, es_client)
    assert first.new == N
    versions_before = es_client.count(index=archive_settings.elasticsearch.versions_alias)["count"]

    second = reextract(archive_settings, es_client)

    assert (second.new, second.updated, second.unchanged) == (0, 0, N)
    assert second.captures == N
    assert es_client.count(index=archive_settings.elasticsearch.versions_alias)["count"] == versions_before == 0


def test_the_too_short_trap_is_rejected_and_writes_nothing(served, archive_settings, es_client, offline):
    store_captures(archive_settings, [served["too_short"]])

    result = reextract(archive_settings, es_client, ["demo"])

    assert result.captures == 1
    assert result.rejected == {"too-short": 1}
    assert (result.new, result.updated, result.unchanged) == (0, 0, 0)
    assert result.sites["demo"].rejected_total == 1
    assert stored(es_client, archive_settings, served["too_short"].canonical_url) is None
    assert es_client.count(index=archive_settings.elasticsearch.articles_alias)["count"] == 0


def test_a_page_that_now_rejects_leaves_its_archived_article_alone(served, archive_settings, es_client, offline):
    store_captures(archive_settings, served["pages"])
    reextract(archive_settings, es_client)
    before = {c.canonical_url: stored(es_client, archive_settings, c.canonical_url) for c in served["pages"]}

    stricter = replace(archive_settings, extraction=replace(archive_settings.extraction, min_words=100_000,
                                                            keep_short_articles=False))
    result = reextract(stricter, es_client)

    assert result.rejected == {"too-short": N}
    assert (result.new, result.updated, result.unchanged) == (0, 0, 0)
    es_client.indices.refresh(index=archive_settings.elasticsearch.articles_alias)
    after = {c.canonical_url: stored(es_client, archive_settings, c.canonical_url) for c in served["pages"]}
    assert after == before and all(after.values())


def test_the_newest_capture_of_a_url_wins_and_variants_are_kept(served, archive_settings, es_client, offline):
    """The tracking-URL capture (no canonical header: its URL is canonicalised) is a day
    older than the plain one; an edited, newer capture of the same page wins over both."""
    first = served["pages"][0]
    tracking = served["tracking"]
    assert canonicalize(tracking.url) == first.canonical_url and tracking.url != first.url
    paragraph = next(p for p in served["articles"][0].paragraphs if p.encode() in first.body)
    edited_body = first.body.replace(paragraph.encode(), b"An editor rewrote this paragraph of the story overnight.")
    assert edited_body != first.body
    newer = replace(first, body=edited_body, fetched_at="2026-11-28T02:00:00+00:00")
    # stored out of time order: the newest by fetch time wins, not the last written
    locations = store_captures(archive_settings, [newer, first, tracking])

    result = reextract(archive_settings, es_client)

    assert result.captures == 3 and result.urls == 1 and result.new == 1
    doc = stored(es_client, archive_settings, first.canonical_url)
    assert "An editor rewrote this paragraph of the story overnight." in doc["body"]
    assert paragraph not in doc["body"]
    assert doc["crawled_at"] == "2026-11-28T02:00:00+00:00"
    assert doc["warc_offset"] == locations[0].offset

    # the page as first seen (fetched under its tracking URL) is the newest when the edit is not there
    only_tracking = replace(archive_settings, data_dir=archive_settings.data_dir.parent / "var2")
    store_captures(only_tracking, [tracking])
    again = reextract(only_tracking, es_client)
    assert again.updated == 1
    doc = stored(es_client, archive_settings, first.canonical_url)
    assert doc["url"] == first.canonical_url
    assert doc["url_variants"] == sorted({first.canonical_url, canonicalize(tracking.url)})
    assert doc["body"] == served["articles"][0].body_text
    assert doc["edited"] is True and doc["version_count"] == 2


def test_batches_and_progress(served, archive_settings, es_client, offline):
    store_captures(archive_settings, served["pages"] + [served["too_short"]])
    settings = replace(archive_settings, elasticsearch=replace(archive_settings.elasticsearch, bulk_size=2))
    seen = []

    result = reextract(settings, es_client, on_progress=seen.append, progress_every=2)

    assert result.new == N and result.rejected == {"too-short": 1}
    assert [p.done for p in seen if p.phase == "scan"] == [2, 4, 6]
    extract = [p for p in seen if p.phase == "extract"]
    assert [p.done for p in extract] == [2, 4, 6, 6] and {p.total for p in extract} == {N + 1}
    assert es_client.count(index=archive_settings.elasticsearch.articles_alias)["count"] == N


def test_a_site_without_captures_is_a_clear_error(archive_settings, es_client):
    folder = warc_root(archive_settings.data_dir) / "demo"
    with pytest.raises(NoCaptures, match=f"no WARC captures for site demo in {folder}: crawl it first"):
        reextract(archive_settings, es_client, ["demo"])
    with pytest.raises(NoCaptures):
        reextract(archive_settings, es_client)  # no site has any


def test_cli_reextract(served, archive_settings, es_client, offline):
    runner = CliRunner()
    empty = runner.invoke(cli, ["reextract", "--site", "demo"], obj=AppContext(None, archive_settings))
    assert empty.exit_code == 1
    assert "no WARC captures for site demo in" in empty.output and "crawl it first" in empty.output
    unknown = runner.invoke(cli, ["reextract", "--site", "nope"], obj=AppContext(None, archive_settings))
    assert unknown.exit_code == 1 and "unknown site" in unknown.output

    store_captures(archive_settings, served["pages"] + [served["too_short"]])
    as_json = runner.invoke(cli, ["reextract", "--site", "demo", "--format", "json"], obj=AppContext(None, archive_settings))
    assert as_json.exit_code == 0, as_json.output
    payload = json.loads(as_json.stdout)
    assert payload["new"] == N and payload["rejected"] == {"too-short": 1} and payload["captures"] == N + 1
    assert payload["sites"]["demo"]["urls"] == N + 1

    table = runner.invoke(cli, ["reextract"], obj=AppContext(None, archive_settings), terminal_width=200)
    assert table.exit_code == 0, table.output
    assert "demo" in table.stdout and "too-short 1" in table.stdout
    row = next(line for line in table.stdout.splitlines() if line.strip().strip("│┃|").strip().startswith("demo"))
    assert [c.strip() for c in row.strip("│┃| ").split("│")][1:] == ["1", str(N + 1), str(N + 1), "0", "0", str(N), "1", "0"]


def test_the_network_guard_really_blocks(offline):
    """The guard the tests above rely on: a connection to anything but Elasticsearch fails."""
    with pytest.raises(OSError, match="network is off"):
        socket.create_connection(("127.0.0.1", 8701), timeout=1)
    with pytest.raises(OSError, match="network is off"):
        urllib.request.urlopen("http://127.0.0.1:8701/", timeout=1)
    assert len(offline) == 2
    offline.clear()


def test_a_newer_304_or_error_does_not_hide_the_last_good_capture(served, archive_settings, es_client, offline):
    page = served["pages"][0]
    not_modified = replace(page, status=304, body=b"", fetched_at="2026-12-01T02:00:00+00:00")
    gone = Capture(
        url=served["base"] + "/2026/01/01/a-story-that-was-never-fetched-whole", status=404,
        headers=[("Content-Type", "text/html; charset=utf-8")], body=b"<html><body>Not found</body></html>",
        fetched_at="2026-12-01T02:00:00+00:00",
    )
    store_captures(archive_settings, [page, not_modified, gone])

    result = reextract(archive_settings, es_client)

    assert result.captures == 3 and result.urls == 1
    assert result.new == 1 and result.rejected == {"http-error": 1}
    doc = stored(es_client, archive_settings, page.canonical_url)
    assert doc["crawled_at"] == page.fetched_at and doc["body"] == served["articles"][0].body_text
