"""A small news site that misbehaves on purpose, served over HTTP on 127.0.0.1 by the tests
(and benchmarks/hostile_crawl.py). Standard library only.

    with serve_hostile_site(HostileSite(articles=600)) as site:
        site.url("/")                      # newest-first listing, 20 a page, ?page=N
        site.requests                      # paths asked for, in order

Routes:
    /, /?page=N                 the listing (newest first), `next` link to the following page
    /news/NNNN                  article NNNN (a dated, headlined page of 150+ unique words)
    /news/links-100k            an article-looking page of 100,000 links (about 3.4 MB)
    /news/drip                  an article sent one byte a second
    /listing-100k               a listing page of 100,000 links (to pages that are not articles)
    /bomb.html                  a gzip bomb: 100 kB on the wire, 100 MB once decompressed
    /sitemap-bomb.xml.gz        a gzipped sitemap that grows past 50 MB
    /redirect/endless/N         redirects to /redirect/endless/N+1, forever
    /redirect/self              redirects to itself
    /redirect/away              redirects to `away_url` (another port of 127.0.0.1)
    /robots.txt                 per `robots`: "ok", "404", "503" or "huge" (10 MB)
    /news/hijack                an article whose canonical link claims `hijack_target`
"""

from __future__ import annotations

import gzip
import io
import random
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PER_PAGE = 20
WORDS = ("harbour council budget river ferry bridge school hospital election mayor court strike "
         "festival museum railway airport storm flood drought market factory union police fire "
         "station library garden stadium theatre orchestra vineyard quarry island valley tunnel "
         "canal tram bakery brewery clinic orchard meadow glacier lighthouse harvest").split()


def article_text(number: int, words: int = 160) -> str:
    rng = random.Random(number)
    sentences = []
    while sum(len(s.split()) for s in sentences) < words:
        picked = rng.sample(WORDS, 9)
        sentences.append(f"The {picked[0]} of {picked[1]} met the {picked[2]} near the {picked[3]} "
                         f"while the {picked[4]} and the {picked[5]} waited for the {picked[6]} {number}.")
    return " ".join(sentences)


def article_page(number: int, path: str, canonical: str | None = None, title: str | None = None, text: str | None = None) -> bytes:
    published = datetime(2025, 6, 1, tzinfo=timezone.utc) + timedelta(hours=number)
    title = title or f"Story number {number} from the valley"
    text = text or article_text(number)
    paragraphs = "".join(f"<p>{p}.</p>" for p in text.split(". ") if p)
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="canonical" href="{canonical or path}">
<meta property="og:type" content="article"><meta property="article:published_time" content="{published.isoformat()}">
</head><body><nav><a href="/">Front page</a></nav><main><article><h1>{title}</h1>
<p class="byline">By Ana Ruiz</p><time datetime="{published.isoformat()}">{published:%d %B %Y}</time>
{paragraphs}</article></main></body></html>""".encode()


def links_page(count: int, href: str = "/news/l{n}", title: str = "Many links") -> bytes:
    out = io.StringIO()
    out.write(f"<!DOCTYPE html><html><head><title>{title}</title></head><body><h1>{title}</h1><ul>")
    for n in range(count):
        out.write(f'<li><a href="{href.format(n=n)}">link {n}</a></li>')
    out.write("</ul></body></html>")
    return out.getvalue().encode()


def _gzip_of_zeros(size: int, prefix: bytes = b"", suffix: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9) as out:
        out.write(prefix)
        chunk = b" " * 1_000_000
        for _ in range(size // len(chunk)):
            out.write(chunk)
        out.write(suffix)
    return buffer.getvalue()


@dataclass
class HostileSite:
    articles: int = 0                  # articles in the listing, /news/0001 the oldest
    robots: str = "ok"                 # ok | 404 | 503 | huge
    away_url: str = "http://127.0.0.1:9/"
    hijack_target: str = "/news/0002"
    extra_links: tuple[str, ...] = ()  # also linked from the first listing page
    requests: list[str] = field(default_factory=list)

    def listing(self, page: int) -> bytes:
        numbers = list(range(self.articles, 0, -1))[(page - 1) * PER_PAGE: page * PER_PAGE]
        items = "".join(f'<li><a href="/news/{n:04d}">Story number {n}</a></li>' for n in numbers)
        more = page * PER_PAGE < self.articles
        next_link = f'<a rel="next" href="/?page={page + 1}">Older stories</a>' if more else ""
        if page == 1:
            items += "".join(f'<li><a href="{href}">more</a></li>' for href in self.extra_links)
        return (f"<!DOCTYPE html><html><head><title>Valley News, page {page}</title></head><body>"
                f"<h1>Latest</h1><ul>{items}</ul>{next_link}</body></html>").encode()


_CACHE: dict[str, bytes] = {}


def _cached(key: str, make) -> bytes:
    if key not in _CACHE:
        _CACHE[key] = make()
    return _CACHE[key]


class _Handler(BaseHTTPRequestHandler):
    site: HostileSite
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet: the tests read site.requests
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        self.site.requests.append(self.path)
        site = self.site
        if path == "/robots.txt":
            if site.robots == "404":
                return self._send(404, b"not here", "text/plain")
            if site.robots == "503":
                return self._send(503, b"down", "text/plain", {"Retry-After": "0"})
            if site.robots == "huge":
                return self._send(200, _cached("robots", lambda: b"User-agent: *\nDisallow: /private\n" + b"#" * 10_000_000), "text/plain")
            return self._send(200, b"User-agent: *\nDisallow: /private\n", "text/plain")
        if path == "/":
            page = int((parse_qs(parts.query).get("page") or ["1"])[0])
            return self._send(200, site.listing(page))
        if path == "/news/links-100k":
            return self._send(200, _cached("links", lambda: links_page(100_000)))
        if path == "/listing-100k":
            return self._send(200, _cached("listing", lambda: links_page(100_000, href="/elsewhere/{n}")))
        if path == "/news/hijack":
            target = f"http://{self.headers['Host']}{site.hijack_target}"  # absolute, as news sites write it
            return self._send(200, article_page(9999, path, canonical=target, title="The hijacker's own story",
                                                text=article_text(123456)))
        if path.startswith("/news/") and path[6:].isdigit():
            number = int(path[6:])
            if 0 < number <= max(site.articles, 9):
                return self._send(200, article_page(number, path))
            return self._send(404, b"<html><body>Not found</body></html>")
        if path == "/news/drip":
            return self._drip()
        if path == "/bomb.html":
            body = _cached("bomb", lambda: _gzip_of_zeros(100_000_000, b"<html><body>"))
            return self._send(200, body, headers={"Content-Encoding": "gzip"})
        if path == "/sitemap-bomb.xml.gz":
            body = _cached("sitemap-bomb", lambda: _gzip_of_zeros(
                60_000_000, b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><!--', b"--></urlset>"))
            return self._send(200, body, "application/x-gzip")
        if path.startswith("/redirect/endless/"):
            return self._redirect(f"/redirect/endless/{int(path.rsplit('/', 1)[1]) + 1}")
        if path == "/redirect/self":
            return self._redirect("/redirect/self")
        if path == "/redirect/away":
            return self._redirect(site.away_url)
        return self._send(404, b"<html><body>Not found</body></html>")

    def _drip(self) -> None:
        """An article page sent one byte a second, for ten minutes: a slow-drip server."""
        body = article_page(8888, "/news/drip")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for byte in body[:600]:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(1.0)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _redirect(self, location: str) -> None:
        self._send(302, b"", headers={"Location": location})

    def _send(self, status: int, body: bytes, content_type: str = "text/html; charset=utf-8", headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the crawler hung up on a page too large: as it should
            pass


class HostileServer:
    def __init__(self, site: HostileSite):
        self.site = site
        handler = type("Handler", (_Handler,), {"site": site})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return self.base_url + path

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def serve_hostile_site(site: HostileSite):
    server = HostileServer(site)
    try:
        yield server
    finally:
        server.stop()
