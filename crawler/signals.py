"""Is a short page a short article (a news brief) or a stub? The page's own signals decide.

The spider extracts only pages whose URL matches the site's article pattern, so every page seen
here already has that signal. A page below ``extraction.min_words`` is still archived, flagged
``short``, when

- it declares itself an article by at least one of: a JSON-LD Article type (NewsArticle,
  BlogPosting, ...), ``og:type`` article, or its body inside an ``<article>`` element /
  ``itemprop=articleBody``;
- it has a headline;
- it states when it was published (JSON-LD, an article meta, a ``<time>`` element or a visible
  dateline; not only the URL): a brief is a dated report, while placeholders and empty
  templates ("Live: budget vote", the demo site's trap) usually carry no date yet; and
- its body has at least ``BRIEF_MIN_WORDS`` words of news once placeholder sentences
  ("This story is developing and will be updated", "Refresh this page for updates", "Live
  coverage will begin here") are set aside: a placeholder announces an article, it is not one.

Anything else under ``min_words`` is ``too-short`` (stubs, empty templates, placeholders).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A news brief is 15-60 words; fewer words of actual news is a stub.
BRIEF_MIN_WORDS = 15

# Sentences that say the article is not there (yet), as data. Matched case-insensitively
# anywhere in a sentence.
PLACEHOLDER_SENTENCES: tuple[str, ...] = (
    r"\b(this|the) (story|article|page|post|report|item) (is|has been|will be|may be) (developing|being updated|updated)",
    r"\b(this|the) (story|article|page|post|report) will be updated",
    r"\b(is|this is) an? (developing|breaking) (news )?(story|report)",
    r"\b(refresh|reload) (this|the) page",
    r"\b(please )?(check|come) back (later|soon|shortly|for)",
    r"\b(coverage|live blog|live updates|updates|blog) will (begin|start|resume|appear) (here|shortly|soon|at)",
    r"\bwill (begin|start) (here|shortly|soon)\b",
    r"\b(more|further|full) (details|information|updates|coverage) (to follow|soon|shortly|will follow|are expected|will be added)",
    r"\bmore to (follow|come)\b",
    r"\b(content|article|story|page) (coming soon|is not available|not available|unavailable)",
    r"\bwill (appear|be shown|be published|be posted|go live) here\b",
    r"\b(update|story|more|details) to come\b",
    r"\bstay tuned\b",
    r"\blorem ipsum\b",
    r"\bplaceholder\b",
)
_PLACEHOLDER_RE = re.compile("|".join(f"(?:{p})" for p in PLACEHOLDER_SENTENCES), re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


@dataclass(frozen=True)
class ArticleSignals:
    """What a page says about itself (see the module's rule)."""

    json_ld_article: bool = False
    og_article: bool = False
    dated: bool = False              # a plausible publication date stated by the page (not the URL)
    article_element: bool = False    # <article> or itemprop=articleBody holds the body
    headline: bool = False

    @property
    def names(self) -> list[str]:
        return [name for name in ("json_ld_article", "og_article", "dated", "article_element", "headline")
                if getattr(self, name)]

    @property
    def declares_article(self) -> bool:
        return self.headline and self.dated and (self.json_ld_article or self.og_article or self.article_element)


def news_words(paragraphs: list[str]) -> int:
    """Words of the body that are not in placeholder sentences."""
    count = 0
    for paragraph in paragraphs:
        for sentence in _SENTENCE_END.split(paragraph):
            if not _PLACEHOLDER_RE.search(sentence):
                count += len(sentence.split())
    return count


def short_article_verdict(paragraphs: list[str], signals: ArticleSignals) -> tuple[bool, str]:
    """(archive it?, why not) for a body under ``min_words``."""
    if not signals.declares_article:
        missing = ("a headline" if not signals.headline else "publication date" if not signals.dated
                   else "article declaration (JSON-LD, og:type, <article>)")
        return False, f"no {missing}"
    news = news_words(paragraphs)
    if news < BRIEF_MIN_WORDS:
        return False, f"{news} words of news besides placeholder sentences (a brief needs {BRIEF_MIN_WORDS})"
    return True, ""
