"""`archive`: the command line. Each command is a thin layer over one library call.

Command groups live in archive/commands/, one module each; this file only assembles them.
"""

from __future__ import annotations

import logging
import sys

import click

from archive.commands import config_option
from archive.config import ConfigError, load_settings


class AppContext:
    """Settings are read once, on first use, so `archive --help` works without a settings file."""

    def __init__(self, config_path: str | None, settings=None):
        self.config_path = config_path
        self._settings = settings

    @property
    def settings(self):
        if self._settings is None:
            try:
                self._settings = load_settings(self.config_path)
            except ConfigError as exc:
                raise click.ClickException(f"bad settings: {exc}") from None
        return self._settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@config_option
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: bool) -> None:
    """The newsroom archive: crawl news sites, archive their articles, search them.

    \b
    Examples:
      archive es start                 # a local Elasticsearch node on 127.0.0.1:9200
      archive index init               # create the indices and aliases (idempotent)
      archive crawl --site demo        # crawl one configured site
      archive search '"climate summit" AND leaders' --since 2025-01-01
      archive show https://example.com/2025/01/02/some-story
    """
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S",  # the same as the crawl child's lines
        stream=sys.stderr,
    )
    # The Elasticsearch transport logs every request at INFO; journalists need none of it.
    logging.getLogger("elastic_transport").setLevel(logging.WARNING)
    if ctx.obj is None:  # tests and embedding code may hand in settings already read
        ctx.obj = AppContext(config_path)


def _register() -> None:
    from archive.commands import crawl, demo, es, index, search, serve

    cli.add_command(es.es)
    cli.add_command(index.index)
    cli.add_command(crawl.crawl)
    cli.add_command(crawl.flush)
    cli.add_command(search.search_command)
    cli.add_command(search.show)
    cli.add_command(serve.serve)
    cli.add_command(demo.demo)
    cli.add_command(demo.demo_site)

    from archive.commands import runs, schedule

    cli.add_command(schedule.schedule)
    cli.add_command(runs.runs)
    cli.add_command(runs.status)

    from archive.commands import reextract

    cli.add_command(reextract.reextract_command)

    from archive.commands import alerts

    cli.add_command(alerts.alerts)

_register()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
