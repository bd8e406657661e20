"""Dates as people write them, in the newsroom's time zone (settings: [newsroom] timezone).

The page shows "30 September 2025, 09:15 CEST"; the exact stored value stays on hover and in
the <time datetime> attribute, and the JSON twins keep the ISO values untouched.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

# Where a publication date came from (crawler/dates.py), in words a journalist reads.
SOURCES = {
    "json-ld": "as the page states it",
    "meta": "as the page states it",
    "time": "as the page states it",
    "text": "from the dateline",
    "url": "from the page's address",
    "trafilatura": "estimated from the page",
}


def parse(value: str | None) -> datetime | date | None:
    if not value:
        return None
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def human(value: str | None, zone: str, with_time: bool = True) -> str:
    """'30 September 2025, 09:15 CEST' (or '30 September 2025'); the raw value if unreadable."""
    moment = parse(value)
    if moment is None:
        return value or ""
    if isinstance(moment, datetime):
        if moment.tzinfo is not None:
            moment = moment.astimezone(ZoneInfo(zone))
        day = f"{moment.day} {moment:%B %Y}"
        return f"{day}, {moment:%H:%M} {moment.tzname() or ''}".rstrip() if with_time else day
    return f"{moment.day} {moment:%B %Y}"


def time_element(value: str | None, zone: str, with_time: bool = True, missing: str = "no date", source: str | None = None) -> Markup:
    """<time datetime=ISO title="ISO (source)">human</time>, escaped."""
    if not value:
        return Markup(escape(missing))
    hover = value + (f" (from {source})" if source else "")
    return Markup('<time datetime="{}" title="{}">{}</time>').format(value, hover, human(value, zone, with_time))


def source_words(source: str | None) -> str:
    return SOURCES.get(source or "", "")
