"""Politeness per host holds at full speed: never more requests in flight to a site than
crawl.concurrent_requests_per_host. (On Scrapy 2.19's default asyncio reactor the downloader
let up to CONCURRENT_REQUESTS through at once: benchmarks/robots_stall_repro.py.)"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import replace

from archive.demo_site import DemoSite, serve_demo_site
from crawler.runner import OK, run_crawl
from search.indices import drop_all


def test_requests_in_flight_to_a_site_never_exceed_its_limit(es_settings, es_client, tmp_path, demo_sites):
    es = es_settings.elasticsearch.with_index_prefix(f"test-polite-{uuid.uuid4().hex[:8]}")
    with serve_demo_site(DemoSite(article_count=150), port=0) as server:
        lock, state = threading.Lock(), {"now": 0, "most": 0}
        respond = server.respond

        def counting_respond(path):
            with lock:
                state["now"] += 1
                state["most"] = max(state["most"], state["now"])
            try:
                time.sleep(0.01)  # a real site takes a moment: requests overlap
                return respond(path)
            finally:
                with lock:
                    state["now"] -= 1

        server.respond = counting_respond
        settings = replace(
            es_settings, elasticsearch=es, data_dir=tmp_path, sites=demo_sites(server.base_url),
            crawl=replace(es_settings.crawl, download_delay=0.0, autothrottle=False, concurrent_requests_per_host=3),
        )
        try:
            outcome = run_crawl(settings, ["demo"])
        finally:
            drop_all(es_client, es)
    assert outcome.status == OK, outcome.error
    assert outcome.sites["demo"]["articles_new"] == 150
    assert state["most"] <= 3, f"{state['most']} requests at once to one site (limit 3)"
    assert state["most"] == 3  # and the crawl does use what it may
