"""The fictional news site ("The Calder Courier") the project serves itself on 127.0.0.1.

Used by the demo, the tests and the benchmarks; it never reaches the internet.

    from archive.demo_site import DemoSite, serve_demo_site, CHROME_MARKERS
    site = DemoSite(article_count=None, edition=1)    # None = the 34 hand-written articles
    site.articles      # list[Article], newest first, all kind "article"
    site.non_articles  # article-looking pages that must not be archived (private, too_short, too_large)
    site.traps         # name -> path of every trap page
    with serve_demo_site(site, host="127.0.0.1", port=0) as server:
        server.base_url, server.requests, server.set_edition(2)

CLI: ``python -m archive.demo_site --port 8701 [--articles N] [--edition 2]``.
"""

from .content import (
    FEED_SIZE, NEWS_SITEMAP_SIZE, PAGE_SIZE, SEARCH_PHRASES, SECTIONS, SITE_NAME, Article, DemoSite, slugify,
)
from .pages import CHROME_MARKERS
from .server import DemoServer, LoggedRequest, serve_demo_site

__all__ = [
    "Article", "CHROME_MARKERS", "DemoServer", "DemoSite", "FEED_SIZE", "LoggedRequest", "NEWS_SITEMAP_SIZE",
    "PAGE_SIZE", "SEARCH_PHRASES", "SECTIONS", "SITE_NAME", "serve_demo_site", "slugify",
]
