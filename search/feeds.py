"""An Atom feed (RFC 4287) per saved search: readers subscribe to its secret address
/feeds/TOKEN.atom (signed in: /alerts/NAME.atom) and see
each new match once, with its snippet, a link to the archived copy and one to the original.

Built with ElementTree, which escapes every text and attribute: a crawled title is text in the
feed, never markup. What XML forbids (control characters, non-characters) is never written:
every text and attribute passes archive.text.clean_text, so one bad article stored before
extraction cleaned it cannot make the feed unreadable for every subscriber. (feedgen 1.0 drops the rel of entry links, which makes two "alternate"
links per entry: invalid Atom.)
"""

from __future__ import annotations

from datetime import datetime, timezone
from xml.etree import ElementTree as ET

from archive.text import clean_text
from search.alerts import CHANGED, EDITED, FIRST, Match, SavedSearch

ATOM = "http://www.w3.org/2005/Atom"


def _when(value: str | None, fallback: str) -> str:
    """RFC 3339 with an explicit offset, as Atom requires."""
    value = value or fallback
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).isoformat()


def _add(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: clean_text(v) for k, v in attributes.items() if v})
    if text is not None:
        element.text = clean_text(text)
    return element


def atom_feed(search: SavedSearch, matches: list[Match], base_url: str) -> bytes:
    """The feed as served from base_url (links to the archived copies point there)."""
    base = base_url.rstrip("/")
    created = search.created_at or datetime.now(timezone.utc).isoformat()
    feed = ET.Element("feed", {"xmlns": ATOM})
    _add(feed, "id", f"{base}/alerts/{search.key}")
    _add(feed, "title", f"Newsroom archive: {search.name}")
    _add(feed, "subtitle", f"New articles matching {search.query or '(any text)'}{_filters(search)}")
    _add(feed, "updated", _when(search.last_checked_at, created))
    _add(_add(feed, "author"), "name", "Newsroom archive")
    self_href = f"{base}/feeds/{search.feed_token}.atom" if search.feed_token else f"{base}/alerts/{search.name}.atom"
    _add(feed, "link", href=self_href, rel="self", type="application/atom+xml")
    _add(feed, "link", href=f"{base}/alerts/{search.name}", rel="alternate", type="text/html")
    _add(feed, "generator", "newsroom-archive")
    for match in matches:  # newest first, as the store returns them
        entry = _add(feed, "entry")
        # A followed article has one entry per change: the change's time keeps their ids apart.
        suffix = f"/{match.matched_at}" if match.change == CHANGED else ""
        _add(entry, "id", f"{base}/alerts/{search.key}/{match.article_id}{suffix}")
        prefix = {EDITED: "Edited: ", CHANGED: "Changed: ", FIRST: "First appearance: "}.get(match.change, "")
        _add(entry, "title", prefix + (match.title or match.url))
        _add(entry, "updated", _when(match.matched_at, created))
        if match.published:
            _add(entry, "published", _when(match.published, created))
        _add(entry, "link", href=f"{base}/article/{match.article_id}", rel="alternate", type="text/html")
        _add(entry, "link", href=match.url, rel="related", title="original")
        _add(entry, "summary", _change_text(match.diff) if match.diff else (match.plain_snippet or "(no snippet)"))
        if match.site:
            _add(entry, "category", term=match.site, label=match.site)
    ET.indent(feed)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _filters(search: SavedSearch) -> str:
    parts = [f"{label} {', '.join(values)}" for label, values in
             (("site", search.sites), ("author", search.authors), ("tag", search.tags), ("language", search.languages)) if values]
    return f" ({'; '.join(parts)})" if parts else ""


def _change_text(diff: dict) -> str:
    """What changed, as the article page's diff shows it, in plain text."""
    lines = [f"Headline was: {diff.get('title_before')}"] if diff.get("title_changed") else []
    lines += [f"+ {p}" for p in diff.get("added", [])] + [f"- {p}" for p in diff.get("removed", [])]
    return "\n".join(lines) or "(the text changed)"
