"""Crawler-side URL helpers. URL identity (canonicalize, document_id) lives in archive/urls.py,
below both the crawler and the store; it is re-exported here for the crawler's own modules."""

from __future__ import annotations

from urllib.parse import urlsplit

from archive.urls import TRACKING_PARAMETERS, canonicalize, document_id, strip_tracking

__all__ = ["TRACKING_PARAMETERS", "canonicalize", "document_id", "strip_tracking", "host_of", "in_domains"]


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def in_domains(url: str, domains: tuple[str, ...] | list[str]) -> bool:
    host = host_of(url)
    return any(host == d or host.endswith("." + d) for d in domains)
