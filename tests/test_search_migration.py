"""An archive indexed before language-aware matching gets it through `archive index migrate`:
a new versioned index with the stemmed fields and stories, the alias swapped, nothing lost."""

from __future__ import annotations

import copy

from click.testing import CliRunner
from elasticsearch import helpers

from _search_archive import document
from archive.cli import AppContext, cli
from archive.demo_site.content import hand_written_articles
from archive.urls import document_id
from search.indices import ARTICLES_DEFINITION, definition_version, load_definition
from search.query import SearchRequest
from search.service import search


def _first_definition() -> dict:
    """The articles definition as it was before the *_stem fields (v1)."""
    body = copy.deepcopy(load_definition(ARTICLES_DEFINITION))
    body["mappings"].pop("_source")
    for name in ("title_stem", "description_stem", "body_stem"):
        body["mappings"]["properties"].pop(name)
    return body


def test_migrate_gives_an_old_archive_language_aware_matching(es_client, archive_settings):
    es = archive_settings.elasticsearch
    old = _first_definition()
    for alias in (es.articles_alias, es.versions_alias):
        es_client.indices.create(index=f"{alias}-v1", settings=old["settings"], mappings=old["mappings"],
                                 aliases={alias: {"is_write_index": True}})
    docs = [document(a) for a in hand_written_articles()]
    # A syndicated copy of the first article, a day later on another site: migrate groups them.
    copy_of_first = {**docs[0], "url": "http://courier.example/copy", "site": "courier",
                     "published": docs[0]["published"].replace(docs[0]["published"][:10], "2030-01-01")}
    docs.append(copy_of_first)
    helpers.bulk(es_client, ({"_index": es.articles_alias, "_id": document_id(d["url"]), "_source": d} for d in docs),
                 refresh="wait_for")

    def german_hits() -> int:
        return search(es_client, es.articles_alias, SearchRequest(text="Schaden")).total

    assert german_hits() == 0  # 'Schäden' only: the old index has no folded, stemmed text
    before = search(es_client, es.articles_alias, SearchRequest(text=f'"{docs[0]["title"]}"'))
    assert before.total == 2 and len(before.hits) == 2  # not grouped yet, and the page says why
    assert any("archive index migrate" in hint for hint in before.hints)

    result = CliRunner().invoke(cli, ["index", "migrate"], obj=AppContext(None, archive_settings), catch_exceptions=False)
    assert result.exit_code == 0
    current = definition_version(ARTICLES_DEFINITION)
    assert f"migrated {es.articles_alias}: {es.articles_alias}-v1 -> {es.articles_alias}-v{current} ({len(docs)} documents;" in result.output
    assert f"stories: {len(docs)} articles given a story; {len(docs)} articles in {len(docs) - 1} stories" in result.output

    assert german_hits() == 1
    assert es_client.count(index=es.articles_alias)["count"] == len(docs)
    assert es_client.indices.exists(index=f"{es.articles_alias}-v1")  # the old index is kept
    first_id = document_id(docs[0]["url"])
    stored = es_client.get(index=es.articles_alias, id=first_id)["_source"]
    # Every field as it was, plus the date Kibana charts by and the story (with its look-up keys);
    # the stemmed text is indexed, not stored.
    expected = {**docs[0], "display_date": docs[0].get("display_date") or docs[0].get("published")
                or docs[0].get("first_seen") or docs[0].get("crawled_at"), "story": first_id}
    assert {k: v for k, v in stored.items() if k != "story_bands"} == expected and len(stored["story_bands"]) == 32
    assert es_client.get(index=es.articles_alias, id=document_id(copy_of_first["url"]))["_source"]["story"] == first_id
    after = search(es_client, es.articles_alias, SearchRequest(text=f'"{docs[0]["title"]}"'))
    assert after.total == 2 and [h.id for h in after.hits] == [first_id] and after.hits[0].other_sites == ["courier"]

    again = CliRunner().invoke(cli, ["index", "migrate"], obj=AppContext(None, archive_settings), catch_exceptions=False)
    assert f"up to date: {es.articles_alias} -> {es.articles_alias}-v{current}" in again.output
