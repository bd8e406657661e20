"""The search page in a real browser: Debian's chromium driven by Selenium through chromedriver.

`make test` installs chromium and chromium-driver when they are missing; without them these
tests fail and say so (they are never skipped silently).
"""

from __future__ import annotations

import csv
import math
import threading
import time
import urllib.request
import uuid
from dataclasses import replace
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import feedparser
import pytest
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By

from archive.config import AlertSettings, SiteSettings
from archive.demo_site import DemoSite, serve_demo_site
from archive.scheduling.jobs import run_sites
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


def test_journalist_searches_filters_reads_exports_saves_and_gets_the_next_nights_article(browser, archive):
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

    # A month facet is a link that adds a filter; the URL keeps the whole search.
    month = browser.find_element(By.CSS_SELECTOR, ".facet li a[href*='since=']")
    month_count = int(month.find_element(By.XPATH, "..").find_element(By.CSS_SELECTOR, ".count").text)
    month.click()
    arrive(browser, "since=")
    assert "q=election" in browser.current_url and "since=" in browser.current_url and "until=" in browser.current_url
    assert int(browser.find_element(By.CSS_SELECTOR, ".summary strong").text) == month_count
    browser.get(base + "/?q=election")
    browser.find_element(By.CSS_SELECTOR, ".facet li a[href*='site=demo']").click()
    arrive(browser, "site=demo")
    assert "site=demo" in browser.current_url
    assert browser.find_element(By.CSS_SELECTOR, "select[name=site] option[selected]").text == "demo"

    # Export CSV of the whole result set.
    browser.find_element(By.ID, "export-csv").click()
    exported = wait_for_download(browser.downloads, "archive-search.csv")
    rows = list(csv.DictReader(exported.open(encoding="utf-8")))
    assert len(rows) == total and all("election" in (r["title"] + r["snippets"]).lower() for r in rows)

    # Open an article: metadata, the whole text, the raw capture's date.
    first_title = browser.find_element(By.CSS_SELECTOR, ".hit h2 a").text
    browser.find_element(By.CSS_SELECTOR, ".hit h2 a").click()
    arrive(browser, "/article/")
    assert browser.find_element(By.TAG_NAME, "h1").text == first_title
    assert browser.find_element(By.ID, "raw-capture").text.startswith("fetched 20")
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

    # The next night: edition 2 is crawled, and the crawl checks the saved search by itself.
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
