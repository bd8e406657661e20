"""WARC storage on this machine: what uploading each closed file to S3 costs, and what reading a
record back costs from this machine's folder and from an S3 bucket (one Range GET from the
record's offset), as `archive reextract` and the article page read them.

Starts its own SeaweedFS (tests/_s3.py; `make seaweedfs` builds it) on 127.0.0.1:8390-8397 and
writes into a temporary folder; needs no Elasticsearch and no network beyond 127.0.0.1.

    .venv/bin/python benchmarks/warc_storage.py --pages 4000 --file-mb 4 --reads 300

The pages are made-up article pages of about 25 KB of HTML each (words drawn at random from a
short list: gzip leaves about a fifth). The S3 server runs on this machine: the figures are the
client's and the server's cost, not a network's.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from _s3 import start_seaweedfs, stop_seaweedfs  # noqa: E402

from archive.config import WarcSettings  # noqa: E402
from archive.warc_storage import WarcFolder, shared_storage  # noqa: E402
from crawler.warc import Capture, WarcStore, iter_captures, read_capture, warc_files  # noqa: E402

WORDS = ("council harbour ferry budget election minister storm school hospital court police river "
         "bridge market festival report season vote plan strike fire flood road rail port").split()


def page(n: int, rng: random.Random) -> Capture:
    paragraphs = "".join(f"<p>{' '.join(rng.choices(WORDS, k=120))}.</p>" for _ in range(30))
    body = f"<html><head><title>Story {n}</title></head><body><h1>Story {n}</h1>{paragraphs}</body></html>"
    return Capture(url=f"https://news.example/2026/03/01/story-{n}", status=200,
                   headers=[("Content-Type", "text/html; charset=utf-8")], body=body.encode(),
                   fetched_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))


def ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"median {statistics.median(ordered) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--file-mb", type=int, default=4, help="WARC file size before a new one starts")
    parser.add_argument("--reads", type=int, default=300, help="records read back one by one, at random")
    args = parser.parse_args()
    rng = random.Random(22)
    with tempfile.TemporaryDirectory(prefix="warc-bench-") as tmp:
        tmp = Path(tmp)
        (tmp / "s3").mkdir()
        proc, server = start_seaweedfs(tmp / "s3")
        try:
            bucket = shared_storage(WarcSettings(storage=f"s3://{server.bucket}/bench", endpoint_url=server.endpoint_url,
                                                 access_key=server.access_key, secret_key=server.secret_key))
            local = tmp / "warc"
            started = time.perf_counter()
            with WarcStore(local, "bench", max_file_bytes=args.file_mb << 20) as store:
                locations = [store.append(page(n, rng), sync=False) for n in range(args.pages)]
                store.sync()
            wrote = time.perf_counter() - started
            files = warc_files(local, "bench")
            size = sum(f.stat().st_size for f in files)

            started = time.perf_counter()
            for path in files:
                bucket.put(path, f"bench/{path.name}")
            uploaded = time.perf_counter() - started

            folder = WarcFolder(local)
            sample = rng.sample(locations, min(args.reads, len(locations)))
            timings = {}
            for name, storage in (("folder", folder), ("s3", bucket)):
                each = []
                for location in sample:
                    t = time.perf_counter()
                    read_capture(storage, location)
                    each.append(time.perf_counter() - t)
                t = time.perf_counter()
                walked = sum(1 for _ in iter_captures(storage, "bench"))
                timings[name] = (each, walked, time.perf_counter() - t)
        finally:
            stop_seaweedfs(proc)

    print(f"{args.pages} pages, {len(files)} WARC file(s), {size / 2**20:.1f} MB gzipped "
          f"(written and fsynced here in {wrote:.1f}s)")
    print(f"upload to S3 (SeaweedFS on 127.0.0.1): {size / 2**20 / uploaded:.1f} MB/s "
          f"({uploaded / len(files):.2f}s per {args.file_mb} MB file)")
    for name, (each, walked, took) in timings.items():
        print(f"{name:>6}: one record by offset: {ms(each)} ({len(each)} at random); "
              f"every record in order: {walked / took:.0f} records/s")
    print(f"machine: {os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
