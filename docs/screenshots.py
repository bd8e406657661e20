"""Screenshots of the search page for the README, taken with Debian's chromium (`make screenshots`).

Crawls the demo site twice (edition 1, then edition 2 with edits) into throwaway indices on the
Elasticsearch of settings.toml, serves the page, and writes:

    docs/search-results.png   results for "election" with facets and highlights
    docs/article-diff.png     an article whose headline and text changed, with the diff

The throwaway indices and data folder are removed afterwards.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import sys
import tempfile
import uuid
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from archive.config import load_settings
from archive.demo_site import DemoSite, serve_demo_site
from archive.urls import canonicalize, document_id
from crawler.runner import OK, run_crawl
from search.client import check_health, make_client
from search.http_api import create_app, running_server
from search.indices import drop_all

DOCS = Path(__file__).resolve().parent


def browser(profile: str, width: int = 1200, height: int = 900) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", f"--window-size={width},{height}", "--hide-scrollbars"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def shoot(driver: webdriver.Chrome, url: str, path: Path, height: int | None = None) -> None:
    driver.get(url)
    full = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1200, min(height or full, full))
    driver.save_screenshot(str(path))
    print(f"wrote {path.relative_to(DOCS.parent)}")


@contextlib.contextmanager
def screenshot_user(settings):
    """A throwaway admin of the page (the node has security on); removed afterwards."""
    from search.users import add_user, remove_user

    name, password = f"screens-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    add_user(settings.elasticsearch, name, "admin", password, full_name="Priya Venkataraman")
    try:
        yield name, password
    finally:
        remove_user(settings.elasticsearch, name)


def sign_in(driver: webdriver.Chrome, url: str, user: str, password: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(url + "/login")
    driver.find_element(By.ID, "username").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "password").submit()


def main() -> int:
    base = load_settings()
    client = make_client(base.elasticsearch)
    check_health(client, base.elasticsearch)
    data_dir = Path(tempfile.mkdtemp(prefix="archive-screens-"))
    profile = tempfile.mkdtemp(prefix="archive-chromium-")
    site = DemoSite()
    window = math.ceil((datetime.now(timezone.utc) - site.articles[2].published).total_seconds() / 86400)
    settings = None
    try:
        with serve_demo_site(site, port=0) as server:
            demo = replace(base.site("demo"), start_urls=(server.base_url + "/",), feeds=(server.base_url + "/feed.xml",))
            settings = replace(
                base,
                elasticsearch=base.elasticsearch.with_index_prefix(f"screens-{uuid.uuid4().hex[:8]}"),
                data_dir=data_dir,
                sites=(demo,),
                crawl=replace(base.crawl, download_delay=0.0, recheck_days=window),
            )
            for edition in (1, 2):
                server.set_edition(edition)
                if run_crawl(settings, ["demo"]).status != OK:
                    print(f"the crawl of edition {edition} failed", file=sys.stderr)
                    return 1
            before = {b.slug: b for b in DemoSite(edition=1).articles}
            rewritten = next(  # an article whose text changed, so the diff has lines to show
                a for a in DemoSite(edition=2).articles
                if a.slug in before and before[a.slug].body_text != a.body_text
            )
            article_id = document_id(canonicalize(server.base_url + rewritten.path))
        with running_server(create_app(settings, client)) as url, screenshot_user(base) as (user, password):
            driver = browser(profile)
            try:
                sign_in(driver, url, user, password)
                shoot(driver, url + "/?q=election", DOCS / "search-results.png", height=1100)
                shoot(driver, f"{url}/article/{article_id}", DOCS / "article-diff.png", height=1500)
            finally:
                driver.quit()
        return 0
    finally:
        if settings is not None:
            drop_all(client, settings.elasticsearch)
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
