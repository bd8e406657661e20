"""`archive index init|drop`: the articles, versions and crawl-runs indices behind their aliases."""

from __future__ import annotations

import click

from search.client import ElasticsearchUnavailable, check_health, make_client
from search.indices import clean_stored, current_index, drop_all, ensure_all, migrate_all, upgrade_in_place
from search.stories import assign_stored, count_stories


@click.group()
def index() -> None:
    """Create or drop the archive's indices."""


@index.command("init")
@click.pass_obj
def init(app) -> None:
    """Create each index and its alias if absent; add fields new in this version. Safe to run again."""
    es = app.settings.elasticsearch
    client = make_client(es)
    try:
        check_health(client, es)
    except ElasticsearchUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    for state in ensure_all(client, es):
        verb = "created" if state.created else "exists:"
        click.echo(f"{verb} {state.alias} -> {state.index}")
    for change in upgrade_in_place(client, es):  # indices of an older version: new fields
        click.echo(f"upgraded {change}")
    from search.indices import ARTICLES_DEFINITION, definition_version, versioned_name

    for alias in (es.articles_alias, es.versions_alias):
        wanted = versioned_name(alias, definition_version(ARTICLES_DEFINITION))
        if current_index(client, alias) != wanted:
            click.echo(f"{alias} predates the current definition ({wanted}): run `archive index migrate` "
                       "(inflected forms match from v2, copies group into stories from v3, highlights are faster from v4)")


@index.command("migrate")
@click.pass_obj
def migrate(app) -> None:
    """Bring the articles and versions indices to the current definition.

    Each is copied into a new versioned index (filling new fields, such as the stemmed text
    for language-aware matching) and its alias swapped at once; the old index is kept.
    Articles stored with control characters or non-characters in their text are cleaned.
    Articles without a story (stored before copies were grouped) get one, oldest first.
    Run it when no crawl is running. Safe to run again.
    """
    from archive.commands import elasticsearch_errors

    es = app.settings.elasticsearch
    client = make_client(es)
    with elasticsearch_errors(es.url):
        check_health(client, es)
        before = {alias: current_index(client, alias) for alias in (es.articles_alias, es.versions_alias)}
        for state in migrate_all(client, es):
            old = before[state.alias]
            if old is None:
                click.echo(f"created {state.alias} -> {state.index}")
            elif old != state.index:
                count = client.count(index=state.alias)["count"]
                click.echo(f"migrated {state.alias}: {old} -> {state.index} ({count} documents; {old} is kept)")
            else:
                click.echo(f"up to date: {state.alias} -> {state.index}")
            cleaned = clean_stored(client, state.alias)
            click.echo(f"cleaned {cleaned} document{'s' if cleaned != 1 else ''} of {state.alias} "
                       "(control characters or non-characters in their text)" if cleaned else f"clean: {state.alias}")
        grouped = assign_stored(client, es.articles_alias)
        stories = count_stories(client, es.articles_alias)
        click.echo(f"stories: {grouped} article{'s' if grouped != 1 else ''} given a story; "
                   f"{stories.articles} articles in {stories.stories} stories")
        from search.alerts import AlertStore

        recompiled = AlertStore(client, es).recompile_all()  # the query language may compile them differently now
        if recompiled:
            click.echo(f"saved searches: {recompiled} compiled again for matching")


@index.command("drop")
@click.option("--yes", is_flag=True, help="Really delete every archived article and run record.")
@click.pass_obj
def drop(app, yes: bool) -> None:
    """Delete the archive's indices (everything archived is lost)."""
    if not yes:
        raise click.ClickException("refusing to delete the archive without --yes")
    es = app.settings.elasticsearch
    drop_all(make_client(es), es)
    click.echo("dropped")
