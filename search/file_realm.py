"""Users and roles of the development node, in Elasticsearch's file realm.

The Maven distribution the local node runs (search/localnode.py) has x-pack security but not
the analysis module its `.security` index needs, so the native realm (users and roles stored by
the _security API) cannot work there: Elasticsearch refuses to create that index ("Unknown
filter type [pattern_capture]"). Elasticsearch's file realm needs no index: the node reads

    <config>/roles.yml      role definitions (here: the archive's, search/roles.py)
    <config>/users          name:password-hash, one a line
    <config>/users_roles    role:name1,name2, one a line

and reloads them when they change (within resource.reload.interval.high, 1 s on the local node).
Production uses the native realm through the same roles (deploy/setup.py, search/users.py).

Hashes are PBKDF2-HMAC-SHA512 in Elasticsearch's own format
(``{PBKDF2}<iterations>$<base64 salt>$<base64 key>``, 32-byte salt and key), made with hashlib.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import pwd
import re
import secrets
import tempfile
from pathlib import Path

# Elasticsearch's own default cost for PBKDF2; the node hashes on every sign-in it has not
# cached, and a development machine under load must still answer its health checks in time.
ITERATIONS = 10_000
NAME = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9_.@-]{0,506}")


class FileRealmError(RuntimeError):
    """A user name or file the file realm cannot take; the message says which."""


def password_hash(password: str) -> str:
    salt = secrets.token_bytes(32)
    key = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, ITERATIONS, dklen=32)
    return f"{{PBKDF2}}{ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise FileRealmError(
            f"user name {name!r}: use letters, digits and _ . @ - (starting with a letter, digit or _)"
        )
    return name


def write_node_file(path: Path, text: str, owner: str | None) -> None:
    """Atomically and 0640: the node (its own user when we are root) reads it, nobody else."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o640)
        if owner:
            user = pwd.getpwnam(owner)
            os.chown(tmp, user.pw_uid, user.pw_gid)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_users(config: Path) -> dict[str, str]:
    """{name: hash} from <config>/users."""
    users = {}
    try:
        lines = (config / "users").read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return users
    for line in lines:
        if line.strip() and not line.startswith("#") and ":" in line:
            name, _, digest = line.partition(":")
            users[name.strip()] = digest.strip()
    return users


def read_user_roles(config: Path) -> dict[str, list[str]]:
    """{name: [roles]} from <config>/users_roles (which is kept by role)."""
    by_user: dict[str, list[str]] = {}
    try:
        lines = (config / "users_roles").read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return by_user
    for line in lines:
        if line.strip() and not line.startswith("#") and ":" in line:
            role, _, names = line.partition(":")
            for name in filter(None, (n.strip() for n in names.split(","))):
                by_user.setdefault(name, []).append(role.strip())
    return by_user


def _write_users(config: Path, users: dict[str, str], user_roles: dict[str, list[str]], owner: str | None) -> None:
    by_role: dict[str, list[str]] = {}
    for name, roles in user_roles.items():
        for role in roles:
            by_role.setdefault(role, []).append(name)
    # users_roles first: a user whose roles are gone cannot sign in while the hash is still there
    write_node_file(config / "users_roles", "".join(f"{r}:{','.join(sorted(n))}\n" for r, n in sorted(by_role.items())), owner)
    write_node_file(config / "users", "".join(f"{n}:{h}\n" for n, h in sorted(users.items())), owner)


@contextlib.contextmanager
def editing(config: Path):
    """One writer at a time: two processes adding users at once must not lose one."""
    with open(config / ".users.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def set_user(config: Path, name: str, password: str | None, roles: list[str], owner: str | None) -> bool:
    """Add or update a user (password None: keep the current one). True when the user is new."""
    check_name(name)
    with editing(config):
        return _set_user(config, name, password, roles, owner)


def _set_user(config: Path, name: str, password: str | None, roles: list[str], owner: str | None) -> bool:
    users, user_roles = read_users(config), read_user_roles(config)
    new = name not in users
    if password is None and new:
        raise FileRealmError(f"user {name!r} does not exist: give a password to create it")
    if password is not None:
        users[name] = password_hash(password)
    user_roles[name] = list(roles)
    _write_users(config, users, user_roles, owner)
    return new


def remove_user(config: Path, name: str, owner: str | None) -> bool:
    with editing(config):
        return _remove_user(config, name, owner)


def _remove_user(config: Path, name: str, owner: str | None) -> bool:
    users, user_roles = read_users(config), read_user_roles(config)
    if name not in users:
        return False
    users.pop(name)
    user_roles.pop(name, None)
    _write_users(config, users, user_roles, owner)
    return True


def write_roles(config: Path, bodies: dict[str, dict], owner: str | None) -> None:
    """roles.yml holds the archive's roles only (JSON is YAML: one line per role)."""
    text = "# The archive's roles (search/roles.py), written by `archive es start`.\n"
    text += "".join(f"{name}: {json.dumps(body)}\n" for name, body in sorted(bodies.items()))
    write_node_file(config / "roles.yml", text, owner)
