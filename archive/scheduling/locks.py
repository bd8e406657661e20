"""One crawl of a site at a time, also across processes: a lock file per site, or, when a
broker is configured (crawls on several machines), a lock in the broker (BrokerSiteLock below).

``<data_dir>/locks/<site>.lock`` is locked with ``flock(LOCK_EX | LOCK_NB)`` for the whole run.
The kernel releases a flock when the process holding it dies, however it dies, so a crashed
scheduler never leaves a stale lock behind. The file's content (pid, trigger, start time) is
only informational, for `archive status`; it is emptied when the lock is released.
"""

from __future__ import annotations

import fcntl
import json
import os
from datetime import datetime, timezone
from pathlib import Path

import psutil


class LockTaken(RuntimeError):
    """Another run of the site holds its lock."""

    def __init__(self, site: str, holder: dict | None):
        self.site = site
        self.holder = holder or {}
        host = f"on {self.holder['host']}, " if self.holder.get("host") else ""
        who = f" ({host}pid {self.holder['pid']}, since {self.holder.get('started', '?')})" if self.holder.get("pid") else ""
        super().__init__(f"a crawl of {site} is already running{who}")


def lock_path(data_dir: Path, site: str) -> Path:
    return Path(data_dir) / "locks" / f"{site}.lock"


class SiteLock:
    """``with SiteLock(data_dir, "demo", trigger="schedule"):`` ... raises LockTaken if held."""

    def __init__(self, data_dir: Path, site: str, trigger: str = ""):
        self.site = site
        self.trigger = trigger
        self.path = lock_path(data_dir, site)
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # O_CLOEXEC: the crawl child must not inherit (and so keep) the lock.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockTaken(self.site, read_holder(self.path)) from None
        self._fd = fd
        self._info = {"pid": os.getpid(), "trigger": self.trigger, "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        self._write_info()

    def crawled_by(self, pid: int) -> None:
        """The crawl child holds the lock too (it inherits the descriptor): name it for `archive status`."""
        self._info["crawl_pid"] = pid
        self._write_info()

    def _write_info(self) -> None:
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, json.dumps(self._info).encode(), 0)

    @property
    def fd(self) -> int | None:
        """The locked descriptor: a crawl child given it keeps the lock held if this process dies."""
        return self._fd

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "SiteLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def read_holder(path: Path) -> dict | None:
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
        return json.loads(text) if text else None
    except (OSError, json.JSONDecodeError):
        return None


def running_crawl(data_dir: Path, site: str) -> dict | None:
    """Who runs a crawl of the site now, without touching the lock (taking it even briefly could
    make a scheduled run skip). A holder whose process is gone (a crash) does not count."""
    holder = read_holder(lock_path(data_dir, site))
    pids = [holder.get(k) for k in ("pid", "crawl_pid")] if holder else []
    if any(isinstance(pid, int) and psutil.pid_exists(pid) for pid in pids):
        return holder  # the starter, or the crawl it started and that outlived it
    return None


# --- across machines: the lock lives in the broker (Redis) ----------------------------------


def broker_lock_key(site: str) -> str:
    return f"archive:site-lock:{site}"


class BrokerSiteLock:
    """One crawl of a site at a time across machines: a Redis key set with NX and a timeout
    longer than a crawl can last (crawl.time_limit, the runner's grace, queue.lock_margin_seconds),
    so the lock of a machine that died expires by itself. The value names the holder (the queued
    job's id, host, pid, trigger, start); only the holder deletes it (redis-py's Lock, by token).

    A job delivered again after its worker died (late acknowledgement) carries the same job id as
    the holder it finds: it takes the lock over instead of skipping its own site."""

    def __init__(self, redis_client, site: str, timeout: float, trigger: str = "", job_id: str | None = None):
        import socket
        import uuid

        self.site = site
        self.client = redis_client
        self.job_id = job_id or uuid.uuid4().hex
        self.info = {"job": self.job_id, "host": socket.gethostname(), "pid": os.getpid(), "trigger": trigger}
        self.timeout = timeout
        self._lock = None

    def acquire(self) -> None:
        info = dict(self.info, started=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        token = json.dumps(info, sort_keys=True)
        key = broker_lock_key(self.site)
        lock = self.client.lock(key, timeout=self.timeout)
        if not lock.acquire(blocking=False, token=token):
            holder = read_broker_holder(self.client, self.site)
            if not holder or holder.get("job") != self.job_id:
                raise LockTaken(self.site, holder)
            # Our own job, delivered again: its first worker is gone (the broker redelivers only
            # after the job's visibility timeout). Swap the holder's value for ours, atomically.
            if not self.client.set(key, token, xx=True, px=int(self.timeout * 1000)):
                raise LockTaken(self.site, holder)
            lock.local.token = token.encode()
        self._lock = lock

    def release(self) -> None:
        if self._lock is None:
            return
        from redis.exceptions import LockError

        try:
            self._lock.release()
        except LockError:  # expired, or taken over: not ours to delete any more
            pass
        self._lock = None

    # The crawl child cannot inherit a Redis key: if the worker dies, its child stops too
    # (crawler/runner.py) and the key expires by its timeout. Nothing to hand over.
    fd = None

    def crawled_by(self, pid: int) -> None:
        pass

    def __enter__(self) -> "BrokerSiteLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def read_broker_holder(redis_client, site: str) -> dict | None:
    value = redis_client.get(broker_lock_key(site))
    try:
        return json.loads(value) if value else None
    except (TypeError, ValueError):
        return None


class BrokerUnreachable(RuntimeError):
    """The broker holding the site locks does not answer."""


def redis_client(settings):
    import redis

    return redis.Redis.from_url(settings.queue.broker_url, socket_timeout=10, socket_connect_timeout=10)


def lock_timeout(settings) -> float:
    """Longer than any crawl: the time limit, the runner's grace to stop it, and a margin."""
    from crawler.runner import SHUTDOWN_GRACE_SECONDS

    return settings.crawl.time_limit + SHUTDOWN_GRACE_SECONDS + settings.queue.lock_margin_seconds


def broker_address(settings) -> str:
    """The broker URL without its password, for messages."""
    from urllib.parse import urlsplit

    parts = urlsplit(settings.queue.broker_url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path}"


class _CheckedBrokerLock(BrokerSiteLock):
    def __init__(self, settings, *args, **kwargs):
        super().__init__(redis_client(settings), *args, **kwargs)
        self.address = broker_address(settings)

    def acquire(self) -> None:
        import redis

        try:
            super().acquire()
        except redis.exceptions.ConnectionError as exc:
            raise BrokerUnreachable(f"the broker at {self.address} does not answer ({exc}); crawl of {self.site} not started") from None


def site_lock(settings, site: str, trigger: str = "", job_id: str | None = None):
    """The lock file on one machine; the broker's lock when crawls may run on several."""
    if settings.queue.enabled:
        return _CheckedBrokerLock(settings, site, lock_timeout(settings), trigger=trigger, job_id=job_id)
    return SiteLock(settings.data_dir, site, trigger=trigger)


def crawl_holder(settings, site: str) -> dict | None:
    """Who crawls the site now, wherever: the broker's lock holder, or this machine's lock file."""
    if settings.queue.enabled:
        try:
            return read_broker_holder(redis_client(settings), site)
        except Exception:  # status must still show the rest when the broker is down
            return None
    return running_crawl(settings.data_dir, site)
