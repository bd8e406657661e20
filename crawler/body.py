"""The article body: one trafilatura run over a page with its chrome marked, checked against
the page's own statement of its body.

**Pruning without a second run.** Page chrome (captions, newsletter boxes, related links,
comments, share bars, footers) is found by tag, class/id words and ARIA role (``CHROME`` in
``extraction.py``, as data), in one pass over the tree (XPath ``contains()`` tests per word
cost more than trafilatura itself). A selector can hit the article's own container ("story-body
read-more-enabled"); the guard below spares any match that holds ``SPARE_SHARE`` or more of the
page's paragraph words, or that contains the main article container. The survivors are marked
with ``MARK`` and trafilatura prunes the marked nodes after it has read the metadata, in a single
run (earlier versions ran trafilatura twice, pruned and unpruned, and compared).

**The rule for taking another body.** trafilatura's result E may be much smaller than the
page's own article body: the JSON-LD ``articleBody`` J (a paywall shows a teaser, the data
has the whole story) or the paragraphs of the main container A (``itemprop=articleBody`` or
the ``<article>`` with the most paragraph text; a long feature whose sections trafilatura
dropped). A candidate R replaces E when both hold:

- E is much smaller: ``words(E) < SMALLER_SHARE * words(R)``;
- E is a part of R: at least ``CONTAINED_SHARE`` of E's words occur in R (same article,
  not a summary or another story).

J is tried before A (the publisher's statement of the body; A may still hold chrome that the
selectors did not know). When E is empty, a J or A of at least ``MIN_OWN_BODY_WORDS`` words is
taken. ``body_source`` says which text was kept: ``trafilatura``, ``json-ld`` or ``article-element``.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass

from lxml.etree import XPath
from lxml.html import HtmlElement

MARK = "data-archive-chrome"
MARKED_XPATH = f"//*[@{MARK}]"
SPARE_SHARE = 0.5
MAX_LINK_SHARE = 0.5

SMALLER_SHARE = 0.6
CONTAINED_SHARE = 0.8
MIN_OWN_BODY_WORDS = 15

# A list of links to other stories (a <ul>/<ol>, or a block of cards): at least
# TEASER_LIST_MIN_ITEMS items, nearly all of which start with a link of TEASER_MIN_WORDS words
# or more (a headline). Never the article's prose.
TEASER_LISTS = XPath("//ul[count(li) >= 3] | //ol[count(li) >= 3] | //div[count(*) >= 3] | //section[count(*) >= 3]")
TEASER_LIST_MIN_ITEMS = 3
TEASER_LIST_SHARE = 0.75
TEASER_MIN_WORDS = 3

MAIN_CONTAINERS = XPath("//*[@itemprop='articleBody'] | //article")
BLOCKS = XPath(".//p | .//h2 | .//h3 | .//h4 | .//blockquote[not(.//p)]")
# Blocks under these are not article prose (captions, asides, forms, the article's header).
NOT_PROSE = frozenset({"figure", "figcaption", "aside", "nav", "form", "footer", "header", "script", "style", "noscript"})
_WORD = re.compile(r"\w+")


def words(text: str) -> Counter:
    return Counter(_WORD.findall(text.lower()))


def _text(element: HtmlElement) -> str:
    return " ".join(element.text_content().split())


def main_container(tree: HtmlElement) -> HtmlElement | None:
    """``itemprop=articleBody`` if there is one, else the ``<article>`` with the most paragraph words."""
    best, best_key = None, (-1, False)
    for element in MAIN_CONTAINERS(tree):
        if element.get("itemprop") == "articleBody":
            return element
        key = (sum(len(_text(p).split()) for p in element.iter("p")), bool(element.xpath(".//h1")))
        if key > best_key:  # most prose; on a tie (an empty template) the one with the headline
            best, best_key = element, key
    return best


@dataclass(frozen=True)
class ChromeSelectors:
    """What page chrome looks like: tags always, class/id words and roles unless skeleton."""

    tags: tuple[str, ...]
    class_or_id_words: tuple[str, ...]
    roles: tuple[str, ...]
    skeleton_tags: tuple[str, ...]
    skeleton_class_words: tuple[str, ...]

    def find(self, tree: HtmlElement) -> list[HtmlElement]:
        candidates, words, skeleton = _compiled(self)
        found = []
        for element in candidates(tree):
            if element.tag in self.tags:
                found.append(element)
                continue
            cls = element.get("class") or ""
            if element.tag in self.skeleton_tags or skeleton.search(cls):
                continue
            if words.search(cls) or words.search(element.get("id") or "") or element.get("role") in self.roles:
                found.append(element)
        return found


@functools.lru_cache(maxsize=8)
def _compiled(chrome: ChromeSelectors) -> tuple[XPath, re.Pattern, re.Pattern]:
    candidates = XPath(" | ".join(["//*[@class or @id or @role]", *(f"//{tag}" for tag in chrome.tags)]))
    words = re.compile("|".join(re.escape(w) for w in chrome.class_or_id_words))
    skeleton = re.compile("|".join(re.escape(w) for w in chrome.skeleton_class_words))
    return candidates, words, skeleton


def teaser_lists(tree: HtmlElement) -> list[HtmlElement]:
    """Lists and card blocks whose items open with a headline link (related, most read, latest)."""
    found = []
    for element in TEASER_LISTS(tree):
        items = [child for child in element if isinstance(child.tag, str) and child.tag not in ("h2", "h3", "h4", "script", "style")]
        if len(items) < TEASER_LIST_MIN_ITEMS:
            continue
        opening = sum(1 for li in items if _opens_with_headline_link(li))
        if opening >= TEASER_LIST_SHARE * len(items):
            found.append(element)
    return found


def _opens_with_headline_link(item: HtmlElement) -> bool:
    for link in item.iter("a"):
        before = (item.text or "").strip()
        return not before and len(_text(link).split()) >= TEASER_MIN_WORDS
    return False


def mark_chrome(tree: HtmlElement, chrome: ChromeSelectors, main: HtmlElement | None) -> tuple[int, int]:
    """Mark the chrome for pruning; spare matches that hold the article. -> (marked, spared)."""
    main_ancestors = set(main.iterancestors()) | {main} if main is not None else set()
    marked = spared = 0
    for element in teaser_lists(tree):  # structural: a link list is never the prose, unless it holds the article
        if element not in main_ancestors:
            element.set(MARK, "1")
            marked += 1
    matches = dict.fromkeys(chrome.find(tree))
    if not matches:
        return marked, 0
    total = sum(len(_text(p).split()) for p in tree.iter("p")) or 1
    for element in matches:
        holds = sum(len(_text(p).split()) for p in element.iter("p"))
        if element in main_ancestors or holds >= SPARE_SHARE * total:
            spared += 1
            continue
        element.set(MARK, "1")
        marked += 1
    return marked, spared


def container_paragraphs(container: HtmlElement | None) -> list[str]:
    """The prose blocks of the main container, without marked chrome, captions and asides."""
    if container is None:
        return []
    out: list[tuple[bool, str]] = []  # (is a heading, text)
    for block in BLOCKS(container):
        if block.get(MARK) or any(a.get(MARK) or a.tag in NOT_PROSE for a in block.iterancestors()):
            continue
        if any(child.tag in ("p", "h2", "h3", "h4") for child in block.iterdescendants()):
            continue  # an outer block: its inner ones are counted themselves
        text = _text(block)
        linked = sum(len(_text(a)) for a in block.iter("a"))
        if text and linked <= MAX_LINK_SHARE * len(text):  # a teaser link is not prose
            out.append((block.tag in ("h2", "h3", "h4"), text))
    # a subhead belongs to the prose after it: one followed by no paragraph heads a link list
    return [text for i, (heading, text) in enumerate(out)
            if not heading or (i + 1 < len(out) and not out[i + 1][0])]


def jsonld_paragraphs(value: object) -> list[str]:
    """A JSON-LD ``articleBody`` -> paragraphs (it may hold HTML or escaped breaks)."""
    if not isinstance(value, str) or not value.strip():
        return []
    text = re.sub(r"<br\s*/?>|</p>|\\n", "\n", value, flags=re.IGNORECASE)
    text = re.sub(r"<[^>]+>", " ", text)
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def choose_body(extracted: list[str], candidates: list[tuple[str, list[str]]]) -> tuple[list[str], str]:
    """trafilatura's paragraphs, or a candidate (source, paragraphs) by the module's rule."""
    mine = words(" ".join(extracted))
    mine_total = sum(mine.values())
    for source, paragraphs in candidates:
        theirs = words(" ".join(paragraphs))
        theirs_total = sum(theirs.values())
        if not theirs_total:
            continue
        if not mine_total:
            if theirs_total >= MIN_OWN_BODY_WORDS:
                return paragraphs, source
            continue
        contained = sum((mine & theirs).values()) / mine_total
        if mine_total < SMALLER_SHARE * theirs_total and contained >= CONTAINED_SHARE:
            return paragraphs, source
    return extracted, "trafilatura"
