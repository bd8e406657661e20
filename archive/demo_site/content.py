"""The demo site's content: articles as data, editions, scaling and the trap pages.

Nothing here touches the network. ``DemoSite`` is a plain, immutable-ish value object:
the HTTP server (``server.py``) renders it, tests and benchmarks read it to know what the
crawler should have archived.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from functools import lru_cache
from pathlib import Path
from typing import Iterable

SITE_NAME = "The Calder Courier"
SECTIONS: tuple[str, ...] = ("politics", "world", "business", "climate")
SECTION_LABELS = {"politics": "Politics", "world": "World", "business": "Business", "climate": "Science & Climate"}
PAGE_SIZE = 10            # teasers per section page
FEED_SIZE = 20            # items in /feed.xml
HOME_SIZE = 20            # teasers on the home page
NEWS_SITEMAP_SIZE = 50    # newest articles in /sitemap-news.xml (all of them are in /sitemap-articles.xml)

# Slug of the (real, sitemap-listed, 2025) article that answers 503 twice per server instance.
FLAKY_SLUG = "kalmar-fisheries-summit-quota-deal"
# Slug of the article that links the PDF annual report.
PDF_ARTICLE_SLUG = "northmere-energy-annual-report"
PDF_PATH = "/media/annual-report.pdf"

# Phrases of the hand-written set, for search tests. Each maps to the slugs whose body
# contains it verbatim (case-insensitive). ``decoys`` contain all the phrase's words but
# never the phrase itself. Checked by tests/test_demo_site.py.
SEARCH_PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "harbour authority confirmed the closure": {
        "exact": ("veyra-harbour-closed-after-crane-collapse",),
        "decoys": ("harbour-authority-faces-budget-scrutiny", "insurers-raise-premiums-after-veyra-crane-collapse"),
    },
    "green hydrogen corridor": {
        "exact": ("northmere-energy-annual-report", "green-hydrogen-corridor-route-approved"),
        "decoys": ("wildlife-corridor-hydrogen-buses",),
    },
    "night tram strike": {
        "exact": ("night-tram-strike-talks-collapse", "tram-operator-counts-cost-of-strike"),
        "decoys": (),
    },
}


def slugify(text: str) -> str:
    """ASCII, lowercase, hyphenated: 'Küstenschutz & Co.' -> 'kustenschutz-co'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


@dataclass(frozen=True)
class Article:
    """One page of the demo site that looks like an article.

    ``kind`` is "article" for the real ones (everything in ``DemoSite.articles``); the
    article-looking traps in ``DemoSite.non_articles`` have kind "private", "too_short"
    or "too_large" and must never be archived.
    """

    slug: str
    section: str
    title: str
    authors: tuple[str, ...]
    published: datetime
    tags: tuple[str, ...]
    description: str
    paragraphs: tuple[str, ...]
    modified: datetime | None = None
    language: str = "en"
    kind: str = "article"
    generated: bool = False          # made by the scaler, not hand-written
    edition: int = 1                 # the edition in which it first appeared
    path_prefix: str = ""            # "/private" for the robots trap

    @property
    def path(self) -> str:
        """URL path, e.g. /2025/03/04/veyra-harbour-closed-after-crane-collapse"""
        return f"{self.path_prefix}/{self.published:%Y/%m/%d}/{self.slug}"

    @property
    def canonical_path(self) -> str:
        return self.path

    @property
    def url_path(self) -> str:  # alias
        return self.path

    @property
    def last_modified(self) -> datetime:
        return self.modified or self.published

    @property
    def body_text(self) -> str:
        """The article text an extractor should recover: paragraphs joined by blank lines."""
        return "\n\n".join(self.paragraphs)

    @property
    def word_count(self) -> int:
        return len(self.body_text.split())

    @property
    def first_sentence(self) -> str:
        first = self.paragraphs[0] if self.paragraphs else ""
        match = re.match(r"(.+?[.!?])(\s|$)", first)
        return match.group(1) if match else first

    @property
    def byline(self) -> str:
        """'By A', 'By A and B', 'By A, B and C'"""
        names = list(self.authors)
        if len(names) <= 1:
            return "By " + "".join(names)
        return "By " + ", ".join(names[:-1]) + " and " + names[-1]


def _parse_dt(value: str | None) -> datetime | None:
    if not value:
        return None
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        raise ValueError(f"demo site date without timezone: {value!r}")
    return dt


def _article_from_dict(d: dict, *, edition: int = 1) -> Article:
    return Article(
        slug=d["slug"],
        section=d["section"],
        title=d["title"],
        authors=tuple(d["authors"]),
        published=_parse_dt(d["published"]),
        modified=_parse_dt(d.get("modified")),
        tags=tuple(d.get("tags", ())),
        description=d.get("description", ""),
        paragraphs=tuple(d["paragraphs"]),
        language=d.get("language", "en"),
        edition=edition,
    )


DATA_FILE = Path(__file__).with_name("articles.json")


@lru_cache(maxsize=1)
def load_data() -> dict:
    """The raw articles.json (hand-written articles and the edition-2 changes). Do not mutate."""
    return json.loads(DATA_FILE.read_text(encoding="utf-8"))


def hand_written_articles() -> list[Article]:
    return [_article_from_dict(d) for d in load_data()["articles"]]


def _apply_edition2(articles: list[Article], data: dict) -> list[Article]:
    by_slug = {a.slug: i for i, a in enumerate(articles)}
    out = list(articles)
    for edit in data.get("edits", []):
        i = by_slug.get(edit["slug"])
        if i is None:
            continue
        a = out[i]
        paragraphs = list(a.paragraphs)
        for old, new in edit.get("replace", []):
            paragraphs = [p.replace(old, new) for p in paragraphs]
        paragraphs.extend(edit.get("append", []))
        out[i] = replace(a, paragraphs=tuple(paragraphs), modified=_parse_dt(edit["modified"]))
    for change in data.get("headline_changes", []):
        i = by_slug.get(change["slug"])
        if i is None:
            continue
        out[i] = replace(out[i], title=change["title"], modified=_parse_dt(change["modified"]))
    out.extend(_article_from_dict(d, edition=2) for d in data.get("new_articles", []))
    return out


# --- article-looking pages that must NOT be archived ---------------------------------

def _trap_articles() -> list[Article]:
    from datetime import timedelta, timezone

    cet = timezone(timedelta(hours=1))
    cest = timezone(timedelta(hours=2))
    private = Article(
        slug="newsroom-staffing-memo",
        section="politics",
        title="Newsroom staffing memo: rota changes for the election period",
        authors=("Managing Editor",),
        published=datetime(2025, 5, 2, 9, 0, tzinfo=cest),
        tags=("internal",),
        description="Internal memo. Not for publication.",
        paragraphs=(
            "This internal staffing memo for editors only sets out how the newsroom rota will change during the "
            "election period, from the first day of the campaign until the results are certified by the commission.",
            "Political reporters will work in two shifts, with the late shift staying until the last regional result "
            "is declared. The picture desk will send one photographer to every party headquarters on election night, "
            "and the subeditors will run a separate overnight desk for the live coverage.",
            "Annual leave requests for the final fortnight of the campaign will not be approved except in emergencies. "
            "Staff who have already booked holidays in that period should speak to their section editor this week.",
            "Please do not forward this memo outside the newsroom. Questions about overtime payments should go to "
            "the managing editor's office, which will publish the final rota at the start of next month.",
        ),
        kind="private",
        path_prefix="/private",
    )
    too_short = Article(
        slug="live-budget-vote-placeholder",
        section="politics",
        title="Live: Assembly budget vote",
        authors=("Courier Live Desk",),
        published=datetime(2025, 7, 19, 18, 0, tzinfo=cest),
        tags=("live",),
        description="Live coverage will begin shortly.",
        paragraphs=("Live coverage of the budget vote will begin here at seven o'clock. "
                    "Refresh this page for updates from our reporters.",),
        kind="too_short",
    )
    too_large = Article(
        slug="budget-appendix-full-tables",
        section="business",
        title="Budget appendix: the full spending tables",
        authors=("Courier Data Team",),
        published=datetime(2025, 2, 11, 8, 0, tzinfo=cet),
        tags=("budget", "data"),
        description="Every line of the budget, in one page.",
        paragraphs=("Every line of the national budget, published as one table.",),
        kind="too_large",
    )
    return [private, too_short, too_large]


MISSING_PATH = "/2024/01/01/story-that-was-never-published"


@dataclass
class DemoSite:
    """The content of the demo site.

    ``article_count=None`` serves the hand-written set (34 articles); a number N serves N
    articles (the hand-written ones first, the rest generated deterministically from
    ``seed``). ``edition=2`` is "the next night": 5 new articles, 3 edited bodies and one
    changed headline (see ``articles.json`` -> ``edition2``).
    """

    article_count: int | None = None
    edition: int = 1
    seed: int = 20261127
    articles: list[Article] = field(init=False)
    non_articles: list[Article] = field(init=False)

    def __post_init__(self) -> None:
        if self.edition not in (1, 2):
            raise ValueError(f"edition must be 1 or 2, not {self.edition!r}")
        data = load_data()
        hand = [_article_from_dict(d) for d in data["articles"]]
        if self.article_count is None:
            articles = hand
        elif self.article_count < 0:
            raise ValueError("article_count must be >= 0")
        elif self.article_count <= len(hand):
            articles = sorted(hand, key=lambda a: a.published)[: self.article_count]
        else:
            from .generator import generate_articles

            taken = {a.slug for a in hand} | {d["slug"] for d in data["edition2"]["new_articles"]}
            articles = hand + generate_articles(self.article_count - len(hand), seed=self.seed,
                                                taken_slugs=taken, taken_titles={a.title for a in hand})
        if self.edition == 2:
            articles = _apply_edition2(articles, data["edition2"])
        # newest first; ties broken by slug so the order is total and deterministic
        self.articles = sorted(articles, key=lambda a: (a.published, a.slug), reverse=True)
        self.non_articles = _trap_articles()

    # --- look-ups --------------------------------------------------------------------
    @cached_property
    def by_path(self) -> dict[str, Article]:
        return {a.path: a for a in [*self.articles, *self.non_articles]}

    @cached_property
    def by_slug(self) -> dict[str, Article]:
        return {a.slug: a for a in self.articles}

    def article(self, slug: str) -> Article:
        return self.by_slug[slug]

    def latest(self, n: int) -> list[Article]:
        return self.articles[:n]

    @cached_property
    def _by_section(self) -> dict[str, list[Article]]:
        out: dict[str, list[Article]] = {s: [] for s in SECTIONS}
        for a in self.articles:
            out[a.section].append(a)
        return out

    def in_section(self, section: str) -> list[Article]:
        return self._by_section.get(section, [])

    def section_pages(self, section: str) -> int:
        return max(1, -(-len(self.in_section(section)) // PAGE_SIZE))

    @cached_property
    def _by_tag(self) -> dict[str, list[Article]]:
        out: dict[str, list[Article]] = {}
        for a in self.articles:
            for t in a.tags:
                out.setdefault(slugify(t), []).append(a)
        return out

    def with_tag(self, tag_slug: str) -> list[Article]:
        return self._by_tag.get(tag_slug, [])

    def search(self, query: str, limit: int = 20) -> list[Article]:
        """The site's own (trap) search page: every word must appear in title or body."""
        words = [w for w in query.lower().split() if w]
        if not words:
            return []
        hits = [a for a in self.articles
                if all(w in (a.title + " " + a.body_text).lower() for w in words)]
        return hits[:limit]

    def in_month(self, year: int, month: int) -> list[Article]:
        return [a for a in self.articles if a.published.year == year and a.published.month == month]

    def related(self, article: Article, n: int = 3) -> list[Article]:
        """The 'Related stories' teasers shown on an article page (same section, never itself)."""
        pool = self.in_section(article.section) if len(self.in_section(article.section)) > n else self.articles
        others = [a for a in pool if a.slug != article.slug]
        if not others:
            return []
        start = (pool.index(article) if article in pool else 0) % len(others)
        return [others[(start + i) % len(others)] for i in range(min(n, len(others)))]

    def continue_reading(self, article: Article) -> Article | None:
        """The 'Continue Reading' teaser under an article: the next article in the site not already related."""
        excluded = {article.slug, *(a.slug for a in self.related(article))}
        i = self.articles.index(article) if article in self.articles else 0
        for k in range(1, len(self.articles) + 1):
            cand = self.articles[(i + k) % len(self.articles)]
            if cand.slug not in excluded:
                return cand
        return None

    def articles_containing(self, phrase: str) -> list[Article]:
        """Articles whose body contains ``phrase`` verbatim (case-insensitive), for search tests."""
        p = phrase.lower()
        return [a for a in self.articles if p in a.body_text.lower()]

    # --- special pages -----------------------------------------------------------------
    @cached_property
    def flaky_article(self) -> Article:
        if FLAKY_SLUG in self.by_slug:
            return self.by_slug[FLAKY_SLUG]
        return next((a for a in self.articles if a.published.year == 2025), self.articles[-1])

    @cached_property
    def tracking_article(self) -> Article:
        return self.articles[0]

    @cached_property
    def traps(self) -> dict[str, str]:
        """Name -> path (with query where it matters) of every page that must not be archived
        as an article (or, for "flaky", must be retried; for "redirect"/"tracking", must be
        archived once under its canonical URL)."""
        by_kind = {a.kind: a for a in self.non_articles}
        first_tagged = next((a for a in self.articles if a.tags), None)
        recent = self.articles[0].published if self.articles else datetime(2026, 11, 1)
        return {
            "private": by_kind["private"].path,                       # Disallowed in robots.txt
            "pdf": PDF_PATH,                                          # application/pdf, non-html
            "redirect": f"/go/{self.articles[0].slug}" if self.articles else "/go/none",  # 301 -> article
            "flaky": self.flaky_article.path,                         # 503, 503, then 200 (real article)
            "too_short": by_kind["too_short"].path,                   # ~20 words under an article URL
            "too_large": by_kind["too_large"].path,                   # > 6 MB, Content-Length advertised
            "tracking": f"{self.tracking_article.path}?utm_source=newsletter&utm_medium=email#comments",
            "calendar": f"/calendar/{recent:%Y/%m}",                  # endless prev/next months
            "tag": f"/tag/{slugify(first_tagged.tags[0])}" if first_tagged else "/tag/none",
            "search": "/search?q=harbour",
            "missing": MISSING_PATH,                                  # 404 with an HTML page
        }

    @cached_property
    def pdf_article(self) -> Article | None:
        """The article whose body links the PDF (None if the scaled-down set lacks it)."""
        return self.by_slug.get(PDF_ARTICLE_SLUG)

    def all_paths(self) -> Iterable[str]:
        return (a.path for a in self.articles)
