"""Did you mean: corrections from the archive's own vocabulary, each with its hit count.

A term suggester on the exact (standard-analysed) title and body fields proposes words that
are in the archive; each corrected query is counted with the same filters, and only those
that find more than the original are offered ("desalination: 3 hits").
"""

from __future__ import annotations

import re
from dataclasses import replace

from elasticsearch import Elasticsearch

from search.query import SearchRequest, Suggestion, build_query, parse_query

FEW_HITS = 2  # at most this many hits: offer corrections and operator hints
MAX_SUGGESTIONS = 3
# A boolean query typed by a person is a few terms around the operator; a pasted sentence is not.
OPERATOR_QUERY_MAX_WORDS = 7


def typed_as_operator(text: str, op: str) -> bool:
    """Whether a lowercase and/or/not sits between terms of a short query, as in `tram or ferry`."""
    words = text.split()
    if len(words) > OPERATOR_QUERY_MAX_WORDS:
        return False
    return any(word == op and 0 < i < len(words) - 1 for i, word in enumerate(words))


def suggestions(client: Elasticsearch, index: str, request: SearchRequest, total: int) -> tuple[list[Suggestion], list[str]]:
    """(corrected queries with their hit counts, hints) for a search that found ``total``."""
    if total > FEW_HITS or not request.text.strip():
        return [], []
    parsed = parse_query(request.text, request.limits)
    candidates: list[str] = []
    hints: list[str] = []
    for op in dict.fromkeys(parsed.lowercase_operators):
        if not typed_as_operator(request.text, op):
            continue  # prose ("the harbour and the ferry ..."), not a boolean query
        hints.append(f"'{op}' was searched as a word; did you mean {op.upper()}?")
        candidates.append(_replace_word(request.text, op, op.upper(), all_of_them=True))
    words = [w for w in parsed.words if w.lower() not in ("and", "or", "not")]
    corrections = _corrections(client, index, words) if words else {}
    if corrections:
        best = request.text
        for word, options in corrections.items():
            best = _replace_word(best, word, options[0])
            for option in options:
                candidates.append(_replace_word(request.text, word, option))
        candidates.insert(0, best)
    found: dict[str, int] = {}
    for text in dict.fromkeys(candidates):
        if text == request.text or text in found:
            continue
        hits = client.count(index=index, query=build_query(replace(request, text=text)))["count"]
        if hits > total:
            found[text] = hits
    ranked = sorted(found.items(), key=lambda kv: -kv[1])[:MAX_SUGGESTIONS]
    return [Suggestion(text, hits) for text, hits in ranked], hints


def _corrections(client: Elasticsearch, index: str, words: list[str]) -> dict[str, list[str]]:
    """word -> up to two corrections found in the archive, best first."""
    text = " ".join(words)
    suggest = {
        name: {"text": text, "term": {"field": name, "suggest_mode": "popular", "size": 3, "max_edits": 2, "min_word_length": 3}}
        for name in ("title", "body")
    }
    response = client.search(index=index, size=0, suggest=suggest, track_total_hits=False)
    options: dict[str, dict[str, float]] = {}
    for name in ("title", "body"):
        for entry in response.get("suggest", {}).get(name, []):
            for option in entry["options"]:
                scores = options.setdefault(entry["text"], {})
                # Closer first, then more frequent.
                key = (option["score"], option["freq"])
                scores[option["text"]] = max(scores.get(option["text"], (0, 0)), key)
    result = {}
    for word in words:
        scored = options.get(word.lower()) or options.get(word)
        if scored:
            result[word] = [t for t, _ in sorted(scored.items(), key=lambda kv: kv[1], reverse=True)[:2]]
    return result


def _replace_word(text: str, word: str, replacement: str, all_of_them: bool = False) -> str:
    pattern = re.compile(rf"(?<![\w\"']){re.escape(word)}(?![\w*~])", re.IGNORECASE)
    return pattern.sub(replacement, text, count=0 if all_of_them else 1)
