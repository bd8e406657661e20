"""Journalists sign in with their Elasticsearch accounts, own their saved searches, and leave an
audit trail: the search page in chromium and the JSON API over HTTP, against the secured node."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import replace
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import feedparser
import pytest
from selenium.webdriver.common.by import By

from archive.config import WebSettings
from search import node_credentials
from search.audit import AuditLog
from search.http_api import create_app, running_server
from search.indices import drop_all, ensure_all
from search.sessions import SignInThrottle
from _search_archive import document, write
from _web import SAME_ORIGIN, browser, browser_sign_in, sign_in, wait_for_download  # noqa: F401 (fixture)
from archive.demo_site.content import hand_written_articles

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def site(es_settings, es_client):
    """The demo site's articles in indices of their own, served by `archive serve`."""
    settings = replace(es_settings, elasticsearch=es_settings.elasticsearch.with_index_prefix(f"test-acc-{uuid.uuid4().hex[:8]}"))
    es = settings.elasticsearch
    ensure_all(es_client, es)
    write(es_client, es, [document(a) for a in hand_written_articles()])
    app = create_app(settings, es_client)
    try:
        with running_server(app) as base:
            # Feed addresses are built from the public address (search/web/pages.py): this server's.
            app.state.settings = settings = replace(settings, alerts=replace(settings.alerts, public_url=base))
            yield {"base": base, "settings": settings, "app": app, "audit": AuditLog(es_client, es.audit_alias)}
    finally:
        drop_all(es_client, es)


def status_of(opener, url: str, data: dict | None = None, headers: dict | None = None) -> tuple[int, str, dict]:
    """(status, body, headers) without following redirects."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    handlers = [h for h in getattr(opener, "handlers", []) if isinstance(h, urllib.request.HTTPCookieProcessor)]
    plain = urllib.request.build_opener(NoRedirect, *handlers)
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    if body is not None:  # a form of the page itself, as the browser would send it
        headers = {**SAME_ORIGIN(url.split("/", 3)[0] + "//" + url.split("/", 3)[2]), **(headers or {})}
    request = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with plain.open(request, timeout=30) as reply:
            return reply.status, reply.read().decode(), {k.lower(): v for k, v in reply.headers.items()}
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), {k.lower(): v for k, v in exc.headers.items()}


ANONYMOUS = urllib.request.build_opener()


def test_without_a_session_pages_go_to_sign_in_and_the_api_answers_401(site):
    base = site["base"]
    status, _, headers = status_of(ANONYMOUS, base + "/?q=harbour&site=demo")
    assert status == 303 and headers["location"] == "/login?next=%2F%3Fq%3Dharbour%26site%3Ddemo"
    for path in ("/search?q=harbour", "/export.csv?q=harbour", "/articles?url=x", "/alerts.json", "/alerts/x.atom"):
        status, body, headers = status_of(ANONYMOUS, base + path)
        assert status == 401 and headers["content-type"].startswith("application/json"), path
        assert "sign in" in json.loads(body)["error"]
    assert status_of(ANONYMOUS, base + "/login")[0] == 200
    assert status_of(ANONYMOUS, base + "/health")[0] == 200


def test_sign_in_wrong_password_sign_out_and_cookie_flags_in_a_browser(browser, site, journalists):
    base, audit = site["base"], site["audit"]
    name, password = journalists("reader")
    browser.delete_all_cookies()
    browser.get(base + "/?q=harbour")
    assert "/login?next=" in browser.current_url

    browser.find_element(By.ID, "username").send_keys(name)
    browser.find_element(By.ID, "password").send_keys("not-the-password")
    browser.find_element(By.ID, "password").submit()
    assert "wrong user name or password" in browser.find_element(By.CSS_SELECTOR, ".error").text
    assert browser.get_cookie("archive_session") is None

    browser.find_element(By.ID, "password").send_keys(password)
    browser.find_element(By.ID, "password").submit()
    wait_until(lambda: "/login" not in browser.current_url)
    assert browser.current_url == base + "/?q=harbour"  # back where the reader was going
    assert browser.find_elements(By.CSS_SELECTOR, ".hit")
    assert name in browser.find_element(By.CSS_SELECTOR, ".signout .who").text

    cookie = browser.get_cookie("archive_session")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax" and cookie["secure"] is False  # plain http here
    assert "archive_session" not in browser.execute_script("return document.cookie")  # scripts cannot read it

    browser.find_element(By.CSS_SELECTOR, ".signout button").click()
    wait_until(lambda: "/login" in browser.current_url)
    assert "You are signed out" in browser.find_element(By.TAG_NAME, "main").text
    browser.get(base + "/?q=harbour")
    assert "/login" in browser.current_url  # the old session is gone

    events = [(e["event"], e.get("outcome")) for e in audit.read(user=name)]
    assert events[:3] == [("sign-out", None), ("sign-in", "success"), ("sign-in", "failure")]


def test_an_idle_session_expires(browser, es_settings, es_client, site, journalists):
    name, password = journalists("reader")
    settings = replace(site["settings"], web=WebSettings(session_idle_hours=2 / 3600))  # two seconds
    with running_server(create_app(settings, es_client)) as base:
        browser.delete_all_cookies()
        browser_sign_in(browser, base, (name, password))
        browser.get(base + "/?q=harbour")
        assert "/login" not in browser.current_url
        time.sleep(3)
        browser.get(base + "/?q=harbour")
        assert "/login" in browser.current_url and "expired=1" in browser.current_url
        assert "Your session expired" in browser.find_element(By.TAG_NAME, "main").text


def test_the_cookie_is_secure_behind_https(es_client, site, journalists):
    name, password = journalists("reader")
    settings = replace(site["settings"], alerts=replace(site["settings"].alerts, public_url="https://archive.newsroom.example"))
    with running_server(create_app(settings, es_client)) as base:
        status, _, headers = status_of(ANONYMOUS, base + "/login", {"username": name, "password": password})
    assert status == 303
    cookie = headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" in cookie


def test_only_users_with_an_archive_role_sign_in(site):
    service = node_credentials.find([site["settings"].elasticsearch.url]).service  # a real user, no archive role
    status, body, _ = status_of(ANONYMOUS, site["base"] + "/login", {"username": service.username, "password": service.password},
                                {"Accept": "application/json"})
    assert status == 403 and "no archive role" in json.loads(body)["error"]
    assert service.password not in body


def test_elasticsearch_roles_decide_what_a_signed_in_user_reads(es_settings, es_client, journalists):
    """The archive searches as the signed-in user (run_as): an index outside the archive roles'
    names is refused to them by Elasticsearch, though the archive's own user may write it."""
    name, password = journalists("reader")
    hidden = replace(es_settings.elasticsearch.with_index_prefix(f"test-hid-{uuid.uuid4().hex[:8]}"),
                     articles_alias=f"test-hidden-{uuid.uuid4().hex[:8]}")
    settings = replace(es_settings, elasticsearch=hidden)
    ensure_all(es_client, hidden)
    try:
        write(es_client, hidden, [document(a) for a in hand_written_articles()[:2]])
        with running_server(create_app(settings, es_client)) as base:
            opener = sign_in(base, name, password)
            status, body, _ = status_of(opener, base + "/search?q=harbour")
        assert status == 503 and "does not allow this user" in json.loads(body)["error"]
    finally:
        drop_all(es_client, hidden)


def test_a_reader_never_sees_checks_or_removes_another_readers_saved_search(browser, site, journalists):
    base = site["base"]
    alice, bob = journalists("reader", email="alice@newsroom.example"), journalists("reader")
    browser.delete_all_cookies()
    browser_sign_in(browser, base, alice)
    save_in_browser(browser, base, "beat", "harbour")
    alice_feed = browser.find_element(By.ID, "feed").get_attribute("href")

    browser.delete_all_cookies()
    browser_sign_in(browser, base, bob)
    browser.get(base + "/alerts")
    assert "beat" not in browser.find_element(By.TAG_NAME, "main").text
    for path in ("/alerts/beat", f"/alerts/beat?owner={alice[0]}"):
        browser.get(base + path)
        assert browser.find_element(By.TAG_NAME, "h1").text == "Not found"

    as_bob = sign_in(base, *bob)
    assert json.loads(status_of(as_bob, base + "/alerts.json")[1])["saved_searches"] == []
    for path in ("/alerts/beat.json", f"/alerts/beat.json?owner={alice[0]}", "/alerts/beat.atom"):
        assert status_of(as_bob, base + path)[0] == 404, path
    for action in ("check", "remove", "rotate-feed"):
        for query in ("", f"?owner={alice[0]}"):
            assert status_of(as_bob, f"{base}/alerts/beat/{action}{query}", {})[0] == 404, (action, query)

    save_in_browser(browser, base, "beat", "ferry")  # the same name, his own
    as_alice = sign_in(base, *alice)
    (hers,) = json.loads(status_of(as_alice, base + "/alerts.json")[1])["saved_searches"]
    assert (hers["owner"], hers["query"], hers["owner_email"]) == (alice[0], "harbour", "alice@newsroom.example")
    assert hers["feed_url"] == alice_feed
    (his,) = json.loads(status_of(as_bob, base + "/alerts.json")[1])["saved_searches"]
    assert (his["owner"], his["query"]) == (bob[0], "ferry")


def test_the_feed_address_works_without_a_session_until_it_is_replaced(browser, site, journalists):
    base = site["base"]
    owner = journalists("reader")
    browser.delete_all_cookies()
    browser_sign_in(browser, base, owner)
    save_in_browser(browser, base, "feedbeat", "harbour")
    old = browser.find_element(By.ID, "feed").get_attribute("href")
    assert old.startswith(base + "/feeds/")

    status, body, headers = status_of(ANONYMOUS, old)
    assert status == 200 and headers["content-type"].startswith("application/atom+xml")
    assert feedparser.parse(body).feed.title == "Newsroom archive: feedbeat"
    assert status_of(ANONYMOUS, base + "/alerts/feedbeat.atom")[0] == 401  # the name alone is not enough
    assert status_of(ANONYMOUS, base + "/feeds/not-a-token.atom")[0] == 404

    browser.find_element(By.ID, "rotate-feed").click()
    wait_until(lambda: "rotated=1" in browser.current_url)
    new = browser.find_element(By.ID, "feed").get_attribute("href")
    assert new != old and status_of(ANONYMOUS, new)[0] == 200
    assert status_of(ANONYMOUS, old)[0] == 404
    outcomes = [e.get("outcome") for e in site["audit"].read(user=owner[0], event="saved-search")]
    assert outcomes[:2] == ["feed-rotated", "added"]


def test_an_export_is_recorded_in_the_audit_with_who_what_and_how_many(browser, site, journalists):
    base = site["base"]
    user = journalists("reader")
    browser.delete_all_cookies()
    browser_sign_in(browser, base, user, "/?q=harbour&site=demo")
    total = int(browser.find_element(By.CSS_SELECTOR, ".summary strong").text)
    for old in browser.downloads.glob("archive-*.csv"):
        old.unlink()
    browser.find_element(By.ID, "export-csv").click()
    # The download is named after the query and the day (archive-harbour-YYYY-MM-DD.csv).
    wait_for_download(browser.downloads, f"archive-harbour-{date.today().isoformat()}.csv")
    deadline = time.monotonic() + 20
    while not (events := site["audit"].read(user=user[0], event="export")) and time.monotonic() < deadline:
        time.sleep(0.3)
    (export,) = events
    assert (export["query"], export["format"], export["rows"]) == ("harbour", "csv", total)
    assert export["filters"] == {"sites": ["demo"]}
    # What reporters search for is theirs: not recorded unless [audit] searches = true.
    assert site["audit"].read(user=user[0], event="search") == []


def test_a_form_posted_from_another_origin_is_refused(browser, site, journalists):
    base = site["base"]
    owner = journalists("reader")
    browser.delete_all_cookies()
    browser_sign_in(browser, base, owner)
    save_in_browser(browser, base, "keep", "harbour")
    with evil_page(f'<form id="f" method="post" action="{base}/alerts/keep/remove"></form>'
                   '<script>document.getElementById("f").submit()</script>') as evil:
        browser.get(evil)
        wait_until(lambda: "/alerts/keep/remove" in browser.current_url)
        assert "refused" in browser.find_element(By.TAG_NAME, "body").text
    browser.get(base + "/alerts")
    assert "keep" in browser.find_element(By.TAG_NAME, "main").text  # still there


def test_admins_read_the_audit_with_archive_audit_and_searches_only_when_asked(es_client, site, journalists):
    from click.testing import CliRunner

    from archive.cli import AppContext, cli
    from archive.config import AuditSettings

    user = journalists("reader")
    base = site["base"]
    assert status_of(ANONYMOUS, base + "/login", {"username": user[0], "password": "wrong"})[0] == 401
    opener = sign_in(base, *user)
    status_of(opener, base + "/search?q=harbour")
    settings = replace(site["settings"], audit=AuditSettings(searches=True))
    with running_server(create_app(settings, es_client)) as recorded:
        status_of(sign_in(recorded, *user), recorded + "/search?q=ferry&site=demo")

    run = lambda *args: CliRunner().invoke(cli, ["audit", *args], obj=AppContext(None, site["settings"]))  # noqa: E731
    events = json.loads(run("--user", user[0], "--format", "json").output)
    kinds = [(e["event"], e.get("outcome"), e.get("query")) for e in events]
    assert kinds == [("search", None, "ferry"), ("sign-in", "success", None), ("sign-in", "success", None),
                     ("sign-in", "failure", None)]  # "harbour" was searched before searches were recorded
    table = run("--user", user[0], "--event", "sign-in", "--since", "2020-01-01")
    assert table.exit_code == 0 and "3 audit events" in table.output
    assert "failure from" in table.output and "(bad-credentials)" in table.output


def test_failed_sign_ins_are_slowed_per_name_and_address_never_locked():
    now = [1000.0]
    throttle = SignInThrottle(clock=lambda: now[0])
    assert throttle.delay("alice", "10.0.0.1") == 0
    for _ in range(3):
        throttle.failed("alice", "10.0.0.9")
    assert throttle.delay("alice", "10.0.0.1") == 2.0  # the name is slowed from anywhere
    assert throttle.delay("bob", "10.0.0.9") == 2.0  # and the address, for any name
    assert throttle.delay("bob", "10.0.0.1") == 0
    for _ in range(20):
        throttle.failed("alice", "10.0.0.9")
    assert throttle.delay("alice", "10.0.0.1") == 8.0  # capped: a stranger cannot lock alice out
    throttle.succeeded("alice", "10.0.0.1")
    assert throttle.delay("alice", "10.0.0.1") == 0
    throttle.failed("carol", "10.0.0.2")
    now[0] += 901
    assert throttle.delay("carol", "10.0.0.2") == 0  # forgotten after a quiet spell


# --- helpers ----------------------------------------------------------------------------------


def wait_until(condition, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def save_in_browser(driver, base: str, name: str, query: str) -> None:
    driver.get(base + "/alerts")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "q").send_keys(query)
    driver.find_element(By.CSS_SELECTOR, "form.stack button").click()
    wait_until(lambda: f"/alerts/{name}?saved=1" in driver.current_url)


class evil_page:
    """Another origin (another port) serving one page."""

    def __init__(self, html: str):
        body = html.encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    def __enter__(self) -> str:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()



def test_after_sign_in_the_page_only_ever_goes_back_to_this_server():
    from search.web.access import safe_next

    assert safe_next("/?q=harbour&site=demo") == "/?q=harbour&site=demo"
    for elsewhere in ("//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "", None):
        assert safe_next(elsewhere) == "/"


def test_the_first_audit_record_makes_the_alias_never_a_plain_index(es_client, index_names):
    log = AuditLog(es_client, f"{index_names.prefix}-audit")
    log.record("sign-in", "someone", outcome="success", address="127.0.0.1")
    assert es_client.indices.exists_alias(name=f"{index_names.prefix}-audit")
    (event,) = log.read(user="someone")
    assert (event["event"], event["outcome"]) == ("sign-in", "success")
