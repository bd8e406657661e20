"""What every request to `archive serve` passes before any page sees it, and what every
response carries: one ASGI middleware, so the search page, the API and sign-in alike get it.

- Security headers on every response: a Content-Security-Policy with frame-ancestors 'none'
  (no other site can frame a page and click "Remove" through it), X-Frame-Options,
  X-Content-Type-Options: nosniff, Referrer-Policy. A response that sets its own
  Content-Security-Policy and X-Frame-Options keeps them: only the page as captured does
  (search/web/capture.py: no script at all, framed by this server's own article page only).
- The Host header must name this server: the host of ARCHIVE_PUBLIC_URL or the address it is
  bound to. Another name (DNS rebinding: evil.example resolving to 127.0.0.1) is refused, so
  no page, link or check ever works from an attacker's name.
- A request that changes something (POST, PUT, PATCH, DELETE) must prove it comes from this
  server's own pages: an Origin equal to this server's (the public URL's scheme, host and port,
  or the allowed address it was reached at), and either the form's CSRF token or
  Sec-Fetch-Site: same-origin. A missing Origin is refused.
- Request bodies are bounded (search.max_body_bytes): a larger one is a 413 naming the limit,
  read no further.

Refusals are one JSON line {"error": ...} with 400, 403 or 413.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from archive.urls import is_loopback_host

CSRF_FIELD = "csrf_token"
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]
# Headers a response may set for itself (both, or neither is kept).
OWN_FRAMING = frozenset({b"content-security-policy", b"x-frame-options"})
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
DRAIN_BYTES = 4 * 1024 * 1024  # an oversized body is read (not kept) this far, to answer 413 cleanly


@dataclass(frozen=True)
class GuardSettings:
    public_url: str          # ARCHIVE_PUBLIC_URL: the origin forms come from, links point at
    bound_host: str          # the address `archive serve` listens on
    max_body_bytes: int

    @property
    def allowed_hosts(self) -> frozenset[str]:
        public = (urlsplit(self.public_url).hostname or "").lower()
        bound = self.bound_host.strip("[]").lower()
        hosts = {public} | ({bound} if not _is_wildcard(bound) else set())
        if is_loopback_host(public) or is_loopback_host(bound):
            hosts.update(LOOPBACK_NAMES)  # names no other site can make a browser resolve
        return frozenset(h for h in hosts if h)

    @property
    def public_origin(self) -> str:
        parts = urlsplit(self.public_url)
        default = {"http": 80, "https": 443}.get(parts.scheme)
        port = f":{parts.port}" if parts.port and parts.port != default else ""
        host = parts.hostname or ""
        return f"{parts.scheme}://{'[' + host + ']' if ':' in host else host}{port}"


def csrf_token(secret: bytes) -> str:
    """The token every form of this server carries (an HMAC of a secret no other site knows)."""
    return hmac.new(secret, b"archive-serve-forms", hashlib.sha256).hexdigest()


def new_secret() -> bytes:
    return secrets.token_bytes(32)


class Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class RequestGuard:
    """ASGI middleware: headers out, Host, same-origin and body size in (see the module text)."""

    def __init__(self, app, settings: GuardSettings, secret: bytes):
        self.app = app
        self.settings = settings
        self.allowed_hosts = settings.allowed_hosts
        self.token = csrf_token(secret)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                own = message.get("headers", [])
                keep = OWN_FRAMING if OWN_FRAMING <= {k.lower() for k, _ in own} else frozenset()
                headers = [(k, v) for k, v in own if k.lower() not in dict(SECURITY_HEADERS) or k.lower() in keep]
                message = {**message, "headers": headers + [(k, v) for k, v in SECURITY_HEADERS if k not in keep]}
            await send(message)

        headers = _headers(scope)
        try:
            self._check_host(headers)
            if scope["method"] in STATE_CHANGING:
                body = await self._read_body(headers, receive)
                self._check_origin(scope, headers, body)
                receive = _replay(body, receive)
            else:
                receive = self._bounded(receive)
        except Refused as refused:
            return await _refuse(send_with_headers, refused)
        await self.app(scope, receive, send_with_headers)

    # --- checks -------------------------------------------------------------------------------

    def _check_host(self, headers: dict[str, str]) -> None:
        host = headers.get("host", "")
        name = _host_name(host)
        if name is None or name not in self.allowed_hosts:
            raise Refused(400, f"refused: the Host header {host[:100]!r} does not name this server "
                               f"(allowed: {', '.join(sorted(self.allowed_hosts))}; set ARCHIVE_PUBLIC_URL to the address readers use)")

    def _check_origin(self, scope, headers: dict[str, str], body: bytes) -> None:
        origin = headers.get("origin")
        if not origin:
            raise Refused(403, "refused: a request that changes something must carry an Origin header (a browser sends it); "
                               "none was sent")
        reached = f"{scope.get('scheme', 'http')}://{headers.get('host', '')}".lower()
        if origin.lower().rstrip("/") not in {self.settings.public_origin.lower(), reached}:
            raise Refused(403, f"refused: a form posted from {origin[:100]}, not from this server ({self.settings.public_origin})")
        if headers.get("sec-fetch-site") == "same-origin" or self._has_token(headers, body):
            return
        raise Refused(403, "refused: the form carries no valid csrf_token and the browser did not say it is same-origin "
                           "(Sec-Fetch-Site): reload the page and send the form again")

    def _has_token(self, headers: dict[str, str], body: bytes) -> bool:
        sent = headers.get("x-csrf-token")
        if sent is None and headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            values = parse_qs(body.decode("latin-1"), max_num_fields=200).get(CSRF_FIELD)
            sent = values[-1] if values else None
        return sent is not None and hmac.compare_digest(sent.encode("latin-1", "replace"), self.token.encode())

    async def _read_body(self, headers: dict[str, str], receive) -> bytes:
        """The body, at most max_body_bytes of it kept. A larger one is read on and thrown away up
        to DRAIN_BYTES, so the client finishes sending and can read the 413 (closing at once
        gives it a broken pipe instead of the message); beyond that the connection just ends."""
        limit = self.settings.max_body_bytes
        declared = headers.get("content-length", "")
        if declared and (not declared.isascii() or not declared.isdigit() or len(declared) > 12 or int(declared) > DRAIN_BYTES):
            raise Refused(413, _too_large(limit))
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > DRAIN_BYTES:
                break
            if size <= limit:
                chunks.append(chunk)
            if not message.get("more_body"):
                break
        if size > limit:
            raise Refused(413, _too_large(limit))
        return b"".join(chunks)

    def _bounded(self, receive):
        """A body sent with a GET is read no further than the limit either."""
        limit, seen = self.settings.max_body_bytes, 0

        async def bounded():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(_too_large(limit))
            return message

        return bounded


class BodyTooLarge(ValueError):
    """A request body over search.max_body_bytes (a 413)."""


def _too_large(limit: int) -> str:
    return f"refused: the request body is larger than {limit:,} bytes (search.max_body_bytes)"


def _headers(scope) -> dict[str, str]:
    """The request's headers; of a repeated one, the first (a second Host must not win)."""
    found: dict[str, str] = {}
    for key, value in scope.get("headers", []):
        found.setdefault(key.decode("latin-1").lower(), value.decode("latin-1"))
    return found


def _host_name(host: str) -> str | None:
    """'Example.org:8800' -> 'example.org'; '[::1]:80' -> '::1'; None when it is not a host."""
    host = host.strip().lower()
    if not host or len(host) > 255:
        return None
    try:
        parts = urlsplit(f"//{host}")
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError:
        return None
    return parts.hostname




def _is_wildcard(host: str) -> bool:
    return host in ("", "0.0.0.0", "::")


def _replay(body: bytes, receive):
    """The body already read, then the connection's own messages (its disconnect)."""
    sent = False

    async def replayed():
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


async def _refuse(send, refused: Refused) -> None:
    body = json.dumps({"error": str(refused)}, ensure_ascii=False).encode("utf-8")
    await send({"type": "http.response.start", "status": refused.status,
                "headers": [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
