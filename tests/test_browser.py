"""The search page in a real browser: Debian's chromium driven by Selenium through chromedriver.

`make test` installs chromium and chromium-driver when they are missing; without them these
tests fail and say so (they are never skipped silently).
"""

from __future__ import annotations

import csv
import math
import re
import threading
import time
import urllib.request
import uuid
from dataclasses import replace
from datetime import date, datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import feedparser
import pytest
from click.testing import CliRunner
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By

from archive.cli import AppContext, cli
from archive.config import AlertSettings, SiteSettings
from archive.demo_site import DemoSite, serve_demo_site
from archive.scheduling.jobs import run_sites
from archive.urls import canonicalize, document_id
from search.http_api import create_app, running_server
from search.indices import drop_all
from _web import browser, browser_sign_in, wait_for_download  # noqa: F401 (fixture)

pytestmark = pytest.mark.e2e

def no_script_ran(driver) -> bool:
    try:
        driver.switch_to.alert.dismiss()
        return False
    except NoAlertPresentException:
        return True


@pytest.fixture
def archive(browser, served_archive, web_admin):
    """The served archive, with this browser signed in to it (as an admin)."""
    browser_sign_in(browser, served_archive["base"], web_admin)
    return served_archive


@pytest.fixture(scope="module")
def served_archive(es_settings, es_client, tmp_path_factory, demo_sites):
    """The demo site crawled once (edition 1) and the page served over it."""
    site = DemoSite()
    window = math.ceil((datetime.now(timezone.utc) - site.articles[2].published).total_seconds() / 86400)
    with serve_demo_site(site, port=0) as server:
        settings = replace(
            es_settings,
            elasticsearch=es_settings.elasticsearch.with_index_prefix(f"test-browser-{uuid.uuid4().hex[:8]}"),
            data_dir=tmp_path_factory.mktemp("var"),
            sites=demo_sites(server.base_url),
            crawl=replace(es_settings.crawl, download_delay=0.0, recheck_days=window),
        )
        try:
            assert run_sites(settings, ["demo"], trigger="test").ok
            app = create_app(settings, es_client)
            with running_server(app) as base:
                # Links in feeds point at this server.
                app.state.settings = settings = replace(settings, alerts=AlertSettings(public_url=base))
                yield {"settings": settings, "base": base, "server": server, "app": app}
        finally:
            drop_all(es_client, settings.elasticsearch)


def test_journalist_searches_filters_reads_exports_saves_and_gets_the_next_nights_article(browser, archive, web_admin):
    base, server = archive["base"], archive["server"]
    browser.get(base + "/")
    assert browser.find_element(By.CSS_SELECTOR, "meta[name=viewport]")
    box = browser.find_element(By.ID, "q")
    assert browser.find_element(By.CSS_SELECTOR, "label[for=q]").text == "Search the archive"
    box.send_keys("election")
    box.submit()
    arrive(browser, "q=election")
    summary = browser.find_element(By.CSS_SELECTOR, ".summary").text
    assert "articles" in summary and "showing 1–" in summary
    total = int(browser.find_element(By.CSS_SELECTOR, ".summary strong").text.replace(",", ""))
    assert total >= 2
    assert browser.find_elements(By.CSS_SELECTOR, ".hit mark")  # highlighted matches

    # Coverage over time: the chart's bars add up to the count; another period keeps the whole search.
    bars = browser.find_elements(By.CSS_SELECTOR, "#coverage-chart rect.bar")
    assert sum(int(bar.get_attribute("data-count")) for bar in bars) == total
    browser.find_element(By.CSS_SELECTOR, "#coverage a[href*='by=week']").click()
    arrive(browser, "by=week")
    assert "q=election" in browser.current_url
    assert browser.find_element(By.ID, "coverage-title").text == "Articles per week"
    assert sum(int(bar.get_attribute("data-count")) for bar in browser.find_elements(By.CSS_SELECTOR, "#coverage-chart rect.bar")) == total
    browser.get(base + "/?q=election")
    browser.find_element(By.CSS_SELECTOR, ".facet li a[href*='site=demo']").click()
    arrive(browser, "site=demo")
    assert "site=demo" in browser.current_url
    assert browser.find_element(By.CSS_SELECTOR, "select[name=site] option[selected]").text == "demo"

    # Export CSV of the whole result set: named after the search and the day, opening as UTF-8
    # in a spreadsheet (a byte order mark first), each row with its link into the archive.
    browser.find_element(By.ID, "export-csv").click()
    exported = wait_for_download(browser.downloads, f"archive-election-{date.today().isoformat()}.csv")
    assert exported.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(exported.open(encoding="utf-8-sig")))
    assert len(rows) == total and all("election" in (r["title"] + r["snippets"]).lower() for r in rows)
    assert all(r["archive_url"].startswith(base + "/article/") for r in rows)
    browser.get(rows[0]["archive_url"])  # the link opens the archived copy
    assert browser.find_element(By.TAG_NAME, "h1").text == rows[0]["title"]
    browser.back()

    # Open an article: metadata, the whole text, the raw capture's date.
    first_title = browser.find_element(By.CSS_SELECTOR, ".hit h2 a").text
    browser.find_element(By.CSS_SELECTOR, ".hit h2 a").click()
    arrive(browser, "/article/")
    assert browser.find_element(By.TAG_NAME, "h1").text == first_title
    assert browser.find_element(By.ID, "raw-capture").text.startswith("kept since ")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#text p")) >= 3

    # Save the search; it is listed with its feed.
    browser.get(base + "/?q=election")
    browser.find_element(By.ID, "save-name").send_keys("election-beat")
    browser.find_element(By.CSS_SELECTOR, ".save button").click()
    arrive(browser, "/alerts/election-beat")
    assert "Saved search “election-beat”" in browser.find_element(By.TAG_NAME, "h1").text
    feed_url = browser.find_element(By.ID, "feed").get_attribute("href")
    assert feed_url.startswith(base + "/feeds/") and feed_url.endswith(".atom")  # its secret address
    assert feedparser.parse(fetch(feed_url)).entries == []  # fetched without a session, as a feed reader does

    # Follow an article that the next night's edition edits.
    earlier = {a.slug: a for a in DemoSite(edition=1).articles}
    edited = next(a for a in DemoSite(edition=2).articles if a.slug in earlier and a.body_text != earlier[a.slug].body_text)
    browser.get(base + "/article/" + document_id(canonicalize(server.base_url + edited.path)))
    browser.find_element(By.ID, "follow").click()
    arrive(browser, "/alerts/follow-")
    follow_page = browser.current_url.split("?")[0]
    assert "Each change of the article appears below" in browser.find_element(By.CSS_SELECTOR, ".notice").text
    assert browser.find_element(By.ID, "owner").text == web_admin[0]  # the signed-in journalist's follow

    # The next night: edition 2 is crawled; its articles are matched as they are stored.
    server.set_edition(2)
    assert run_sites(archive["settings"], ["demo"], trigger="test").ok
    feed = feedparser.parse(fetch(feed_url))
    assert not feed.bozo
    titles = [e.title for e in feed.entries]
    new_titles = {a.title for a in DemoSite(edition=2).articles} - {a.title for a in DemoSite(edition=1).articles}
    assert titles and set(titles) <= new_titles  # only articles that arrived after saving
    assert any("election" in t.lower() for t in titles)
    browser.get(base + "/alerts/election-beat")
    assert {e.text for e in browser.find_elements(By.CSS_SELECTOR, ".hit h3 a")} == set(titles)

    # The followed article's change, with the paragraphs that changed.
    browser.get(follow_page)
    (change,) = browser.find_elements(By.CSS_SELECTOR, ".hit")
    assert change.find_element(By.CSS_SELECTOR, ".edited").text == "changed"
    assert change.find_elements(By.CSS_SELECTOR, ".diff ins") or change.find_elements(By.CSS_SELECTOR, ".diff del")

    # An edited article shows what changed, the headline change called out.
    browser.get(base + "/?edited=1&sort=newest")
    edited_count = int(browser.find_element(By.CSS_SELECTOR, ".summary strong").text)
    assert edited_count >= 2
    browser.find_element(By.CSS_SELECTOR, ".hit h2 a").click()
    arrive(browser, "/article/")
    assert "2 captures" in browser.find_element(By.ID, "versions").text
    diff = browser.find_element(By.CSS_SELECTOR, "details.diff[open]")
    assert diff.find_elements(By.CSS_SELECTOR, ".added ins") or diff.find_elements(By.CSS_SELECTOR, ".headline")


def test_keyboard_alone_reaches_the_search_box_and_the_results(browser, archive):
    from selenium.webdriver.common.keys import Keys

    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(archive["base"] + "/")
    active = browser.switch_to.active_element
    assert active.get_attribute("id") == "q"  # the box has focus on arrival
    active.send_keys("harbour", Keys.ENTER)
    WebDriverWait(browser, 10).until(lambda d: "q=harbour" in d.current_url and d.find_elements(By.CSS_SELECTOR, ".hit"))
    for _ in range(60):  # Tab through the page until the first result's link
        browser.switch_to.active_element.send_keys(Keys.TAB)
        if "/article/" in (browser.switch_to.active_element.get_attribute("href") or ""):
            break
    else:
        pytest.fail("no result link could be reached with Tab")
    outline = browser.switch_to.active_element.value_of_css_property("outline-style")
    assert outline != "none"  # focus is visible


EVIL_TITLE = 'Budget <b>leak</b> <script>alert("title")</script>'
EVIL_PARAGRAPH = 'The treasury confirmed the leak <script>alert("body")</script> and <img src=x onerror=alert(3)> today.'


class EvilSite:
    """One article whose title and text carry markup and script, as text a crawler would extract."""

    def __init__(self):
        from html import escape

        paragraphs = [EVIL_PARAGRAPH] + [
            f"Paragraph {i} of the leaked budget story says the ministry will publish the full figures next week, "
            "and that the opposition has asked for an inquiry into how the documents reached the press." for i in range(6)
        ]
        article = (
            "<!doctype html><html lang=en><head><meta charset=utf-8>"
            f"<title>{escape(EVIL_TITLE)}</title><meta property='og:title' content='{escape(EVIL_TITLE, quote=True)}'>"
            "<meta property='article:published_time' content='2025-05-02T09:00:00+00:00'>"
            "<meta name='author' content='Eve Example'>"
            "<script>alert('a real script in the page')</script></head><body><article>"
            f"<h1>{escape(EVIL_TITLE)}</h1>" + "".join(f"<p>{escape(p)}</p>" for p in paragraphs) + "</article></body></html>"
        ).encode()
        index = b"<!doctype html><html><body><a href='/news/2025/05/02/budget-leak'>Budget leak</a></body></html>"
        pages = {"/": index, "/news/2025/05/02/budget-leak": article}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                body = pages.get(self.path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_a_crawled_page_with_markup_and_script_never_renders_as_html(browser, es_settings, es_client, tmp_path, web_admin):
    evil = EvilSite()
    site = SiteSettings(name="evil", start_urls=(evil.base_url + "/",), allowed_domains=("127.0.0.1",), article_allow=(r"^/news/",))
    settings = replace(
        es_settings,
        elasticsearch=es_settings.elasticsearch.with_index_prefix(f"test-xss-{uuid.uuid4().hex[:8]}"),
        data_dir=tmp_path / "var",
        sites=(site,),
        crawl=replace(es_settings.crawl, download_delay=0.0),
    )
    try:
        outcome = run_sites(settings, ["evil"], trigger="test").outcome
        assert outcome.sites["evil"]["articles_new"] == 1, outcome.sites
        with running_server(create_app(settings, es_client)) as base:
            browser_sign_in(browser, base, web_admin)
            browser.get(base + "/?q=leak")
            assert no_script_ran(browser)
            link = browser.find_element(By.CSS_SELECTOR, ".hit h2 a")
            assert "<script>" in link.text and "<b>leak</b>" in link.text.replace("<mark>", "")  # shown as text
            assert not link.find_elements(By.TAG_NAME, "b") and not browser.find_elements(By.CSS_SELECTOR, "main script, main img")
            link.click()
            arrive(browser, "/article/")
            assert no_script_ran(browser)
            assert browser.find_element(By.TAG_NAME, "h1").text == EVIL_TITLE
            assert EVIL_PARAGRAPH in browser.find_element(By.ID, "text").text
            assert not browser.find_elements(By.CSS_SELECTOR, "main script, main img, main b")
            # The saved search's page and feed carry it as text too.
            browser.get(base + "/alerts")
            browser.find_element(By.ID, "name").send_keys("leaks")
            browser.find_element(By.CSS_SELECTOR, "form.stack input#q").send_keys("treasury")
            browser.find_element(By.CSS_SELECTOR, "form.stack button").click()
            arrive(browser, "/alerts/leaks")
            assert no_script_ran(browser)
    finally:
        evil.close()
        drop_all(es_client, settings.elasticsearch)


def arrive(driver, fragment: str, timeout: float = 10) -> None:
    """Wait until a click or a submitted form has loaded the next page."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(
        lambda d: fragment in d.current_url and d.execute_script("return document.readyState") == "complete"
    )


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=20) as response:
        return response.read()


def page_json(driver, url: str) -> dict:
    """A JSON twin read in the signed-in browser."""
    import json

    driver.get(url)
    return json.loads(driver.find_element(By.TAG_NAME, "body").text)


def test_readable_on_a_phone_without_sideways_scrolling(browser, archive):
    base = archive["base"]
    browser.set_window_size(390, 844)
    try:
        article_link = None
        for path in ("/?q=harbour", "/alerts"):
            browser.get(base + path)
            overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{path} scrolls sideways by {overflow}px on a phone"
            if path.startswith("/?"):
                article_link = browser.find_element(By.CSS_SELECTOR, ".hit h2 a").get_attribute("href")
        browser.get(article_link)
        assert browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth") <= 1
    finally:
        browser.set_window_size(1200, 900)


def test_an_error_is_shown_above_the_search_form_with_everything_typed_kept(browser, archive):
    base = archive["base"]
    browser.get(base + "/?q=%22harbour+closure&site=demo&author=Maren+Okafor&sort=newest")
    error = browser.find_element(By.ID, "search-error")
    assert "quote" in error.text.lower()
    box = browser.find_element(By.ID, "q")
    assert error.location["y"] < box.location["y"]  # above the form
    assert box.get_attribute("value") == '"harbour closure'
    assert browser.find_element(By.CSS_SELECTOR, "select[name=site] option[selected]").text == "demo"
    assert browser.find_element(By.CSS_SELECTOR, "input[name=author]").get_attribute("value") == "Maren Okafor"
    assert browser.find_element(By.CSS_SELECTOR, "select[name=sort] option[selected]").text == "newest"
    box.clear()  # fixing the query keeps the filters
    box.send_keys('"harbour closure"')
    box.submit()
    arrive(browser, "author=Maren")
    assert "site=demo" in browser.current_url and "sort=newest" in browser.current_url
    assert not browser.find_elements(By.ID, "search-error")

    # A pasted text too long for a query: the page says so and how long a query may be, never
    # that the archive is unavailable, and keeps the text to shorten.
    pasted = " ".join(["the harbour authority said the closure would last until thursday"] * 30)
    browser.get(base + "/?site=demo&q=" + pasted.replace(" ", "+"))
    error = browser.find_element(By.ID, "search-error").text
    assert "the limit is" in error and "cluster" not in error and "unavailable" not in error
    assert browser.find_element(By.ID, "q").get_attribute("value") == pasted


def test_a_page_past_the_end_says_how_many_there_are_and_links_the_last_page(browser, archive):
    base = archive["base"]
    browser.get(base + "/?sort=newest&page=9999")
    summary = browser.find_element(By.CSS_SELECTOR, ".summary").text
    total = int(page_json(browser, base + "/search?sort=newest")["total"])
    browser.get(base + "/?sort=newest&page=9999")
    assert total > 10  # several pages
    assert summary.startswith(f"No articles on page 9,999: {total} articles in all.")
    assert "0–0" not in summary and not browser.find_elements(By.CSS_SELECTOR, "a[rel=prev]")
    browser.find_element(By.ID, "last-page").click()
    arrive(browser, "page=")
    last = -(-total // 10)
    assert browser.find_elements(By.CSS_SELECTOR, ".hit")
    assert f"page {last} of {last}" in browser.find_element(By.CSS_SELECTOR, ".pager").text


def test_an_article_reads_its_dates_highlights_the_words_and_goes_back_to_the_results(browser, archive):
    base = archive["base"]
    browser.get(base + "/?q=harbour&site=demo&sort=oldest")
    results = browser.current_url
    browser.find_element(By.CSS_SELECTOR, ".hit h2 a").click()
    arrive(browser, "/article/")
    published = browser.find_element(By.CSS_SELECTOR, "#published time")
    exact = published.get_attribute("datetime")
    assert exact[:4] in published.text and not re.search(r"\d{4}-\d{2}", published.text)  # "4 March 2025, 09:00 CET"
    assert exact in published.get_attribute("title")  # the exact value on hover
    assert "json-ld" not in browser.find_element(By.CSS_SELECTOR, ".metadata").text
    assert "warc" not in browser.find_element(By.CSS_SELECTOR, ".metadata").text.lower()
    marks = browser.find_elements(By.CSS_SELECTOR, "#text mark")
    assert marks and all("harbour" in m.text.lower() for m in marks)
    browser.find_element(By.ID, "back-to-results").click()
    arrive(browser, "q=harbour")
    assert browser.current_url == results


def test_on_a_phone_the_filters_fold_and_the_results_start_on_the_first_screen(browser, archive):
    base = archive["base"]
    browser.set_window_size(375, 740)
    try:
        browser.get(base + "/?q=harbour")
        height = browser.execute_script("return window.innerHeight")
        site_filter = browser.find_element(By.CSS_SELECTOR, "select[name=site]")
        assert not site_filter.is_displayed()
        first = browser.find_element(By.CSS_SELECTOR, ".hit h2 a")
        assert first.location["y"] + first.size["height"] <= height, "the first result is below the fold"
        browser.find_element(By.CSS_SELECTOR, "label[for=show-filters]").click()
        assert site_filter.is_displayed()
        browser.get(base + "/?q=harbour&site=demo")  # filters in use stay open
        assert browser.find_element(By.CSS_SELECTOR, "select[name=site]").is_displayed()
    finally:
        browser.set_window_size(1200, 900)
    browser.get(base + "/?q=harbour")  # on a wide screen there is nothing to unfold
    assert browser.find_element(By.CSS_SELECTOR, "select[name=site]").is_displayed()
    assert not browser.find_element(By.CSS_SELECTOR, "label[for=show-filters]").is_displayed()
CAPTURED_STATUS = "The page's own script did not run."


class ScriptedSite:
    """One news article whose page carries a script that would rewrite it, and an image on the site."""

    def __init__(self):
        paragraphs = [
            f"Paragraph {i} of the ferry story: the island operator cancelled its winter timetable after two of its "
            "three vessels failed within a week, and commuters queued for the one boat left." for i in range(8)
        ]
        article = (
            "<!doctype html><html lang=en><head><meta charset=utf-8><title>Ferry timetable cancelled</title>"
            "<meta property='og:type' content='article'>"
            "<meta property='article:published_time' content='2026-01-12T08:00:00+00:00'>"
            "<style>h1 { color: rgb(0, 90, 0); }</style></head><body><article><h1>Ferry timetable cancelled</h1>"
            f"<p id='status'>{CAPTURED_STATUS}</p><img src='/pixel.png' alt='harbour'>"
            + "".join(f"<p>{p}</p>" for p in paragraphs)
            + "</article><script>document.getElementById('status').textContent = 'THE SCRIPT RAN';"
              "document.body.insertAdjacentHTML('beforeend', '<p id=injected>injected</p>');</script></body></html>"
        ).encode()
        index = b"<!doctype html><html><body><a href='/news/2026/01/12/ferry'>Ferry</a></body></html>"
        pages = {"/": index, "/news/2026/01/12/ferry": article}
        self.image_requests = 0
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                if self.path == "/pixel.png":
                    site.image_requests += 1
                body = pages.get(self.path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_the_page_as_captured_is_shown_without_running_its_script(browser, es_settings, es_client, tmp_path, web_admin):
    site_server = ScriptedSite()
    site = SiteSettings(name="ferry", start_urls=(site_server.base_url + "/",), allowed_domains=("127.0.0.1",),
                        article_allow=(r"^/news/",))
    settings = replace(
        es_settings,
        elasticsearch=es_settings.elasticsearch.with_index_prefix(f"test-capture-{uuid.uuid4().hex[:8]}"),
        data_dir=tmp_path / "var",
        sites=(site,),
        crawl=replace(es_settings.crawl, download_delay=0.0),
    )
    try:
        outcome = run_sites(settings, ["ferry"], trigger="test").outcome
        assert outcome.sites["ferry"]["articles_new"] == 1, outcome.sites
        with running_server(create_app(settings, es_client)) as base:
            browser_sign_in(browser, base, web_admin)
            browser.get(base + "/?q=ferry")
            browser.find_element(By.CSS_SELECTOR, ".hit h2 a").click()
            arrive(browser, "/article/")
            assert not browser.find_elements(By.ID, "low-confidence")  # a clean article is not marked
            browser.find_element(By.ID, "view-captured").click()
            arrive(browser, "/captured")
            frame = browser.find_element(By.ID, "capture")
            assert frame.get_attribute("sandbox") == ""  # every restriction, no allow-scripts
            browser.switch_to.frame(frame)
            try:
                # The capture's text and layout are there; its script changed nothing.
                assert browser.find_element(By.TAG_NAME, "h1").text == "Ferry timetable cancelled"
                assert browser.find_element(By.ID, "status").text == CAPTURED_STATUS
                assert not browser.find_elements(By.ID, "injected")
                assert "Paragraph 7 of the ferry story" in browser.find_element(By.TAG_NAME, "body").text
            finally:
                browser.switch_to.default_content()
            assert no_script_ran(browser)
            assert site_server.image_requests == 0  # nothing was fetched from the site
            # Opened directly, the capture carries the policy that keeps scripts off.
            raw = browser.find_element(By.ID, "capture").get_attribute("src")
            session = "; ".join(f"{c['name']}={c['value']}" for c in browser.get_cookies())
            with urllib.request.urlopen(urllib.request.Request(raw, headers={"Cookie": session}), timeout=20) as response:
                policy = response.headers["Content-Security-Policy"]
            assert "script-src 'none'" in policy and "default-src 'none'" in policy and "sandbox" in policy

            # An article stored with low confidence is marked on its page, with the candidates' lengths.
            hit = es_client.search(index=settings.elasticsearch.articles_alias, query={"match_all": {}})["hits"]["hits"][0]
            es_client.update(index=hit["_index"], id=hit["_id"], refresh=True,
                             doc={"confidence": 0.2, "body_candidates": {"trafilatura": 180, "article-element": 40}})
            browser.get(f"{base}/article/{hit['_id']}")
            mark = browser.find_element(By.ID, "low-confidence").text
            assert "Low confidence" in mark and "trafilatura: 180 words" in mark and "article-element: 40 words" in mark
        # ...and listed with the run that archived it.
        listed = CliRunner().invoke(cli, ["runs", "--low-confidence"], obj=AppContext(None, settings))
        assert listed.exit_code == 0, listed.output
        assert "1 article with confidence below 0.5" in listed.output and "Ferry timetable cancelled" in listed.output
        assert "trafilatura 180, article-element 40" in listed.output
    finally:
        site_server.close()
        drop_all(es_client, settings.elasticsearch)
