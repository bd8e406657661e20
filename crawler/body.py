"""The article body: candidate texts of one page, and a scorer that chooses among them.

**Candidates.** One trafilatura run per page, on the page as served (the same text plain
``trafilatura.extract`` finds), gives the reference text T. The archive's own readings of the
same parsed tree are candidates beside it, never overrides:

- ``trafilatura-pruned``: T without the lines that sit in page chrome (captions, newsletter
  boxes, related links, share bars, footers: ``CHROME`` in ``extraction.py``, found in one pass
  over the tree, sparing a match that holds the article) or in link lists of other stories;
- ``json-ld``: the page's JSON-LD ``articleBody`` (a paywall shows a teaser, the data has it all);
- ``article-element``: the prose blocks of ``itemprop=articleBody`` or the main ``<article>``;
- ``readability``: the reading of trafilatura's bundled readability, which trafilatura makes
  on every page to compare with its own: kept as it is made (``readability_reading``), never
  run a second time.

**Missing prose.** trafilatura often skips a lead or standfirst kept in a box of its own. When
the readability reading holds nearly all of the chosen text, the prose paragraphs it has that the
chosen text lacks are put back where the reading has them (``with_missing_prose``; never a
caption, link or chrome line); the source then reads ``<chosen>+readability``.

**The scorer** (``Scorer``) gives each candidate a score from measurable features: its words,
how much of T it keeps and how much of it T holds (agreement), its share of link text and of
list items (sidebars, "most read" rails), and whether the page declares it as the article body.
A candidate that shares little with T, is much smaller than T or is mostly links or list items
loses to T: the archive's text is never far below the library's. The weights were fitted on one
shared benchmark set and checked on the other, in both directions (``benchmarks/fit_body_scorer.py``).

**Confidence** is how well the chosen text is backed: its agreement with an independent reading
of the page (another candidate) and its own link and list shares. It is stored with the article;
below ``extraction.low_confidence`` the article is listed by ``archive runs --low-confidence`` and
marked on its page.
"""

from __future__ import annotations

import contextlib
import functools
import re
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Iterator

from lxml.etree import XPath, iterwalk
from lxml.html import HtmlElement
from trafilatura import external as trafilatura_external

from crawler.text import bag, tokens, word_count

MARK = "data-archive-chrome"
MARKED = XPath(f"//*[@{MARK}]")
SPARE_SHARE = 0.5
MAX_LINK_SHARE = 0.5

MIN_OWN_BODY_WORDS = 15

# A list of links to other stories (a <ul>/<ol>, or a block of cards): at least
# TEASER_LIST_MIN_ITEMS items, nearly all of which start with a link of TEASER_MIN_WORDS words
# or more (a headline), or hold a heading that is such a link. Never the article's prose.
TEASER_LISTS = XPath("//ul[count(li) >= 3] | //ol[count(li) >= 3] | //div[count(*) >= 3] | //section[count(*) >= 3]")
TEASER_LIST_MIN_ITEMS = 3
TEASER_LIST_SHARE = 0.75
TEASER_MIN_WORDS = 3

LINKED_HEADLINES = XPath("//h2//a[@href] | //h3//a[@href] | //h4//a[@href] | //a[@href][.//h2 or .//h3 or .//h4]")
MAIN_CONTAINERS = XPath("//*[@itemprop='articleBody'] | //article")
BLOCKS = XPath(".//p | .//h2 | .//h3 | .//h4 | .//blockquote[not(.//p)]")
# Blocks under these are not article prose (captions, asides, forms, the article's header).
NOT_PROSE = frozenset({"figure", "figcaption", "aside", "nav", "form", "footer", "header", "script", "style", "noscript"})
_WORD = re.compile(r"\w+")


def words(text: str) -> Counter:
    return Counter(_WORD.findall(text.lower()))


def _text(element: HtmlElement) -> str:
    return " ".join(element.text_content().split())


def _prose(block: HtmlElement) -> str:
    """A block's text with a space where it breaks a line (``<br>``): text_content() glues the
    lines ("...Florida<br>June 10" -> "FloridaJune 10")."""
    parts = []
    for event, element in iterwalk(block, events=("start", "end")):
        if event == "start":
            if element.tag == "br":
                parts.append(" ")
            elif isinstance(element.tag, str) and element.text:
                parts.append(element.text)
        elif element is not block and element.tail:
            parts.append(element.tail)
    return " ".join("".join(parts).split())


def main_container(tree: HtmlElement) -> HtmlElement | None:
    """``itemprop=articleBody`` if there is one, else the ``<article>`` with the most paragraph words."""
    best, best_key = None, (-1, False)
    for element in MAIN_CONTAINERS(tree):
        if element.get("itemprop") == "articleBody":
            return element
        key = (sum(len(_text(p).split()) for p in element.iter("p")), any(True for _ in element.iter("h1")))
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
    """Lists and card blocks whose items open with a headline link, or hold a heading that is
    one (related, most read, latest, a stream of story cards)."""
    cards = _story_cards(tree)
    found = []
    for element in TEASER_LISTS(tree):
        items = [child for child in element if isinstance(child.tag, str) and child.tag not in ("h2", "h3", "h4", "script", "style")]
        if len(items) < TEASER_LIST_MIN_ITEMS:
            continue
        # most blocks of a page are not lists of links: stop at the first item too many that
        # opens with no headline
        allowed = (1 - TEASER_LIST_SHARE) * len(items)
        other = 0
        for item in items:
            if item not in cards and not _opens_with_headline_link(item):
                other += 1
                if other > allowed:
                    break
        else:
            found.append(element)
    return found


def _story_cards(tree: HtmlElement) -> set[HtmlElement]:
    """Elements holding exactly one heading whose text is a link of a headline's length: a story
    card (with an image link and a summary beside it). A column or a page holds several; an
    anchor beside a section heading ("¶", "edit") is no headline. One pass over the page."""
    holding: Counter = Counter()
    for link in LINKED_HEADLINES(tree):
        if len(_text(link).split()) >= TEASER_MIN_WORDS:
            holding.update(link.iterancestors())
    return {element for element, count in holding.items() if count == 1}


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
        text = _prose(block)
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


# --------------------------------------------------------------------------------------------
# What the page says about each line of a candidate text (one pass over the tree)
# --------------------------------------------------------------------------------------------

LINE_BLOCKS = ("p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "dd", "dt", "blockquote", "pre", "figcaption")
# A line of trafilatura's text may also be a link of its own (a headline in a card of <div>s).
LINE_ELEMENTS = (*LINE_BLOCKS, "a")


@dataclass(frozen=True)
class LineFacts:
    link_share: float   # share of the line's characters inside <a>
    list_item: bool     # an <li> (or directly in one)
    chrome: bool        # every occurrence on the page is inside marked chrome


class _Blocks:
    """The elements showing one text; the link share is measured only for looked-up lines."""

    __slots__ = ("elements", "list_item", "chrome", "_facts")

    def __init__(self, element: HtmlElement, list_item: bool, chrome: bool) -> None:
        self.elements, self.list_item, self.chrome, self._facts = [element], list_item, chrome, None

    def add(self, element: HtmlElement, list_item: bool, chrome: bool) -> None:
        # the same text twice: chrome (or a list item) only if it is everywhere
        self.elements.append(element)
        self.list_item = self.list_item and list_item
        self.chrome = self.chrome and chrome

    def anywhere_outside_prose(self) -> bool:
        """Some copy of the text sits in marked chrome or in a caption, aside, form or footer."""
        return any(e.get(MARK) or e.tag in NOT_PROSE or any(a.get(MARK) or a.tag in NOT_PROSE for a in e.iterancestors())
                   for e in self.elements)

    def facts(self) -> LineFacts:
        if self._facts is None:
            self._facts = LineFacts(min(_link_share(e) for e in self.elements), self.list_item, self.chrome)
        return self._facts


def line_facts(tree: HtmlElement) -> dict[str, _Blocks]:
    """Text of each block on the page (whitespace removed) -> its elements. Call after ``mark_chrome``."""
    chrome_blocks: set = set()
    facts: dict[str, _Blocks] = {}
    for marked in MARKED(tree):
        chrome_blocks.update(marked.iter(*LINE_ELEMENTS))
        text = _key(marked)
        if text:  # a chrome box whose lines are not in blocks of their own
            facts[text] = _Blocks(marked, False, True)
    for element in tree.iter(*LINE_ELEMENTS):
        text = _key(element)
        if not text:
            continue
        parent = element.getparent()
        list_item = element.tag == "li" or (parent is not None and parent.tag == "li")
        seen = facts.get(text)
        if seen is None:
            facts[text] = _Blocks(element, list_item, element in chrome_blocks)
        else:
            seen.add(element, list_item, element in chrome_blocks)
    return facts


def _key(element: HtmlElement) -> str:
    """A block's text without any whitespace: inline tags join words with or without a space,
    and trafilatura's line of the same block may differ in that."""
    return "".join(element.text_content().split())


def _link_share(element: HtmlElement) -> float:
    if element.tag == "a":
        return 1.0
    text = len(_key(element))
    linked = sum(len(_key(a)) for a in element.iter("a"))
    return min(linked / text, 1.0) if text else 0.0


def lookup(facts: dict[str, _Blocks], line: str) -> LineFacts | None:
    """The facts of a line of trafilatura's text (list items come out as "- item")."""
    found, listed = _blocks(facts, line)
    if found is None:
        return None
    fact = found.facts()
    return LineFacts(fact.link_share, True, fact.chrome) if listed else fact


def _blocks(facts: dict[str, _Blocks], line: str) -> tuple[_Blocks | None, bool]:
    """The page's blocks with this line's text, and whether the line is one of them as a list item."""
    found = facts.get("".join(line.split()))
    if found is None and line.startswith("- "):
        return facts.get("".join(line[2:].split())), True
    return found, False


# A paragraph of the article the chosen text left out, that another reading of the page holds:
# a lead or standfirst in a box of its own, which trafilatura often skips. Taken only when that
# reading holds nearly all of the chosen text (the same article, read by another extractor), and
# only prose: a sentence of MISSING_MIN_WORDS words or more, mostly words, not links, not in
# chrome or a caption, not already in the chosen text, never after its end, and in all at most
# MISSING_MAX_SHARE of its length.
MISSING_MIN_WORDS = 15
MISSING_COVER = 0.9
MISSING_NOVEL = 0.2
MISSING_MAX_LINKS = 0.3
MISSING_WORDY = 0.8
MISSING_MAX_SHARE = 0.25
_SENTENCE_END = re.compile(r"[.!?…。！？\"”’»]$")
_WORDY = re.compile(r"[^\W\d_]{2,}|[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")


def with_missing_prose(chosen: list[str], reading: list[str], facts: dict[str, _Blocks],
                       cover: float | None = None) -> list[str]:
    """The chosen paragraphs with the prose paragraphs they lack that ``reading`` has, each put
    after the paragraph it follows in the reading. ``cover``: the share of the chosen text's
    words the reading holds, if known already."""
    if not chosen or not reading or (cover is not None and cover < MISSING_COVER):
        return chosen
    have = "\n".join(_bare(line) for line in chosen)
    if not any(_is_prose(line) and _bare(line) not in have for line in reading):
        return chosen  # most pages: nothing to look at closer
    if cover is None:
        mine = bag(" ".join(chosen))
        cover = sum((mine & bag(" ".join(reading))).values()) / (sum(mine.values()) or 1)
    if cover < MISSING_COVER:
        return chosen
    where: dict[tuple[str, ...], int] = {}  # trigram -> the first chosen paragraph holding it
    for i, line in enumerate(chosen):
        for gram in _trigrams(line):
            where.setdefault(gram, i)
    after, missing = -1, []  # after: the chosen paragraph the reading has reached
    for line in reading:
        grams = _trigrams(line)
        found = [where[g] for g in grams if g in where]
        if found and len(found) >= 0.5 * len(grams):
            after = max(after, max(found))
        if len(found) > MISSING_NOVEL * len(grams) or not _is_prose(line):
            continue
        blocks, _ = _blocks(facts, line)
        if blocks is not None and (blocks.anywhere_outside_prose() or blocks.facts().link_share > MISSING_MAX_LINKS):
            continue
        if after < len(chosen) - 1:  # after the article's end come its comments, the author's bio, other stories
            missing.append((after, line))
    if not missing:
        return chosen
    out = [line for after, line in missing if after < 0]
    for i, paragraph in enumerate(chosen):
        out.append(paragraph)
        out.extend(line for after, line in missing if after == i)
    if word_count(" ".join(out)) > (1 + MISSING_MAX_SHARE) * word_count(" ".join(chosen)):
        return chosen  # this much more is another reading of the page, not a paragraph left out
    return out


def _bare(line: str) -> str:
    return "".join(line.removeprefix("- ").split())


def _trigrams(text: str) -> set[tuple[str, ...]]:
    words = tokens(text)
    return {tuple(words[i:i + 3]) for i in range(max(len(words) - 2, 1))} if words else set()


def _is_prose(line: str) -> bool:
    if len(line) < MISSING_MIN_WORDS or not _SENTENCE_END.search(line) or word_count(line) < MISSING_MIN_WORDS:
        return False
    parts = line.removeprefix("- ").split()
    return sum(1 for p in parts if _WORDY.search(p)) >= MISSING_WORDY * len(parts)


def without_chrome(paragraphs: list[str], facts: dict[str, _Blocks]) -> list[str]:
    """trafilatura's lines, less those the page shows only inside chrome."""
    kept = []
    for line in paragraphs:
        fact = lookup(facts, line)
        if fact is None or not fact.chrome:
            kept.append(line)
    return kept


def readability_paragraphs(summary: HtmlElement | None) -> list[str]:
    """The blocks of readability's summary (the copy bundled with trafilatura) of the article."""
    out = []
    for block in summary.iter(*LINE_BLOCKS) if summary is not None else ():
        if any(child.tag in LINE_BLOCKS for child in block.iterdescendants()):
            continue  # an outer block: its inner ones are taken themselves
        text = _prose(block)
        if text:
            out.append(f"- {text}" if block.tag == "li" else text)
    return out


# trafilatura compares its own text with readability's on every page (trafilatura.external's
# compare_extraction). Its readability reading is kept here as it is made, so the archive has an
# independent reading of every page without running readability a second time.
_readings = threading.local()


def _keeping_readings(try_readability):
    @functools.wraps(try_readability)
    def keeping(htmlinput):
        summary = try_readability(htmlinput)
        kept = getattr(_readings, "paragraphs", None)
        if kept is not None and not kept:  # the first reading: the page as served
            kept.append(readability_paragraphs(summary))  # now: trafilatura may rewrite the summary later
        return summary
    keeping.keeps_readings = True
    return keeping


if not getattr(trafilatura_external.try_readability, "keeps_readings", False):
    trafilatura_external.try_readability = _keeping_readings(trafilatura_external.try_readability)


@contextlib.contextmanager
def readability_reading() -> Iterator[list[list[str]]]:
    """Around one trafilatura run: yields a list that holds readability's paragraphs afterwards
    (empty when trafilatura did not consult readability)."""
    _readings.paragraphs = kept = []
    try:
        yield kept
    finally:
        _readings.paragraphs = None


TEASER_LINK_SHARE = 0.2
TEASER_ITEM_SHARE = 0.5


def teasers_only(paragraphs: list[str], facts: dict[str, _Blocks]) -> bool:
    """Every line is in chrome and they read as teasers (linked headlines, list items): the
    related stories of an empty page, not an article."""
    chars = links = items = 0.0
    for line in paragraphs:
        fact = lookup(facts, line)
        if fact is None or not fact.chrome:
            return False
        chars += len(line)
        links += fact.link_share * len(line)
        items += fact.list_item * len(line)
    return bool(chars) and (links >= TEASER_LINK_SHARE * chars or items >= TEASER_ITEM_SHARE * chars)
