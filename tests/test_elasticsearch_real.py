"""The tests' Elasticsearch is the real thing: documents, relevance, highlighting, the product
header, and the project's own index definitions accepted as they are."""

from __future__ import annotations

import pytest

from search.indices import ALERTS_DEFINITION, ARTICLES_DEFINITION, AUDIT_DEFINITION, RUNS_DEFINITION, definition_version, ensure_all

pytestmark = pytest.mark.elasticsearch

CLIMATE = (
    "Leaders arrived for the climate summit in Lisbon. The climate summit is expected to agree "
    "on emissions targets, and climate scientists urged the summit to act."
)
HARBOUR = "The harbour festival returned this weekend with boats, music and food stalls; one speaker mentioned the climate."


@pytest.fixture
def plain_index(es_client, index_names):
    """A throwaway index with the standard analyzer (deleted with the test's other indices)."""
    name = f"{index_names.prefix}-plain"
    es_client.indices.create(
        index=name,
        settings={"number_of_shards": 1, "number_of_replicas": 0},
        mappings={"properties": {"title": {"type": "text"}, "body": {"type": "text"}}},
    )
    return name


def test_official_client_indexes_and_gets_documents_back(es_client, plain_index):
    doc = {"title": "Summit opens", "body": CLIMATE}
    created = es_client.index(index=plain_index, id="a1", document=doc)
    assert created["result"] == "created"

    got = es_client.get(index=plain_index, id="a1")
    assert got["found"] is True
    assert got["_source"] == doc


def test_match_query_ranks_the_more_relevant_article_first(es_client, plain_index):
    es_client.index(index=plain_index, id="harbour", document={"title": "Harbour festival", "body": HARBOUR})
    es_client.index(index=plain_index, id="climate", document={"title": "Summit opens", "body": CLIMATE})
    es_client.indices.refresh(index=plain_index)

    hits = es_client.search(index=plain_index, query={"match": {"body": "climate summit"}})["hits"]

    assert hits["total"]["value"] == 2
    assert [h["_id"] for h in hits["hits"]] == ["climate", "harbour"]
    assert hits["hits"][0]["_score"] > hits["hits"][1]["_score"]


def test_highlighting_wraps_the_query_words_in_tags(es_client, plain_index):
    es_client.index(index=plain_index, id="climate", document={"title": "Summit opens", "body": CLIMATE}, refresh=True)

    resp = es_client.search(
        index=plain_index,
        query={"match": {"body": "summit"}},
        highlight={"fields": {"body": {}}, "pre_tags": ["<mark>"], "post_tags": ["</mark>"]},
    )

    fragments = resp["hits"]["hits"][0]["highlight"]["body"]
    assert fragments
    assert all("<mark>summit</mark>" in f.lower() for f in fragments)
    assert "<mark>" not in "".join(fragments).replace("<mark>summit</mark>", "").replace("<mark>Summit</mark>", "")


def test_responses_carry_the_elasticsearch_product_header(es_client):
    resp = es_client.cluster.health()
    assert resp.meta.status == 200
    assert resp.meta.headers["X-Elastic-Product"] == "Elasticsearch"


def test_node_runs_the_pinned_version(es_client, es_settings):
    """One version everywhere (DESIGN.md): the test node, docker-compose and the client's major."""
    nodes = es_client.nodes.info(node_id="_local")["nodes"]
    version = next(iter(nodes.values()))["version"]
    assert version == es_settings.local_node.version
    from elasticsearch import __version__ as client_version

    assert version.split(".")[0] == str(client_version[0])


def test_ensure_all_creates_versioned_indices_behind_aliases(es_client, archive_settings):
    es = archive_settings.elasticsearch
    states = ensure_all(es_client, es)

    aliases = [es.articles_alias, es.versions_alias, es.runs_index, es.alerts_alias, es.audit_alias]
    assert [s.alias for s in states] == aliases
    assert all(s.created for s in states)
    definitions = {es.articles_alias: ARTICLES_DEFINITION, es.versions_alias: ARTICLES_DEFINITION, es.runs_index: RUNS_DEFINITION,
                   es.alerts_alias: ALERTS_DEFINITION, es.audit_alias: AUDIT_DEFINITION}
    for state in states:
        assert state.index == f"{state.alias}-v{definition_version(definitions[state.alias])}"
        behind = es_client.indices.get_alias(name=state.alias).body
        assert list(behind) == [state.index]
        assert behind[state.index]["aliases"][state.alias].get("is_write_index") is True


def test_the_node_accepts_the_project_mapping_as_written(es_client, archive_settings):
    es = archive_settings.elasticsearch
    ensure_all(es_client, es)

    articles = es_client.indices.get_mapping(index=es.articles_alias).body
    mapping = next(iter(articles.values()))["mappings"]
    assert mapping["dynamic"] == "false"  # unknown fields are kept in _source, never mapped by guess
    assert mapping["properties"]["body"]["type"] == "text"
    assert mapping["properties"]["url"]["type"] == "keyword"

    runs = es_client.indices.get_mapping(index=es.runs_index).body
    assert next(iter(runs.values()))["mappings"]["dynamic"] == "false"


def test_ensure_all_is_idempotent(es_client, archive_settings):
    es = archive_settings.elasticsearch
    first = ensure_all(es_client, es)
    es_client.index(index=es.articles_alias, id="kept", document={"url": "https://example.com/a", "body": CLIMATE})

    again = ensure_all(es_client, es)

    assert [s.index for s in again] == [s.index for s in first]
    assert not any(s.created for s in again)
    assert es_client.get(index=es.articles_alias, id="kept")["found"] is True
