"""Signed-in journalists of `archive serve`: sessions, and the slowing of failed sign-ins.

The archive stores no password. A sign-in is checked by Elasticsearch itself
(`_security/_authenticate` with the user's own credentials, which are then forgotten); the
session remembers who signed in, their archive role and e-mail, and nothing else. Searches then
run *as* that user (`run_as` from the archive's service user, search/web/access.py), so
Elasticsearch's roles decide what they read.

Sessions live in the web process's memory, keyed by a hash of a random token the browser keeps
in a cookie: a restart signs everyone out, which is safe. A session ends after `idle` without a
request, or at sign-out.

Failed sign-ins are slowed, never locked out: each failure for a user name, and each from an
address, adds to a delay before the next answer for that name or address (doubling, capped),
which fades after a quiet spell. A stranger guessing at a colleague's name makes that name's
sign-in slower by seconds at most; nobody can be shut out.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field

COOKIE = "archive_session"
FIRST_DELAY = 0.5  # seconds after the first failure
MAX_DELAY = 8.0
FORGET_AFTER = 900.0  # a name or address with no failure for this long starts afresh
MAX_TRACKED = 50_000  # bound the memory a flood of made-up names can take


@dataclass
class Session:
    username: str
    role: str  # reader or admin
    email: str | None = None
    full_name: str | None = None
    created: float = field(default_factory=time.time)
    last_seen: float = field(default_factory=time.time)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SessionStore:
    def __init__(self, idle_seconds: float, clock=time.time):
        self.idle = idle_seconds
        self.clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, session: Session) -> str:
        token = secrets.token_urlsafe(32)
        session.created = session.last_seen = self.clock()
        with self._lock:
            self._drop_expired()
            self._sessions[_key(token)] = session
        return token

    def get(self, token: str | None) -> tuple[Session | None, bool]:
        """(the live session, or None; True when there was one and it expired)."""
        if not token:
            return None, False
        with self._lock:
            key = _key(token)
            session = self._sessions.get(key)
            if session is None:
                return None, False
            now = self.clock()
            if now - session.last_seen > self.idle:
                del self._sessions[key]
                return None, True
            session.last_seen = now
            return session, False

    def end(self, token: str | None) -> Session | None:
        if not token:
            return None
        with self._lock:
            return self._sessions.pop(_key(token), None)

    def _drop_expired(self) -> None:
        now = self.clock()
        for key in [k for k, s in self._sessions.items() if now - s.last_seen > self.idle]:
            del self._sessions[key]


class SignInThrottle:
    """How long to wait before answering a sign-in for this name from this address."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self._failures: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def _delay_for(self, key: str, now: float) -> float:
        count, last = self._failures.get(key, (0, 0.0))
        if count == 0 or now - last > FORGET_AFTER:
            return 0.0
        return min(MAX_DELAY, FIRST_DELAY * 2 ** (count - 1))

    def delay(self, username: str, address: str) -> float:
        now = self.clock()
        with self._lock:
            return max(self._delay_for(f"user:{username.lower()}", now), self._delay_for(f"addr:{address}", now))

    def failed(self, username: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._failures) > MAX_TRACKED:
                self._failures = {k: v for k, v in self._failures.items() if now - v[1] <= FORGET_AFTER}
            for key in (f"user:{username.lower()}", f"addr:{address}"):
                count, last = self._failures.get(key, (0, 0.0))
                self._failures[key] = ((0 if now - last > FORGET_AFTER else count) + 1, now)

    def succeeded(self, username: str, address: str) -> None:
        with self._lock:
            self._failures.pop(f"user:{username.lower()}", None)
            self._failures.pop(f"addr:{address}", None)
