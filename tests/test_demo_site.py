"""The demo site: content, pages, traps and HTTP behaviour, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from archive.demo_site import (
    CHROME_MARKERS, FEED_SIZE, PAGE_SIZE, SEARCH_PHRASES, SECTIONS, DemoSite, serve_demo_site,
)

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = tomllib.loads((ROOT / "settings.toml").read_text())
DEMO = next(s for s in SETTINGS["sites"] if s["name"] == "demo")
ARTICLE_ALLOW = [re.compile(p) for p in DEMO["article_allow"]]
SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
NEWS = "{http://www.google.com/schemas/sitemap-news/0.9}"
DC = "{http://purl.org/dc/elements/1.1/}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def fetch(url: str, headers: dict | None = None, method: str = "GET"):
    """(status, headers, body) without raising on 3xx/4xx/5xx and without following redirects."""
    req = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with _OPENER.open(req, timeout=30) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def links(html: str, base: str) -> list[str]:
    return [urljoin(base + "/", h) for h in re.findall(r'href="([^"]+)"', html)]


def local_paths(html: str, base: str) -> set[str]:
    out = set()
    for url in links(html, base):
        if url.startswith(base):
            parts = urlsplit(url)
            out.add(parts.path + (f"?{parts.query}" if parts.query else ""))
    return out


@pytest.fixture(scope="module")
def site() -> DemoSite:
    return DemoSite()


@pytest.fixture(scope="module")
def server(site):
    with serve_demo_site(site) as srv:
        # the flaky article is a normal page for the other tests of this module
        for _ in range(2):
            fetch(srv.base_url + site.traps["flaky"])
        yield srv


# --- content ------------------------------------------------------------------------------

def test_hand_written_articles_are_realistic(site):
    arts = site.articles
    assert len(arts) >= 32
    assert {a.section for a in arts} == set(SECTIONS)
    assert len({a.slug for a in arts}) == len(arts)
    assert {a.published.year for a in arts} >= {2024, 2025, 2026}
    assert sum(len(a.authors) == 2 for a in arts) >= 5
    assert len({n for a in arts for n in a.authors}) >= 10
    assert [a.language for a in arts].count("de") == 1
    for a in arts:
        assert a.kind == "article" and not a.generated
        assert 150 <= a.word_count <= 400, a.slug
        assert len(a.paragraphs) >= 4 and a.tags and a.description
        assert a.published.tzinfo is not None
        assert a.body_text == "\n\n".join(a.paragraphs)
        assert any(p.search(a.path) for p in ARTICLE_ALLOW), a.path
    assert arts == sorted(arts, key=lambda a: a.published, reverse=True)


def test_chrome_markers_never_in_bodies(site):
    bodies = [a.body_text for a in DemoSite(article_count=300).articles + DemoSite(edition=2).articles]
    for marker in CHROME_MARKERS:
        assert not any(marker in b for b in bodies), marker


def test_search_phrases(site):
    for phrase, spec in SEARCH_PHRASES.items():
        assert {a.slug for a in site.articles_containing(phrase)} == set(spec["exact"]), phrase
        for slug in spec["decoys"]:
            body = site.article(slug).body_text.lower()
            assert phrase not in body
            assert all(w in body for w in phrase.split()), (slug, phrase)
    # the generated articles never contain them, so counts stay stable on scaled sites
    big = DemoSite(article_count=500)
    for phrase, spec in SEARCH_PHRASES.items():
        assert {a.slug for a in big.articles_containing(phrase)} == set(spec["exact"])


# --- robots, sitemaps, feed -------------------------------------------------------------------

def test_robots_txt(server):
    status, headers, body = fetch(server.base_url + "/robots.txt")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    lines = body.decode().splitlines()
    assert "User-agent: *" in lines
    assert "Disallow: /private/" in lines
    assert f"Sitemap: {server.base_url}/sitemap_index.xml" in lines


def _xml(url: str) -> ET.Element:
    status, headers, body = fetch(url)
    assert status == 200 and "xml" in headers["Content-Type"] and "charset=utf-8" in headers["Content-Type"]
    return ET.fromstring(body)


def test_sitemaps_list_every_article_once(server, site):
    base = server.base_url
    index = _xml(base + "/sitemap_index.xml")
    assert index.tag == SM + "sitemapindex"
    locs = [e.text for e in index.iter(SM + "loc")]
    assert locs == [base + "/sitemap-news.xml", base + "/sitemap-articles.xml"]

    urlset = _xml(base + "/sitemap-articles.xml")
    listed = [u.find(SM + "loc").text for u in urlset.findall(SM + "url")]
    assert sorted(listed) == sorted(base + a.path for a in site.articles)
    assert len(listed) == len(set(listed))
    lastmods = {u.find(SM + "loc").text: u.find(SM + "lastmod").text for u in urlset.findall(SM + "url")}
    for a in site.articles:
        assert lastmods[base + a.path] == a.last_modified.isoformat()
    for name in ("private", "too_short", "too_large"):
        assert base + site.traps[name] not in listed
    assert base + site.traps["flaky"] in listed

    news = _xml(base + "/sitemap-news.xml")
    entries = news.findall(SM + "url")
    news_locs = [u.find(SM + "loc").text for u in entries]
    assert len(news_locs) == len(set(news_locs)) == len(site.articles)  # the hand-written set fits
    by_url = {base + a.path: a for a in site.articles}
    for u in entries:
        a = by_url[u.find(SM + "loc").text]
        n = u.find(NEWS + "news")
        assert n.find(NEWS + "title").text == a.title
        assert n.find(NEWS + "publication_date").text == a.published.isoformat()
        assert n.find(f"{NEWS}publication/{NEWS}language").text == a.language


def test_feed_lists_latest_20(server, site):
    rss = _xml(server.base_url + "/feed.xml")
    items = rss.findall("channel/item")
    assert len(items) == FEED_SIZE == 20
    expected = site.latest(20)
    for item, a in zip(items, expected):
        assert item.findtext("title") == a.title
        assert item.findtext("link") == server.base_url + a.path
        assert parsedate_to_datetime(item.findtext("pubDate")) == a.published
        assert [c.text for c in item.findall(DC + "creator")] == list(a.authors)
        assert item.findtext("description") == a.description


# --- article pages ----------------------------------------------------------------------------

def _meta(html: str, attr: str, name: str) -> list[str]:
    return re.findall(rf'<meta {attr}="{re.escape(name)}" content="([^"]*)">', html)


def test_article_page_metadata_and_chrome(server, site):
    import html as htmllib

    a = next(x for x in site.articles if len(x.authors) == 2 and x.modified)
    status, headers, body = fetch(server.base_url + a.path)
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["ETag"].startswith('"') and headers["Last-Modified"] == format_datetime(
        a.last_modified.astimezone(__import__("datetime").timezone.utc), usegmt=True)
    page = body.decode()
    base = server.base_url
    assert page.startswith("<!DOCTYPE html>") and '<html lang="en">' in page
    assert f'<link rel="canonical" href="{base}{a.path}">' in page
    assert _meta(page, "property", "og:title") == [htmllib.escape(a.title)]
    assert _meta(page, "property", "og:type") == ["article"]
    assert _meta(page, "property", "article:published_time") == [a.published.isoformat()]
    assert _meta(page, "property", "article:modified_time") == [a.modified.isoformat()]
    assert _meta(page, "property", "article:section")
    assert _meta(page, "property", "article:tag") == [htmllib.escape(t) for t in a.tags]
    assert _meta(page, "name", "author") == [", ".join(a.authors)]
    assert f'<time class="published" datetime="{a.published.isoformat()}">' in page
    byline = re.search(r'<p class="byline">(.*?)</p>', page).group(1)
    assert re.sub(r"<[^>]+>", "", byline) == f"By {a.authors[0]} and {a.authors[1]}" == a.byline
    ld = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S).group(1))
    assert ld["@type"] == "NewsArticle" and ld["headline"] == a.title
    assert ld["datePublished"] == a.published.isoformat() and ld["dateModified"] == a.modified.isoformat()
    assert ld["author"] == [{"@type": "Person", "name": n} for n in a.authors]
    assert ld["keywords"] == ", ".join(a.tags)
    text = htmllib.unescape(page)
    for marker in CHROME_MARKERS[:-5]:   # the comments shown vary per article (2 or 3 of 5)
        assert marker in text, marker
    assert sum(c in text for c in CHROME_MARKERS[-5:]) in (2, 3)
    assert "<figure" in page and "<figcaption>" in page
    for p in a.paragraphs:
        assert htmllib.escape(p) in page
    for r in site.related(a):
        assert r.path in page and htmllib.escape(r.first_sentence) in page
    assert site.continue_reading(a).path in page


def test_german_article_declares_its_language(server, site):
    a = next(x for x in site.articles if x.language == "de")
    page = fetch(server.base_url + a.path)[2].decode()
    assert '<html lang="de">' in page


def test_trafilatura_extracts_only_the_article(server, site):
    trafilatura = pytest.importorskip("trafilatura")
    for a in site.articles:
        page = fetch(server.base_url + a.path)[2].decode()
        doc = trafilatura.bare_extraction(page, url=server.base_url + a.path, include_comments=False,
                                          favor_precision=True, with_metadata=True).as_dict()
        assert " ".join(doc["text"].split()) == " ".join(a.body_text.split()), a.slug
        assert doc["title"] == a.title and doc["date"] == a.published.date().isoformat()
        for marker in CHROME_MARKERS:
            assert marker not in doc["text"]
        for other in [*site.related(a), site.continue_reading(a)]:
            assert other.first_sentence not in doc["text"]


# --- HTTP behaviour ---------------------------------------------------------------------------

def test_conditional_get_and_head(server, site):
    url = server.base_url + site.articles[3].path
    status, headers, body = fetch(url)
    etag, last_modified = headers["ETag"], headers["Last-Modified"]
    before = server.count(status=304)
    assert fetch(url, {"If-None-Match": etag})[0] == 304
    assert fetch(url, {"If-None-Match": f'"other", W/{etag}'})[0] == 304
    assert fetch(url, {"If-None-Match": '"stale"'})[0] == 200
    assert fetch(url, {"If-Modified-Since": last_modified})[0] == 304
    assert fetch(url, {"If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"})[0] == 200
    status, head_headers, head_body = fetch(url, method="HEAD")
    assert status == 200 and head_body == b"" and int(head_headers["Content-Length"]) == len(body)
    assert head_headers["ETag"] == etag
    assert server.count(status=304) - before == 3
    log = [r for r in server.requests if r.status == 304][-1]
    assert log.method == "GET" and log.path == site.articles[3].path and "If-Modified-Since" in log.headers


def test_flaky_article_fails_twice_then_succeeds(site):
    with serve_demo_site(site) as srv:
        url = srv.base_url + site.traps["flaky"]
        results = [fetch(url) for _ in range(3)]
        assert [r[0] for r in results] == [503, 503, 200]
        assert results[0][1]["Retry-After"] == "1"
        assert site.flaky_article.path == site.traps["flaky"] and site.flaky_article.published.year == 2025
        assert srv.count(path=site.traps["flaky"]) == 3
        assert fetch(url)[0] == 200
    with serve_demo_site(site) as fresh:  # the counter is per server instance
        assert fetch(fresh.base_url + site.traps["flaky"])[0] == 503


@pytest.mark.parametrize("count", [None, 230])
def test_section_pagination_ends(count, server, site):
    if count is None:
        srv, s = server, site
        ctx = None
    else:
        s = DemoSite(article_count=count)
        ctx = serve_demo_site(s)
        srv = ctx
    try:
        for section in SECTIONS:
            url, seen, pages = f"{srv.base_url}/section/{section}", [], 0
            while url:
                status, _, body = fetch(url)
                assert status == 200
                page = body.decode()
                pages += 1
                seen += [p for p in local_paths(page, srv.base_url)
                         if any(r.search(p) for r in ARTICLE_ALLOW) and p in s.by_path]
                nxt = re.search(r'<a rel="next" class="next" href="([^"]+)">Next</a>', page)
                url = srv.base_url + nxt.group(1).replace("&amp;", "&") if nxt else None
            expected = s.in_section(section)
            assert pages == -(-len(expected) // PAGE_SIZE) == s.section_pages(section)
            assert set(seen) == {a.path for a in expected}
            assert fetch(f"{srv.base_url}/section/{section}?page={pages + 1}")[0] == 404
    finally:
        if ctx is not None:
            ctx.stop()


def test_calendar_is_endless(server, site):
    path = site.traps["calendar"]
    for rel in ("next", "prev"):
        current, seen = path, set()
        for _ in range(30):
            status, _, body = fetch(server.base_url + current)
            assert status == 200
            seen.add(current)
            current = re.search(rf'<a rel="{rel}" href="(/calendar/\d{{4}}/\d{{2}})">', body.decode()).group(1)
        assert len(seen) == 30


def test_traps(server, site):
    base, traps = server.base_url, site.traps
    assert set(traps) >= {"private", "pdf", "redirect", "flaky", "too_short", "too_large", "tracking", "calendar",
                          "tag", "search", "missing"}
    home = fetch(base + "/")[2].decode()
    reachable = set(local_paths(home.replace("&amp;", "&"), base))
    for section in SECTIONS:
        reachable |= local_paths(fetch(f"{base}/section/{section}")[2].decode(), base)
    for name, path in traps.items():
        if name == "pdf":
            assert path in local_paths(fetch(base + site.pdf_article.path)[2].decode(), base)
        elif name == "tracking":
            assert path in home.replace("&amp;", "&")
        else:
            assert path in reachable, name

    # private: an article-looking page, disallowed by robots.txt
    assert traps["private"].startswith("/private/") and fetch(base + traps["private"])[0] == 200
    # PDF
    status, headers, body = fetch(base + traps["pdf"])
    assert status == 200 and headers["Content-Type"] == "application/pdf"
    assert body.startswith(b"%PDF-1.4") and body.rstrip().endswith(b"%%EOF")
    # redirect
    status, headers, _ = fetch(base + traps["redirect"])
    assert status == 301 and headers["Location"] == base + site.articles[0].path
    # tracking parameters: the same page, canonical without them
    tracked = fetch(base + traps["tracking"].split("#")[0])[2].decode()
    assert "utm_source=newsletter&utm_medium=email#comments" in traps["tracking"]
    assert f'<link rel="canonical" href="{base}{site.tracking_article.path}">' in tracked
    # too short: article-looking URL, well under the 60 words an article needs
    assert any(r.search(traps["too_short"]) for r in ARTICLE_ALLOW)
    short = site.by_path[traps["too_short"]]
    assert short.kind == "too_short" and short.word_count < 30
    # too large: article-looking URL, > 6 MB, size advertised
    assert any(r.search(traps["too_large"]) for r in ARTICLE_ALLOW)
    status, headers, body = fetch(base + traps["too_large"], method="HEAD")
    assert status == 200 and int(headers["Content-Length"]) > 6_000_000 and body == b""
    status, headers, body = fetch(base + traps["too_large"])
    assert len(body) == int(headers["Content-Length"]) > 6_000_000
    # missing: a proper HTML 404
    status, headers, body = fetch(base + traps["missing"])
    assert status == 404 and headers["Content-Type"] == "text/html; charset=utf-8" and b"Page not found" in body
    assert fetch(base + "/no/such/page")[0] == 404
    # tag and search pages list teasers of real articles
    for name in ("tag", "search"):
        status, _, body = fetch(base + traps[name])
        assert status == 200
        assert any(a.path in body.decode() for a in site.articles)
    assert "noindex" in fetch(base + traps["search"])[2].decode()
    # none of them is a real article
    real = {a.path for a in site.articles}
    for name in ("private", "too_short", "too_large", "missing"):
        assert traps[name] not in real


def test_request_log(site):
    with serve_demo_site(site) as srv:
        fetch(srv.base_url + "/", {"User-Agent": "TestBot/1.0"})
        fetch(srv.base_url + "/nothing-here")
        fetch(srv.base_url + "/feed.xml", method="HEAD")
        log = srv.requests
        assert [(r.method, r.path, r.status) for r in log] == [
            ("GET", "/", 200), ("GET", "/nothing-here", 404), ("HEAD", "/feed.xml", 200)]
        assert log[0].headers["User-Agent"] == "TestBot/1.0" and log[0].size > 0 and log[2].size == 0
        assert srv.count(status=404) == 1 and srv.count(method="HEAD") == 1
        srv.clear_requests()
        assert srv.requests == []


# --- scaling and editions -----------------------------------------------------------------------

def _shingles(text: str) -> set[tuple[str, ...]]:
    w = text.lower().split()
    return {tuple(w[i:i + 5]) for i in range(len(w) - 4)}


def test_scaled_site_has_2000_unique_articles():
    big = DemoSite(article_count=2000)
    arts = big.articles
    assert len(arts) == 2000
    assert len({a.slug for a in arts}) == len({a.title for a in arts}) == len({a.body_text for a in arts}) == 2000
    assert len({a.path for a in arts}) == 2000
    assert {a.section for a in arts} == set(SECTIONS)
    assert [a.slug for a in DemoSite(article_count=2000).articles] == [a.slug for a in arts]  # deterministic
    assert [a.slug for a in DemoSite(article_count=2000, seed=7).articles] != [a.slug for a in arts]
    generated = [a for a in arts if a.generated]
    assert len(generated) == 2000 - len(DemoSite().articles)
    for a in generated:
        assert any(p.search(a.path) for p in ARTICLE_ALLOW) and a.word_count >= 100
        assert a.published.tzinfo is not None and 2024 <= a.published.year <= 2026
    sample = [_shingles(a.body_text) for a in generated[:150]]
    worst = max(len(x & y) / len(x | y) for x, y in itertools.combinations(sample, 2))
    assert worst < 0.35, worst


def test_scaled_site_is_served(tmp_path):
    big = DemoSite(article_count=2000)
    with serve_demo_site(big) as srv:
        urlset = _xml(srv.base_url + "/sitemap-articles.xml")
        assert len(urlset.findall(SM + "url")) == 2000
        assert len(_xml(srv.base_url + "/sitemap-news.xml").findall(SM + "url")) == 50
        a = big.articles[1234]
        assert fetch(srv.base_url + a.path)[0] in (200, 503)


def test_edition_2_differs_as_specified(site):
    ed2 = DemoSite(edition=2)
    one, two = {a.slug: a for a in site.articles}, {a.slug: a for a in ed2.articles}
    new = set(two) - set(one)
    assert len(new) == 5 and not set(one) - set(two)
    assert all(two[s].edition == 2 and two[s].published > site.articles[0].published for s in new)
    body_changed = [s for s in one if one[s].body_text != two[s].body_text]
    title_changed = [s for s in one if one[s].title != two[s].title]
    assert len(body_changed) == 3 and len(title_changed) == 1
    for s in body_changed + title_changed:
        assert two[s].modified and two[s].modified > one[s].last_modified and two[s].path == one[s].path
    assert any(p.startswith("Correction:") for s in body_changed for p in two[s].paragraphs)
    assert any(len(one[s].paragraphs) == len(two[s].paragraphs) for s in body_changed)  # a sentence changed
    unchanged = set(one) - set(body_changed) - set(title_changed)
    assert all(one[s] == two[s] for s in unchanged)
    # deterministic, and the scaled site gets the same changes
    assert [a.body_text for a in DemoSite(edition=2).articles] == [a.body_text for a in ed2.articles]
    big1, big2 = DemoSite(article_count=300), DemoSite(article_count=300, edition=2)
    assert len(big2.articles) == 305
    assert sum(a.body_text != big2.by_slug[a.slug].body_text for a in big1.articles) == 3


def test_set_edition_switches_content_live(site):
    with serve_demo_site(DemoSite()) as srv:
        edited = "election-commission-postal-ballot-rules"
        same = "lobbying-register-law-approved"
        paths = {s: srv.site.article(s).path for s in (edited, same)}
        etags = {s: fetch(srv.base_url + p)[1]["ETag"] for s, p in paths.items()}
        feed1 = fetch(srv.base_url + "/feed.xml")[2]
        srv.set_edition(2)
        assert srv.site.edition == 2
        assert fetch(srv.base_url + paths[same], {"If-None-Match": etags[same]})[0] == 304
        status, _, body = fetch(srv.base_url + paths[edited], {"If-None-Match": etags[edited]})
        assert status == 200 and b"Correction: An earlier version" in body
        feed2 = fetch(srv.base_url + "/feed.xml")[2]
        assert feed2 != feed1 and b"Strand names 14 June as general election date" in feed2
        urlset = _xml(srv.base_url + "/sitemap-articles.xml")
        assert len(urlset.findall(SM + "url")) == len(site.articles) + 5


# --- CLI ----------------------------------------------------------------------------------------

def test_cli_serves_until_stopped():
    proc = subprocess.Popen([sys.executable, "-m", "archive.demo_site", "--port", "0", "--articles", "50", "--quiet"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
        assert match, line
        assert "50 articles" in line
        status, _, body = fetch(match.group(1) + "/robots.txt")
        assert status == 200 and b"Disallow: /private/" in body
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_keep_alive_responses_are_not_held_back_by_nagle(server, site):
    """Headers and body are two writes: without TCP_NODELAY each keep-alive response waits
    ~40 ms for the client's delayed ACK, and a benchmark ends up measuring the server."""
    import http.client

    paths = [a.path for a in site.articles[:20]]
    conn = http.client.HTTPConnection(urlsplit(server.base_url).hostname, urlsplit(server.base_url).port)
    conn.request("GET", paths[0])  # warm the page cache
    conn.getresponse().read()
    started = time.perf_counter()
    for path in paths * 5:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        assert response.status == 200
    elapsed = time.perf_counter() - started
    conn.close()
    # 100 responses: >= 4 s with the delay, well under 1 s without it (2.5 s leaves room for load)
    assert elapsed < 2.5, f"100 keep-alive responses took {elapsed:.1f}s"


def test_the_demo_site_keeps_running_in_the_background_and_switches_to_the_next_edition(tmp_path):
    import socket
    from dataclasses import replace

    from click.testing import CliRunner

    from archive.cli import AppContext, cli
    from archive.config import DemoSiteSettings, settings_from_dict

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = replace(settings_from_dict(SETTINGS, base_dir=ROOT, env={}), data_dir=tmp_path,
                       demo_site=DemoSiteSettings(port=port))
    base = f"http://127.0.0.1:{port}"
    new_path = next(a.path for a in DemoSite(edition=2).articles if a.edition == 2)
    run = CliRunner()
    try:
        started = run.invoke(cli, ["demo-site", "start"], obj=AppContext(None, settings))
        assert started.exit_code == 0, started.output
        assert "runs in the background" in started.output
        assert urllib.request.urlopen(base + "/", timeout=10).status == 200  # after the command returned
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(base + new_path, timeout=10)
        again = run.invoke(cli, ["demo-site", "start", "--edition", "2"], obj=AppContext(None, settings))
        assert again.exit_code == 0, again.output
        assert urllib.request.urlopen(base + new_path, timeout=10).status == 200  # the next night's article
    finally:
        stopped = run.invoke(cli, ["demo-site", "stop"], obj=AppContext(None, settings))
    assert "demo site stopped" in stopped.output
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(base + "/", timeout=5)
