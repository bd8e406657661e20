"""Benchmark: how long `archive search` takes from the shell prompt to the answer.

    .venv/bin/python benchmarks/search_start.py [--runs 10]

Writes the demo site's hand-written articles into throwaway indices of the Elasticsearch at
ELASTICSEARCH_URL (default: settings.toml), warms the node with one search, then times
`archive search harbour` (a new process each time, as a journalist runs it) and prints the
median and worst wall time, and the time of `python -c "import archive.cli"` alone. Goal: <= 0.4 s with the node warm.
The indices are deleted at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _throwaway import throwaway_indices  # noqa: E402
from archive.demo_site.content import hand_written_articles  # noqa: E402
from archive.urls import document_id  # noqa: E402
from search.indices import drop_all, ensure_all  # noqa: E402
from search.writer import ArticleWriter  # noqa: E402


CPU: list[float] = []  # user+system seconds of each `archive search` process


def timed(command: list[str], env: dict) -> float:
    """Wall seconds of one run; its CPU seconds go to CPU (less sensitive to a busy machine)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()

    settings, client = throwaway_indices()
    es = settings.elasticsearch
    try:
        ensure_all(client, es)
        docs = {}
        for a in hand_written_articles():
            url = f"http://demo.example{a.path}"
            docs[document_id(url)] = {"url": url, "site": "demo", "title": a.title, "body": a.body_text,
                                      "published": a.published.isoformat(), "language": a.language,
                                      "content_hash": hashlib.sha256(a.body_text.encode()).hexdigest()}
        ArticleWriter(client, es).write(docs)
        client.indices.refresh(index=es.articles_alias)
        # The CLI reads the index names from a settings file: a copy of settings.toml with ours.
        text = (ROOT / "settings.toml").read_text(encoding="utf-8")
        text, replaced = re.subn(r'(?m)^articles_alias = "[^"]*"', f'articles_alias = "{es.articles_alias}"', text)
        assert replaced == 1, "settings.toml has no articles_alias line to point at the throwaway index"
        config = Path(tempfile.mkdtemp()) / "settings.toml"
        config.write_text(text, encoding="utf-8")
        env = {**os.environ, "ARCHIVE_CONFIG": str(config), "ELASTICSEARCH_URL": es.url}
        command = [str(Path(sys.executable).with_name("archive")), "search", "harbour"]
        timed(command, env)  # warm: node caches, Python's bytecode cache
        CPU.clear()
        search_times = [timed(command, env) for _ in range(args.runs)]
        search_cpu = list(CPU)
        import_times = [timed([sys.executable, "-c", "import archive.cli"], env) for _ in range(args.runs)]
        print(f"`archive search harbour` wall time over {args.runs} runs: median {statistics.median(search_times):.2f} s, "
              f"worst {max(search_times):.2f} s (goal <= 0.4 s); CPU time of the process: median {statistics.median(search_cpu):.2f} s")
        print(f"`python -c 'import archive.cli'`: median {statistics.median(import_times):.2f} s")
        print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    finally:
        drop_all(client, es)
    return 0


if __name__ == "__main__":
    sys.exit(main())
