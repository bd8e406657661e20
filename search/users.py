"""Journalists as Elasticsearch users with an archive role: add, list, remove.

The archive keeps no user table: a journalist is an Elasticsearch user with the role
archive_reader or archive_admin (search/roles.py), the same account Kibana uses.

    native realm  any Elasticsearch with the _security API (production): users are stored by
                  Elasticsearch; the client needs the manage_security privilege (the `elastic`
                  user, from ELASTICSEARCH_USERNAME/PASSWORD)
    file realm    the local development node (search/file_realm.py says why): its users file,
                  which the node reloads within a second

Only users holding an archive role are listed or removed: `elastic`, `kibana_system` and other
accounts are never touched.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from archive.config import ElasticsearchSettings
from search import file_realm, node_credentials
from search.client import has_explicit_credentials, make_client
from search.roles import ADMIN_ROLE, READER_ROLE, ROLE_BY_NAME

ARCHIVE_ROLES = (READER_ROLE, ADMIN_ROLE)
METADATA_FILE = "archive-users.json"  # e-mail and full name of file-realm users (the realm has none)
MIN_PASSWORD = 8
RELOAD_WAIT = 15.0


class UserError(RuntimeError):
    """A user cannot be added or removed; the message says why."""


@dataclass(frozen=True)
class User:
    username: str
    role: str  # reader or admin
    email: str | None = None
    full_name: str | None = None
    realm: str = "native"

    def to_dict(self) -> dict:
        return asdict(self)


def _role_name(roles: list[str]) -> str | None:
    """admin wins over reader; None for a user without an archive role."""
    if ADMIN_ROLE in roles:
        return "admin"
    if READER_ROLE in roles:
        return "reader"
    return None


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password is too short: at least {MIN_PASSWORD} characters")
    return password


class NativeUsers:
    """Users stored by Elasticsearch (the _security API)."""

    realm = "native"

    def __init__(self, es: ElasticsearchSettings):
        self.es = es
        self.client = make_client(es, admin=True)

    def add(self, username: str, role: str, password: str, email: str | None, full_name: str | None) -> bool:
        file_realm.check_name(username)
        body = {"password": check_password(password), "roles": [ROLE_BY_NAME[role]]}
        if email:
            body["email"] = email
        if full_name:
            body["full_name"] = full_name
        return bool(self.client.security.put_user(username=username, **body).get("created"))

    def list(self) -> list[User]:
        users = []
        for name, raw in sorted(self.client.security.get_user().body.items()):
            role = _role_name(raw.get("roles") or [])
            if role:
                users.append(User(name, role, raw.get("email"), raw.get("full_name"), self.realm))
        return users

    def get(self, username: str) -> User | None:
        from elasticsearch import NotFoundError

        try:
            raw = self.client.security.get_user(username=username).body.get(username) or {}
        except NotFoundError:
            return None
        role = _role_name(raw.get("roles") or [])
        return User(username, role, raw.get("email"), raw.get("full_name"), self.realm) if role else None

    def remove(self, username: str) -> None:
        self.client.security.delete_user(username=username)


class FileUsers:
    """The local node's file-realm users (every node of a local cluster holds the same files)."""

    realm = "file"

    def __init__(self, es: ElasticsearchSettings, credentials: node_credentials.NodeCredentials):
        self.es = es
        self.configs = [Path(d) for d in credentials.config_dirs]
        self.owner = credentials.node_user

    def _metadata(self) -> dict:
        try:
            return json.loads((self.configs[0] / METADATA_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def _update_metadata(self, username: str, details: dict | None) -> None:
        """Read, change and write under the file realm's lock (another process may be adding a user)."""
        with file_realm.editing(self.configs[0]):
            metadata = self._metadata()
            if details is None:
                metadata.pop(username, None)
            else:
                metadata[username] = details
            self._write_metadata(metadata)

    def _write_metadata(self, metadata: dict) -> None:
        for config in self.configs:
            file_realm.write_node_file(config / METADATA_FILE, json.dumps(metadata, indent=1), self.owner)

    def add(self, username: str, role: str, password: str, email: str | None, full_name: str | None) -> bool:
        check_password(password)
        created = False
        for config in self.configs:
            created = file_realm.set_user(config, username, password, [ROLE_BY_NAME[role]], self.owner) or created
        self._update_metadata(username, {"email": email, "full_name": full_name})
        self._wait_until(lambda: _signs_in(self.es, username, password), f"{username} can sign in")
        return created

    def list(self) -> list[User]:
        roles = file_realm.read_user_roles(self.configs[0])
        metadata = self._metadata()
        users = []
        for name in sorted(file_realm.read_users(self.configs[0])):
            role = _role_name(roles.get(name, []))
            if role:
                meta = metadata.get(name) or {}
                users.append(User(name, role, meta.get("email"), meta.get("full_name"), self.realm))
        return users

    def get(self, username: str) -> User | None:
        return next((u for u in self.list() if u.username == username), None)

    def remove(self, username: str) -> None:
        for config in self.configs:
            file_realm.remove_user(config, username, self.owner)
        self._update_metadata(username, None)
        self._wait_until(lambda: _known(self.es, username) is False, f"{username} is gone")

    def _wait_until(self, condition, what: str) -> None:
        """The node reloads its users file within resource.reload.interval.high (1 s)."""
        deadline = time.monotonic() + RELOAD_WAIT
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.3)
        raise UserError(f"the node at {self.es.url} did not take the change in {RELOAD_WAIT:.0f}s ({what})")


def _signs_in(es: ElasticsearchSettings, username: str, password: str) -> bool:
    from dataclasses import replace

    from elastic_transport import TransportError
    from elasticsearch import AuthenticationException

    client = make_client(replace(es, username=username, password=password, api_key=None), max_retries=0)
    try:
        client.security.authenticate()
        return True
    except (AuthenticationException, TransportError):  # not yet, or a busy node: asked again
        return False


def _known(es: ElasticsearchSettings, username: str) -> bool | None:
    """The node knows the user (looked up by running as them, as `elastic`); None: no answer yet
    (a busy node), so the caller asks again."""
    from elastic_transport import TransportError
    from elasticsearch import ApiError

    client = make_client(es, admin=True, max_retries=0).options(headers={"es-security-runas-user": username})
    try:
        client.security.authenticate()
        return True
    except ApiError:
        return False
    except TransportError:
        return None


def directory(es: ElasticsearchSettings) -> NativeUsers | FileUsers:
    """The local node's file realm when its credentials are the ones in use, else the native realm."""
    if not has_explicit_credentials(es):
        local = node_credentials.find(es.hosts)
        if local is not None and local.config_dirs:
            return FileUsers(es, local)
    return NativeUsers(es)


def local_details(es: ElasticsearchSettings, username: str) -> User | None:
    """E-mail and name of a user of the local node's file realm, which Elasticsearch itself does
    not keep (a native user's come with `_authenticate`)."""
    users = directory(es)
    return users.get(username) if isinstance(users, FileUsers) else None


def add_user(es: ElasticsearchSettings, username: str, role: str, password: str,
             email: str | None = None, full_name: str | None = None) -> bool:
    """True when the user is new (an existing one gets the new password, role and details)."""
    if role not in ROLE_BY_NAME:
        raise UserError(f"unknown role {role!r}: reader or admin")
    users = directory(es)
    existing = users.get(username)
    if existing is None and _exists_without_archive_role(users, username):
        raise UserError(f"{username!r} is an Elasticsearch user without an archive role; it is left alone")
    return users.add(username, role, password, email, full_name)


def _exists_without_archive_role(users, username: str) -> bool:
    if isinstance(users, FileUsers):
        return username in file_realm.read_users(users.configs[0])
    from elasticsearch import NotFoundError

    try:
        return bool(users.client.security.get_user(username=username).body)
    except NotFoundError:
        return False


def list_users(es: ElasticsearchSettings) -> list[User]:
    return directory(es).list()


def remove_user(es: ElasticsearchSettings, username: str) -> User:
    users = directory(es)
    found = users.get(username)
    if found is None:
        raise UserError(f"no archive user {username!r} (only users with an archive role are removed)")
    users.remove(username)
    return found
