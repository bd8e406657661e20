"""The local development node's credentials, kept where every `archive` process of this user finds them.

`archive es start` runs the node with security on (search/localnode.py): it generates the
`elastic` password and the archive's own service user, and writes them here, one file per node
address, readable by this user alone (0600 in a 0700 folder):

    ~/.config/newsroom-archive/local-nodes/127.0.0.1-9200.json

The folder depends on the user, never on the settings' data_dir: a test's settings, a crawl
child with another data_dir and the scheduler all reach the same node, so they all find its
credentials by its address, the way they find the node itself. Explicit credentials from the
environment (ELASTICSEARCH_USERNAME/PASSWORD, ELASTICSEARCH_API_KEY) always win (client.py).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable
from urllib.parse import urlsplit

from archive.urls import is_loopback_host

SERVICE_USER = "archive"


@dataclass(frozen=True)
class UserPassword:
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class NodeCredentials:
    """The superuser, the archive's service user, and where the node keeps its file-realm
    users (search/file_realm.py: `archive users add` writes there) and as which system user."""

    elastic: UserPassword
    service: UserPassword
    config_dirs: tuple[str, ...] = ()
    node_user: str | None = None

    def to_dict(self) -> dict:
        return {
            "elastic": {"username": self.elastic.username, "password": self.elastic.password},
            "service": {"username": self.service.username, "password": self.service.password},
            "config_dirs": list(self.config_dirs),
            "node_user": self.node_user,
        }

    @classmethod
    def from_dict(cls, raw: dict) -> "NodeCredentials":
        return cls(
            elastic=UserPassword(raw["elastic"]["username"], raw["elastic"]["password"]),
            service=UserPassword(raw["service"]["username"], raw["service"]["password"]),
            config_dirs=tuple(raw.get("config_dirs") or ()),
            node_user=raw.get("node_user"),
        )


def credentials_dir() -> Path:
    return Path.home() / ".config" / "newsroom-archive" / "local-nodes"


def _is_local(url: str) -> bool:
    return is_loopback_host(urlsplit(url).hostname or "")


def file_for(url: str) -> Path | None:
    """Where the credentials of a local node at url are kept; None for a remote address."""
    if not _is_local(url):
        return None
    parts = urlsplit(url)
    host = "127.0.0.1" if parts.hostname == "localhost" else parts.hostname
    return credentials_dir() / f"{host}-{parts.port or 9200}.json"


def read_file(path: Path) -> NodeCredentials | None:
    try:
        return NodeCredentials.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def find(urls: Iterable[str]) -> NodeCredentials | None:
    """The credentials kept for the first of these local addresses that has any."""
    for url in urls:
        path = file_for(url)
        if path is not None:
            found = read_file(path)
            if found:
                return found
    return None


def write_file(path: Path, credentials: NodeCredentials) -> None:
    """Atomically, created 0600: the password is never readable by anyone else, not even briefly."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".credentials-")  # mkstemp creates 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(credentials.to_dict(), fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def publish(urls: Iterable[str], credentials: NodeCredentials) -> None:
    """Make these credentials the ones every local `archive` process uses for these addresses."""
    os.makedirs(credentials_dir(), mode=0o700, exist_ok=True)
    os.chmod(credentials_dir(), 0o700)
    for url in urls:
        path = file_for(url)
        if path is not None:
            write_file(path, credentials)
