"""The page's author by trafilatura's own rules, found in one walk over the page.

``trafilatura.metadata.extract_author`` copies the whole page, deletes comments, sidebars, dates
and figures from the copy (``AUTHOR_DISCARD_XPATHS``), then tries three selectors in turn
(``AUTHOR_XPATHS``): the first element of a selector whose text has 3 to 119 characters is the
author. Its class and id tests are EXSLT regular expressions, which lxml runs in Python for
every element of the page: on large pages that search cost more than anything else the archive
adds to trafilatura's own run. Here the same tests are made on each element's attributes in one
walk, and the deleted parts are skipped rather than deleted from a copy (an author element
holding one is copied alone and pruned by trafilatura's own function). The selectors below are
trafilatura's (trafilatura/xpaths.py of 2.3.1, the version pinned), written as Python tests;
tests/test_bylines.py checks they agree with trafilatura's function.
"""

from __future__ import annotations

import copy
import re

from lxml.etree import XPath
from lxml.html import HtmlElement
from trafilatura.htmlprocessing import prune_unwanted_nodes
from trafilatura.metadata import normalize_authors
from trafilatura.utils import trim
from trafilatura.xpaths import AUTHOR_DISCARD_XPATHS

MIN_CHARS, MAX_CHARS = 3, 119

# AUTHOR_XPATHS, most specific first: the tags each accepts and the patterns of its tests
_SPECIFIC_TAGS = frozenset({"a", "address", "div", "link", "p", "span", "strong"})
_GENERIC_TAGS = frozenset({"a", "div", "h3", "h4", "p", "span"})
_AUTHOR_NAME = re.compile("author-?name|AuthorName|authorName")
_GENERIC_ID = re.compile("author|zuozhe|bianji|xiaobian")
_GENERIC_CLASS = re.compile("author|channel-name|zuozhe|bianji|xiaobian|submitted-by|posted-by|journalist-name")
_ANY_ID = re.compile("[Aa]uthor")
_ANY_CLASS = re.compile("[Aa]uthor|screenname|writer|[Bb]yline")

# AUTHOR_DISCARD_XPATHS
_DISCARD_TAGS = frozenset({"a", "div", "section", "span"})
_DISCARD_ID = re.compile("^comments|comment-?list|ProductReviews")
_DISCARD_CLASS = re.compile(
    "^[Cc]omments|commentlist|comments-list|sidebar|is-hidden|quote|embedly-instagram|"
    "article-(?:share|support)|print|category|meta-date|meta-reviewer")
_ALWAYS_DISCARDED = frozenset({"time", "figure"})


def _specific(element: HtmlElement, tag: str, cls: str, id_: str) -> bool:
    if tag == "author":
        return True
    return tag in _SPECIFIC_TAGS and (
        element.get("rel") == "author" or id_ == "author" or cls == "author"
        or element.get("itemprop") == "author name"
        or element.get("data-testid") in ("AuthorCard", "AuthorURL")
        or bool(_AUTHOR_NAME.search(cls))
        or any(child.text_content() == "me" for child in element.iterchildren("rel")))


def _generic(element: HtmlElement, tag: str, cls: str, id_: str) -> bool:
    return tag in _GENERIC_TAGS and (
        cls in ("byline", "username", "byl", "BBL") or "author" in (element.get("itemprop") or "")
        or bool(_GENERIC_ID.search(id_)) or bool(_GENERIC_CLASS.search(cls)))


def _any(element: HtmlElement, tag: str, cls: str, id_: str) -> bool:
    return ("Byline" in (element.get("data-component") or "") or "author" in (element.get("itemprop") or "")
            or bool(_ANY_ID.search(id_)) or bool(_ANY_CLASS.search(cls)))


_SELECTORS = (_specific, _generic, _any)
# Every element a test above can accept (the rest of the page is never handed to Python).
_TESTED = XPath("//*[@class or @id or @rel or @itemprop or @data-testid or @data-component"
                " or self::author or self::time or self::figure or rel]")


def _discarded(element: HtmlElement, tag: str, cls: str, id_: str) -> bool:
    if tag in _ALWAYS_DISCARDED:
        return True
    return tag in _DISCARD_TAGS and (
        id_ == "comments" or cls in ("comments", "title", "date")
        or bool(_DISCARD_ID.search(id_)) or bool(_DISCARD_CLASS.search(cls))
        or "Figure" in (element.get("data-component") or ""))


def page_author(tree: HtmlElement) -> str | None:
    """What ``trafilatura.metadata.extract_author(tree)`` returns, without copying the page."""
    found: list[list[HtmlElement]] = [[] for _ in _SELECTORS]
    discarded = set()
    for element in _TESTED(tree):
        tag = element.tag
        cls, id_ = element.get("class") or "", element.get("id") or ""
        if _discarded(element, tag, cls, id_):
            discarded.add(element)
            continue
        for tier, selector in enumerate(_SELECTORS):
            if selector(element, tag, cls, id_):
                found[tier].append(element)
    discarded.discard(tree)
    for matches in found:
        for element in matches:
            if discarded and any(a in discarded for a in element.iterancestors()):
                continue  # deleted with a discarded part of the page
            text = _text(element, bool(discarded) and any(d in discarded for d in element.iterdescendants()))
            if text and MIN_CHARS <= len(text) <= MAX_CHARS:
                return normalize_authors(None, text)
    return None


def _text(element: HtmlElement, holds_discarded: bool) -> str:
    if holds_discarded:  # trafilatura's pruning, on a copy of this element alone
        element = prune_unwanted_nodes(copy.copy(element), AUTHOR_DISCARD_XPATHS)
    return trim(" ".join(element.itertext()))
