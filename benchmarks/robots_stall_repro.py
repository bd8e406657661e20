"""Minimal reproduction: Scrapy 2.19 on its asyncio reactor ignores CONCURRENT_REQUESTS_PER_DOMAIN.

    .venv/bin/python benchmarks/robots_stall_repro.py [--pages 2000] [--variants asyncio-robots,asyncio,epoll-robots,epoll]

Plain Scrapy, no archive code. A spider requests N pages of one local host (Python's
ThreadingHTTPServer, TCP_NODELAY on, stdlib listen backlog of 5) with CONCURRENT_REQUESTS = 32
and CONCURRENT_REQUESTS_PER_DOMAIN = 8, and samples every 50 ms how many requests the host's
download slot is transferring. Each variant runs in a fresh process.

What it shows (docs/scaling.md has the figures): on the asyncio reactor the slot transfers up
to 32 requests at once, not 8, and the crawl stalls: the extra connections overflow the
server's listen backlog, dropped SYNs wait for TCP's 1 s retransmission. robots.txt makes it
worse: every request waiting for robots.txt is released in the same loop iteration. On
Twisted's epoll reactor the limit of 8 holds and the crawl is fast.

Why: Downloader._process_queue (scrapy/core/downloader/__init__.py) pops requests
``while slot.queue and slot.free_transfer_slots() > 0`` and hands each to
``_schedule_coro(self._wait_for_download(...))``. On the asyncio reactor that creates an
asyncio Task, which starts on a later loop iteration; the request enters
``slot.transferring`` only inside the task (``_download``), so free_transfer_slots() does not
change inside the loop and the whole queue is drained. On other reactors the coroutine runs
synchronously up to its first await (Deferred.fromCoroutine), so the count is right.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

VARIANTS = {
    "asyncio-robots": ("twisted.internet.asyncioreactor.AsyncioSelectorReactor", True),
    "asyncio": ("twisted.internet.asyncioreactor.AsyncioSelectorReactor", False),
    "epoll-robots": ("twisted.internet.epollreactor.EPollReactor", True),
    "epoll": ("twisted.internet.epollreactor.EPollReactor", False),
}

CHILD = """
import sys, time, scrapy
from scrapy.crawler import CrawlerProcess
from twisted.internet import task
base, pages, reactor, robots = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4] == "1"
most = [0]

class Fetch(scrapy.Spider):
    name = "fetch"
    async def start(self):
        task.LoopingCall(self.sample).start(0.05)
        for n in range(pages):
            yield scrapy.Request(f"{base}/p/{n}.html")
    def sample(self):
        for slot in self.crawler.engine.downloader.slots.values():
            most[0] = max(most[0], len(slot.transferring))
    def parse(self, response):
        self.crawler.stats.inc_value("fetched")

process = CrawlerProcess({"TWISTED_REACTOR": reactor, "ROBOTSTXT_OBEY": robots, "LOG_LEVEL": "ERROR",
                          "CONCURRENT_REQUESTS": 32, "CONCURRENT_REQUESTS_PER_DOMAIN": 8, "DOWNLOAD_DELAY": 0,
                          "TELNETCONSOLE_ENABLED": False, "REMOTE_CONTROL_ENABLED": False})
crawler = process.create_crawler(Fetch)
process.crawl(crawler)
started = time.perf_counter()
process.start()
print(crawler.stats.get_value("fetched"), f"{time.perf_counter() - started:.2f}", most[0])
"""


class QuietHandler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real server
    disable_nagle_algorithm = True

    def log_message(self, *args) -> None:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="robots-stall-") as www:
        (Path(www) / "p").mkdir()
        for n in range(args.pages):
            (Path(www) / "p" / f"{n}.html").write_text(f"<html><title>{n}</title><body>page {n}</body></html>")
        (Path(www) / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
        server = ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: QuietHandler(*a, directory=www))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}"
        print("variant          pages  seconds  most transfers to the host at once (limit 8)")
        for name in args.variants.split(","):
            reactor, robots = VARIANTS[name]
            out = subprocess.run([sys.executable, "-c", CHILD, base, str(args.pages), reactor, "1" if robots else "0"],
                                 capture_output=True, text=True)
            fields = (out.stdout.strip().splitlines() or ["? ? ?"])[-1].split()
            print(f"{name:<16} {fields[0]:>5} {fields[1]:>8}  {fields[2]}", flush=True)
            if out.returncode:
                print(out.stderr[-2000:])
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
