"""The demo site as a background process that outlives the command that started it, so the
"original" links of the archived articles work after `archive demo`, and the next night's
edition can replace tonight's (`archive demo-site start --edition 2`).

Its process id is kept in <data_dir>/demo-site.pid and its output in <data_dir>/demo-site.log.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

START_TIMEOUT = 20.0


class DemoSiteError(RuntimeError):
    """The demo site could not be started or stopped; the message says why and what to do."""


def pid_file(data_dir: Path) -> Path:
    return Path(data_dir) / "demo-site.pid"


def running_pid(data_dir: Path) -> int | None:
    """The pid of the demo site this archive started, if it still runs."""
    try:
        pid = int(pid_file(data_dir).read_text().split()[0])
        os.kill(pid, 0)
        return pid
    except (FileNotFoundError, ValueError, IndexError, ProcessLookupError, PermissionError):
        return None


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def stop(data_dir: Path) -> int | None:
    """Stop the demo site started by `start` (the pid it recorded); returns that pid or None."""
    pid = running_pid(data_dir)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while running_pid(data_dir) == pid and time.monotonic() < deadline:
            time.sleep(0.1)
    pid_file(data_dir).unlink(missing_ok=True)
    return pid


def start(data_dir: Path, host: str, port: int, edition: int = 1) -> str:
    """Serve the demo site in the background (replacing one this archive started); its URL."""
    stop(data_dir)
    if _answers(host, port):
        raise DemoSiteError(f"something else already listens on {host}:{port}: stop it, or change [demo_site] port")
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    log = (Path(data_dir) / "demo-site.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "archive.demo_site", "--host", host, "--port", str(port), "--edition", str(edition), "--quiet"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,  # outlives this command
    )
    pid_file(data_dir).write_text(f"{process.pid} {host}:{port} edition {edition}\n")
    deadline = time.monotonic() + START_TIMEOUT
    while not _answers(host, port):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(data_dir)
            raise DemoSiteError(f"the demo site did not start on {host}:{port}; see {log.name}")
        time.sleep(0.1)
    return f"http://{host}:{port}"
