"""The `archive` CLI's command groups, one module each (assembled in archive/cli.py)."""

import contextlib
import logging

import click

# The one --config option, shared by `archive` and `scheduler.py`.
config_option = click.option(
    "--config",
    "config_path",
    envvar="ARCHIVE_CONFIG",
    type=click.Path(dir_okay=False),
    help="Settings file (default: ./settings.toml, or $ARCHIVE_CONFIG).",
)


@contextlib.contextmanager
def elasticsearch_errors(url: str):
    """Elasticsearch failures as one line naming the URL and the fix (search/errors.py), exit
    code 1; the traceback is logged at debug level, so `archive -v` shows it."""
    try:
        yield
    except click.ClickException:
        raise
    except Exception as exc:
        from search.errors import explain

        message = explain(exc, url)
        if message is None:
            raise
        logging.getLogger("archive").debug("Elasticsearch failure", exc_info=True)
        raise click.ClickException(message) from None
