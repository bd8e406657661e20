"""Telling people about new matches of saved searches: webhook (JSON POST) and e-mail (SMTP).

The Atom feed (search/feeds.py) needs no delivery: readers fetch it. Webhook and e-mail are
optional (settings [alerts], environment ARCHIVE_ALERT_WEBHOOK_URL, ARCHIVE_SMTP_*). A saved
search's own webhook wins over the global one; its mail goes to its owner's address and its own
recipients, or, when it has neither, to the global recipients. Each is
tried a bounded number of times with short timeouts and never raises: the outcome (ok, or the
error) is returned, recorded on the saved search and logged, so a dead chat server cannot stop
a crawl or hide a failure. A webhook URL is a secret (its path is the key to the channel): what
is recorded or logged names only its scheme, host and port (archive.redact.safe_url).
"""

from __future__ import annotations

import json
import logging
import smtplib
import time
import urllib.error
import urllib.request
from email.message import EmailMessage

from archive.config import AlertSettings
from archive.redact import redact, safe_url
from search.alerts import CheckResult, SavedSearch, utcnow

logger = logging.getLogger(__name__)


def article_link(settings: AlertSettings, article_id: str) -> str:
    return f"{settings.public_url.rstrip('/')}/article/{article_id}"


def feed_link(settings: AlertSettings, search: SavedSearch) -> str:
    """The secret feed address (works without signing in), or the signed-in one of a search without a token."""
    base = settings.public_url.rstrip("/")
    return f"{base}/feeds/{search.feed_token}.atom" if search.feed_token else f"{base}/alerts/{search.name}.atom"


def webhook_url(settings: AlertSettings, search: SavedSearch) -> str:
    return search.webhook_url or settings.webhook_url


def recipients(settings: AlertSettings, search: SavedSearch) -> tuple[str, ...]:
    own = tuple(dict.fromkeys(a for a in ((search.owner_email,) if search.owner_email else ()) + search.email_to if a))
    return own or settings.email_to


def payload(settings: AlertSettings, result: CheckResult) -> dict:
    return {
        "saved_search": result.search.name,
        "owner": result.search.owner,
        "query": result.search.query,
        "feed": feed_link(settings, result.search),
        "new": len(result.new),
        "matches": [{**m.as_dict(), "archive_url": article_link(settings, m.article_id)} for m in result.new],
    }


def deliver(settings: AlertSettings, result: CheckResult, sleep=time.sleep, dead: set[str] | None = None) -> dict:
    """Send the new matches by webhook and e-mail where configured; what happened, per channel.

    dead: channels that already failed in this round of checks; they are not tried again (each
    failure could cost seconds of retries per saved search), and the skip is recorded as a failure."""
    outcome: dict = {}
    dead = set() if dead is None else dead
    if not result.new:
        return outcome
    hook, to = webhook_url(settings, result.search), recipients(settings, result.search)
    # A failed channel is not tried again in the same round: per webhook URL, per mail server.
    channels = {"webhook": (bool(hook), f"webhook {hook}"), "email": (bool(settings.smtp_host), "email")}
    if settings.smtp_host and not to:  # said, never silently skipped
        outcome["email"] = {"ok": False, "at": utcnow(), "error": "no recipient: the owner has no e-mail, the search "
                            "names none, and ARCHIVE_ALERT_EMAIL_TO is empty"}
        channels.pop("email")
    for channel, (configured, target) in channels.items():
        if not configured:
            continue
        if target in dead:
            outcome[channel] = {"ok": False, "at": utcnow(), "error": f"not tried: the {channel} failed earlier in this check"}
            continue
        if channel == "webhook":
            outcome[channel] = _webhook(settings, hook, payload(settings, result), sleep)
        else:
            outcome[channel] = _email(settings, result, to)
        if not outcome[channel]["ok"]:
            dead.add(target)
    for channel, status in outcome.items():
        if status["ok"]:
            logger.info("alert %s: %d new match(es) sent by %s", result.search.name, len(result.new), channel)
        else:
            logger.error("alert %s: %s delivery failed: %s", result.search.name, channel, status["error"])
    return outcome


def _webhook(settings: AlertSettings, url: str, body: dict, sleep) -> dict:
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    error = ""
    for attempt in range(1, settings.webhook_attempts + 1):
        request = urllib.request.Request(
            url, data=data, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
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


def _email(settings: AlertSettings, result: CheckResult, to: tuple[str, ...]) -> dict:
    search = result.search
    message = EmailMessage()
    count = len(result.new)
    message["Subject"] = f"{count} new article{'s' if count != 1 else ''} for \u201c{search.name}\u201d"
    message["From"] = settings.email_from
    message["To"] = ", ".join(to)
    lines = [f"Saved search {search.name}: {search.query}", ""]
    for match in result.new:
        label = " (edited)" if match.change == "edited" else ""
        lines += [f"* {match.title}{label}", f"  {match.site} · {(match.published or 'no date')[:10]}",
                  f"  {match.plain_snippet}", f"  archive: {article_link(settings, match.article_id)}", f"  original: {match.url}", ""]
    lines.append(f"Feed: {feed_link(settings, search)}")
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


def check_and_deliver(client, settings, name: str | None = None, owner: str | None = None) -> list[CheckResult]:
    """Check one saved search (or all; or all of one owner), mark what they found as seen, and send it where configured."""
    from search.alerts import AlertStore

    store = AlertStore(client, settings.elasticsearch)
    searches = [store.require(name, owner)] if name else store.list(owner=owner)
    results = []
    dead: set[str] = set()
    for search in searches:
        result = store.check(search)
        result.delivery = deliver(settings.alerts, result, dead=dead)
        if result.delivery:
            store.record_delivery(search, result.delivery)
        results.append(result)
    return results


def check_after_crawl(settings) -> None:
    """Run by the scheduler and `archive crawl` when a crawl run ends. Never raises: a failed
    check is logged in one line and the crawl's outcome stands."""
    from search.client import make_client

    try:
        client = make_client(settings.elasticsearch)
        if not client.indices.exists_alias(name=settings.elasticsearch.alerts_alias):
            return  # nothing was ever saved
        results = check_and_deliver(client, settings)
        if results:
            found = sum(len(r.new) for r in results)
            logger.info("saved searches checked after the crawl: %d search(es), %d new match(es)", len(results), found)
    except Exception as exc:  # noqa: BLE001 (an alert problem must never fail the crawl)
        logger.error("saved searches could not be checked after the crawl: %s: %s", type(exc).__name__, exc)
