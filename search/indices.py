"""Index definitions (kept as data in definitions/) and the versioned-index-behind-an-alias scheme.

Writes and searches use the alias (e.g. ``articles``); the alias points at a versioned index
(``articles-v1``). A new mapping means a new version, a reindex and an alias swap, without
touching the code that reads and writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Callable

from elasticsearch import BadRequestError, Elasticsearch, NotFoundError, helpers

ARTICLES_DEFINITION = "articles.json"
RUNS_DEFINITION = "crawl-runs.json"
ALERTS_DEFINITION = "saved-searches.json"
AUDIT_DEFINITION = "audit.json"
# Bump when a definition changes incompatibly; `archive index migrate` then reindexes.
DEFINITION_VERSION = 1
# Definitions past their first version. articles v2: *_stem fields (folded, stemmed text for
# language-aware matching, see search/analysis.py); v3: story and story_bands (copies of one
# text grouped, see search/stories.py); v4: offsets in the postings of title and body, so
# highlighting reads where each match is instead of analysing the text again.
VERSIONS = {ARTICLES_DEFINITION: 4}


def load_definition(name: str) -> dict:
    """The definition as the code and the tests both use it (one copy, no drift)."""
    text = resources.files("search.definitions").joinpath(name).read_text(encoding="utf-8")
    return json.loads(text)


@dataclass(frozen=True)
class IndexState:
    alias: str
    index: str
    created: bool


def definition_version(definition: str) -> int:
    return VERSIONS.get(definition, DEFINITION_VERSION)


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
    client: Elasticsearch, alias: str, definition: str, version: int | None = None, replicas: int | None = None
) -> IndexState:
    """Create the versioned index (with `replicas`, else the definition's) and point the alias
    at it, unless the alias exists. Idempotent: an existing index is left as it is."""
    version = version or definition_version(definition)
    try:
        existing = client.indices.get_alias(name=alias)
        return IndexState(alias=alias, index=sorted(existing.body)[-1], created=False)
    except NotFoundError:
        pass
    index = versioned_name(alias, version)
    body = load_definition(definition)
    if not client.indices.exists(index=index):
        try:
            client.indices.create(
                index=index, settings=_index_settings(body, replicas), mappings=body["mappings"],
                aliases={alias: {"is_write_index": True}},
            )
        except BadRequestError as exc:
            # Two crawls starting at once both found it missing: the other one created it.
            if exc.error != "resource_already_exists_exception":
                raise
            return IndexState(alias=alias, index=index, created=False)
    else:
        client.indices.put_alias(index=index, name=alias, is_write_index=True)
    return IndexState(alias=alias, index=index, created=True)


def upgrade_in_place(client: Elasticsearch, es_settings) -> list[str]:
    """Bring indices made by an older version up to today's definitions without a reindex:
    fields added to a definition are added to the mapping (allowed on a live index), and
    articles stored before `display_date` existed get it (Kibana's time field). Idempotent:
    a second call finds nothing to do. Returns one line per change."""
    from search.writer import display_date

    done = []
    for alias, definition in ((es_settings.articles_alias, ARTICLES_DEFINITION),
                              (es_settings.versions_alias, ARTICLES_DEFINITION),
                              (es_settings.runs_index, RUNS_DEFINITION)):
        wanted = load_definition(definition)["mappings"]["properties"]
        mappings = client.indices.get_mapping(index=alias).body.values()
        have = {name for m in mappings for name in (m.get("mappings", {}).get("properties") or {})}
        missing = {name: spec for name, spec in wanted.items() if name not in have}
        if missing:
            client.indices.put_mapping(index=alias, properties=missing)
            done.append(f"{alias}: mapped new fields {', '.join(sorted(missing))}")
    undated = {"bool": {"must_not": {"exists": {"field": "display_date"}}}}
    alias = es_settings.articles_alias
    if client.count(index=alias, query=undated)["count"]:
        updates = (
            {"_op_type": "update", "_index": hit["_index"], "_id": hit["_id"], "doc": {"display_date": display_date(hit["_source"])}}
            for hit in helpers.scan(client, index=alias, query={"query": undated}, _source=["published", "first_seen", "crawled_at"])
        )
        count, _ = helpers.bulk(client, updates, chunk_size=500)
        client.indices.refresh(index=alias)
        done.append(f"{alias}: display_date set on {count} articles stored before it existed")
    return done


def migrate(
    client: Elasticsearch,
    alias: str,
    definition: str,
    new_version: int,
    transform: Callable[[dict], dict] | None = None,
    replicas: int | None = None,
) -> IndexState:
    """Reindex the alias's current index into a new version and swap the alias atomically.

    ``transform`` rebuilds what the old index does not keep (e.g. the *_stem fields, which are
    indexed but not stored in _source). The old index is kept, so nothing is lost. The new index
    gets `replicas`, by default as many as this cluster calls for ("auto")."""
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
        {"_index": target, "_id": hit["_id"], "_source": transform(hit["_source"]) if transform else hit["_source"]}
        for hit in helpers.scan(client, index=current, query={"query": {"match_all": {}}}, size=500)
    )
    helpers.bulk(client, copies, chunk_size=500)
    client.indices.refresh(index=target)
    copied, original = client.count(index=target)["count"], client.count(index=current)["count"]
    if copied != original:  # the alias stays on the old index: nothing is lost
        raise RuntimeError(f"migration of {alias} copied {copied} of {original} documents into {target}; alias not moved")
    client.indices.update_aliases(
        actions=[
            {"remove": {"index": current, "alias": alias}},
            {"add": {"index": target, "alias": alias, "is_write_index": True}},
        ]
    )
    return IndexState(alias=alias, index=target, created=True)


def ensure_all(client: Elasticsearch, es_settings) -> list[IndexState]:
    """Every index the archive uses: articles, earlier versions of articles, crawl runs, saved
    searches, the audit trail; created with the replicas elasticsearch.replicas asks for on this cluster."""
    replicas = replica_count(client, es_settings.replicas)
    return [
        ensure_index(client, es_settings.articles_alias, ARTICLES_DEFINITION, replicas=replicas),
        ensure_index(client, es_settings.versions_alias, ARTICLES_DEFINITION, replicas=replicas),
        ensure_index(client, es_settings.runs_index, RUNS_DEFINITION, replicas=replicas),
        ensure_index(client, es_settings.alerts_alias, ALERTS_DEFINITION, replicas=replicas),
        ensure_index(client, es_settings.audit_alias, AUDIT_DEFINITION, replicas=replicas),
    ]


def migrate_all(client: Elasticsearch, es_settings) -> list[IndexState]:
    """Bring the articles and versions indices to their current definition (alias swap, old index kept),
    filling the *_stem fields and the story band hashes, and cleaning the text (clean_stored);
    creates them if absent. Stories are then given by search.stories.assign_stored."""

    states = []
    replicas = replica_count(client, es_settings.replicas)
    for alias in (es_settings.articles_alias, es_settings.versions_alias):
        try:
            client.indices.get_alias(name=alias)
        except NotFoundError:
            states.append(ensure_index(client, alias, ARTICLES_DEFINITION, replicas=replicas))
            continue
        transform = _upgraded_article if alias == es_settings.articles_alias else _upgraded
        states.append(migrate(client, alias, ARTICLES_DEFINITION, definition_version(ARTICLES_DEFINITION), transform=transform,
                              replicas=replicas))
    return states


def _upgraded_article(document: dict) -> dict:
    """An article as today's writer would store it, with its story's band hashes; its story is
    set afterwards, oldest first (search.stories.assign_stored)."""
    from search.stories import with_bands

    return _upgraded(with_bands(document))


def clean_stored(client: Elasticsearch, alias: str) -> int:
    """Rewrite the stored articles whose text carries control characters or non-characters
    (stored before extraction removed them; archive/text.py), stems and all. Returns how many."""
    client.indices.refresh(index=alias)
    dirty = (
        {"_index": hit["_index"], "_id": hit["_id"], "_source": _upgraded(hit["_source"])}
        for hit in helpers.scan(client, index=alias, query={"query": {"match_all": {}}}, size=500)
        if _cleaned(hit["_source"]) != hit["_source"]
    )
    count, _ = helpers.bulk(client, dirty, chunk_size=200)
    if count:
        client.indices.refresh(index=alias)
    return count


def _cleaned(document: dict) -> dict:
    from archive.text import clean_text, clean_values

    changes = {key: clean_text(document[key]) for key in CLEANED_TEXT if isinstance(document.get(key), str)}
    changes |= {key: clean_values(document[key]) for key in CLEANED_LISTS if isinstance(document.get(key), list)}
    return {**document, **changes}


CLEANED_TEXT = ("title", "body", "description", "section")
CLEANED_LISTS = ("authors", "tags")


def _upgraded(document: dict) -> dict:
    """An article of an older index as today's writer would store it: clean text, stems, and a display date."""
    from search.analysis import with_stems
    from search.writer import display_date

    document = _cleaned(document)
    if not document.get("display_date"):
        document = {**document, "display_date": display_date(document)}
    return with_stems(document)


def ensure_alert_fields(client: Elasticsearch, alias: str) -> None:
    """Give a saved-searches index made by an older version the fields of today's definition
    (the outbox's state and times): adding fields is allowed on a live index; idempotent. The
    alert matcher calls it once per process, before it first writes to the index."""
    wanted = load_definition(ALERTS_DEFINITION)["mappings"]["properties"]
    mappings = client.indices.get_mapping(index=alias).body.values()
    have = {name for m in mappings for name in (m.get("mappings", {}).get("properties") or {})}
    missing = {name: spec for name, spec in wanted.items() if name not in have}
    if missing:  # a read first: a mapping update is a cluster-state change, not for every process start
        client.indices.put_mapping(index=alias, properties=missing)


def current_index(client: Elasticsearch, alias: str) -> str | None:
    """The versioned index the alias points at, or None."""
    try:
        return sorted(client.indices.get_alias(name=alias).body)[-1]
    except NotFoundError:
        return None


def drop_all(client: Elasticsearch, es_settings) -> None:
    """Delete the archive's indices (tests and `archive index drop --yes` only)."""
    for alias in (es_settings.articles_alias, es_settings.versions_alias, es_settings.runs_index, es_settings.alerts_alias,
                  es_settings.audit_alias):
        try:
            indices = list(client.indices.get_alias(name=alias).body)
        except NotFoundError:
            continue
        client.indices.delete(index=",".join(indices), ignore_unavailable=True)
