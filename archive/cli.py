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


class LazyGroup(click.Group):
    """Commands are imported when used, so `archive search` never loads Scrapy or trafilatura
    (only `archive --help` imports them all, to show each one's summary)."""

    def __init__(self, *args, lazy_commands: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def add_lazy(self, name: str, target: str) -> None:
        """target: 'module:attribute', e.g. 'archive.commands.search:search_command'."""
        self.lazy_commands[name] = target

    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx, name):
        if name not in self.commands and name in self.lazy_commands:
            import importlib

            module, attribute = self.lazy_commands[name].split(":")
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
    # The Elasticsearch transport logs every request at INFO, and each failed attempt with a
    # traceback; commands explain failures in one line (archive/commands elasticsearch_errors).
    logging.getLogger("elastic_transport").setLevel(logging.WARNING if verbose else logging.CRITICAL)
    if ctx.obj is None:  # tests and embedding code may hand in settings already read
        ctx.obj = AppContext(config_path)


def _register() -> None:
    for name, target in {
        "es": "archive.commands.es:es",
        "index": "archive.commands.index:index",
        "crawl": "archive.commands.crawl:crawl",
        "flush": "archive.commands.crawl:flush",
        "search": "archive.commands.search:search_command",
        "show": "archive.commands.search:show",
        "serve": "archive.commands.serve:serve",
        "demo": "archive.commands.demo:demo",
        "demo-site": "archive.commands.demo:demo_site",
        "schedule": "archive.commands.schedule:schedule",
        "worker": "archive.commands.worker:worker",
        "state": "archive.commands.state:state",
        "runs": "archive.commands.runs:runs",
        "status": "archive.commands.runs:status",
        "reextract": "archive.commands.reextract:reextract_command",
        "sites": "archive.commands.sites:sites",
        "alerts": "archive.commands.alerts:alerts",
        "users": "archive.commands.users:users",
        "audit": "archive.commands.audit:audit",
    }.items():
        cli.add_lazy(name, target)

_register()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
