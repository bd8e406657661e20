"""Crawler-side URL helpers. URL identity (canonicalize, document_id) lives in archive/urls.py,
below both the crawler and the store; it is re-exported here for the crawler's own modules."""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from archive.urls import TRACKING_PARAMETERS, canonicalize, document_id, strip_tracking

__all__ = ["TRACKING_PARAMETERS", "canonicalize", "document_id", "strip_tracking", "host_of", "in_domains", "SiteScope"]

DEFAULT_PORTS = {"http": 80, "https": 443}


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def port_of(url: str) -> int | None:
    parts = urlsplit(url)
    try:
        return parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:  # a port out of range or not a number: no port anyone allows
        return None


def in_domains(url: str, domains: tuple[str, ...] | list[str]) -> bool:
    """The host is one of the domains or below one (ports not considered: see SiteScope)."""
    host = host_of(url)
    return any(host == d or host.endswith("." + d) for d in domains)


def split_domain(entry: str) -> tuple[str, int | None]:
    """'news.example' -> ('news.example', None); '127.0.0.1:8701' -> ('127.0.0.1', 8701)."""
    host, sep, port = entry.rpartition(":")
    if sep and port.isdigit() and host and not host.endswith(":"):
        return host.lower(), int(port)
    return entry.lower(), None


def is_internal_address(host: str) -> bool:
    """A loopback, private, link-local or unspecified address (or localhost): internal services."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local or address.is_unspecified


@dataclass(frozen=True)
class SiteScope:
    """Which URLs one site's crawl may fetch.

    An allowed_domains entry is a host (its subdomains included) with an optional port. A bare
    host allows the default ports (80, 443) and the ports of the site's configured URLs only, so
    a link or redirect cannot reach another service on the same machine (an Elasticsearch on
    :9200 beside the site). Redirects are also refused towards internal addresses unless the
    site's own URLs are there.
    """

    entries: tuple[tuple[str, int | None], ...]
    bare_host_ports: frozenset[int]
    own_hosts: frozenset[str]

    @classmethod
    @functools.lru_cache(maxsize=64)  # settings are frozen: one scope per site entry
    def of(cls, site) -> "SiteScope":
        configured = site.start_urls + site.sitemaps + site.feeds
        ports = {80, 443} | {p for p in (port_of(u) for u in configured) if p}
        return cls(tuple(split_domain(d) for d in site.allowed_domains), frozenset(ports),
                   frozenset(host_of(u) for u in configured))

    def allows(self, url: str) -> bool:
        host, port = host_of(url), port_of(url)
        if not host or port is None:
            return False
        for domain, allowed_port in self.entries:
            if host == domain or host.endswith("." + domain):
                if port == allowed_port or (allowed_port is None and port in self.bare_host_ports):
                    return True
        return False

    def refuses_redirect(self, url: str) -> str | None:
        """Why a redirect to this URL is not followed, or None."""
        if not self.allows(url):
            return f"{url}, outside allowed_domains {self.describe()}"
        host = host_of(url)
        if is_internal_address(host) and host not in self.own_hosts:
            return f"{url}, an internal address where the site's own URLs are not"
        return None

    def describe(self) -> str:
        ports = ", ".join(str(p) for p in sorted(self.bare_host_ports))
        shown = [f"{d}:{p}" if p else d for d, p in self.entries]
        return f"{shown} (bare hosts on ports {ports})"
