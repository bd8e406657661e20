"""Choose the article body among candidate texts, and say how sure the choice is.

Each candidate (``crawler/body.py``) is described by measurable features, all relative to the
reference text T (plain trafilatura on the same page):

- ``words``: its length, counted as ``crawler/text.py`` counts (CJK characters one each);
- ``kept``: the share of T's words it keeps; ``within``: the share of its words T holds;
- ``links``, ``lists``: the share of its characters in link text and in list items;
- ``declared``: the page declares it as the article body (JSON-LD, ``<article>``, itemprop).

The score is a weighted sum (``WEIGHTS``, as data); the best score wins, T on a tie. The weights
were fitted on one shared benchmark set and validated on the other
(``benchmarks/fit_body_scorer.py``). Whatever the score, a candidate that keeps less than ``MIN_KEPT`` of T's words, or
whose words T holds less than ``MIN_WITHIN`` of while being shorter, or that is mostly links or
list items, is not taken over T: the archive's text stays close to the library's.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from dataclasses import dataclass, field, replace

from crawler import body as bodies
from crawler.text import bag, word_count

REFERENCE = "trafilatura"
# Sources that read the page independently of trafilatura (support for the confidence).
INDEPENDENT = frozenset({"json-ld", "article-element", "readability"})

MIN_KEPT = 0.6          # a rule's text keeping less of T than this is "much smaller"
HOLDS_REFERENCE = 0.8   # a declared body holding this much of the choice is the same article
MIN_WITHIN = 0.5        # a shorter text sharing less than this with T is another text
CONFIRMED = 0.9         # two extractors agreeing this well on a smaller text outweigh T's size
MAX_NOISE = 0.5         # a text with more link or list-item text than this is a rail, not prose
UNCONFIRMED = 0.75      # support of a text no other reading of the page confirms or contradicts


@dataclass(frozen=True)
class Weights:
    length: float = 0.5      # per natural log of words
    kept: float = 1.0
    within: float = 1.0
    links: float = 0.0
    lists: float = 0.0
    declared: float = 0.0
    support: float = 4.0


# Fitted on ../shared/extraction-bench-2 by a grid search over these seven weights (mean F1 of
# the chosen text), validated on ../shared/extraction-bench; checked again with readability's
# reading a candidate on every page (the best fit on either set does no better on the other).
# Links and list items decide through the guard (MAX_NOISE) and the confidence, not the score: on
# both sets a weight on them changed nothing or hurt.
WEIGHTS = Weights()


@dataclass(frozen=True)
class Features:
    words: int
    kept: float
    within: float
    links: float
    lists: float
    declared: bool
    support: float = 0.0     # best word agreement (F1) with a reading by another extractor

    def score(self, w: Weights) -> float:
        return (w.length * math.log1p(self.words) + w.kept * self.kept + w.within * self.within
                - w.links * self.links - w.lists * self.lists + w.declared * self.declared
                + w.support * self.support)


@dataclass
class Candidate:
    source: str
    paragraphs: list[str]
    features: Features | None = None
    words: Counter = field(default_factory=Counter)


@dataclass(frozen=True)
class Choice:
    paragraphs: list[str]
    source: str
    confidence: float
    lengths: dict[str, int]     # words of every candidate, by source


def describe(candidates: list[Candidate], facts: dict) -> list[Candidate]:
    """Fill in each candidate's features (the first candidate is the reference T)."""
    reference = candidates[0]
    reference.words = reference.words or bag(" ".join(reference.paragraphs))
    total = sum(reference.words.values()) or 1
    for candidate in candidates:
        candidate.words = candidate.words or bag(" ".join(candidate.paragraphs))
        mine = sum(candidate.words.values()) or 1
        common = sum((candidate.words & reference.words).values())
        links = lists = chars = 0.0
        for line in candidate.paragraphs:
            fact = bodies.lookup(facts, line)
            chars += len(line)
            if fact is not None:
                links += fact.link_share * len(line)
                lists += fact.list_item * len(line)
        candidate.features = Features(
            words=word_count(" ".join(candidate.paragraphs)),
            kept=common / total,
            within=common / mine,
            links=links / chars if chars else 0.0,
            lists=lists / chars if chars else 0.0,
            declared=candidate.source in ("json-ld", "article-element"),
        )
    support = [0.0] * len(candidates)
    for i, j in itertools.combinations(range(len(candidates)), 2):  # each pair once: bags can be long
        if _family(candidates[i]) != _family(candidates[j]):
            agree = similarity(candidates[i].words, candidates[j].words)
            support[i], support[j] = max(support[i], agree), max(support[j], agree)
    for candidate, best in zip(candidates, support):
        candidate.features = replace(candidate.features, support=best)
    return candidates


def _family(candidate: Candidate) -> str:
    """Readings by the same extractor do not confirm each other."""
    return REFERENCE if candidate.source.startswith(REFERENCE) else candidate.source


def similarity(a: Counter, b: Counter) -> float:
    """F1 of two bags of words (1: the same words)."""
    total = sum(a.values()) + sum(b.values())
    return 2 * sum((a & b).values()) / total if total else 0.0


def eligible(candidate: Candidate, reference: Candidate) -> bool:
    """May this candidate be chosen over T? (the guard against rules that misfire)"""
    f, t = candidate.features, reference.features
    if candidate is reference or not t.words:
        return bool(f.words)
    if not f.words or max(f.links, f.lists) > MAX_NOISE:
        return False
    if f.kept < MIN_KEPT and not f.words > t.words and f.support < CONFIRMED:
        return False  # much smaller than trafilatura's text, and no other reading agrees
    if f.words <= t.words and f.within < MIN_WITHIN:
        return False  # shares little with it
    return True


def choose(candidates: list[Candidate], weights: Weights = WEIGHTS) -> Choice:
    """The chosen candidate (``pick``) with its confidence and every candidate's length."""
    best = pick(candidates, weights)
    return Choice(best.paragraphs, best.source, confidence(best, candidates),
                  {c.source: c.features.words for c in candidates})


def pick(candidates: list[Candidate], weights: Weights = WEIGHTS) -> Candidate:
    """The best-scored eligible candidate (T on a tie). A body the page declares that holds
    that choice and is much longer is the whole story (trafilatura saw a paywall's teaser)."""
    reference = candidates[0]
    best = reference
    for candidate in candidates[1:]:
        if eligible(candidate, reference) and candidate.features.score(weights) > best.features.score(weights):
            best = candidate
    for candidate in candidates[1:]:
        f = candidate.features
        if (f.declared and best.features.words < MIN_KEPT * f.words and max(f.links, f.lists) <= MAX_NOISE
                and sum((best.words & candidate.words).values()) >= HOLDS_REFERENCE * sum(best.words.values())):
            best = candidate
            break
    if not best.features.words:  # T found nothing: the longest reading the page declares
        found = [c for c in candidates if c.features.words >= bodies.MIN_OWN_BODY_WORDS]
        best = max(found, key=lambda c: c.features.words) if found else reference
    return best


def confidence(chosen: Candidate, candidates: list[Candidate]) -> float:
    """Support from an independent reading of the page, times how little of it is links or lists."""
    if not chosen.features.words:
        return 0.0
    others = [c for c in candidates if c.source in INDEPENDENT and c.source != chosen.source and c.features.words]
    if chosen.source in INDEPENDENT:  # then T is an independent reading too
        others.append(candidates[0])
    found = [a for a in (agreement(chosen.words, c.words) for c in others) if a is not None]
    support = max(found) if found else UNCONFIRMED
    clean = 1.0 - max(chosen.features.links, chosen.features.lists)
    return round(support * clean, 3)


def agreement(a: Counter, b: Counter) -> float | None:
    """How far two readings agree: the share of the smaller one's words the larger holds (a
    container reading often keeps part of the text; that part agrees). 0 when the smaller one
    is too short to say anything."""
    smaller = min(sum(a.values()), sum(b.values()))
    if smaller < bodies.MIN_OWN_BODY_WORDS:
        return 0.0
    return sum((a & b).values()) / smaller
