"""HTML page -> article record, or a named rejection.

One ``ArticleExtractor`` is built per crawl from ``ExtractionSettings``; ``extract(html, url)``
returns an ``ExtractedArticle`` or raises ``Rejected(reason, detail)``. It has no side effects
and both are picklable, so it can run in worker processes. The parsed page is first made plain
where trafilatura would lose words a browser shows or their paragraphs (formulas without LaTeX
source, custom elements, layout tables: ``crawler/markup.py``). trafilatura reads the page once (the
text plain trafilatura finds, and readability's reading made on the way); its metadata functions
are called once for what the archive uses (``crawler/metadata.py``); the body is chosen among that
text and the other readings of the same parsed tree (``crawler/body.py``, ``crawler/scoring.py``); dates,
tags, section and language are read from the page's own structured data first (JSON-LD,
``article:*`` metas), which is more reliable than heuristics. Dates: ``crawler/dates.py`` (the
order of sources, plausibility). Short pages: ``crawler/signals.py`` (brief or stub).

Selectors and boilerplate patterns are kept as data at the top of the module (like
trafilatura's ``xpaths.py``); ``benchmarks/extraction_f1.py`` measures their effect.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import logging
import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import urljoin, urlsplit

import trafilatura
from lxml.etree import Element, XPath
from lxml.html import HtmlElement
from trafilatura.settings import Extractor, use_config
from trafilatura.utils import language_classifier, load_html

from archive.config import ExtractionSettings
from archive.text import clean_text, clean_values, is_clean
from crawler import body as bodies
from crawler import dates, markup, scoring
from crawler.metadata import guessed_date, page_metadata
from crawler.rejections import Reason, Rejected
from crawler.signals import ArticleSignals, short_article_verdict
from crawler.text import word_count

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------
# Selectors and patterns, as data
# --------------------------------------------------------------------------------------------

# Page chrome trafilatura sometimes lets through: its lines make the "trafilatura-pruned"
# candidate (crawler/body.py finds it in one pass over the tree and spares a match that holds
# the article; crawler/scoring.py keeps trafilatura's text when the pruning misfires).
CHROME = bodies.ChromeSelectors(
    tags=("figcaption", "footer"),
    class_or_id_words=(
        "caption", "photo-credit", "image-credit", "wp-caption-text",
        "newsletter", "subscribe", "signup", "sign-up", "paywall",
        "related", "recommended", "more-stories", "read-more", "readmore", "teaser",
        "comments", "comment-list", "disqus",
        "social", "share-", "sharing", "follow-us",
    ),
    roles=("contentinfo", "complementary"),
    # Never the document skeleton or an article container, even when its class mentions
    # "comments" or "read-more" ("entry-content entry-content-read-more" holds a whole article).
    skeleton_tags=("html", "body", "main", "article"),
    skeleton_class_words=("content", "entry", "article-body", "story-body", "post-body"),
)

# Whole lines of boilerplate that survive pruning (compared case-insensitively, whole line).
BOILERPLATE_LINES: tuple[str, ...] = (
    r"continue reading\.?",
    r"breaking banner",
    r"connect with us",
    r"report typos and corrections to:?.*",
    r"(related|recommended|more) (stories|articles|coverage|news|reading)( from .*)?:?",
    r"read more:?",
    # one-line teasers to other stories ("Read more: Tencent profit falls...")
    r"(read more|read also|also read|related|see also|more on this|recommended|watch):\s.{0,200}",
    r"like this story\?.*",
    r"filed under:.{0,200}",
    r"(©|\(c\)|copyright\b).{0,200}",
    r"advertisement",
    r"(sign up|subscribe) (for|to) (our|the) .{0,40}newsletter.*",
    r"(share|follow us) on (facebook|twitter|x|linkedin).*",
    r"(photo|image|picture) credit:.*",
)
# A short line with a copyright sign is a photo credit ("photos © Inexhibit, 2018").
CREDIT_MAX_WORDS = 25
_BOILERPLATE_RE = re.compile("|".join(f"(?:{p})" for p in BOILERPLATE_LINES), re.IGNORECASE)

# schema.org types of an article, and of pages that list articles.
ARTICLE_TYPES = frozenset({
    "article", "newsarticle", "blogposting", "reportagenewsarticle", "analysisnewsarticle",
    "opinionnewsarticle", "reviewnewsarticle", "backgroundnewsarticle", "liveblogposting",
    "techarticle", "scholarlyarticle", "report", "socialmediaposting", "posting",
})
LISTING_TYPES = frozenset({"collectionpage", "itemlist", "searchresultspage", "website", "sitenavigationelement"})
OG_ARTICLE_TYPES = frozenset({"article", "news", "newsarticle", "blog", "blogpost", "post"})

# A teaser: a heading that is a link, or one <article> element among many.
TEASER_XPATH = "//h2[.//a[@href]] | //h3[.//a[@href]] | //h4[.//a[@href]]"
_LOCAL_TEASER_XPATH = "." + TEASER_XPATH.replace("| //", "| .//")
MIN_TEASERS_FOR_LISTING = 5
# On a listing page the longest "paragraph" is a teaser summary, not article prose, and the
# teasers' headlines make a good part of the main text.
LISTING_MAX_PARAGRAPH_WORDS = 40
LISTING_HEADLINE_SHARE = 0.25

# (xpath, source name): where publication/modification dates are read, most reliable first
# (after JSON-LD, which is parsed separately).
PUBLISHED_META: tuple[tuple[str, str], ...] = (
    ("//meta[@property='article:published_time']/@content", "meta:article:published_time"),
    ("//meta[@property='og:article:published_time']/@content", "meta:article:published_time"),
    ("//meta[@itemprop='datePublished']/@content", "meta:itemprop:datePublished"),
    ("//meta[@name='pubdate' or @name='publishdate' or @name='publish-date']/@content", "meta:pubdate"),
    ("//meta[@name='parsely-pub-date']/@content", "meta:parsely-pub-date"),
    ("//meta[@name='dc.date.issued' or @name='DC.date.issued']/@content", "meta:dc.date.issued"),
)
PUBLISHED_TIME: tuple[tuple[str, str], ...] = (
    ("//time[@itemprop='datePublished']/@datetime | //*[@itemprop='datePublished']/@datetime", "time-element"),
    ("//time[@pubdate]/@datetime", "time-element"),
    ("//time[contains(@class, 'publish') or contains(@class, 'pubdate')]/@datetime", "time-element"),
)
MODIFIED_META: tuple[tuple[str, str], ...] = (
    ("//meta[@property='article:modified_time']/@content", "meta:article:modified_time"),
    ("//meta[@property='og:updated_time']/@content", "meta:og:updated_time"),
    ("//meta[@itemprop='dateModified']/@content", "meta:itemprop:dateModified"),
)
MODIFIED_TIME: tuple[tuple[str, str], ...] = (
    ("//time[@itemprop='dateModified']/@datetime | //*[@itemprop='dateModified']/@datetime", "time-element"),
    ("//time[contains(@class, 'updated') or contains(@class, 'modified')]/@datetime", "time-element"),
)
# Every element the XPaths above read (their values are attributes).
DATED_XPATH = "//meta | //time | //*[@itemprop='datePublished' or @itemprop='dateModified']"
# A dateline in the visible page ("November 19, 2019, 07:47 PM EST"), read when the sources
# above give nothing plausible; the first DATELINE_MAX_ELEMENTS elements, page chrome excluded.
DATELINE_XPATH = (
    "//time[not(ancestor::*[@data-archive-chrome])]"
    " | //*[@itemprop='datePublished'][not(@content)][not(@datetime)]"
    " | //*[self::span or self::div or self::p or self::li or self::small]"
    "[contains(@class, 'date') or contains(@class, 'published') or contains(@class, 'posted')"
    " or contains(@class, 'timestamp') or contains(@class, 'dateline') or contains(@class, 'byline')]"
    "[not(ancestor::*[@data-archive-chrome])]"
)
DATELINE_MAX_ELEMENTS = 12
DATELINE_MAX_CHARS = 200

BYLINE_SEARCH_PARAGRAPHS = 3
BYLINE_MAX_WORDS = 16
_BYLINE_PREFIX = re.compile(r"^\s*(by|von|par|por|di|door)\s+", re.IGNORECASE)
_WORD = re.compile(r"\w+")
_LANG = re.compile(r"^([a-z]{2})(?:[-_][a-z0-9]+)*$", re.IGNORECASE)
# Below this many words, an undated page that declares no article may be a static page: it is
# kept with its confidence at this share of extraction.low_confidence.
UNDATED_PAGE_MAX_WORDS = 300
UNDECLARED_CONFIDENCE_SHARE = 0.5


# --------------------------------------------------------------------------------------------
# The record
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ExtractedArticle:
    canonical_url: str
    title: str
    body: str                       # plain text, paragraphs separated by blank lines
    authors: list[str] = field(default_factory=list)
    published: str | None = None    # ISO 8601; None when the page gives no date (never the crawl date)
    published_source: str | None = None
    modified: str | None = None
    modified_source: str | None = None
    tags: list[str] = field(default_factory=list)
    section: str | None = None
    language: str | None = None     # two-letter code
    description: str | None = None
    image: str | None = None
    word_count: int = 0             # words of the whole article, also when body is truncated
    content_hash: str = ""          # sha256 of normalised title + whole body
    body_truncated: bool = False    # body cut to max_body_bytes on a UTF-8 boundary
    short: bool = False             # fewer than min_words: a brief kept for its article signals
    body_source: str = "trafilatura"  # trafilatura | trafilatura-pruned | json-ld | article-element | readability,
                                      # with "+readability" when paragraphs it lacked were added from that reading
    confidence: float | None = None   # how well the chosen text is backed (crawler/scoring.py)
    body_candidates: dict[str, int] = field(default_factory=dict)  # words of each candidate, by source

    @property
    def hostname(self) -> str | None:
        return urlsplit(self.canonical_url).hostname

    def to_document(self) -> dict[str, Any]:
        """The fields of search/definitions/articles.json this step knows about."""
        return {
            "url": self.canonical_url,
            "hostname": self.hostname,
            "title": self.title,
            "authors": list(self.authors),
            "published": self.published,
            "published_source": self.published_source,
            "modified": self.modified,
            "modified_source": self.modified_source,
            "tags": list(self.tags),
            "section": self.section,
            "language": self.language,
            "description": self.description,
            "image": self.image,
            "body": self.body,
            "body_truncated": self.body_truncated,
            "word_count": self.word_count,
            "content_hash": self.content_hash,
            "short": self.short,
            "body_source": self.body_source,
            "confidence": self.confidence,
            "body_candidates": dict(self.body_candidates),
        }


# --------------------------------------------------------------------------------------------
# The extractor
# --------------------------------------------------------------------------------------------

class ArticleExtractor:
    """One configured trafilatura extractor; build once, call ``extract`` per page."""

    def __init__(self, settings: ExtractionSettings | None = None) -> None:
        self.settings = settings or ExtractionSettings()
        config = use_config()  # a private copy: never mutate trafilatura's module default
        config.set("DEFAULT", "EXTENSIVE_DATE_SEARCH", "off")
        self._options = Extractor(
            config=config,
            output_format="python",
            precision=self.settings.favor_precision,
            comments=self.settings.include_comments,
            tables=self.settings.include_tables,
            formatting=False,
            links=False,
            images=False,
            dedup=False,              # dedup is the pipeline's job, by canonical URL and content hash
            with_metadata=False,      # crawler/metadata.py reads what the archive uses, once
        )
        self.chrome = CHROME

    def _options_for(self, url: str) -> Extractor:
        options = copy.copy(self._options)  # per call: the url differs
        options.url = options.source = url
        return options

    # ---------------------------------------------------------------------------------------

    def extract(self, html: str | bytes, url: str) -> ExtractedArticle:
        """Extract the article of one page, or raise ``Rejected`` saying why not."""
        try:
            return cleaned(self._extract(html, url))
        except Rejected:
            raise
        except Exception as exc:  # a bug or pathological HTML must not stop the crawl
            log.exception("extraction failed for %s", url)
            raise Rejected(Reason.EXTRACTION_ERROR, f"{type(exc).__name__}: {exc}") from exc

    def _extract(self, html: str | bytes, url: str) -> ExtractedArticle:
        if not html or not (html.strip() if isinstance(html, (str, bytes)) else True):
            raise Rejected(Reason.NOT_ARTICLE, "empty page")
        tree = _parsed(html)
        if tree is None:
            raise Rejected(Reason.NOT_ARTICLE, "not parseable as HTML")

        structured = _StructuredData(tree)
        main = bodies.main_container(tree)
        # A container whose heading links elsewhere is a teaser (a tag page with one story),
        # not a brief.
        main_is_teaser = main is not None and bool(_xpath(_LOCAL_TEASER_XPATH)(main))
        bodies.mark_chrome(tree, self.chrome, main)
        facts = bodies.line_facts(tree)
        # The page as served: trafilatura's text here is plain trafilatura's (it copies the tree).
        doc, read = self._trafilatura(tree, url)
        if doc is None and not structured.articles and main is None:
            raise Rejected(Reason.NOT_ARTICLE, "no article body found")
        meta = page_metadata(tree, url)
        title = _clean(meta.title) or structured.headline

        candidates = self._candidates(structured, main, facts, doc.text if doc else "", title, read)
        choice = scoring.choose(scoring.describe(candidates, facts))
        paragraphs = choice.paragraphs
        source = choice.source
        chosen = next(c for c in candidates if c.source == source)
        reading = next((c for c in candidates if c.source == "readability"), None)
        if reading is not None and reading is not chosen:
            # the share of trafilatura's words the reading holds is known already (scoring.describe)
            cover = reading.features.kept if chosen is candidates[0] else None
            completed = bodies.with_missing_prose(paragraphs, reading.paragraphs, facts, cover)
            if len(completed) > len(paragraphs):
                paragraphs, source = completed, f"{source}+readability"
        if not paragraphs:
            raise Rejected(Reason.NOT_ARTICLE, "only boilerplate found" if doc and (doc.text or "").strip()
                           else "no article body found")
        if structured.is_listing(paragraphs) or structured.looks_like_teasers(paragraphs):
            raise Rejected(Reason.NOT_ARTICLE, structured.listing_detail)

        authors = split_authors(meta.author) or structured.authors()
        paragraphs = drop_byline(paragraphs, authors)
        if not paragraphs:
            raise Rejected(Reason.NOT_ARTICLE, "only a byline found")
        body = "\n\n".join(paragraphs)
        words = word_count(body)
        now = datetime.now(timezone.utc)
        published = dates.choose(structured.published_candidates(url, lambda: guessed_date(tree, meta.url)), now)
        modified = dates.choose(structured.modified_candidates(), now)

        confidence = choice.confidence
        if published is None and main is None and not structured.has_article_signal() and words < UNDATED_PAGE_MAX_WORDS:
            # Nothing says it is a report, and it is short: an about page, or an article on a site
            # that marks nothing up. Kept (a stored static page costs little, a lost article a
            # lot), with its confidence held low so `archive runs --low-confidence` lists it.
            confidence = min(confidence, round(self.settings.low_confidence * UNDECLARED_CONFIDENCE_SHARE, 3))
        short = words < self.settings.min_words
        if short and not self.settings.keep_short_articles:
            raise Rejected(Reason.TOO_SHORT, f"{words} words (minimum {self.settings.min_words})")
        if short:
            signals = structured.signals(title, main, paragraphs, published, main_is_teaser=main_is_teaser)
            keep, why = short_article_verdict(paragraphs, signals)
            if not keep:
                raise Rejected(Reason.TOO_SHORT, f"{words} words (minimum {self.settings.min_words}; "
                                                 f"kept shorter only as a brief: {why})")

        if not title:
            raise Rejected(Reason.NO_TITLE, "no <title>, og:title, headline or <h1>")

        stored, truncated = truncate_utf8(body, self.settings.max_body_bytes)
        return ExtractedArticle(
            canonical_url=canonical_url(meta.url or structured.canonical(), url),
            title=title,
            body=stored,
            authors=authors,
            published=published.iso() if published else None,
            published_source=published.source if published else None,
            modified=modified.iso() if modified else None,
            modified_source=modified.source if modified else None,
            tags=_dedupe([*(meta.tags or []), *structured.tags(), *(meta.categories or [])]),
            section=structured.section() or _first(meta.categories),
            language=structured.language() or _lang_code(meta.language) or detect_language(body),
            description=_clean(meta.description) or structured.description(),
            image=_http_url(meta.image, url),
            word_count=words,
            content_hash=content_hash(title, body),
            body_truncated=truncated,
            short=short,
            body_source=source,
            confidence=confidence,
            body_candidates=choice.lengths,
        )

    def _trafilatura(self, tree: HtmlElement, url: str) -> tuple[Any, list[str]]:
        """One trafilatura run on the page as served: its document (text and metadata) and the
        paragraphs of the readability reading it made on the way (crawler/body.py)."""
        with bodies.readability_reading() as readings:
            doc = trafilatura.bare_extraction(tree, options=self._options_for(url))
        return doc, readings[0] if readings else []

    def _candidates(self, structured: "_StructuredData", main: HtmlElement | None, facts: dict, text: str,
                    title: str | None, read: list[str]) -> list[scoring.Candidate]:
        """trafilatura's text first (the reference), then the other readings of the same tree."""
        reference = clean_paragraphs(text, title) if text else []
        candidates = [scoring.Candidate("trafilatura", reference)]
        pruned = bodies.without_chrome(reference, facts)
        if pruned != reference:
            candidates.append(scoring.Candidate("trafilatura-pruned", pruned))
            if not pruned and bodies.teasers_only(reference, facts):
                candidates[0] = scoring.Candidate("trafilatura", [])  # related stories around an empty template
        for source, paragraphs in (
            ("json-ld", bodies.jsonld_paragraphs(structured.article_body())),
            ("article-element", bodies.container_paragraphs(main)),
            ("readability", read),
        ):
            cleaned = clean_paragraphs("\n".join(paragraphs), title)
            if cleaned and cleaned != reference:
                candidates.append(scoring.Candidate(source, cleaned))
        return candidates

    def body_candidates(self, html: str | bytes, url: str) -> tuple[list[scoring.Candidate], dict]:
        """Every candidate text of a page with the page's line facts: what
        benchmarks/fit_body_scorer.py fits the scorer's weights on."""
        tree = _parsed(html)
        structured = _StructuredData(tree)
        main = bodies.main_container(tree)
        bodies.mark_chrome(tree, self.chrome, main)
        facts = bodies.line_facts(tree)
        doc, read = self._trafilatura(tree, url)
        title = _clean(page_metadata(tree, url).title) or structured.headline
        return self._candidates(structured, main, facts, doc.text if doc else "", title, read), facts


def _parsed(html: str | bytes) -> HtmlElement | None:
    """The page's tree as every reading of it sees it: made plain where trafilatura would lose
    words (crawler/markup.py)."""
    tree = load_html(html)
    return None if tree is None else markup.as_rendered(tree)


def cleaned(article: ExtractedArticle) -> ExtractedArticle:
    """The article without control characters or non-characters in any text, whichever source
    gave it (trafilatura, JSON-LD, metas): they would make the Atom feed unreadable and have no
    meaning in a news text (archive/text.py)."""
    title = clean_text(article.title)
    if not title or not title.strip():
        raise Rejected(Reason.NO_TITLE, "the title is only control characters")
    body = clean_text(article.body)
    if (title, body) == (article.title, article.body) and all(is_clean(v) for v in (article.description, article.section,
                                                                          *article.authors, *article.tags)):
        return article
    return replace(
        article,
        title=title,
        body=body,
        description=clean_text(article.description),
        section=clean_text(article.section) or None,
        authors=clean_values(article.authors),
        tags=clean_values(article.tags),
        content_hash=content_hash(title, body),
    )


# --------------------------------------------------------------------------------------------
# Structured data read with lxml: JSON-LD and metas
# --------------------------------------------------------------------------------------------

class _StructuredData:
    def __init__(self, tree: HtmlElement) -> None:
        self.tree = tree
        self.jsonld = list(_jsonld_objects(tree))
        self.types = {t.lower() for obj in self.jsonld for t in _as_list(obj.get("@type")) if isinstance(t, str)}
        self.articles = [
            o for o in self.jsonld
            if any(isinstance(t, str) and t.lower() in ARTICLE_TYPES for t in _as_list(o.get("@type")))
        ]
        self.og_type = (_first(_xpath("//meta[@property='og:type']/@content")(tree)) or "").strip().lower()
        self.listing_detail = ""
        # Counted now, on the page as served: extraction prunes the tree in place afterwards.
        elements = _xpath("//article")(tree)
        headings = _xpath(TEASER_XPATH)(tree)
        self._teasers = max(len(headings), len(elements))
        self._teaser_headlines = {" ".join(h.text_content().split()) for h in headings}
        self._article_teasers = (
            len(elements) if len(elements) >= 2 and all(_xpath(_LOCAL_TEASER_XPATH)(e) for e in elements) else 0
        )

    # --- page type ---------------------------------------------------------------------------

    def has_article_signal(self) -> bool:
        return bool(
            self.articles
            or self.og_type in OG_ARTICLE_TYPES
            or _xpath("//meta[@property='article:published_time']")(self.tree)
        )

    def teaser_count(self) -> int:
        return self._teasers

    def is_listing(self, paragraphs: list[str]) -> bool:
        """A section, tag, search or home page: the page says so, is full of teasers, and its
        main text is teasers too. Every news page has teaser rails beside its article (and many
        say og:type website): a page whose body is prose, not the teasers' headlines, is an article."""
        if self.has_article_signal():
            return False
        listing_types = self.types & LISTING_TYPES - {"website"}
        declared = (f"JSON-LD {sorted(listing_types)[0]}" if listing_types
                    else "og:type website" if self.og_type == "website" else None)
        teasers = self.teaser_count()
        if not declared or teasers < MIN_TEASERS_FOR_LISTING:
            return False
        longest = max(word_count(p) for p in paragraphs)
        headlines = sum(1 for p in paragraphs if " ".join(p.split()) in self._teaser_headlines)
        if longest < LISTING_MAX_PARAGRAPH_WORDS or headlines >= LISTING_HEADLINE_SHARE * len(paragraphs):
            self.listing_detail = (f"listing page ({declared}, {teasers} teasers; main text: {headlines} of "
                                   f"{len(paragraphs)} lines are teaser headlines, longest paragraph {longest} words)")
            return True
        return False

    def looks_like_teasers(self, paragraphs: list[str]) -> bool:
        """No page type at all, many teasers, and no paragraph of article prose."""
        if self.has_article_signal():
            return False
        teasers = self.teaser_count()
        # Every <article> element a teaser (a linked heading), however long its summary: a
        # section or tag page, even with few stories (an article's own <article> has its body).
        if self._article_teasers:
            self.listing_detail = f"listing page ({self._article_teasers} <article> teasers, no article markup)"
            return True
        if teasers >= MIN_TEASERS_FOR_LISTING and (longest := max(word_count(p) for p in paragraphs)) < LISTING_MAX_PARAGRAPH_WORDS:
            self.listing_detail = f"listing page ({teasers} teasers, longest paragraph {longest} words)"
            return True
        return False

    # --- fields ------------------------------------------------------------------------------

    def _article_values(self, key: str) -> Iterator[Any]:
        for obj in self.articles or self.jsonld:
            if key in obj:
                yield obj[key]

    @property
    def headline(self) -> str | None:
        for value in self._article_values("headline"):
            if isinstance(value, str) and value.strip():
                return _clean(value)
        return None

    @functools.cached_property
    def _dated(self) -> HtmlElement:
        """The page's metas, ``<time>`` elements and itemprop dates, copied without their
        children into a small document: each date source's XPath then walks a few dozen elements
        instead of the whole page (one walk instead of one per source)."""
        root = Element("html")
        for element in _xpath(DATED_XPATH)(self.tree):
            clone = copy.copy(element)  # its attributes as the HTML parser read them
            clone[:], clone.text, clone.tail = [], None, None
            root.append(clone)
        return root

    def _date_candidates(self, jsonld_key: str, metas, times) -> Iterator[dates.Candidate]:
        """Every date the structured sources state, in crawler/dates.py's order of trust."""
        for value in self._article_values(jsonld_key):
            for v in _as_list(value):
                if isinstance(v, str) and (parsed := dates.parse_date(v)):
                    yield dates.Candidate(parsed, "json-ld")
        for xpath, source in (*metas, *times):
            for v in _xpath(xpath)(self._dated):
                if parsed := dates.parse_date(str(v)):
                    yield dates.Candidate(parsed, source)

    def published_candidates(self, url: str, guess: Callable[[], str | None]) -> Iterator[dates.Candidate]:
        """The page's dates in order of trust; ``guess`` (htmldate's, the last resort) is only
        called when every other source failed to convince ``dates.choose``."""
        yield from self._date_candidates("datePublished", PUBLISHED_META, PUBLISHED_TIME)
        if from_url := dates.url_date(urlsplit(url).path):
            yield dates.Candidate(from_url, "url")
        for element in _xpath(DATELINE_XPATH)(self.tree)[:DATELINE_MAX_ELEMENTS]:
            text = " ".join(element.text_content().split())[:DATELINE_MAX_CHARS]
            if parsed := dates.find_in_text(text):
                yield dates.Candidate(parsed, "text")
        if (guessed := guess()) and (parsed := self._trafilatura_date(guessed)):
            yield dates.Candidate(parsed, "trafilatura")

    def modified_candidates(self) -> Iterator[dates.Candidate]:
        return self._date_candidates("dateModified", MODIFIED_META, MODIFIED_TIME)

    def _trafilatura_date(self, value: str) -> date | datetime | None:
        """htmldate's date, unless it is only a guess from a copyright year ("2024-01-01")."""
        if value.endswith("-01-01"):
            from htmldate import find_date

            if find_date(self.tree, extensive_search=False, original_date=True) != value:
                return None
        return dates.parse_date(value)

    def article_body(self) -> str | None:
        """The JSON-LD ``articleBody`` of the article (the longest, if several)."""
        bodies_found = [v for obj in self.articles for v in _as_list(obj.get("articleBody")) if isinstance(v, str)]
        return max(bodies_found, key=len) if bodies_found else None

    def signals(self, title: str | None, main: HtmlElement | None, paragraphs: list[str],
                published: dates.Candidate | None, main_is_teaser: bool = False) -> ArticleSignals:
        """What the page says about itself (crawler/signals.py decides what a short page is)."""
        container = " ".join(main.text_content().split()) if main is not None else ""
        return ArticleSignals(
            json_ld_article=bool(self.articles),
            og_article=self.og_type in OG_ARTICLE_TYPES,
            dated=published is not None and published.source not in ("url", "trafilatura"),
            article_element=(not main_is_teaser and bool(container)
                             and all(p[:60] in container for p in paragraphs[:3])),
            headline=bool(title),
        )

    def canonical(self) -> str | None:
        return _first(_xpath("//link[@rel='canonical']/@href")(self.tree)) or _first(
            _xpath("//meta[@property='og:url']/@content")(self.tree))

    def description(self) -> str | None:
        return _clean(_first(_xpath("//meta[@name='description']/@content | //meta[@property='og:description']/@content")(self.tree)))

    def tags(self) -> list[str]:
        tags = [str(t) for t in _xpath("//meta[@property='article:tag']/@content")(self.tree)]
        for value in self._article_values("keywords"):
            for v in _as_list(value):
                if isinstance(v, str):
                    tags.extend(v.split(",") if "," in v else [v])
        return [t.strip() for t in tags if t.strip()]

    def section(self) -> str | None:
        meta = _first(_xpath("//meta[@property='article:section']/@content")(self.tree))
        if meta and meta.strip():
            return meta.strip()
        for value in self._article_values("articleSection"):
            for v in _as_list(value):
                if isinstance(v, str) and v.strip():
                    return v.strip()
        return None

    def authors(self) -> list[str]:
        names = []
        for value in self._article_values("author"):
            for v in _as_list(value):
                name = v.get("name") if isinstance(v, dict) else v
                if isinstance(name, str):
                    names.append(name)
        return split_authors("; ".join(names))

    def language(self) -> str | None:
        candidates = [
            *_xpath("/html/@lang")(self.tree),
            *self.tree.xpath("/html/@xml:lang", namespaces={"xml": "http://www.w3.org/XML/1998/namespace"}),
            *_xpath("//meta[translate(@http-equiv, 'CONTENT-LAGU', 'content-lagu')='content-language']/@content")(self.tree),
            *_xpath("//meta[@property='og:locale']/@content")(self.tree),
            *[v for v in self._article_values("inLanguage") if isinstance(v, str)],
        ]
        for value in candidates:
            if code := _lang_code(str(value)):
                return code
        return None


@functools.lru_cache(maxsize=None)
def _xpath(expression: str) -> XPath:
    """A compiled XPath: ``tree.xpath(string)`` compiles the expression on every call, which
    costs more than evaluating it on most pages."""
    return XPath(expression)


def detect_language(text: str) -> str | None:
    """The body's language (py3langid, through trafilatura), for pages that declare none."""
    return _lang_code(language_classifier(text[:10_000], ""))


def _jsonld_objects(tree: HtmlElement) -> Iterator[dict]:
    for script in _xpath("//script[@type='application/ld+json']")(tree):
        try:
            data = json.loads(script.text_content() or "", strict=False)
        except ValueError:
            continue
        yield from _walk_jsonld(data)


def _walk_jsonld(data: Any, depth: int = 0) -> Iterator[dict]:
    if depth > 4:
        return
    if isinstance(data, list):
        for item in data:
            yield from _walk_jsonld(item, depth + 1)
    elif isinstance(data, dict):
        yield data
        if "@graph" in data:
            yield from _walk_jsonld(data["@graph"], depth + 1)
        if isinstance(data.get("mainEntity"), (dict, list)):
            yield from _walk_jsonld(data["mainEntity"], depth + 1)


# --------------------------------------------------------------------------------------------
# Small pure helpers (unit-testable)
# --------------------------------------------------------------------------------------------

def clean_paragraphs(text: str, title: str | None = None) -> list[str]:
    """trafilatura's text -> paragraphs, without empty lines, known boilerplate lines, photo
    credits (short lines with a ©) and a leading repetition of the headline."""
    paragraphs = []
    for line in text.splitlines():
        line = " ".join(line.split())
        if not line or _BOILERPLATE_RE.fullmatch(line):
            continue
        if "©" in line and len(line.split()) <= CREDIT_MAX_WORDS:
            continue
        paragraphs.append(line)
    if title and paragraphs and paragraphs[0].casefold() == " ".join(title.split()).casefold():
        paragraphs.pop(0)
    return paragraphs


def drop_byline(paragraphs: list[str], authors: list[str]) -> list[str]:
    """Drop a "By Jane Doe" line among the first paragraphs: it is in ``authors`` already."""
    names = [a.casefold() for a in authors]
    for i, line in enumerate(paragraphs[:BYLINE_SEARCH_PARAGRAPHS]):
        if (
            len(line.split()) <= BYLINE_MAX_WORDS
            and _BYLINE_PREFIX.match(line)
            and any(name in line.casefold() for name in names)
        ):
            return paragraphs[:i] + paragraphs[i + 1 :]
    return paragraphs


def split_authors(value: str | None) -> list[str]:
    """trafilatura's "A; B" (or "By A and B") -> ["A", "B"]."""
    if not value:
        return []
    names = []
    for part in re.split(r";|\s+and\s+|\s*&\s*", value):
        part = _BYLINE_PREFIX.sub("", part).strip(" ,")
        if part:
            names.append(part)
    return _dedupe(names)


def truncate_utf8(text: str, max_bytes: int) -> tuple[str, bool]:
    """Cut text to at most max_bytes of UTF-8, never inside a character."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text, False
    return data[:max_bytes].decode("utf-8", errors="ignore"), True


def content_hash(title: str, body: str) -> str:
    normalised = unicodedata.normalize("NFC", f"{title}\n{body}").casefold()
    normalised = " ".join(normalised.split())
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def canonical_url(candidate: str | None, url: str) -> str:
    """The page's canonical URL when it is a plausible http(s) URL, else the fetched URL."""
    resolved = _http_url(candidate, url)
    if not resolved:
        return url
    # A canonical pointing at the home page (a common CMS bug) would merge every article.
    if urlsplit(resolved).path in ("", "/") and urlsplit(url).path not in ("", "/"):
        return url
    return resolved


def _http_url(candidate: str | None, base: str) -> str | None:
    if not candidate or not candidate.strip():
        return None
    resolved = urljoin(base, candidate.strip())
    parts = urlsplit(resolved)
    return resolved if parts.scheme in ("http", "https") and parts.hostname else None


def _lang_code(value: str | None) -> str | None:
    if not value:
        return None
    match = _LANG.match(value.strip())
    return match.group(1).lower() if match else None


def _clean(value: str | None) -> str | None:
    if not value:
        return None
    value = " ".join(value.split())
    return value or None


def _dedupe(values: Iterable[str]) -> list[str]:
    seen, out = set(), []
    for v in values:
        v = " ".join(str(v).split())
        if v and v.casefold() not in seen:
            seen.add(v.casefold())
            out.append(v)
    return out


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _first(values: Iterable[Any] | None) -> Any:
    for v in values or ():
        return v
    return None
