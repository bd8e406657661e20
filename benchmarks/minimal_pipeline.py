"""The yardstick: the least a crawler-to-Elasticsearch pipeline can do.

    python benchmarks/minimal_pipeline.py SITEMAP_URL ES_URL INDEX [--concurrency 8]

Scrapy's SitemapSpider, one ``trafilatura.bare_extraction`` per page, ``helpers.bulk`` in
batches of 200. No WARC, no crawl state, no dates/language work, no versions: what the archive
does beyond this is what its extra CPU per article pays for. Prints one JSON line at the end.
Twisted's epoll reactor, robots.txt obeyed, the same per-host concurrency as the archive.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

import scrapy
import trafilatura
from elasticsearch import helpers
from scrapy.crawler import CrawlerProcess
from scrapy.spiders import SitemapSpider

from archive.config import ElasticsearchSettings
from search.client import make_client

BATCH = 200


class MinimalSpider(SitemapSpider):
    name = "minimal"

    def parse(self, response):
        doc = trafilatura.bare_extraction(response.text, url=response.url, with_metadata=True)
        doc = doc.as_dict() if doc is not None else None
        if doc and doc.get("text"):
            yield {"url": response.url, "title": doc.get("title"), "date": doc.get("date"), "body": doc["text"]}


class BulkPipeline:
    def __init__(self, es_url: str, index: str):
        # The project's client factory only for the credentials (a secured local node's, or the environment's).
        self.client = make_client(ElasticsearchSettings(url=es_url, request_timeout=60.0))
        self.index = index
        self.batch: list[dict] = []
        self.indexed = 0

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings["MINIMAL_ES_URL"], crawler.settings["MINIMAL_INDEX"])

    def process_item(self, item, spider=None):
        self.batch.append({"_index": self.index, "_id": item["url"], "_source": item})
        if len(self.batch) >= BATCH:
            self.flush()
        return item

    def flush(self):
        if self.batch:
            ok, _ = helpers.bulk(self.client, self.batch)
            self.indexed += ok
            self.batch = []

    def close_spider(self, spider=None):
        self.flush()
        print(json.dumps({"indexed": self.indexed}), flush=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("sitemap")
    parser.add_argument("es_url")
    parser.add_argument("index")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    process = CrawlerProcess({
        "ROBOTSTXT_OBEY": True,
        "TWISTED_REACTOR": "twisted.internet.epollreactor.EPollReactor",
        "CONCURRENT_REQUESTS": max(16, args.concurrency * 4),
        "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency,
        "DOWNLOAD_DELAY": 0,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "ITEM_PIPELINES": {BulkPipeline: 300},
        "MINIMAL_ES_URL": args.es_url,
        "MINIMAL_INDEX": args.index,
    })
    logging.getLogger("trafilatura").setLevel(logging.ERROR)
    process.crawl(MinimalSpider, sitemap_urls=[args.sitemap])
    process.start()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
