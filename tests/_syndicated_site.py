"""A second small site that republishes three of the Island Gazette's articles (tests/_small_site.py)
under its own chrome, a day later, with its own headline and a credit line, beside three articles
of its own. Its own articles share a long paragraph of the site's boilerplate, as the Gazette's
share their filler: copies must group, boilerplate must not. Served over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import html
import json
from contextlib import contextmanager
from dataclasses import dataclass

from _small_site import ARTICLES as GAZETTE_ARTICLES, serve_pages

BOILERPLATE = (
    "The Harbour Courier is published by a cooperative of its readers and journalists. Our newsroom is "
    "independent of every party, company and church, and we correct every error we are told about on the "
    "corrections page within a day. Support local reporting: a subscription costs less than a coffee a week "
    "and every subscriber is a member of the cooperative with a vote at its yearly meeting."
)


@dataclass(frozen=True)
class CourierArticle:
    slug: str
    title: str
    author: str
    published: str
    paragraphs: tuple[str, ...]
    republished_from: str | None = None  # the Gazette slug this is a copy of

    @property
    def path(self) -> str:
        return f"/stories/{self.slug}.html"


def _republished(slug: str, title: str, published: str) -> CourierArticle:
    original = next(a for a in GAZETTE_ARTICLES if a.slug == slug)
    credit = "This article first appeared in The Island Gazette and is republished with permission."
    return CourierArticle(f"gazette-{slug}", title, original.author, published, (*original.paragraphs, credit), slug)


ARTICLES = (
    _republished("dune-repairs-begin", "Island dunes: repair work starts", "2026-11-04T10:00:00+01:00"),
    _republished("ferry-timetable-cut", "Island ferry to run four crossings in winter", "2026-11-06T09:00:00+01:00"),
    _republished("council-budget-vote", "Island council puts off budget vote", "2026-11-13T08:00:00+01:00"),
    CourierArticle("pier-lights", "New lights for the old pier", "Ana Ruiz", "2026-11-07T11:00:00+01:00",
                   ("The old pier gets twenty new lamps this winter, paid for by the fishing cooperative, after "
                    "anglers complained that the far end was too dark to walk safely after six.", BOILERPLATE)),
    CourierArticle("choir-prize", "Harbour choir wins the regional prize", "Ana Ruiz", "2026-11-10T18:30:00+01:00",
                   ("The harbour choir won the regional competition in the city on Saturday with a programme of "
                    "sea shanties and two new songs written by its youngest member.", BOILERPLATE)),
    CourierArticle("market-hall", "Market hall roof to be replaced", "Tom Berg", "2026-11-14T07:45:00+01:00",
                   ("The roof of the market hall will be replaced in spring; traders move to tents on the square "
                    "for six weeks while the builders work from the north side.", BOILERPLATE)),
)
COPIES = tuple(a for a in ARTICLES if a.republished_from)


def _page(title: str, main: str, head: str = "") -> bytes:
    # Chrome of its own: another menu, a sidebar of most-read links, a newsletter box, a long footer.
    nav = ('<header class="masthead"><a href="/">The Harbour Courier</a><nav><a href="/">Front page</a> '
           '<a href="/stories/">Stories</a> <a href="/subscribe/">Subscribe</a></nav></header>')
    side = ("<aside><h2>Most read</h2><ol>"
            + "".join(f'<li><a href="{a.path}">{html.escape(a.title)}</a></li>' for a in ARTICLES[:4])
            + "</ol><form><label>Newsletter <input name=email></label><button>Sign up</button></form></aside>")
    foot = ("<footer><p>© The Harbour Courier cooperative. Imprint, privacy, cookies, contact.</p>"
            '<a href="/subscribe/">Subscribe</a></footer>')
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)} | Harbour Courier</title>"
            f"{head}</head><body>{nav}<div class=\"wrap\"><main>{main}</main>{side}</div>{foot}</body></html>").encode()


def _article_page(article: CourierArticle) -> bytes:
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": article.title,
          "datePublished": article.published, "author": {"@type": "Person", "name": article.author}}
    head = f'<script type="application/ld+json">{json.dumps(ld, ensure_ascii=False)}</script>'
    body = "".join(f"<p>{html.escape(p)}</p>" for p in article.paragraphs)
    main = (f'<article><h1>{html.escape(article.title)}</h1><p class="byline">By {html.escape(article.author)}</p>'
            f'<time datetime="{article.published}">{article.published[:10]}</time>{body}</article>')
    return _page(article.title, main, head)


class CourierSite:
    def __init__(self) -> None:
        self.articles = ARTICLES
        self.requests: list[str] = []
        self.base_url = ""

    def page(self, path: str) -> tuple[int, str, bytes]:
        if path in ("/", "/stories/"):
            teasers = "".join(f'<li><a href="{a.path}">{html.escape(a.title)}</a></li>' for a in ARTICLES)
            return 200, "text/html", _page("The Harbour Courier", f"<h1>Stories</h1><ul>{teasers}</ul>")
        for article in ARTICLES:
            if path == article.path:
                return 200, "text/html", _article_page(article)
        return 404, "text/html", b"<!doctype html><title>Not found</title><p>Not found</p>"


@contextmanager
def serve_courier_site():
    """Yields the CourierSite with its base_url (http://127.0.0.1:<free port>)."""
    with serve_pages(CourierSite()) as site:
        yield site
