"""At most N crawl processes at once on this machine: N slot files, each held with a flock.

Crawls are memory-bound before they are CPU-bound (a crawl process and its extraction workers),
so a hundred sites due at 02:00 must not start a hundred crawls. A crawl takes one of
``<data_dir>/locks/slot-<i>.lock`` (i < schedule.max_concurrent_crawls) before its child process
starts and frees it when the child has ended; the rest wait their turn. The kernel frees a
flock when its holder dies, so a crashed scheduler never leaves a slot taken. The scheduler,
`archive crawl` and `archive worker` on one machine share the same slots.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from pathlib import Path

logger = logging.getLogger("archive.scheduler")

POLL_SECONDS = 1.0


class NoSlot(RuntimeError):
    """Stopped while waiting for a crawl slot."""


class CrawlSlot:
    """``with CrawlSlot(data_dir, limit, label, stop_event):`` waits for a free slot."""

    def __init__(self, data_dir: Path, limit: int, label: str, stop_event: threading.Event | None = None):
        self.directory = Path(data_dir) / "locks"
        self.limit = max(1, limit)
        self.label = label
        self.stop_event = stop_event or threading.Event()
        self._fd: int | None = None
        self.number: int | None = None

    def _try_each(self) -> bool:
        for number in range(self.limit):
            # O_CLOEXEC: only a crawl child handed the descriptor (inherit_fds) keeps the slot.
            fd = os.open(self.directory / f"slot-{number}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self._fd, self.number = fd, number
            return True
        return False

    def acquire(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self._try_each():
            return
        logger.info("crawl of %s waits for a crawl slot (%d crawls at most run at once on this machine)",
                    self.label, self.limit)
        while not self.stop_event.wait(POLL_SECONDS):
            if self._try_each():
                logger.info("crawl of %s got a crawl slot", self.label)
                return
        raise NoSlot(f"crawl of {self.label} not started: stopped while waiting for a crawl slot")

    @property
    def fd(self) -> int | None:
        """The slot's descriptor: a crawl child given it keeps the slot taken while it still runs."""
        return self._fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = self.number = None

    def __enter__(self) -> "CrawlSlot":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
