"""What searching as the signed-in journalist costs, and whether an API key grant would work here.

    python benchmarks/sign_in_cost.py [--runs 200]

Against the node `archive es start` runs (security on): a throwaway reader is added, then

    sign-in check      _security/_authenticate with the reader's password (what POST /login asks)
    search, service    a match query as the archive's service user
    search, run_as     the same query with es-security-runas-user: <reader> (what the page does)
    api_key/grant      one grant for the reader (asked as `elastic`): works, or why not

Prints the median and 95th percentile of each, and the machine's load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from elasticsearch import ApiError  # noqa: E402

from benchmarks._throwaway import throwaway_indices  # noqa: E402
from search.client import make_client  # noqa: E402
from search.indices import drop_all, ensure_all  # noqa: E402
from search.users import add_user, remove_user  # noqa: E402
from search.writer import ArticleWriter  # noqa: E402


def timed(call, runs: int) -> str:
    ms = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        ms.append((time.perf_counter() - started) * 1000)
    q = statistics.quantiles(ms, n=20, method="inclusive")
    return f"median {statistics.median(ms):6.1f} ms   p95 {q[18]:6.1f} ms   (n={runs})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    settings, service = throwaway_indices()
    es = settings.elasticsearch
    name, password = f"bench-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    add_user(es, name, "reader", password)
    try:
        ensure_all(service, es)
        ArticleWriter(service, es).write({f"d{i}": {"url": f"http://bench.example/{i}", "title": f"Harbour story {i}",
                                                    "body": "The harbour authority met again.", "site": "bench", "language": "en",
                                                    "crawled_at": "2026-01-01T00:00:00+00:00", "content_hash": str(i)}
                                      for i in range(200)})
        service.indices.refresh(index=es.articles_alias)
        reader = make_client(replace(es, username=name, password=password, api_key=None))
        as_reader = service.options(headers={"es-security-runas-user": name})
        query = {"match": {"title": "harbour"}}
        print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} on {os.cpu_count()} CPUs")
        print(f"sign-in check    {timed(lambda: reader.security.authenticate(), args.runs)}")
        print(f"search, service  {timed(lambda: service.search(index=es.articles_alias, query=query, size=10), args.runs)}")
        print(f"search, run_as   {timed(lambda: as_reader.search(index=es.articles_alias, query=query, size=10), args.runs)}")
        try:  # as `elastic`, who may grant: the question is whether this node can store a key
            make_client(es, admin=True).security.grant_api_key(grant_type="password", username=name, password=password, api_key={"name": "bench"})
            print("api_key/grant    works here")
        except ApiError as exc:
            print(f"api_key/grant    refused: {exc.status_code} {exc.message}: {str(exc.info)[:160]}")
        return 0
    finally:
        drop_all(service, es)
        remove_user(es, name)


if __name__ == "__main__":
    sys.exit(main())
