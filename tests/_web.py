"""Signing in to `archive serve` from tests: the page and the JSON API need a signed-in user
(the tests' Elasticsearch has security on, as production has)."""

from __future__ import annotations

import contextlib
import http.cookiejar
import shutil
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


def SAME_ORIGIN(base: str) -> dict:  # noqa: N802 (reads as the headers it is)
    """What a browser sends with a form of the page itself (search/web/guard.py asks for it)."""
    return {"Origin": base, "Sec-Fetch-Site": "same-origin"}


def sign_in(base: str, username: str, password: str, jar: http.cookiejar.CookieJar | None = None) -> urllib.request.OpenerDirector:
    """An opener holding the session cookie of a real POST /login (kept in jar, if given)."""
    jar = jar if jar is not None else http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    data = urllib.parse.urlencode({"username": username, "password": password}).encode()
    headers = {"Accept": "application/json", **SAME_ORIGIN(base)}
    with opener.open(urllib.request.Request(base + "/login", data=data, headers=headers), timeout=30) as reply:
        assert reply.status == 200, reply.status
    return opener


@contextlib.contextmanager
def signed_in_everywhere(base: str, user: tuple[str, str]):
    """urllib.request.urlopen carries this user's session until the block ends."""
    opener = sign_in(base, *user)
    urllib.request.install_opener(opener)
    try:
        yield opener
    finally:
        urllib.request.install_opener(urllib.request.build_opener())


def browser_sign_in(driver, base: str, user: tuple[str, str], next_path: str = "/") -> None:
    """Sign in through the page's own form, unless this browser already has a session there."""
    from selenium.webdriver.common.by import By

    driver.get(base + next_path)
    if "/login" not in driver.current_url:
        return
    driver.find_element(By.ID, "username").send_keys(user[0])
    password = driver.find_element(By.ID, "password")
    password.send_keys(user[1])
    password.submit()
    deadline = time.monotonic() + 20
    while "/login" in driver.current_url and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "/login" not in driver.current_url, driver.find_element(By.TAG_NAME, "main").text


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium, headless, driven through chromedriver; downloads land in driver.downloads."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(f"browser tests need {', '.join(missing)}: run `make test` as root, or "
                    "`apt-get install -y chromium chromium-driver`", pytrace=False)
    profile = tempfile.mkdtemp(prefix="archive-chromium-")
    downloads = tempfile.mkdtemp(prefix="archive-downloads-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", "--window-size=1200,900", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": downloads, "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads})
    driver.implicitly_wait(5)
    driver.downloads = Path(downloads)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)
    shutil.rmtree(downloads, ignore_errors=True)


def wait_for_download(folder: Path, name: str, timeout: float = 20) -> Path:
    deadline = time.monotonic() + timeout
    target = folder / name
    while time.monotonic() < deadline:
        if target.exists() and not list(folder.glob("*.crdownload")):
            return target
        time.sleep(0.2)
    raise AssertionError(f"{name} was not downloaded into {folder} (found: {[p.name for p in folder.iterdir()]})")
