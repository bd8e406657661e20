"""Extraction in worker processes (crawler/workers.py): same result as in-process, and a worker
that dies costs only its pages, each rejected as extraction-error, never the crawl."""

from __future__ import annotations

import os
import signal
import time

import pytest

from archive.config import ExtractionSettings
from archive.demo_site import DemoSite, pages
from crawler.extraction import ArticleExtractor
from crawler.rejections import Reason, Rejected
from crawler.workers import ExtractionPool
from hostile_site import links_page

BASE = "http://127.0.0.1:8701"


@pytest.fixture(scope="module")
def article_page():
    site = DemoSite()
    article = next(a for a in site.articles if a.kind == "article")
    return pages.article_page(site, article, BASE).encode(), BASE + article.path


@pytest.fixture
def pool():
    pool = ExtractionPool(ExtractionSettings(), workers=1)
    yield pool
    pool.close()


def test_a_worker_extracts_what_the_crawl_process_would(pool, article_page):
    html, url = article_page
    assert pool.submit(html, url).result(timeout=120) == ArticleExtractor(ExtractionSettings()).extract(html, url)


def test_a_rejection_comes_back_with_its_reason(pool):
    with pytest.raises(Rejected) as caught:
        pool.submit(b"<html><body><p>Too short.</p></body></html>", BASE + "/2025/01/01/short").result(timeout=120)
    assert caught.value.reason in (Reason.TOO_SHORT, Reason.NOT_ARTICLE)


def test_a_dead_worker_costs_its_page_as_an_extraction_error_and_the_next_pages_work(pool, article_page):
    html, url = article_page
    pool.submit(html, url).result(timeout=120)  # the worker is up
    slow = pool.submit(links_page(40_000), BASE + "/2025/01/01/many-links")
    time.sleep(1.0)  # it is extracting the slow page now
    for pid in pool.worker_pids():
        os.kill(pid, signal.SIGKILL)  # what an out-of-memory kill does
    with pytest.raises(Rejected) as caught:
        slow.result(timeout=120)
    assert caught.value.reason == Reason.EXTRACTION_ERROR
    assert pool.crashes == 1
    assert pool.submit(html, url).result(timeout=120).title  # a new worker takes the next page


def test_a_page_past_its_deadline_is_rejected_and_its_worker_replaced(article_page):
    html, url = article_page
    pool = ExtractionPool(ExtractionSettings(), workers=1, timeout=2.0)
    try:
        pool.submit(html, url).result(timeout=120)
        stuck = pool.worker_pids()
        with pytest.raises(Rejected) as caught:
            pool.submit(links_page(100_000), BASE + "/2025/01/01/links-100k").result(timeout=120)
        assert caught.value.reason == Reason.EXTRACTION_TIMEOUT
        assert pool.submit(html, url).result(timeout=120).title  # the next page is extracted as usual
        assert pool.worker_pids() and pool.worker_pids() != stuck
    finally:
        pool.close()
