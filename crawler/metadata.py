"""trafilatura's metadata of a page, without the parts the archive does not read.

``trafilatura.metadata.extract_metadata`` also guesses a date (htmldate), a site name, a hostname
and a licence on every page. The archive reads the date from the page's own structured data
first (``crawler/dates.py``) and asks htmldate only when those give nothing, and it stores no site
name or licence: on real pages those steps were a quarter of the metadata's cost. Title, author,
canonical URL, description, image, tags and categories are read by trafilatura's own functions,
in its own order (the author search in one walk over the page: ``crawler/bylines.py``).
"""

from __future__ import annotations

from htmldate import find_date
from lxml.html import HtmlElement
from trafilatura.metadata import (
    examine_meta,
    extract_catstags,
    extract_meta_json,
    extract_title,
    extract_url,
)
from trafilatura.settings import Document, set_date_params

from crawler.bylines import page_author


def page_metadata(tree: HtmlElement, url: str) -> Document:
    """Title, author, url, description, image, tags and categories, as extract_metadata reads them."""
    metadata = examine_meta(tree)
    if metadata.author and " " not in metadata.author:
        metadata.author = None  # a one-word "author" meta is a handle or a site name
    try:
        metadata = extract_meta_json(tree, metadata)
    except Exception:  # trafilatura's JSON-LD reader has bugs on odd data; its metas remain
        pass
    metadata.title = metadata.title or extract_title(tree)
    metadata.author = metadata.author or page_author(tree)  # trafilatura's extract_author, faster
    metadata.url = metadata.url or extract_url(tree, url)
    metadata.categories = metadata.categories or extract_catstags("category", tree)
    metadata.tags = metadata.tags or extract_catstags("tag", tree)
    metadata.clean_and_trim()
    return metadata


def guessed_date(tree: HtmlElement, url: str | None) -> str | None:
    """htmldate's date of the page (first publication), as trafilatura would guess it."""
    return find_date(tree, **{**set_date_params(extensive=False), "url": url})
