"""Index definitions (kept as data in definitions/) and the versioned-index-behind-an-alias scheme.

Writes and searches use the alias (e.g. ``articles``); the alias points at a versioned index
(``articles-v1``). A new mapping means a new version, a reindex and an alias swap, without
touching the code that reads and writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

from elasticsearch import Elasticsearch, NotFoundError, helpers

ARTICLES_DEFINITION = "articles.json"
RUNS_DEFINITION = "crawl-runs.json"
# Bump when a definition changes incompatibly; `archive index migrate` then reindexes.
DEFINITION_VERSION = 1


def load_definition(name: str) -> dict:
    """The definition as the code and the tests both use it (one copy, no drift)."""
    text = resources.files("search.definitions").joinpath(name).read_text(encoding="utf-8")
    return json.loads(text)


@dataclass(frozen=True)
class IndexState:
    alias: str
    index: str
    created: bool


def versioned_name(alias: str, version: int = DEFINITION_VERSION) -> str:
    return f"{alias}-v{version}"


def replica_count(client: Elasticsearch, replicas: str = "auto") -> int:
    """elasticsearch.replicas: a number, or "auto": one copy of every shard on another node
    when the cluster has more than one data node (a single node cannot hold a replica)."""
    if replicas != "auto":
        return int(replicas)
    return 1 if client.cluster.health().get("number_of_data_nodes", 1) > 1 else 0


def _index_settings(body: dict, replicas: int | None) -> dict:
    settings = dict(body["settings"])
    if replicas is not None:
        settings["number_of_replicas"] = replicas
    return settings


def ensure_index(
    client: Elasticsearch, alias: str, definition: str, version: int = DEFINITION_VERSION, replicas: int | None = None
) -> IndexState:
    """Create the versioned index (with `replicas`, else the definition's) and point the alias
    at it, unless the alias exists. Idempotent: an existing index is left as it is."""
    try:
        existing = client.indices.get_alias(name=alias)
        return IndexState(alias=alias, index=sorted(existing.body)[-1], created=False)
    except NotFoundError:
        pass
    index = versioned_name(alias, version)
    body = load_definition(definition)
    if not client.indices.exists(index=index):
        client.indices.create(
            index=index, settings=_index_settings(body, replicas), mappings=body["mappings"],
            aliases={alias: {"is_write_index": True}},
        )
    else:
        client.indices.put_alias(index=index, name=alias, is_write_index=True)
    return IndexState(alias=alias, index=index, created=True)


def migrate(
    client: Elasticsearch, alias: str, definition: str, new_version: int, replicas: int | None = None
) -> IndexState:
    """Reindex the alias's current index into a new version and swap the alias atomically.
    The new index gets `replicas`, by default as many as this cluster calls for ("auto")."""
    if replicas is None:
        replicas = replica_count(client)
    current = sorted(client.indices.get_alias(name=alias).body)[-1]
    target = versioned_name(alias, new_version)
    if current == target:
        return IndexState(alias=alias, index=target, created=False)
    body = load_definition(definition)
    client.indices.create(index=target, settings=_index_settings(body, replicas), mappings=body["mappings"])
    # Client-side scan + bulk rather than _reindex: the Maven distribution has no reindex module
    # (and helpers.reindex asks for data streams, which it lacks too).
    client.indices.refresh(index=current)  # the scan must see the latest writes
    copies = (
        {"_index": target, "_id": hit["_id"], "_source": hit["_source"]}
        for hit in helpers.scan(client, index=current, query={"query": {"match_all": {}}}, size=500)
    )
    helpers.bulk(client, copies, chunk_size=500)
    client.indices.refresh(index=target)
    client.indices.update_aliases(
        actions=[
            {"remove": {"index": current, "alias": alias}},
            {"add": {"index": target, "alias": alias, "is_write_index": True}},
        ]
    )
    return IndexState(alias=alias, index=target, created=True)


def ensure_all(client: Elasticsearch, es_settings) -> list[IndexState]:
    """Every index the archive uses: articles, earlier versions of articles, crawl runs; created
    with the replicas elasticsearch.replicas asks for on this cluster."""
    replicas = replica_count(client, es_settings.replicas)
    return [
        ensure_index(client, es_settings.articles_alias, ARTICLES_DEFINITION, replicas=replicas),
        ensure_index(client, es_settings.versions_alias, ARTICLES_DEFINITION, replicas=replicas),
        ensure_index(client, es_settings.runs_index, RUNS_DEFINITION, replicas=replicas),
    ]


def drop_all(client: Elasticsearch, es_settings) -> None:
    """Delete the archive's indices (tests and `archive index drop --yes` only)."""
    for alias in (es_settings.articles_alias, es_settings.versions_alias, es_settings.runs_index):
        try:
            indices = list(client.indices.get_alias(name=alias).body)
        except NotFoundError:
            continue
        client.indices.delete(index=",".join(indices), ignore_unavailable=True)
