"""URL identity: one article is one document however it was reached.

Shared knowledge of the crawler (which URL is which article) and the store (document ids,
look-ups by URL), so it lives below both: search/ imports it without importing the crawler.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from urllib.parse import urlsplit, urlunsplit

from w3lib.url import canonicalize_url, url_query_cleaner

# Parameters that identify a campaign or a click, never a different page.
TRACKING_PARAMETERS = re.compile(
    r"^(utm_[a-z]+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|yclid|_ga|_gl|igshid|"
    r"ref|ref_src|cmpid|ocid|smid|sr_share|at_medium|at_campaign|__twitter_impression)$",
    re.IGNORECASE,
)


def strip_tracking(url: str) -> str:
    parts = urlsplit(url)
    if not parts.query:
        return url
    params = [p.split("=", 1)[0] for p in parts.query.split("&") if p]
    tracking = [p for p in params if TRACKING_PARAMETERS.match(p)]
    if not tracking:
        return url
    return url_query_cleaner(url, parameterlist=tracking, remove=True, keep_fragments=True)


def canonicalize(url: str) -> str:
    """Tracking parameters and fragments dropped, host lowercased, query sorted.

    Trailing slashes are kept: on many sites /a and /a/ are different resources, and the
    page's own canonical link (which wins when present) settles it.
    """
    url = canonicalize_url(strip_tracking(url), keep_fragments=False)
    parts = urlsplit(url)
    # Default ports say nothing; drop them so http://h:80/x and http://h/x are one document.
    netloc = parts.netloc
    if (parts.scheme, parts.port) in (("http", 80), ("https", 443)):
        netloc = parts.hostname or netloc
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


def document_id(canonical_url: str) -> str:
    """The Elasticsearch _id: a stable hash of the canonical URL (idempotent writes)."""
    return hashlib.sha256(canonical_url.encode("utf-8")).hexdigest()[:32]


def is_loopback_host(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1); host names are not resolved."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
