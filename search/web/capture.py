"""The page as it was captured: the raw HTML of an article's WARC record, served so that it can
be looked at and never run.

The archive keeps one response record per article (the HTML, not its images, styles or
scripts), so there is nothing to replay and no URL rewriting to do: a replay system such as
pywb (a whole wayback server, whose replay also depends on a client-side script) is not needed
for one record. The capture is shown as text and layout only:

- it is served from its own URL with ``CAPTURE_POLICY``: no script, no plugin, no frame, no
  form, nothing fetched from anywhere (``default-src 'none'``; inline styles and ``data:``
  images that are part of the captured HTML itself are allowed), and the CSP ``sandbox``
  directive, so even opened directly it runs in an opaque origin without scripts;
- the article page embeds it in an ``<iframe sandbox>`` with no ``allow-*`` flag at all;
- a ``<meta http-equiv="refresh">`` and ``<base>`` are removed, so the capture cannot send the
  frame elsewhere or point its links at another origin on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from archive.warc_storage import WarcStorage

# Read at most this much of a record (the crawl's size limit is lower; a damaged WARC is bounded).
MAX_CAPTURE_BYTES = 20_000_000

CAPTURE_POLICY = (
    "default-src 'none'; script-src 'none'; object-src 'none'; frame-src 'none'; child-src 'none'; "
    "worker-src 'none'; connect-src 'none'; font-src 'none'; media-src 'none'; manifest-src 'none'; "
    "img-src data:; style-src 'unsafe-inline'; form-action 'none'; base-uri 'none'; frame-ancestors 'self'; "
    "sandbox"
)
CAPTURE_HEADERS = {
    "Content-Security-Policy": CAPTURE_POLICY,
    "X-Frame-Options": "SAMEORIGIN",  # framed by the article page of this server only
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "private, max-age=300",
}
# The iframe's sandbox attribute: empty, so every restriction applies (no allow-scripts).
IFRAME_SANDBOX = ""

_REFRESH_OR_BASE = re.compile(rb"<meta[^>]+http-equiv\s*=\s*[\"']?refresh[^>]*>|<base\b[^>]*>", re.IGNORECASE)
_CHARSET = re.compile(r"charset=([\w.:-]+)", re.IGNORECASE)


class CaptureUnavailable(Exception):
    """The article has no readable raw capture on this machine (the message says why)."""


@dataclass(frozen=True)
class CapturedPage:
    html: bytes
    charset: str | None  # from the response headers; else the page's own <meta charset>
    url: str | None
    date: str | None


def captured_page(storage: WarcStorage, article: dict) -> CapturedPage:
    """The HTML of the article's WARC record, with refresh and base tags removed, read by offset
    from the WARC storage (a folder, or an S3 bucket: one Range GET)."""
    from warcio.archiveiterator import ArchiveIterator

    warc_file, offset = article.get("warc_file"), article.get("warc_offset")
    if not warc_file or offset is None:
        raise CaptureUnavailable("no raw capture recorded for this article")
    try:
        with storage.open(str(warc_file), int(offset)) as stream:
            record = next(iter(ArchiveIterator(stream)))
            if record.rec_type != "response":
                raise CaptureUnavailable(f"the WARC record at byte {offset} is a {record.rec_type} record, not a response")
            body = record.content_stream().read(MAX_CAPTURE_BYTES + 1)
            content_type = record.http_headers.get_header("Content-Type") if record.http_headers else None
            url = record.rec_headers.get_header("WARC-Target-URI")
            date = record.rec_headers.get_header("WARC-Date")
    except FileNotFoundError:
        raise CaptureUnavailable(f"the WARC file is not in {storage.where} ({warc_file})") from None
    except ValueError as exc:  # the stored name must stay inside the WARC storage
        raise CaptureUnavailable(f"refused WARC file name: {exc}") from None
    except CaptureUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001 (a damaged WARC must not break the page)
        raise CaptureUnavailable(f"the WARC record could not be read: {type(exc).__name__}: {exc}") from None
    if len(body) > MAX_CAPTURE_BYTES:
        raise CaptureUnavailable(f"the captured page is larger than {MAX_CAPTURE_BYTES} bytes")
    found = _CHARSET.search(content_type or "")
    return CapturedPage(_REFRESH_OR_BASE.sub(b"", body), found.group(1) if found else None, url, date)
