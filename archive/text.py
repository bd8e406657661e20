"""Text from crawled pages made safe to store and to emit (HTML, Atom, CSV, JSON).

A page may carry control characters (a JSON-LD headline with \\u0001, a tag with \\u001b) or
Unicode non-characters (\\ufffe): XML forbids them, so one of them in a title made the Atom feed
unreadable for every subscriber. ``clean_text`` removes them once, at extraction; the feed and
page writers call it again on what they emit, for articles stored before.

The two highlight markers (private-use characters) are reserved for the search's own highlights:
a crawled page can never carry them, so only a real match becomes <mark> on a page.
"""

from __future__ import annotations

import re

HIGHLIGHT_START, HIGHLIGHT_END = "\ue000", "\ue001"

# C0 controls but tab and newline, DEL and C1 controls, the highlight markers, and the
# non-characters (U+FDD0..U+FDEF and the last two code points of every plane).
_UNWANTED = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\ue000\ue001\ufdd0-\ufdef"
    + "".join(f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(17))
    + "]"
)


def clean_text(text: str | None) -> str | None:
    """The text without control characters (tab and newline kept; a carriage return becomes a
    newline), non-characters or highlight markers. None stays None."""
    if text is None:
        return None
    if not _UNWANTED.search(text):  # the common case: nothing to do
        return text
    return _UNWANTED.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def clean_values(values) -> list[str]:
    """Each value cleaned; values left empty by cleaning are dropped (a tag of control characters)."""
    cleaned = (clean_text(v) for v in values or ())
    return [v for v in cleaned if v and v.strip()]


def is_clean(text: str | None) -> bool:
    return text is None or not _UNWANTED.search(text)
