"""A small news site of a newsroom's own, served over HTTP on 127.0.0.1 for the tests.

Five articles under /news/2026/11/<slug>/, a home page, a section (/politics/), a static page
(/about/), a tag page (/tag/transport/) and a sitemap.xml that lists the articles *and* the
section and the static page, as many small sites' sitemaps do. No robots.txt (404).
"""

from __future__ import annotations

import html
import json
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class SmallArticle:
    slug: str
    title: str
    author: str
    published: str
    tags: tuple[str, ...]
    paragraphs: tuple[str, ...]

    @property
    def path(self) -> str:
        return f"/news/2026/11/{self.slug}/"


_FILLER = (
    "Residents who spoke at the evening meeting in the town hall asked for a written timetable, "
    "and the council promised one before the end of the month. Officials said the budget had "
    "been approved in principle but that the final figures depend on the regional grant."
)

ARTICLES = (
    SmallArticle("dune-repairs-begin", "Dune repairs begin on the north beach", "Maren Okafor",
                 "2026-11-03T08:30:00+01:00", ("Küstenschutz", "coast"),
                 ("Work crews began rebuilding the dunes on the north beach on Monday after the autumn storms "
                  "washed away most of the sand fence.", _FILLER)),
    SmallArticle("ferry-timetable-cut", "Winter ferry timetable cut to four crossings", "Jonas Brandt",
                 "2026-11-05T12:00:00+01:00", ("transport",),
                 ("The island ferry will run four crossings a day from December, down from seven, the operator "
                  "announced after a review of winter passenger numbers.", _FILLER)),
    SmallArticle("bus-line-returns", "Night bus line returns after two years", "Jonas Brandt",
                 "2026-11-09T17:45:00+01:00", ("transport",),
                 ("The night bus between the harbour and the station returns in January, two years after it "
                  "was cancelled for lack of drivers.", _FILLER)),
    SmallArticle("council-budget-vote", "Council budget vote delayed by a week", "Maren Okafor",
                 "2026-11-12T19:10:00+01:00", ("politics",),
                 ("The town council postponed its budget vote by a week after two members asked for more time "
                  "to read the amendments on school funding.", _FILLER)),
    SmallArticle("library-opens-sundays", "Library opens on Sundays from next month", "Ilse Varga",
                 "2026-11-16T09:00:00+01:00", ("culture",),
                 ("The town library will open on Sundays from noon to five from next month, a trial the "
                  "librarians had asked for since the reading room was renovated.", _FILLER)),
)

ABOUT_TEXT = (
    "The Island Gazette is the independent local newspaper of the island and its harbour towns. "
    "Our reporters cover the council, the ferries, the schools and the coast, and we publish "
    "every weekday morning. Letters to the editor are welcome and are printed with the writer's "
    "name. Corrections are published on this page within a day of being confirmed, and our "
    "editors answer every complaint in writing. The newspaper is owned by a foundation and is "
    "funded by its readers and by local advertising."
)


def _page(title: str, main: str, head: str = "") -> bytes:
    nav = ('<header><nav><a href="/">Home</a> <a href="/politics/">Politics</a> '
           '<a href="/tag/transport/">Transport</a></nav></header>')
    foot = '<footer><a href="/about/">About us</a></footer>'
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>{head}</head>"
            f"<body>{nav}<main>{main}</main>{foot}</body></html>").encode()


def _teasers(articles) -> str:
    return "".join(f'<li><a href="{a.path}">{html.escape(a.title)}</a></li>' for a in articles)


def _article_page(article: SmallArticle) -> bytes:
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": article.title,
          "datePublished": article.published, "author": {"@type": "Person", "name": article.author},
          "keywords": ", ".join(article.tags)}
    head = (f'<script type="application/ld+json">{json.dumps(ld, ensure_ascii=False)}</script>'
            + "".join(f'<meta property="article:tag" content="{html.escape(t)}">' for t in article.tags))
    body = "".join(f"<p>{html.escape(p)}</p>" for p in article.paragraphs)
    main = (f'<article><h1>{html.escape(article.title)}</h1><p class="byline">By {html.escape(article.author)}</p>'
            f'<time datetime="{article.published}">{article.published[:10]}</time>{body}</article>')
    return _page(article.title, main, head)


def _sitemap(base_url: str) -> bytes:
    paths = ["/", "/politics/", "/about/", *(a.path for a in ARTICLES)]
    urls = "".join(f"<url><loc>{base_url}{p}</loc></url>" for p in paths)
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'.encode()


class SmallSite:
    """The pages by path; ``requests`` lists every path asked for."""

    def __init__(self) -> None:
        self.articles = ARTICLES
        self.requests: list[str] = []
        self.base_url = ""

    def page(self, path: str) -> tuple[int, str, bytes]:
        if path == "/":
            return 200, "text/html", _page("The Island Gazette", f"<h1>The Island Gazette</h1><ul>{_teasers(ARTICLES)}</ul>")
        if path == "/politics/":
            return 200, "text/html", _page("Politics", f"<h1>Politics</h1><ul>{_teasers(ARTICLES[3:4])}</ul>")
        if path == "/tag/transport/":
            return 200, "text/html", _page("Transport", f"<h1>Transport</h1><ul>{_teasers(ARTICLES[1:3])}</ul>")
        if path == "/about/":
            return 200, "text/html", _page("About us", f"<h1>About us</h1><p>{ABOUT_TEXT}</p>")
        if path == "/sitemap.xml":
            return 200, "application/xml", _sitemap(self.base_url)
        for article in ARTICLES:
            if path == article.path:
                return 200, "text/html", _article_page(article)
        return 404, "text/html", b"<!doctype html><title>Not found</title><p>Not found</p>"


@contextmanager
def serve_small_site():
    """Yields the SmallSite with its base_url (http://127.0.0.1:<free port>)."""
    with serve_pages(SmallSite()) as site:
        yield site


@contextmanager
def serve_pages(site):
    """Serves site.page(path) -> (status, content type, body) on a free port of 127.0.0.1, noting
    every path asked for in site.requests; yields the site with its base_url set."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            path = self.path.split("?", 1)[0]
            site.requests.append(path)
            status, content_type, body = site.page(path)
            self.send_response(status)
            self.send_header("Content-Type", f"{content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # the tests' output stays readable
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
