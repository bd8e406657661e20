"""Extraction in worker processes (crawler/workers.py): same result as in-process, and a worker
that dies costs only its pages, each rejected as extraction-error, never the crawl."""

from __future__ import annotations

import os
import signal

import pytest

from archive.config import ExtractionSettings
from archive.demo_site import DemoSite, pages
from crawler.extraction import ArticleExtractor
from crawler.rejections import Reason, Rejected
from crawler.workers import ExtractionPool

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


def test_a_dead_worker_costs_its_pages_as_extraction_errors_and_the_next_pages_work(pool, article_page):
    html, url = article_page
    pool.submit(html, url).result(timeout=120)  # the worker is up
    for pid in list(pool._pool._processes):
        os.kill(pid, signal.SIGKILL)  # what an out-of-memory kill does
    outcomes = []
    for _ in range(3):
        try:
            outcomes.append(pool.submit(html, url).result(timeout=120).title)
        except Rejected as rejected:
            outcomes.append(rejected.reason)
    assert pool.crashes == 1
    assert all(o == Reason.EXTRACTION_ERROR or isinstance(o, str) for o in outcomes), outcomes
    # a new worker takes the next page
    assert pool.submit(html, url).result(timeout=120).title
