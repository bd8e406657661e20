"""URLs that may carry secrets, shown without them.

A chat webhook URL is a secret in its path (hooks.example/services/T0SECRET/...), and an
Elasticsearch URL may carry a password (http://elastic:pw@host:9200). Wherever such a URL
reaches a message, a stored record, a page, the CLI or a log, it goes through ``safe_url``:
only scheme, host and port are kept, enough to say which endpoint failed.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# scheme://user:password@ in any text (an exception's message, a log line)
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]*@")


def safe_url(url: str | None) -> str:
    """'https://hooks.example:8443/services/T0/B1/xyz?token=1' -> 'https://hooks.example:8443'."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:  # an unparsable port or bracket: show nothing of it
        return "(an unreadable URL)"
    if not parts.scheme or not host:
        return "(a URL)"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def redact(text: str, *secret_urls: str | None) -> str:
    """The text with each of these URLs shown as ``safe_url`` and any user:password@ removed."""
    for url in sorted((u for u in secret_urls if u), key=len, reverse=True):
        text = text.replace(url, safe_url(url))
    return _USERINFO.sub(r"\1", text)


_ANY_URL = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s'\"<>]+")


def shorten_urls(text: str) -> str:
    """Every URL in the text as ``safe_url``: for messages about endpoints (a webhook's failure,
    even one recorded before its URL changed), where no path may show."""
    return _ANY_URL.sub(lambda m: safe_url(m.group()), text)
