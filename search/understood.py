"""How a query was understood: one reading per term, shown under the search box and in the JSON.

    strikes → strike, strikes · "harbour authority" as a phrase · desalinat* as a prefix: desalination

The forms listed are the words Elasticsearch matched and marked in the hits shown (its
highlighter, from the same request: nothing more is asked), grouped under the typed word they
share a stem with, in the languages searched. The node has no stemmer of its own (DESIGN.md):
the stems are the archive's (search/analysis.py), the same that indexed the articles.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from search.analysis import DEFAULT_LANGUAGE, STEMMERS, fold, stem
from search.query import KEYWORD_FIELDS, MARK_POST, MARK_PRE, SearchRequest, Term, parse_query, stem_codes

MAX_FORMS = 8
_MARKED = re.compile(re.escape(MARK_PRE) + "(.*?)" + re.escape(MARK_POST), re.S)
_PART = re.compile(r"\w+")


@dataclass(frozen=True)
class Reading:
    """One term of the query and what it was searched as."""

    typed: str  # as the journalist wrote it: strikes, "harbour authority", desalinat*, site:demo
    kind: str  # word, phrase, prefix, fuzzy, filter
    field: str | None = None
    excluded: bool = False  # after NOT or -: articles with it are left out
    forms: tuple[str, ...] = ()  # words of the hits shown that it matched

    def text(self) -> str:
        """'strikes → strike, strikes', '"harbour authority" as a phrase', 'without trade'."""
        if self.kind == "filter":
            return self.typed
        where = f" in the {self.field}" if self.field in ("title", "body", "description") else (
            " in the authors" if self.field in ("author", "authors") else "")
        core = self.typed + where
        if self.excluded:
            return f"without {core}"
        if self.kind == "phrase":
            return f"{core} as a phrase"
        if self.kind == "prefix":
            return f"{core} as a prefix" + (f": {', '.join(self.forms)}" if self.forms else "")
        if self.kind == "fuzzy":
            return f"{core} with spellings close to it" + (f": {', '.join(self.forms)}" if self.forms else "")
        return f"{core} → {', '.join(self.forms)}" if self.forms else f"{core} (and words of the same stem)"

    def as_dict(self) -> dict:
        return {"typed": self.typed, "kind": self.kind, "field": self.field, "excluded": self.excluded,
                "forms": list(self.forms), "text": self.text()}


def line(readings: list[Reading]) -> str:
    """The readings as the one line under the search box ('' for a search without words)."""
    return " · ".join(r.text() for r in readings)


def understood(request: SearchRequest, hits: list) -> list[Reading]:
    """Each term of request.text as it was searched, with the forms it matched in `hits`."""
    if not request.text.strip():
        return []
    tree = parse_query(request.text, request.limits).tree
    marked = Counter(fold(m) for hit in hits for text in _highlighted(hit) for m in _MARKED.findall(text))
    codes = tuple(dict.fromkeys(code for code in (stem_codes(request) or (*STEMMERS, DEFAULT_LANGUAGE))))
    return [_reading(term, excluded, marked, codes) for term, excluded in _terms(tree, False)]


def _highlighted(hit) -> list[str]:
    return [*([hit.title_highlight] if hit.title_highlight else []), *hit.snippets]


def _terms(node, excluded: bool):
    if node is None:
        return
    if node[0] == "term":
        yield node[1], excluded
    elif node[0] == "not":
        yield from _terms(node[1], not excluded)
    else:
        for child in node[1]:
            yield from _terms(child, excluded)


def _typed(term: Term) -> str:
    text = f'"{term.text}"' + (f"~{term.slop}" if term.slop else "") if term.kind == "phrase" else term.text
    text += "*" if term.kind == "prefix" else "~" if term.kind == "fuzzy" else ""
    return f"{term.field}:{text}" if term.field in KEYWORD_FIELDS else text


def _reading(term: Term, excluded: bool, marked: Counter, codes: tuple[str, ...]) -> Reading:
    if term.field in KEYWORD_FIELDS:
        return Reading(_typed(term), "filter", term.field, excluded)
    forms: list[str] = []
    if not excluded and term.kind == "word":
        stems = {(code, stem(part, code)) for part in _PART.findall(term.text) for code in codes}
        forms = [form for form in marked if any(stem(form, code) == s for code, s in stems)]
    elif not excluded and term.kind == "prefix":
        forms = [form for form in marked if form.startswith(fold(term.text))]
    ranked = sorted(forms, key=lambda form: (-marked[form], form))[:MAX_FORMS]
    return Reading(_typed(term), term.kind, term.field, excluded, tuple(sorted(ranked)))
