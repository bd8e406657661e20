"""Earlier captures of edited articles, and what changed between captures."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from elasticsearch import Elasticsearch, NotFoundError


@dataclass(frozen=True)
class Capture:
    captured_at: str
    title: str
    body: str
    content_hash: str
    current: bool


def captures(client: Elasticsearch, versions_alias: str, article: dict) -> list[Capture]:
    """Every capture of an article, oldest first; the last one is the current document."""
    try:
        response = client.search(
            index=versions_alias,
            query={"term": {"article_id": article["id"]}},
            sort=[{"captured_at": "asc"}],
            size=1000,
        )
        hits = [h["_source"] for h in response["hits"]["hits"]]
    except NotFoundError:
        hits = []
    earlier = [Capture(h.get("captured_at", ""), h.get("title", ""), h.get("body", ""), h.get("content_hash", ""), False) for h in hits]
    current = Capture(article.get("crawled_at", ""), article.get("title", ""), article.get("body", ""), article.get("content_hash", ""), True)
    return earlier + [current]


@dataclass(frozen=True)
class Change:
    before: Capture
    after: Capture
    title_changed: bool
    diff: str  # unified diff of the body, paragraph by paragraph


def changes(history: list[Capture]) -> list[Change]:
    """What changed from each capture to the next."""
    result = []
    for before, after in zip(history, history[1:]):
        diff = text_diff(before.body, after.body, f"captured {before.captured_at}", f"captured {after.captured_at}")
        result.append(Change(before, after, before.title != after.title, diff))
    return result


def text_diff(before: str, after: str, before_label: str, after_label: str) -> str:
    """Unified diff of two texts, paragraph by paragraph (captures of an article, copies of a story)."""
    return "\n".join(difflib.unified_diff(_lines(before), _lines(after), fromfile=before_label, tofile=after_label, lineterm=""))


def _lines(body: str) -> list[str]:
    # Paragraphs are the unit a reader compares; blank separators are noise in a diff.
    return [p.strip() for p in body.split("\n") if p.strip()]


def what_changed(before_title: str, before_body: str, after_title: str, after_body: str, limit: int = 20) -> dict:
    """An edit as an alert tells it: the headline before and after, and the paragraphs removed
    and added, as the article page's diff shows them (at most `limit` of each, each cut at 1,000
    characters: a rewritten article is a link to its page, not a copy in a chat message)."""
    removed, added = [], []
    for n, line in enumerate(difflib.unified_diff(_lines(before_body), _lines(after_body), lineterm="", n=0)):
        if (n < 2 and line.startswith(("--- ", "+++ "))) or line.startswith("@@ "):  # headers and hunk markers only:
            continue  # a paragraph that starts with "--" is a paragraph
        if line.startswith("-"):
            removed.append(line[1:][:1000])
        elif line.startswith("+"):
            added.append(line[1:][:1000])
    return {
        "title_before": before_title,
        "title_after": after_title,
        "title_changed": before_title != after_title,
        "removed": removed[:limit],
        "added": added[:limit],
        "more": max(0, len(removed) - limit) + max(0, len(added) - limit),
    }
