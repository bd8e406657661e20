"""`archive index init|drop`: the articles, versions and crawl-runs indices behind their aliases."""

from __future__ import annotations

import click

from search.client import ElasticsearchUnavailable, check_health, make_client
from search.indices import drop_all, ensure_all, upgrade_in_place


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
