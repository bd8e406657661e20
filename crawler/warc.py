"""Raw pages kept in WARC files, so any document can be rebuilt without the network.

One HTTP response as fetched is a ``Capture``; ``WarcStore.append`` writes it as a WARC/1.1
``response`` record (one gzip member per record, block and payload digests as warcio computes
them) and returns where it went (``WarcLocation``: file relative to the WARC folder, byte
offset of the record). ``WarcStore.read`` gets it back by offset; ``iter_captures`` walks every
record of a site's folder (or of all sites), oldest file first. Readers take a folder or any
``archive.warc_storage`` storage (an S3 bucket: a record is one Range GET).

Layout (the WARC folder is ``settings.data_dir / "warc"``, see ``warc_root``; with
``warc.storage = "file:///..."`` or ``"s3://bucket/prefix"`` each closed file is also copied
there, the same layout, and readers use it: ``archive.warc_storage``):

    warc/<site>/<site>-<YYYYMMDDTHHMMSS>-<pid>-<seq>.warc.gz

Each file starts with a ``warcinfo`` record. One store writes to its own files (the process id
is in the name), so concurrent crawls never interleave records; a file is closed and a new one
started once it reaches ``max_file_bytes``. Every append is flushed and fsynced: a kill -9
right after ``append`` returns loses nothing. A kill during an append leaves a torn last
record, which ``iter_captures`` skips with a warning (earlier records stay readable).

The archive's canonical URL of a capture is kept in the record's ``WARC-Archive-Canonical``
header (a WARC extension field); the fetch time is the record's ``WARC-Date``.

The body is the HTTP payload as the fetcher handed it over, stored and returned byte for byte.
Fetchers that undo a Content-Encoding (Scrapy does) hand over the decoded body;
``Capture.content()`` gives the decoded body in either case.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import http
import io
import logging
import os
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Iterator

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date, iso_date_to_datetime
from warcio.warcwriter import WARCWriter

from archive.warc_storage import SUFFIX, WarcFolder, WarcStorage, fsync_dir

logger = logging.getLogger(__name__)

WARC_VERSION = "1.1"
CANONICAL_HEADER = "WARC-Archive-Canonical"
SOFTWARE = "newsroom-archive"
FORMAT = "WARC File Format 1.1"
CONFORMS_TO = "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"


def warc_root(data_dir: Path) -> Path:
    """The WARC folder of an archive: ``settings.data_dir / "warc"``, one sub-folder per site."""
    return Path(data_dir) / "warc"


class WarcError(Exception):
    """A WARC record could not be read where it was expected."""


@dataclass(frozen=True)
class Capture:
    """One HTTP response as fetched."""

    url: str                                  # the URL actually fetched (after redirects)
    status: int
    headers: list[tuple[str, str]]            # response headers as received
    body: bytes
    fetched_at: str                           # ISO 8601 UTC, e.g. 2026-11-27T02:00:03+00:00
    canonical_url: str | None = None          # what the archive stored it under

    def header(self, name: str) -> str | None:
        """First value of a response header (case-insensitive), or None."""
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    @property
    def content_type(self) -> str:
        """The media type without parameters, lowercased ('' when the response gave none)."""
        return (self.header("Content-Type") or "").split(";")[0].strip().lower()

    def content(self) -> bytes:
        """The body with a Content-Encoding (gzip, deflate) undone, when it still applies.

        A fetcher that already decoded the body (Scrapy) may leave the header behind: the
        body is then returned as is."""
        encoding = (self.header("Content-Encoding") or "").strip().lower()
        if encoding in ("gzip", "x-gzip") and self.body[:2] == b"\x1f\x8b":
            try:
                return gzip.decompress(self.body)
            except (OSError, EOFError, zlib.error):
                return self.body
        if encoding == "deflate":
            for wbits in (zlib.MAX_WBITS, -zlib.MAX_WBITS):
                try:
                    return zlib.decompress(self.body, wbits)
                except zlib.error:
                    continue
        return self.body


@dataclass(frozen=True)
class WarcLocation:
    file: str     # path relative to the WARC folder, e.g. "demo/demo-20261127T020000-12345-00000.warc.gz"
    offset: int   # byte offset of the record in that file


@dataclass
class _OpenFile:
    relative: str
    path: Path
    handle: BinaryIO
    writer: WARCWriter
    records: int = 0  # response records written


class WarcStore:
    """Appends captures of one site to WARC files of this process; reads them back by offset."""

    def __init__(self, directory: Path, site: str, max_file_bytes: int = 1_000_000_000,
                 shared: Path | WarcStorage | None = None):
        if not site or "/" in site or site.startswith("."):
            raise ValueError(f"not a usable site name for a WARC folder: {site!r}")
        if max_file_bytes <= 0:
            raise ValueError(f"max_file_bytes must be greater than 0, got {max_file_bytes}")
        self.directory = Path(directory)
        self.site = site
        self.max_file_bytes = max_file_bytes
        self.site_dir = self.directory / site
        self._current: _OpenFile | None = None
        self._lock = threading.Lock()
        self._copier: ThreadPoolExecutor | None = None  # copies closed files to the shared storage
        self._seq = 0
        self.files_written: list[str] = []  # relative paths, in order
        # Storage every machine reads (warc.storage: a shared folder, an S3 bucket): each closed
        # file is copied there; files a stopped machine had not copied yet are copied now.
        self.shared = WarcFolder(shared) if isinstance(shared, (str, Path)) else shared
        if self.shared is not None:
            left = [p for p in warc_files(self.directory, site) if not self._shared_holds(p)]
            copied = sum(self._share(path) for path in left)
            if copied:
                logger.info("copied %d WARC file(s) of %s left from an earlier run to %s", copied, site, self.shared.where)

    # -- writing ----------------------------------------------------------------------------

    def append(self, capture: Capture, sync: bool = True) -> WarcLocation:
        """Write one response record; return where it is. Durable when this returns, or with
        ``sync=False`` once ``sync()`` returns (one fsync per batch instead of per page)."""
        with self._lock:
            current = self._current
            if current is not None and current.records and current.handle.tell() >= self.max_file_bytes:
                self._close_current()
                current = None
            if current is None:
                current = self._current = self._open_new()
            record = _response_record(current.writer, capture)
            offset = current.handle.tell()
            current.writer.write_record(record)
            current.handle.flush()
            if sync:
                os.fsync(current.handle.fileno())
            current.records += 1
            return WarcLocation(file=current.relative, offset=offset)

    def sync(self) -> None:
        """Make every record appended so far durable (any thread; a rotated file was synced on close)."""
        with self._lock:
            if self._current is not None:
                self._current.handle.flush()
                os.fsync(self._current.handle.fileno())

    def _open_new(self) -> _OpenFile:
        self.site_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        while True:
            name = f"{self.site}-{stamp}-{os.getpid()}-{self._seq:05d}{SUFFIX}"
            self._seq += 1
            path = self.site_dir / name
            try:
                handle = open(path, "xb")  # never append to a file someone else started
            except FileExistsError:
                continue
            break
        writer = WARCWriter(handle, gzip=True, warc_version=WARC_VERSION)
        info = {
            "software": f"{SOFTWARE} (warcio {_warcio_version()})",
            "format": FORMAT,
            "conformsTo": CONFORMS_TO,
            "isPartOf": self.site,
            "hostname": writer.hostname,
        }
        writer.write_record(writer.create_warcinfo_record(name, info))
        handle.flush()
        os.fsync(handle.fileno())
        fsync_dir(self.site_dir)
        relative = f"{self.site}/{name}"
        self.files_written.append(relative)
        logger.info("writing WARC %s", path)
        return _OpenFile(relative=relative, path=path, handle=handle, writer=writer)

    def _close_current(self) -> None:
        if self._current is not None:
            handle, path = self._current.handle, self._current.path
            try:
                handle.flush()
                os.fsync(handle.fileno())
            finally:
                handle.close()
            self._current = None
            if self.shared is not None:
                # In the background: a gigabyte's upload must not hold up the crawl's next append.
                if self._copier is None:
                    self._copier = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"warc-copy-{self.site}")
                self._copier.submit(self._share, path)

    def close(self) -> None:
        """Close the file being written; return once every closed file was copied (or said why not)."""
        with self._lock:
            self._close_current()
            copier, self._copier = self._copier, None
        if copier is not None:
            copier.shutdown(wait=True)

    def __enter__(self) -> "WarcStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- reading ----------------------------------------------------------------------------

    def read(self, location: WarcLocation) -> Capture:
        """The capture stored at ``location`` (any site's file under this store's folder)."""
        return read_capture(self.directory, location)


    def _shared_holds(self, path: Path) -> bool:
        try:
            return self.shared.holds(f"{self.site}/{path.name}", path.stat().st_size)
        except OSError as exc:
            logger.error("cannot tell whether WARC %s is in %s (%s): copying it again", path.name, self.shared.where, exc)
            return False

    def _share(self, path: Path) -> bool:
        """Copy one closed file to the shared storage. A failure loses nothing: the file stays
        here, written and fsynced, and the next store of this site on this machine copies it."""
        try:
            self.shared.put(path, f"{self.site}/{path.name}")
        except Exception as exc:  # noqa: BLE001 - in the copier thread an error would vanish: said here
            logger.error("WARC %s not copied to %s (%s): kept in %s, copied at the next crawl of %s",
                         path.name, self.shared.where, exc, self.site_dir, self.site)
            return False
        logger.info("copied WARC %s to %s", path.name, self.shared.where)
        return True


def _storage(directory: Path | WarcStorage) -> WarcStorage:
    return WarcFolder(directory) if isinstance(directory, (str, Path)) else directory


def read_capture(directory: Path | WarcStorage, location: WarcLocation) -> Capture:
    """Random access: the response record at ``location`` in the WARC folder or storage ``directory``."""
    storage = _storage(directory)
    try:
        with storage.open(location.file, location.offset) as handle:
            for record in ArchiveIterator(handle, no_record_parse=True):
                if record.rec_type != "response":
                    raise WarcError(f"{location.file}@{location.offset}: a {record.rec_type} record, not a response")
                capture = _capture_of(record)
                if capture is None:
                    raise WarcError(f"{location.file}@{location.offset}: torn record")
                return capture
    except FileNotFoundError:
        raise WarcError(f"no WARC file {location.file} in {storage.where}") from None
    except (ArchiveLoadFailed, EOFError, zlib.error, OSError, ValueError) as exc:
        raise WarcError(f"{location.file}@{location.offset}: cannot read a record there: {exc}") from None
    raise WarcError(f"{location.file}@{location.offset}: no record there")


def warc_files(directory: Path, site: str | None = None) -> list[Path]:
    """The WARC files of one site's folder (or of every site folder), oldest first."""
    folder = WarcFolder(directory)
    return [folder.root / relative for relative in folder.files(site)]


def iter_captures(directory: Path | WarcStorage, site: str | None = None) -> Iterator[tuple[WarcLocation, Capture]]:
    """Every response record of every file (of one site's folder or all), oldest file first.

    A torn record (a file cut mid-record by a kill) is skipped with a logged warning; reading
    goes on with the next file."""
    storage = _storage(directory)
    for relative in storage.files(site):
        yield from _iter_file(storage, relative)


def _iter_file(storage: WarcStorage, relative: str) -> Iterator[tuple[WarcLocation, Capture]]:
    size = storage.size(relative) or 0
    with storage.open(relative) as handle:
        iterator = ArchiveIterator(handle, no_record_parse=True)
        records = iter(iterator)
        while True:
            try:
                record = next(records)
            except StopIteration:
                break
            except Exception as exc:  # noqa: BLE001 - a torn tail can fail anywhere in the parser
                logger.warning("%s: unreadable from offset %d on (%s: %s): the rest of the file is skipped",
                               relative, iterator.offset, type(exc).__name__, exc)
                return
            offset = iterator.offset  # where this record starts (set before it is read)
            try:
                capture = _capture_of(record) if record.rec_type == "response" else None
            except WarcError as exc:
                logger.warning("%s: record at offset %d skipped: %s", relative, offset, exc)
                continue
            if record.rec_type is None or record.length is None or (capture is None and _read_whole(record) is None):
                logger.warning("%s: torn record at offset %d (file cut by a kill?): skipped", relative, offset)
                return
            if capture is not None:
                yield WarcLocation(file=relative, offset=offset), capture
    if iterator.offset < size and _has_data(storage, relative, iterator.offset):
        logger.warning("%s: torn record at offset %d (file cut by a kill?): skipped", relative, iterator.offset)


def _has_data(storage: WarcStorage, relative: str, offset: int) -> bool:
    with storage.open(relative, offset) as rest:
        return bool(rest.read(64).strip(b"\r\n\0"))


# -- records ---------------------------------------------------------------------------------

class _WireHeaders(StatusAndHeaders):
    """HTTP headers serialised as they came over the wire (latin-1 octets, values untouched),
    so they read back identical. warcio's default would %-encode non-ASCII values."""

    def compute_headers_buffer(self, header_filter=None):
        try:
            self.headers_buff = self.to_str(header_filter).encode("latin-1") + b"\r\n"
        except UnicodeEncodeError:
            super().compute_headers_buffer(header_filter)


def _response_record(writer: WARCWriter, capture: Capture):
    try:
        reason = http.HTTPStatus(capture.status).phrase
    except ValueError:
        reason = ""
    statusline = f"{capture.status} {reason}".strip()
    # A line break inside a value would end the header block early: never written as such.
    headers = [(_one_line(k), _one_line(v)) for k, v in capture.headers]
    http_headers = _WireHeaders(statusline, headers, protocol="HTTP/1.1")
    warc_headers = {"WARC-Date": _warc_date(capture.fetched_at)}
    if capture.canonical_url:
        warc_headers[CANONICAL_HEADER] = _one_line(capture.canonical_url)
    body = bytes(capture.body)
    return writer.create_warc_record(
        _one_line(capture.url),
        "response",
        payload=io.BytesIO(body),
        length=len(body),
        warc_headers_dict=warc_headers,
        http_headers=http_headers,
    )


def _one_line(value) -> str:
    return str(value).replace("\r", " ").replace("\n", " ")


def _read_whole(record) -> bytes | None:
    """The record's (remaining) block, or None when it ends before its declared length."""
    stream = record.raw_stream
    chunks = []
    while True:
        chunk = stream.read(65536)
        if not chunk:
            break
        chunks.append(chunk)
    if getattr(stream, "limit", 0) > 0:
        return None  # the file was cut inside this record
    return b"".join(chunks)


def _check_block_digest(record, block: bytes) -> None:
    declared = record.rec_headers.get_header("WARC-Block-Digest") or ""
    algorithm, _, value = declared.partition(":")
    if algorithm.lower() != "sha1" or not value:
        return  # none, or one this reader does not compute: nothing to compare
    actual = base64.b32encode(hashlib.sha1(block).digest()).decode("ascii")
    if actual != value.upper():
        raise WarcError(f"block digest mismatch (declared {declared}, found sha1:{actual}): damaged record")


def _capture_of(record) -> Capture | None:
    """The capture of a response record read with ``no_record_parse`` (the block is the HTTP
    header block and the payload, both read here exactly as written), or None when the record
    is cut short."""
    if record.length is None:
        return None
    block = _read_whole(record)
    if block is None:
        return None
    _check_block_digest(record, block)
    head, sep, body = block.partition(b"\r\n\r\n")
    if not sep:
        raise WarcError("a response record without an HTTP header block")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:  # an obsolete folded line (other writers)
            name, value = headers.pop()
            headers.append((name, value + " " + line.strip()))
            continue
        name, _, value = line.partition(":")
        headers.append((name.rstrip(" \t"), value[1:] if value.startswith(" ") else value))
    return Capture(
        url=record.rec_headers.get_header("WARC-Target-URI") or "",
        status=status,
        headers=headers,
        body=body,
        fetched_at=_iso_of_warc_date(record.rec_headers.get_header("WARC-Date") or ""),
        canonical_url=record.rec_headers.get_header(CANONICAL_HEADER) or None,
    )


# -- helpers ---------------------------------------------------------------------------------

def _warc_date(fetched_at: str) -> str:
    """ISO 8601 (any offset) -> WARC-Date (UTC, 'Z'; fractions kept when given)."""
    try:
        when = datetime.fromisoformat(fetched_at.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"fetched_at is not ISO 8601: {fetched_at!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    when = when.astimezone(timezone.utc).replace(tzinfo=None)
    return datetime_to_iso_date(when, use_micros=bool(when.microsecond))


def _iso_of_warc_date(value: str) -> str:
    when = iso_date_to_datetime(value).replace(tzinfo=timezone.utc)
    return when.isoformat(timespec="microseconds" if when.microsecond else "seconds")




def _warcio_version() -> str:
    try:
        from importlib.metadata import version

        return version("warcio")
    except Exception:  # noqa: BLE001 - informational only
        return "unknown"
