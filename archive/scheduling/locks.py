"""One crawl of a site at a time, also across processes: a lock file per site.

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
        who = f" (pid {self.holder['pid']}, since {self.holder.get('started', '?')})" if self.holder.get("pid") else ""
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
