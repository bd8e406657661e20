"""The archive's scheduler: nightly crawls with APScheduler, and a record of every run.

    python scheduler.py                          # foreground; the production container's main process
    python scheduler.py --list                   # jobs and next run times
    python scheduler.py --run-now [--site NAME]  # crawl now; exit 0 if ok
    python scheduler.py --config PATH            # like `archive --config` ($ARCHIVE_CONFIG)

Same as `archive schedule`. The work is in archive/scheduling/.
"""

from __future__ import annotations

import logging
import sys

import click

from archive.commands import config_option
from archive.commands.schedule import HELP, execute
from archive.config import ConfigError, load_settings


@click.command(help=HELP, context_settings={"help_option_names": ["-h", "--help"]})
@config_option
@click.option("--list", "list_jobs", is_flag=True, help="Print the jobs and their next run times, then exit.")
@click.option("--run-now", is_flag=True, help="Crawl now (with the site locks), then exit.")
@click.option("--site", "sites", multiple=True, metavar="NAME", help="With --run-now: only this site (repeatable).")
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
def main(config_path: str | None, list_jobs: bool, run_now: bool, sites: tuple[str, ...], verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("elastic_transport").setLevel(logging.WARNING)
    try:
        settings = load_settings(config_path)
    except ConfigError as exc:
        raise click.ClickException(f"bad settings: {exc}") from None
    sys.exit(execute(settings, list_jobs, run_now, sites))


if __name__ == "__main__":
    main()
