"""Sending a saved search's matches: webhook (JSON POST) and e-mail (SMTP).

The Atom feed (search/feeds.py) needs no delivery: readers fetch it. Webhook and e-mail are
optional (settings [alerts], environment ARCHIVE_ALERT_WEBHOOK_URL, ARCHIVE_SMTP_*). A saved
search's own webhook wins over the global one; its mail goes to its owner's address and its own
recipients, or, when it has neither, to the global recipients. A send is
tried a bounded number of times with short timeouts and never raises: the outcome (ok, or the
error) is returned to the outbox (search/outbox.py), which retries later and records it. A
webhook URL is a secret (its path is the key to the channel): what is recorded or logged names
only its scheme, host and port (archive.redact.safe_url).
"""

from __future__ import annotations

import hashlib
import json
import logging
import smtplib
import time
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate

from archive.config import AlertSettings
from archive.redact import redact, safe_url
from search.alerts import CHANGED, EDITED, FIRST, Match, SavedSearch, utcnow

logger = logging.getLogger(__name__)


def article_link(settings: AlertSettings, article_id: str) -> str:
    return f"{settings.public_url.rstrip('/')}/article/{article_id}"


def feed_link(settings: AlertSettings, search: SavedSearch) -> str:
    """The secret feed address (works without signing in), or the signed-in one of a search without a token."""
    base = settings.public_url.rstrip("/")
    return f"{base}/feeds/{search.feed_token}.atom" if search.feed_token else f"{base}/alerts/{search.name}.atom"


def search_link(settings: AlertSettings, search: SavedSearch) -> str:
    """The saved search's page, as its owner opens it (signed in)."""
    return f"{settings.public_url.rstrip('/')}/alerts/{search.name}"


def webhook_url(settings: AlertSettings, search: SavedSearch) -> str:
    return search.webhook_url or settings.webhook_url


def recipients(settings: AlertSettings, search: SavedSearch) -> tuple[str, ...]:
    own = tuple(dict.fromkeys(a for a in ((search.owner_email,) if search.owner_email else ()) + search.email_to if a))
    return own or settings.email_to


def channels_for(settings: AlertSettings, search: SavedSearch) -> list[str]:
    """Where the search's matches go besides its feed: its own webhook or the global one; mail
    when a mail server is set (to its owner and recipients, else the global recipients)."""
    return [channel for channel, configured in (("webhook", bool(webhook_url(settings, search))), ("email", bool(settings.smtp_host)))
            if configured]


def channel_target(settings: AlertSettings, search: SavedSearch, channel: str) -> str:
    """What a failed send puts out of use for the rest of a round: one webhook URL, or the mail server."""
    return f"webhook {webhook_url(settings, search)}" if channel == "webhook" else channel


def delivery_key(search: SavedSearch, matches: list[Match]) -> str:
    """The same matches sent again (after a crash between sending and recording) carry the same
    key: the webhook's `delivery_id`, the mail's Message-ID. Receivers can drop the repeat."""
    digest = hashlib.sha256("\n".join([search.key, *sorted(f"{m.article_id}:{m.change}:{m.matched_at}" for m in matches)]).encode())
    return digest.hexdigest()[:32]


def _label(match: Match) -> str:
    return {EDITED: " (edited)", CHANGED: " (changed)", FIRST: " (first appearance)"}.get(match.change, "")


def headline(search: SavedSearch, matches: list[Match]) -> str:
    count = len(matches)
    if search.follows:
        return f"{count} change{'s' if count != 1 else ''} to a followed article (\u201c{search.name}\u201d)"
    if search.first_appearance:
        return f"First appearance for \u201c{search.name}\u201d"
    return f"{count} new article{'s' if count != 1 else ''} for \u201c{search.name}\u201d"


def payload(settings: AlertSettings, search: SavedSearch, matches: list[Match]) -> dict:
    lines = [headline(search, matches) + ":"]
    lines += [f"\u2022 {m.title or m.url}{_label(m)} {article_link(settings, m.article_id)}" for m in matches[:20]]
    if len(matches) > 20:
        lines.append(f"\u2026 and {len(matches) - 20} more: {search_link(settings, search)}")
    return {
        "text": "\n".join(lines),  # what chat tools (Slack, Mattermost) show as it is
        "delivery_id": delivery_key(search, matches),
        "saved_search": search.name,
        "owner": search.owner,
        "query": search.query,
        "feed": feed_link(settings, search),
        "page": search_link(settings, search),
        "new": len(matches),
        "matches": [{**m.as_dict(), "archive_url": article_link(settings, m.article_id)} for m in matches],
    }


def send(channel: str, settings: AlertSettings, search: SavedSearch, matches: list[Match], sleep=time.sleep) -> dict:
    """One delivery of the matches by one channel: {ok, at, attempts?, error?}. Never raises."""
    if channel == "webhook":
        return _webhook(settings, webhook_url(settings, search), payload(settings, search, matches), sleep)
    to = recipients(settings, search)
    if not to:  # said, never silently skipped
        return {"ok": False, "at": utcnow(), "error": "no recipient: the owner has no e-mail, the search names none, "
                "and ARCHIVE_ALERT_EMAIL_TO is empty"}
    return _email(settings, search, matches, to)


def _webhook(settings: AlertSettings, url: str, body: dict, sleep) -> dict:
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    error = ""
    for attempt in range(1, settings.webhook_attempts + 1):
        request = urllib.request.Request(
            url, data=data, method="POST",
            headers={"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": body["delivery_id"]},
        )
        try:
            with urllib.request.urlopen(request, timeout=settings.webhook_timeout) as response:
                return {"ok": True, "at": utcnow(), "attempts": attempt, "status": response.status}
        except urllib.error.HTTPError as exc:
            error = f"HTTP {exc.code} from {safe_url(url)}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = redact(str(getattr(exc, "reason", exc)), url)
            error = f"{safe_url(url)} unreachable: {reason}"
        if attempt < settings.webhook_attempts:
            sleep(min(2 ** (attempt - 1), 5))  # 1 s, 2 s, 4 s: bounded, never blocks for long
    return {"ok": False, "at": utcnow(), "attempts": settings.webhook_attempts, "error": error}


def _email(settings: AlertSettings, search: SavedSearch, matches: list[Match], to: tuple[str, ...]) -> dict:
    message = EmailMessage()
    message["Subject"] = headline(search, matches)
    message["From"] = settings.email_from
    message["To"] = ", ".join(to)
    message["Date"] = formatdate(usegmt=True)
    domain = settings.email_from.rpartition("@")[2] or "localhost"
    message["Message-ID"] = f"<alert-{delivery_key(search, matches)}@{domain}>"
    message["List-Unsubscribe"] = f"<{search_link(settings, search)}>"
    lines = [f"Saved search {search.name}: {search.query}", ""]
    for match in matches:
        lines += [f"* {match.title}{_label(match)}", f"  {match.site} · {(match.published or 'no date')[:10]}"]
        if match.diff:
            lines += _diff_lines(match.diff)
        else:
            lines.append(f"  {match.plain_snippet}")
        lines += [f"  archive: {article_link(settings, match.article_id)}", f"  original: {match.url}", ""]
    lines.append(f"Feed: {feed_link(settings, search)}")
    lines.append(f"Stop these alerts: {search_link(settings, search)}")
    message.set_content("\n".join(lines))
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password or "")
            smtp.send_message(message)
        return {"ok": True, "at": utcnow(), "recipients": list(to)}
    except (smtplib.SMTPException, OSError) as exc:
        return {"ok": False, "at": utcnow(), "error": f"SMTP {settings.smtp_host}:{settings.smtp_port}: {exc}"}


def _diff_lines(diff: dict) -> list[str]:
    lines = []
    if diff.get("title_changed"):
        lines.append(f"  headline was: {diff.get('title_before')}")
    lines += [f"  - {p}" for p in diff.get("removed", [])]
    lines += [f"  + {p}" for p in diff.get("added", [])]
    if diff.get("more"):
        lines.append(f"  ({diff['more']} more changed paragraphs on the article's page)")
    return lines
