"""A real Redis for the queue tests: Debian's redis-server on 127.0.0.1, on a free port in
6390-6399 (never 6379, which an operator may use), with no persistence, stopped afterwards."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest

PORTS = range(6390, 6400)


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    pytest.fail(f"no free port for redis-server in {PORTS.start}-{PORTS.stop - 1}")


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not shutil.which(server):
        pytest.fail("redis-server is missing: apt-get install redis-server (make test installs it as root)", pytrace=False)
    import redis

    folder = tmp_path_factory.mktemp("redis")
    for _ in range(3):  # another test run may take the port between the probe and the start
        port = _free_port()
        proc = subprocess.Popen(
            [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(folder), "--protected-mode", "yes"],
            stdout=(folder / f"redis-{port}.log").open("wb"), stderr=subprocess.STDOUT,
        )
        client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                time.sleep(0.1)
        if proc.poll() is None:
            break
    else:
        pytest.fail(f"redis-server did not start: {(folder / f'redis-{port}.log').read_text()[-2000:]}")
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=30)
