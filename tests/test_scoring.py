"""The body scorer (crawler/scoring.py): a candidate text never replaces trafilatura's when it
is much smaller, shares little with it, or is mostly links or list items."""

from __future__ import annotations

from crawler import scoring
from crawler.body import _Blocks
from lxml.html import fragment_fromstring

ARTICLE = [
    f"Paragraph {i}: the council approved the harbour budget after a long night of debate, and the "
    f"mayor said the dredging contract would be signed before the spring tides {i}." for i in range(12)
]
SIDEBAR = ["Polls", "Loading …", "POPULAR CATEGORIES", "- Blog (2)", "- Community Post (4824)", "- Events (311)",
           "- Opinion (95)", "- Photo galleries (1201)", "- Classifieds (77)"]


def facts_for(lines: list[str], link_lines: set[str] = frozenset(), list_lines: set[str] = frozenset()) -> dict:
    facts = {}
    for line in lines:
        text = line[2:] if line.startswith("- ") else line
        tag = "li" if line in list_lines else "p"
        inner = f"<a href='/x'>{text}</a>" if line in link_lines else text
        facts["".join(text.split())] = _Blocks(fragment_fromstring(f"<{tag}>{inner}</{tag}>"), tag == "li", False)
    return facts


def choose(*candidates: tuple[str, list[str]], facts: dict | None = None) -> scoring.Choice:
    listed = [scoring.Candidate(source, paragraphs) for source, paragraphs in candidates]
    return scoring.choose(scoring.describe(listed, facts or {}))


def test_a_sidebar_reading_never_replaces_the_article_trafilatura_found():
    facts = facts_for(ARTICLE + SIDEBAR, link_lines={s for s in SIDEBAR if s.startswith("- ")},
                      list_lines={s for s in SIDEBAR if s.startswith("- ")})
    choice = choose(("trafilatura", ARTICLE), ("article-element", SIDEBAR), facts=facts)
    assert choice.source == "trafilatura" and choice.paragraphs == ARTICLE
    assert choice.lengths["article-element"] < choice.lengths["trafilatura"]


def test_a_rule_keeping_a_small_part_of_the_text_loses_to_trafilatura():
    choice = choose(("trafilatura", ARTICLE), ("trafilatura-pruned", ARTICLE[:2]))
    assert choice.source == "trafilatura"


def test_a_declared_body_holding_trafilaturas_teaser_and_much_longer_is_taken():
    # A paywall: trafilatura sees two paragraphs, the page's JSON-LD has the whole story.
    choice = choose(("trafilatura", ARTICLE[:2]), ("json-ld", ARTICLE))
    assert choice.source == "json-ld" and choice.paragraphs == ARTICLE


def test_confidence_is_high_when_another_reading_agrees_and_low_for_a_text_of_links():
    agreed = choose(("trafilatura", ARTICLE), ("article-element", ARTICLE[1:]))
    assert agreed.confidence > 0.9
    links = SIDEBAR[3:] * 4
    facts = facts_for(links, link_lines=set(links), list_lines=set(links))
    assert choose(("trafilatura", links), facts=facts).confidence < 0.5


def test_missing_prose_comes_only_from_a_reading_of_the_same_article():
    from crawler.body import with_missing_prose

    opening = "The harbour board met on Monday night and voted to borrow the money for the new breakwater at last."
    # readability's text holds the whole chosen text and an opening paragraph before it: that paragraph goes first
    assert with_missing_prose(ARTICLE, [opening, *ARTICLE], {}) == [opening, *ARTICLE]
    # a reading of another text (a sidebar with one long line) adds nothing
    assert with_missing_prose(ARTICLE, [opening, *ARTICLE[:3]], {}) == ARTICLE
    # nor do short lines or lines the chosen text already has in other words
    assert with_missing_prose(ARTICLE, ["Subscribe now.", ARTICLE[0].upper(), *ARTICLE], {}) == ARTICLE
    # a paragraph left out in the middle goes where the reading has it; after the end (a comment,
    # the author's bio) nothing is added
    assert with_missing_prose(ARTICLE, [*ARTICLE[:5], opening, *ARTICLE[5:]], {}) == [*ARTICLE[:5], opening, *ARTICLE[5:]]
    assert with_missing_prose(ARTICLE, [*ARTICLE, opening], {}) == ARTICLE
