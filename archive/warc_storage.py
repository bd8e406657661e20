"""Where WARC files are kept for reading, whatever holds them: a folder (this machine's WARC
folder, or one every machine mounts: ``warc.storage = "file:///..."``) or an S3 bucket
(``warc.storage = "s3://bucket/prefix"``). Both hold the same layout, ``<site>/<file>.warc.gz``,
and answer the same few questions: which files a site has (oldest first), a file's size, its
bytes from an offset on (an HTTP Range GET on S3), and whether a closed local file is there yet
(``put`` copies it).

Below the crawler and the store: the crawler writes and re-extracts through it, the article page
reads a capture's record through it. It knows bytes and names only, nothing of WARC records.
"""

from __future__ import annotations

import logging
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator, Protocol
from urllib.parse import urlsplit

from archive.redact import safe_url

logger = logging.getLogger(__name__)

SUFFIX = ".warc.gz"
_NAME = re.compile(r"^(?P<site>.+)-(?P<stamp>\d{8}T\d{6})-(?P<pid>\d+)-(?P<seq>\d+)\.warc\.gz$")


class StorageError(OSError):
    """The object storage could not be reached or refused a request (the message says which)."""


class WarcStorage(Protocol):
    where: str  # printable, no secret

    def files(self, site: str | None = None) -> list[str]: ...
    def place(self, site: str) -> str: ...  # where a site's files are, for messages
    def size(self, relative: str) -> int | None: ...
    def open(self, relative: str, offset: int = 0): ...  # a context manager giving a BinaryIO
    def holds(self, relative: str, size: int) -> bool: ...
    def put(self, path: Path, relative: str) -> None: ...


def age_key(name: str) -> tuple:
    """Files sort oldest first by the stamp, process and sequence in their names."""
    match = _NAME.match(name)
    if match:
        return (match["stamp"], int(match["pid"]), int(match["seq"]), name)
    return ("", 0, 0, name)


def _oldest_first(relatives: list[str]) -> list[str]:
    return sorted(relatives, key=lambda r: age_key(r.rsplit("/", 1)[-1]))


def _checked(relative: str) -> str:
    """A file name as the archive writes it: <site>/<name>; never '..' or an absolute path."""
    parts = relative.split("/")
    if len(parts) != 2 or any(p in ("", ".", "..") for p in parts) or "\\" in relative:
        raise ValueError(f"WARC file {relative!r} is outside the WARC storage (not <site>/<file>)")
    return relative


class WarcFolder:
    """WARC files in a folder of this machine (or one it mounts)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.where = str(self.root)

    def files(self, site: str | None = None) -> list[str]:
        root = self.root
        if site is not None:
            folders = [root / site]
        else:
            folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        found = [f"{folder.name}/{f.name}" for folder in folders if folder.is_dir()
                 for f in folder.iterdir() if f.name.endswith(SUFFIX) and f.is_file()]
        return _oldest_first(found)

    def place(self, site: str) -> str:
        return str(self.root / site)

    def path(self, relative: str) -> Path:
        return self.root / _checked(relative)

    def size(self, relative: str) -> int | None:
        try:
            return self.path(relative).stat().st_size
        except FileNotFoundError:
            return None

    @contextmanager
    def open(self, relative: str, offset: int = 0) -> Iterator[BinaryIO]:
        with open(self.path(relative), "rb") as handle:
            handle.seek(offset)
            yield handle

    def holds(self, relative: str, size: int) -> bool:
        return self.size(relative) == size

    def put(self, path: Path, relative: str) -> None:
        """Under a temporary name, fsynced, then renamed: a reader never sees half a file and a
        crash leaves the local file to copy again."""
        target = self.path(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
        with open(path, "rb") as source, open(partial, "wb") as copy:
            while chunk := source.read(1 << 20):
                copy.write(chunk)
            copy.flush()
            os.fsync(copy.fileno())
        os.replace(partial, target)
        fsync_dir(target.parent)


class S3Storage:
    """WARC files as objects ``<prefix>/<site>/<name>`` in an S3 bucket (AWS or any server that
    speaks S3). An object appears whole or not at all, so an upload needs no temporary name."""

    def __init__(self, storage: str, endpoint_url: str = "", region: str = "", access_key: str = "",
                 secret_key: str = "", session_token: str = ""):
        import urllib3
        from minio import Minio  # only where S3 is configured

        parts = urlsplit(storage)
        self.bucket, self.prefix = parts.netloc, parts.path.strip("/")
        endpoint = urlsplit(endpoint_url or "https://s3.amazonaws.com")
        self._at = f" at {safe_url(endpoint_url)}" if endpoint_url else ""
        self.where = f"s3://{self.bucket}/{self.prefix}".rstrip("/") + self._at
        self.client = Minio(endpoint.netloc.rpartition("@")[2], access_key=access_key or None, secret_key=secret_key or None,
                            session_token=session_token or None, secure=endpoint.scheme == "https",
                            region=region or None, http_client=urllib3.PoolManager(
                                # A page reading a capture must not hang on a dead server for
                                # minutes (the client's default); an upload streams within these.
                                timeout=urllib3.Timeout(connect=5, read=60),
                                retries=urllib3.Retry(total=3, backoff_factor=0.2,
                                                      status_forcelist=[500, 502, 503, 504]),
                                maxsize=10))

    def place(self, site: str) -> str:
        under = f"{self.prefix}/{site}" if self.prefix else site
        return f"s3://{self.bucket}/{under}/{self._at}"

    def _key(self, relative: str) -> str:
        relative = _checked(relative)
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def _relative(self, key: str) -> str:
        return key[len(self.prefix) + 1:] if self.prefix else key

    @contextmanager
    def _asking(self, what: str):
        """The client's errors as one clear StorageError (a missing object: FileNotFoundError,
        a missing bucket is an error of the settings)."""
        from minio.error import MinioException, S3Error
        from urllib3.exceptions import HTTPError

        try:
            yield
        except S3Error as exc:
            if exc.code == "NoSuchBucket":
                raise StorageError(f"{self.where}: {what}: the bucket {self.bucket} does not exist") from None
            if exc.code == "NoSuchKey":
                raise FileNotFoundError(f"no {what} in {self.where}") from None
            raise StorageError(f"{self.where}: {what}: {exc.code}: {exc.message}") from None
        except (MinioException, HTTPError, ValueError) as exc:
            raise StorageError(f"{self.where}: {what}: {type(exc).__name__}: {exc}") from None

    def files(self, site: str | None = None) -> list[str]:
        under = f"{self.prefix}/" if self.prefix else ""
        if site is not None:
            under += f"{site}/"
        with self._asking("file list"):
            keys = [o.object_name for o in self.client.list_objects(self.bucket, prefix=under, recursive=True)]
        found = [self._relative(k) for k in keys if k.endswith(SUFFIX)]
        return _oldest_first([r for r in found if r.count("/") == 1])

    def size(self, relative: str) -> int | None:
        key = self._key(relative)
        try:
            with self._asking(relative):
                return self.client.stat_object(self.bucket, key).size
        except FileNotFoundError:
            return None

    @contextmanager
    def open(self, relative: str, offset: int = 0) -> Iterator[BinaryIO]:
        """The object's bytes from ``offset`` on, streamed (a Range GET): a record is read
        without fetching the file before it; the connection is dropped once it is read."""
        key = self._key(relative)
        with self._asking(relative):
            response = self.client.get_object(self.bucket, key, offset=offset)
        try:
            yield response
        finally:
            response.close()
            response.release_conn()

    def holds(self, relative: str, size: int) -> bool:
        return self.size(relative) == size

    def put(self, path: Path, relative: str) -> None:
        key = self._key(relative)
        with self._asking(f"upload of {relative}"):
            self.client.fput_object(self.bucket, key, str(path), content_type="application/warc")

    def ensure_bucket(self) -> None:
        with self._asking(f"bucket {self.bucket}"):
            if not self.client.bucket_exists(self.bucket):
                self.client.make_bucket(self.bucket)


def read_storage(settings) -> WarcStorage:
    """Where captures are read (``archive.config.Settings``): warc.storage when set, else this
    machine's WARC folder."""
    shared = shared_storage(settings.warc)
    return shared if shared is not None else WarcFolder(Path(settings.data_dir) / "warc")


def shared_storage(warc) -> WarcStorage | None:
    """Where each closed WARC file is copied for every machine; None when only this machine keeps them."""
    if not warc.storage:
        return None
    if warc.is_s3:
        return S3Storage(warc.storage, warc.endpoint_url, warc.region, warc.access_key, warc.secret_key,
                         warc.session_token)
    return WarcFolder(warc.shared_dir)


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
