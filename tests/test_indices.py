"""The articles live in a versioned index behind an alias, so the mapping can change."""

from search.indices import ARTICLES_DEFINITION, definition_version, ensure_index, migrate
from search.writer import ArticleWriter


def test_migration_reindexes_into_a_new_version_and_swaps_the_alias(es_client, archive_settings):
    es = archive_settings.elasticsearch
    current = definition_version(ARTICLES_DEFINITION)
    state = ensure_index(es_client, es.articles_alias, ARTICLES_DEFINITION)
    assert state.index == f"{es.articles_alias}-v{current}"
    writer = ArticleWriter(es_client, es)
    docs = {f"{i:032x}": {"url": f"https://news.example/{i}", "title": f"Story {i}", "body": "text", "content_hash": str(i)} for i in range(25)}
    assert writer.write(docs).new == 25

    migrated = migrate(es_client, es.articles_alias, ARTICLES_DEFINITION, new_version=current + 1)

    assert migrated.index == f"{es.articles_alias}-v{current + 1}"
    assert list(es_client.indices.get_alias(name=es.articles_alias).body) == [migrated.index]
    assert es_client.count(index=es.articles_alias)["count"] == 25
    assert es_client.get(index=es.articles_alias, id=f"{3:032x}")["_source"]["title"] == "Story 3"
