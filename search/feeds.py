"""An Atom feed per saved search (feedgen builds and escapes it): readers subscribe to
/alerts/NAME.atom and see each new match once, with its snippet and links."""

from __future__ import annotations

from datetime import datetime, timezone

from feedgen.feed import FeedGenerator

from search.alert_delivery import article_link
from search.alerts import Match, SavedSearch


def _when(value: str | None, fallback: datetime) -> datetime:
    if not value:
        return fallback
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def atom_feed(search: SavedSearch, matches: list[Match], public_url: str, alert_settings) -> bytes:
    base = public_url.rstrip("/")
    created = _when(search.created_at, datetime.now(timezone.utc))
    feed = FeedGenerator()
    feed.id(f"{base}/alerts/{search.name}")
    feed.title(f"Newsroom archive: {search.name}")
    feed.subtitle(f"New articles matching {search.query or '(any text)'}" + _filters(search))
    feed.author({"name": "Newsroom archive"})
    feed.link(href=f"{base}/alerts/{search.name}.atom", rel="self", type="application/atom+xml")
    feed.link(href=f"{base}/alerts/{search.name}", rel="alternate", type="text/html")
    feed.updated(_when(search.last_checked_at, created))
    feed.generator("newsroom-archive")
    # feedgen prepends entries: add the oldest first so the feed reads newest first.
    for match in reversed(matches):
        entry = feed.add_entry()
        entry.id(f"{base}/alerts/{search.name}/{match.article_id}")
        entry.title(("Edited: " if match.change == "edited" else "") + (match.title or match.url))
        entry.link(href=article_link(alert_settings, match.article_id), rel="alternate", type="text/html")
        entry.link(href=match.url, rel="related", title="original")
        entry.summary(match.plain_snippet or "(no snippet)")
        entry.updated(_when(match.matched_at, created))
        if match.published:
            entry.published(_when(match.published, created))
        entry.category(term=match.site, label=match.site)
    return feed.atom_str(pretty=True)


def _filters(search: SavedSearch) -> str:
    parts = [f"{label} {', '.join(values)}" for label, values in
             (("site", search.sites), ("author", search.authors), ("tag", search.tags), ("language", search.languages)) if values]
    return f" ({'; '.join(parts)})" if parts else ""
