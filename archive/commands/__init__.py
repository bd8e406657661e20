"""The `archive` CLI's command groups, one module each (assembled in archive/cli.py)."""

import click

# The one --config option, shared by `archive` and `scheduler.py`.
config_option = click.option(
    "--config",
    "config_path",
    envvar="ARCHIVE_CONFIG",
    type=click.Path(dir_okay=False),
    help="Settings file (default: ./settings.toml, or $ARCHIVE_CONFIG).",
)
