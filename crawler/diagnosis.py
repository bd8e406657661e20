"""Why a URL is or is not an article, and why a crawl archived nothing.

The site's patterns are regular expressions matched against a URL's path and query (never the
scheme or host): ``/2025/03/14/slug?page=2``. ``decide`` names the pattern that decided, so
`archive sites check`, the crawl's samples and the "no articles" message can show it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import regex  # partial matching: how far into a URL a pattern still fits
from urllib.parse import urlsplit

from archive.config import SiteSettings
from crawler.urls import SiteScope

ARTICLE, LISTING, IGNORED, OFFSITE = "article", "listing", "ignored", "offsite"

# How many URLs per decision a crawl keeps as examples (summary key "url_samples").
SAMPLES_PER_DECISION = 10
# How many URLs that almost matched article_allow a crawl keeps (summary key "near_misses").
NEAR_MISSES_KEPT = 5


@dataclass(frozen=True)
class Decision:
    kind: str  # article, listing (followed for links), ignored, offsite
    why: str   # the pattern or rule that decided


def path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def quoted(patterns) -> str:
    """Patterns as written in settings.toml (repr would double every backslash)."""
    if isinstance(patterns, str):
        return f"'{patterns}'"
    return "[" + ", ".join(f"'{p}'" for p in patterns) + "]"


def _first(patterns: tuple[str, ...], text: str) -> str | None:
    return next((p for p in patterns if re.search(p, text)), None)


def decide(site: SiteSettings, url: str) -> Decision:
    """What the spider does with a link it finds (the same rules as SiteSettings)."""
    scope = SiteScope.of(site)
    if not scope.allows(url):
        return Decision(OFFSITE, f"host or port not in allowed_domains {scope.describe()}")
    path = path_and_query(url)
    denied = _first(site.article_deny, path)
    allowed = None if denied else _first(site.article_allow, path)
    if allowed:
        return Decision(ARTICLE, f"article_allow {quoted(allowed)}")
    not_article = f"article_deny {quoted(denied)}" if denied else "no article_allow pattern matched"
    follow_denied = _first(site.follow_deny, path)
    if follow_denied:
        return Decision(IGNORED, f"{not_article}; follow_deny {quoted(follow_denied)}")
    if not site.follow_allow:
        return Decision(LISTING, f"{not_article}; followed (no follow_allow: every page is)")
    follow = _first(site.follow_allow, path)
    if follow:
        return Decision(LISTING, f"{not_article}; follow_allow {quoted(follow)}")
    return Decision(IGNORED, f"{not_article}; no follow_allow pattern matched")


def matched_upto(pattern: str, path: str) -> int:
    """How many leading characters of the path the pattern still fits (partially): a pattern
    without the trailing slash fits /news/2026/11/slug of /news/2026/11/slug/."""
    low, high = 0, len(path)
    try:
        compiled = regex.compile(pattern)
    except regex.error:
        return 0
    while low < high:  # the fitting prefixes are 0..k: find k
        middle = (low + high + 1) // 2
        if compiled.search(path[:middle], partial=True):
            low = middle
        else:
            high = middle - 1
    return low


def near_miss(site: SiteSettings, url: str) -> dict | None:
    """The article pattern that fits most of this URL's path, with how much of it (None: nothing fits)."""
    path = path_and_query(url)
    if not path:
        return None
    best = max(((matched_upto(p, path), p) for p in site.article_allow), default=(0, ""))
    if best[0] <= 1:  # only the leading slash: not a near miss
        return None
    return {"url": url, "pattern": best[1], "upto": best[0], "share": round(best[0] / len(path), 3)}


def keep_near_miss(kept: list[dict], miss: dict) -> None:
    """Keep the NEAR_MISSES_KEPT URLs that fit best, best first."""
    kept.append(miss)
    kept.sort(key=lambda m: (-m["share"], -m["upto"], m["url"]))
    del kept[NEAR_MISSES_KEPT:]


def archived_nothing(summary: dict) -> bool:
    """Pages were fetched, yet no article was archived, re-checked or skipped as known."""
    if summary.get("pages_fetched", 0) == 0:
        return False
    activity = ("articles_extracted", "articles_new", "articles_updated", "articles_unchanged",
                "known_skipped", "not_modified", "rechecked")
    return not any(summary.get(key, 0) for key in activity)


def no_articles_message(site: SiteSettings, summary: dict) -> str:
    """One paragraph an operator can act on: what the patterns saw and why nothing qualified."""
    seen = summary.get("urls_seen", 0)
    matched = summary.get("article_urls", 0)
    misses = summary.get("near_misses") or []
    lines = [f"{site.name}: 0 articles archived from {summary.get('pages_fetched', 0)} pages fetched."]
    if matched == 0:
        example = path_and_query(misses[0]["url"]) if misses else "/news/2026/11/some-story/"
        lines.append(
            f"article_allow {quoted(site.article_allow)} matched none of the {seen} URLs seen; patterns are "
            f"matched against the path and query, e.g. `{example}`, not `https://host/...`."
        )
        if misses:
            lines.append("Nearest misses (the pattern fits the path up to the mark »):")
            for miss in misses:
                path = path_and_query(miss["url"])
                lines.append(f"  {path[:miss['upto']]}»{path[miss['upto']:]}  {quoted(miss['pattern'])}")
    else:
        rejected = summary.get("rejections", {})
        counts = ", ".join(f"{k} {v}" for k, v in rejected.items()) or "none"
        lines.append(f"article_allow matched {matched} of the {seen} URLs seen, but every one was rejected ({counts}).")
    examples = []
    samples_by_kind = summary.get("url_samples") or {}
    near = {m["url"] for m in misses}
    for kind in (IGNORED, LISTING, OFFSITE):
        for sample in [s for s in samples_by_kind.get(kind, []) if s["url"] not in near][:3]:
            shown = sample["url"] if kind == OFFSITE else path_and_query(sample["url"]) or "/"
            examples.append(f"  {shown}: {kind} ({sample['why']})")
    for reason, samples in (summary.get("rejected_samples") or {}).items():
        if reason == "offsite":
            continue  # shown above with the host
        for sample in samples[:2]:
            detail = f": {sample['detail']}" if sample.get("detail") else ""
            examples.append(f"  {path_and_query(sample['url']) or '/'}: rejected {reason}{detail}")
    if examples:
        lines.append("URLs seen and why each was not archived:")
        lines.extend(examples[:12])
    lines.append(f"Try `archive sites check {site.name}` to see how each URL is classified.")
    return "\n".join(lines)
