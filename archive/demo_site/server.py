"""The demo site's HTTP server: standard library only, bound to a local address.

``serve_demo_site(site, host="127.0.0.1", port=0)`` starts a ThreadingHTTPServer in a
background thread and returns a ``DemoServer``:

    server.base_url          "http://127.0.0.1:PORT"
    server.site              the DemoSite being served (replaced by set_edition)
    server.requests          list[LoggedRequest] (a copy), oldest first
    server.count(path=..., status=..., method=...)
    server.clear_requests()
    server.set_edition(2)    switch the content live ("the next night")
    server.stop()            also a context manager: ``with serve_demo_site(...) as server:``

HTTP behaviour a crawler relies on: Content-Type with charset, ETag on every 200,
Last-Modified on articles/feeds/sitemaps, 304 for If-None-Match / If-Modified-Since,
HEAD, 404 with an HTML page, 301 from /go/<slug>, 503 + Retry-After: 1 twice for the flaky
article (per server instance), a > 6 MB page with Content-Length.
"""

from __future__ import annotations

import hashlib
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from . import pages
from .content import PDF_PATH, SECTIONS, Article, DemoSite

LOGGED_HEADERS = ("User-Agent", "If-None-Match", "If-Modified-Since", "Accept", "Accept-Encoding", "Referer")
FLAKY_FAILURES = 2

HTML = "text/html; charset=utf-8"
XML = "application/xml; charset=utf-8"


@dataclass(frozen=True)
class LoggedRequest:
    """One request the demo site answered."""

    time: float
    method: str
    path: str                      # path and query, as requested
    status: int
    headers: dict[str, str] = field(default_factory=dict)  # a subset: see LOGGED_HEADERS
    size: int = 0                  # body bytes sent or being sent (0 for HEAD and 304)

    @property
    def path_only(self) -> str:
        return self.path.split("?", 1)[0]


@dataclass
class _Response:
    status: int
    body: bytes = b""
    content_type: str = HTML
    headers: dict[str, str] = field(default_factory=dict)
    etag: bool = False
    last_modified: datetime | None = None


class DemoServer:
    """A running demo site. Create with ``serve_demo_site``."""

    def __init__(self, site: DemoSite | None = None, host: str = "127.0.0.1", port: int = 0,
                 verbose: bool = False) -> None:
        self._site = site or DemoSite()
        self._state = (self._site, {})  # (site, rendered-response cache), swapped atomically
        self._lock = threading.Lock()
        self._log: list[LoggedRequest] = []
        self._flaky_hits: dict[str, int] = {}
        self.verbose = verbose
        handler = type("DemoHandler", (_Handler,), {"demo": self})
        self._httpd = ThreadingHTTPServer((host, port), handler)
        self._httpd.daemon_threads = True
        self.host, self.port = self._httpd.server_address[:2]
        self.base_url = f"http://{self.host}:{self.port}"
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> "DemoServer":
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                            name=f"demo-site-{self.port}", daemon=True)
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread (the CLI)."""
        self._httpd.serve_forever(poll_interval=0.25)

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> "DemoServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- content -------------------------------------------------------------------------
    @property
    def site(self) -> DemoSite:
        return self._site

    def set_edition(self, edition: int) -> DemoSite:
        """Serve another edition of the same site from now on (same size and seed)."""
        site = DemoSite(article_count=self._site.article_count, edition=edition, seed=self._site.seed)
        with self._lock:
            self._site = site
            self._state = (site, {})
        return site

    # --- request log -----------------------------------------------------------------------
    @property
    def requests(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._log)

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    def count(self, path: str | None = None, status: int | None = None, method: str | None = None) -> int:
        """Requests matching all the given filters; ``path`` matches with or without the query."""
        return sum(1 for r in self.requests
                   if (path is None or r.path == path or r.path_only == path)
                   and (status is None or r.status == status)
                   and (method is None or r.method == method))

    def _record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._log.append(entry)
        if self.verbose:
            print(f"{entry.method} {entry.path} {entry.status} {entry.size}", file=sys.stderr, flush=True)

    def _flaky_attempt(self, path: str) -> int:
        with self._lock:
            n = self._flaky_hits.get(path, 0) + 1
            self._flaky_hits[path] = n
            return n

    # --- routing ---------------------------------------------------------------------------
    def respond(self, raw_path: str) -> _Response:
        site, cache = self._state

        def cached(key: str, build) -> _Response:
            resp = cache.get(key)
            if resp is None:
                resp = cache[key] = build()
            return resp

        parts = urlsplit(raw_path)
        path = unquote(parts.path) or "/"
        query = parse_qs(parts.query)
        base = self.base_url

        article = site.by_path.get(path.rstrip("/") if path != "/" else path)
        if article is not None:
            if article.kind == "article" and article.path == site.flaky_article.path:
                if self._flaky_attempt(article.path) <= FLAKY_FAILURES:
                    return _Response(503, pages.unavailable_page(base).encode(), headers={"Retry-After": "1"})
            return cached(f"article:{article.path}", lambda: self._article(site, article, base))

        if path == "/":
            return cached("home", lambda: _Response(200, pages.home_page(site, base).encode(), etag=True))
        if path == "/robots.txt":
            return _Response(200, pages.robots_txt(base).encode(), "text/plain; charset=utf-8", etag=True)
        newest = site.articles[0].last_modified if site.articles else None
        if path == "/sitemap_index.xml":
            return cached(path, lambda: _Response(200, pages.sitemap_index(site, base).encode(), XML,
                                                        etag=True, last_modified=newest))
        if path == "/sitemap-news.xml":
            return cached(path, lambda: _Response(200, pages.sitemap_news(site, base).encode(), XML,
                                                        etag=True, last_modified=newest))
        if path == "/sitemap-articles.xml":
            return cached(path, lambda: _Response(200, pages.sitemap_articles(site, base).encode(), XML,
                                                         etag=True, last_modified=newest))
        if path == "/feed.xml":
            return cached(path, lambda: _Response(200, pages.rss_feed(site, base).encode(),
                                                        "application/rss+xml; charset=utf-8", etag=True,
                                                        last_modified=newest))
        if path == PDF_PATH:
            return _Response(200, pages.tiny_pdf(), "application/pdf", etag=True)
        m = re.fullmatch(r"/media/photos/([a-z0-9-]+)\.svg", path)
        if path == "/media/logo.svg" or (m and m.group(1) in site.by_slug):
            label = pages.SITE_NAME if path == "/media/logo.svg" else "Courier photo"
            return _Response(200, pages.placeholder_svg(label).encode(), "image/svg+xml; charset=utf-8", etag=True)

        m = re.fullmatch(r"/section/([a-z-]+)/?", path)
        if m and m.group(1) in SECTIONS:
            page_s = (query.get("page") or ["1"])[0]
            if page_s.isdigit() and 1 <= int(page_s) <= site.section_pages(m.group(1)):
                page = int(page_s)
                return cached(f"section:{m.group(1)}:{page}", lambda: _Response(
                    200, pages.section_page(site, m.group(1), page, base).encode(), etag=True))
            return self._not_found(path)

        m = re.fullmatch(r"/tag/([^/]+)/?", path)
        if m and site.with_tag(m.group(1)):
            return _Response(200, pages.tag_page(site, m.group(1), base).encode(), etag=True)
        if path == "/search":
            q = (query.get("q") or [""])[0]
            return _Response(200, pages.search_page(site, q, base).encode(), etag=True)
        m = re.fullmatch(r"/calendar/(\d{4})/(\d{2})/?", path)
        if m and int(m.group(1)) >= 1 and 1 <= int(m.group(2)) <= 12:
            return _Response(200, pages.calendar_page(site, int(m.group(1)), int(m.group(2)), base).encode(),
                             etag=True)
        m = re.fullmatch(r"/go/([a-z0-9-]+)/?", path)
        if m and m.group(1) in site.by_slug:
            target = base + site.by_slug[m.group(1)].path
            body = f'<!DOCTYPE html><html lang="en"><title>Moved</title><a href="{target}">{target}</a></html>'
            return _Response(301, body.encode(), headers={"Location": target})
        return self._not_found(path)

    def _article(self, site: DemoSite, a: Article, base: str) -> _Response:
        if a.kind == "too_large":
            return _Response(200, pages.too_large_page(a, base), etag=True, last_modified=a.last_modified)
        if a.kind == "too_short":
            return _Response(200, pages.too_short_page(a, base).encode(), etag=True, last_modified=a.last_modified)
        return _Response(200, pages.article_page(site, a, base).encode(), etag=True, last_modified=a.last_modified)

    def _not_found(self, path: str) -> _Response:
        return _Response(404, pages.not_found_page(self.base_url, path).encode())


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:24] + '"'


def _not_modified(headers, etag: str | None, last_modified: datetime | None) -> bool:
    inm = headers.get("If-None-Match")
    if inm is not None:
        if etag is None:
            return False
        tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
        return "*" in tags or etag in tags
    ims = headers.get("If-Modified-Since")
    if ims and last_modified is not None:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=timezone.utc)
        return last_modified.replace(microsecond=0) <= since
    return False


class _Handler(BaseHTTPRequestHandler):
    demo: DemoServer  # set on the per-server subclass
    protocol_version = "HTTP/1.1"
    server_version = "CalderCourier/1.0"
    sys_version = ""
    timeout = 60
    # Headers and body go out in two writes; with Nagle on, the body waits for the client's
    # delayed ACK (~40 ms per keep-alive response). TCP_NODELAY sends each write at once.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._handle(head=False)

    def do_HEAD(self) -> None:
        self._handle(head=True)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self._send(_Response(405, b"Method Not Allowed\n", "text/plain; charset=utf-8", headers={"Allow": "GET, HEAD"}),
                   head=False)

    def _handle(self, head: bool) -> None:
        try:
            resp = self.demo.respond(self.path)
        except Exception as exc:  # never kill the server thread; say what broke
            resp = _Response(500, f"Internal error: {exc!r}\n".encode(), "text/plain; charset=utf-8")
        self._send(resp, head=head)

    def _send(self, resp: _Response, head: bool) -> None:
        status = resp.status
        headers = {"Content-Type": resp.content_type, **resp.headers}
        etag = _etag(resp.body) if resp.etag and status == 200 else None
        if etag:
            headers["ETag"] = etag
        if resp.last_modified is not None and status == 200:
            headers["Last-Modified"] = pages.http_date(resp.last_modified)
        body = resp.body
        if status == 200 and _not_modified(self.headers, etag, resp.last_modified):
            status, body = 304, b""
            headers.pop("Content-Type", None)
        # Logged before the response goes out: a client that has its answer finds it in the log.
        logged = {k: self.headers[k] for k in LOGGED_HEADERS if self.headers.get(k) is not None}
        sending = 0 if head or status == 304 else len(body)
        self.demo._record(LoggedRequest(time.time(), self.command, self.path, status, logged, sending))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if status != 304:
            self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if sending:
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    def log_message(self, format: str, *args) -> None:  # silence the default stderr access log
        pass


def serve_demo_site(site: DemoSite | None = None, host: str = "127.0.0.1", port: int = 0,
                    verbose: bool = False) -> DemoServer:
    """Start the demo site in a background thread; port 0 picks a free port. Returns the running server."""
    return DemoServer(site, host=host, port=port, verbose=verbose).start()
