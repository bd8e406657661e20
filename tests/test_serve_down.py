"""`archive serve` while Elasticsearch is down: one line for the operator at start, a message a
journalist can read on the page, the operator's detail in /health. A real server process, over
HTTP; the Elasticsearch address is a port where nothing listens."""

from __future__ import annotations

import html
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_serve_with_elasticsearch_down_tells_the_operator_once_and_journalists_plainly(tmp_path):
    dead, port = free_port(), free_port()
    env = {**os.environ, "ELASTICSEARCH_URL": f"http://127.0.0.1:{dead}", "ARCHIVE_DATA_DIR": str(tmp_path)}
    server = subprocess.Popen(
        [sys.executable, "-m", "archive.cli", "serve", "--port", str(port)], cwd=PROJECT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        warning = server.stderr.readline()  # written before the server starts
        assert warning.startswith("warning: ") and f"127.0.0.1:{dead}" in warning, warning
        assert "archive es start" in warning and "archive is down" in warning
        deadline = time.monotonic() + 30
        while True:
            try:
                status, page = get(f"http://127.0.0.1:{port}/?q=harbour")
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline and server.poll() is None, "archive serve did not start"
                time.sleep(0.2)
        assert status == 503
        page = html.unescape(page)
        assert "The archive is down; the newsroom's administrator has been told" in page
        assert "archive es start" not in page and "ELASTICSEARCH_URL" not in page and str(dead) not in page
        status, body = get(f"http://127.0.0.1:{port}/health")
        health = json.loads(body)
        assert status == 503 and health.get("elasticsearch", "unavailable") == "unavailable"
        assert f"127.0.0.1:{dead}" in health["error"] and "archive es start" in health["error"]
    finally:
        server.terminate()
        server.wait(timeout=20)
