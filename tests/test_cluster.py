"""The archive on a real three-node cluster of the same distribution (search/localnode.py).

Three nodes on 127.0.0.1: HTTP 9280-9282, transport 9380-9382 (never the single node at 9200),
started once for the module by `start_cluster` and stopped at the end. The client is given all
three URLs. A crawl of the demo site runs while one node is stopped: every article ends up
stored exactly once, searches keep answering while the node is down, and the cluster is green
again once the node is back.

Marked `cluster`: `make test-cluster` runs only these; `make test` (and so CI) runs them too, as
they take about 3 minutes here (cluster start included).
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import replace

import pytest
from click.testing import CliRunner

from archive.cli import AppContext, cli
from archive.demo_site import DemoSite, serve_demo_site
from crawler.runner import OK, run_crawl
from search import localnode
from search.client import make_client
from search.indices import ARTICLES_DEFINITION, drop_all, ensure_all, migrate
from search.query import SearchRequest
from search.service import search

pytestmark = pytest.mark.cluster

PORTS = (9280, 9281, 9282)
URLS = tuple(f"http://127.0.0.1:{p}" for p in PORTS)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from conftest import _project_settings

    base = _project_settings()
    settings = replace(
        base,
        data_dir=tmp_path_factory.mktemp("cluster"),
        elasticsearch=replace(base.elasticsearch, url=URLS[0], urls=URLS).with_index_prefix(f"test-cl-{uuid.uuid4().hex[:8]}"),
        local_node=replace(base.local_node, heap="384m", start_timeout=300.0),
    )
    started = time.monotonic()
    try:
        status = localnode.start_cluster(settings, 3)
        print(f"\nthree-node cluster up in {time.monotonic() - started:.0f}s")
        assert status.health["number_of_nodes"] == 3
        yield settings
    finally:  # also when the start fails half-way: no node is left behind on the fixed ports
        if localnode.is_cluster(settings):
            localnode.stop_cluster(settings)


@pytest.fixture(scope="module")
def client(cluster):
    return make_client(cluster.elasticsearch)


def test_three_nodes_form_one_cluster_and_indices_get_a_replica(cluster, client):
    health = client.cluster.health(wait_for_nodes="3", timeout="30s")
    assert health["cluster_name"] == localnode.MULTI_CLUSTER_NAME
    assert health["number_of_data_nodes"] == 3
    es = cluster.elasticsearch
    try:
        ensure_all(client, es)
        index = next(iter(client.indices.get_alias(name=es.articles_alias).body))
        assert client.indices.get_settings(index=index)[index]["settings"]["index"]["number_of_replicas"] == "1"
        assert client.cluster.health(index=index, wait_for_status="green", timeout="60s")["status"] == "green"
        # a migration (new version of the definition) gets the replica too
        migrated = migrate(client, es.articles_alias, ARTICLES_DEFINITION, new_version=2)
        settings = client.indices.get_settings(index=migrated.index)[migrated.index]["settings"]["index"]
        assert settings["number_of_replicas"] == "1"
        client.indices.delete(index=index)
    finally:
        drop_all(client, es)


def test_status_shows_every_node_and_shard_health(cluster):
    runner = CliRunner()
    result = runner.invoke(cli, ["es", "status"], obj=AppContext(None, cluster))
    assert result.exit_code == 0, result.output
    for url in URLS:
        assert url in result.output
    assert "unassigned" in result.output and localnode.MULTI_CLUSTER_NAME in result.output


def test_a_crawl_survives_a_node_going_down(cluster, client):
    es = cluster.elasticsearch
    site = DemoSite(article_count=400)
    with serve_demo_site(site, port=0) as server:
        demo = cluster.site("demo")
        settings = replace(
            cluster,
            sites=(replace(demo, start_urls=(server.base_url + "/",), feeds=(server.base_url + "/feed.xml",), max_pages=2000),),
            # A polite pace keeps the crawl going long enough for the node to go down mid-way.
            crawl=replace(cluster.crawl, download_delay=0.05, autothrottle=False, concurrent_requests_per_host=2,
                          progress_interval=5.0),
        )
        outcome = {}
        crawl = threading.Thread(target=lambda: outcome.update(result=run_crawl(settings, ["demo"])))
        crawl.start()
        try:
            _wait_for(lambda: _count(client, es.articles_alias) >= 40, 180, "the first articles to be stored")
            down = URLS[1]
            stopped = localnode.stop_cluster(cluster, ports=[PORTS[1]])
            assert "stopped" in stopped[0].message or "killed" in stopped[0].message
            stored_when_down = _count(client, es.articles_alias)
            # Searches keep answering while the node is down (the client fails over).
            answers = 0
            while crawl.is_alive() and answers < 20:
                response = search(client, es.articles_alias, SearchRequest(text="the", size=5))
                assert response.total >= 1
                answers += 1
                time.sleep(0.2)
            assert answers >= 5, "the crawl ended before searches could be checked with the node down"
        finally:
            crawl.join(timeout=600)
        result = outcome["result"]
        assert result.status == OK, result.error
        assert stored_when_down < len(site.articles), "the node went down after the crawl had stored everything"

        # Every article exactly once: as many documents as articles, and as many distinct URLs.
        client.indices.refresh(index=es.articles_alias)
        assert result.sites["demo"]["articles_new"] == len(site.articles)
        assert result.sites["demo"].get("articles_spooled", 0) == 0
        assert _count(client, es.articles_alias) == len(site.articles)
        distinct = client.search(index=es.articles_alias, size=0,
                                 aggs={"urls": {"cardinality": {"field": "url", "precision_threshold": 4000}}})
        assert distinct["aggregations"]["urls"]["value"] == len(site.articles)

        # The node comes back; the cluster is green again, with every copy in place.
        localnode.start_cluster(cluster, 3)
        health = client.cluster.health(wait_for_status="green", wait_for_nodes="3", timeout="120s")
        assert health["status"] == "green" and not health["timed_out"], f"{down} back, but {health}"
        assert health["unassigned_shards"] == 0
    drop_all(client, es)


def _count(client, alias: str) -> int:
    try:
        client.indices.refresh(index=alias)
        return client.count(index=alias)["count"]
    except Exception:  # the index does not exist yet
        return 0


def _wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_cluster_never_takes_over_ports_another_elasticsearch_answers_on(es_settings):
    """`archive es start --nodes 3` on the single node's port refuses, naming it; nothing starts."""
    settings = replace(es_settings, elasticsearch=replace(es_settings.elasticsearch, urls=()))
    with pytest.raises(localnode.NodeError, match="already answers as cluster"):
        localnode.start_cluster(settings, 3)
    assert localnode.health(settings) in ("green", "yellow")
