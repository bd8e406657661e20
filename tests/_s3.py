"""A real S3 server for the tests of warc.storage = "s3://...": SeaweedFS (`weed server -s3`) on
127.0.0.1, its eight ports in 8390-8397, its data in a temporary folder, one identity with keys
made up for the run, no telemetry; stopped afterwards. The binary is built from the Go module
proxy by `make seaweedfs` (.ci/seaweedfs) into ~/.cache/newsroom-archive/weed."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

PORTS = range(8390, 8398)  # master, volume, filer, s3 and their four gRPC ports
BUCKET = "archive-warc"


def weed_binary() -> Path:
    cache = Path(os.environ.get("ARCHIVE_CACHE_DIR") or Path.home() / ".cache" / "newsroom-archive")
    return cache / "weed"


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    access_key: str
    secret_key: str
    bucket: str

    def env(self) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL": self.endpoint_url, "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key}


def _ports_free() -> bool:
    for port in PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def _answers(endpoint: str, access_key: str, secret_key: str) -> bool:
    from minio import Minio

    try:
        Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=False).list_buckets()
        return True
    except Exception:  # noqa: BLE001 - not up yet
        return False


class SeaweedFSFailed(RuntimeError):
    """SeaweedFS is missing, its ports stay taken, or it did not start (the message says which)."""


def start_seaweedfs(folder: Path) -> tuple[subprocess.Popen, S3Server]:
    """`weed server -s3` with its data in ``folder``, answering on 127.0.0.1, with the bucket made."""
    weed = weed_binary()
    if not weed.is_file():
        raise SeaweedFSFailed(f"SeaweedFS is missing at {weed}: run `make seaweedfs` (needs Go; make test does it)")
    access_key, secret_key = f"archive{secrets.token_hex(6)}", secrets.token_urlsafe(24)
    config = folder / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "archive", "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    deadline = time.monotonic() + 60
    while not _ports_free():  # a run before this one may still be letting go of them
        if time.monotonic() > deadline:
            raise SeaweedFSFailed(f"ports {PORTS.start}-{PORTS.stop - 1} stay taken: is another SeaweedFS running?")
        time.sleep(1)
    master, volume, filer, s3, *grpc = PORTS
    log = folder / "weed.log"
    proc = subprocess.Popen(
        [str(weed), "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={folder}", "-volume.max=4",
         "-master.volumeSizeLimitMB=64", "-master.telemetry=false",
         f"-master.port={master}", f"-master.port.grpc={grpc[0]}", f"-volume.port={volume}", f"-volume.port.grpc={grpc[1]}",
         "-filer", f"-filer.port={filer}", f"-filer.port.grpc={grpc[2]}",
         "-s3", f"-s3.port={s3}", f"-s3.port.grpc={grpc[3]}", "-s3.port.iceberg=0", f"-s3.config={config}"],
        stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=folder, start_new_session=True,
    )
    endpoint = f"127.0.0.1:{s3}"
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline and not _answers(endpoint, access_key, secret_key):
        time.sleep(0.5)
    if proc.poll() is not None or time.monotonic() >= deadline:
        stop_seaweedfs(proc)
        raise SeaweedFSFailed(f"SeaweedFS did not start: {log.read_text(errors='replace')[-3000:]}")
    from minio import Minio

    Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=False).make_bucket(BUCKET)
    return proc, S3Server(f"http://{endpoint}", access_key, secret_key, BUCKET)


def stop_seaweedfs(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    try:
        proc, server = start_seaweedfs(tmp_path_factory.mktemp("seaweedfs"))
    except SeaweedFSFailed as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        stop_seaweedfs(proc)
