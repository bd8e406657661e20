"""`archive state`: the per-URL crawl state (what earlier crawls archived, known-bad URLs)."""

from __future__ import annotations

from pathlib import Path

import click

from archive.commands import elasticsearch_errors


@click.group()
def state() -> None:
    """The per-URL crawl state that makes nightly crawls incremental."""


@state.command()
@click.option("--from", "source", type=click.Path(dir_okay=False, path_type=Path),
              help="The SQLite crawl state to copy (default: <data_dir>/crawl-state.sqlite).")
@click.pass_obj
def migrate(app, source: Path | None) -> None:
    """Copy a machine's SQLite crawl state into Elasticsearch (crawl.state = "elasticsearch").

    Every known URL and known-bad URL is copied as it is, so the first crawl after the switch
    stays incremental. Safe to run again: a URL is one document, overwritten by a second copy.
    Run it before switching crawl.state, once per machine that crawled.

    \b
    Examples:
      archive state migrate
      archive state migrate --from /mnt/old-machine/var/crawl-state.sqlite
    """
    from crawler.state import state_path
    from crawler.state_elasticsearch import ElasticsearchCrawlState, copy_from_sqlite

    settings = app.settings
    source = source or state_path(settings)
    if not source.is_file():
        raise click.ClickException(f"no crawl state at {source}: nothing to migrate")
    with elasticsearch_errors(settings.elasticsearch.url):
        target = ElasticsearchCrawlState(settings.elasticsearch)
        try:
            pages, bad, refused = copy_from_sqlite(source, target)
        finally:
            target.close()
    click.echo(f"copied {pages} URLs and {bad} known-bad URLs from {source} into Elasticsearch ({target.alias})")
    if refused:
        raise click.ClickException(f"{len(refused)} rows refused by Elasticsearch, e.g. {refused[0].get('error')}; run it again")
    if settings.crawl.state != "elasticsearch":
        click.echo('crawls still use the SQLite file: set crawl.state = "elasticsearch" in settings.toml to switch')
