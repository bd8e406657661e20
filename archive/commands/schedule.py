"""`archive schedule` (and `python scheduler.py`): the nightly crawls in the foreground, the
list of scheduled jobs, or a crawl right now under the same locks."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from archive.config import ConfigError, Settings
from archive.scheduling import schedule as sched

# Exit codes of --run-now.
EXIT_OK, EXIT_FAILED, EXIT_ALREADY_RUNNING = 0, 1, 3


def execute(settings: Settings, list_jobs: bool, run_now: bool, sites: tuple[str, ...]) -> int:
    """What both entry points do with their options; returns the exit code."""
    if list_jobs and run_now:
        raise click.UsageError("use either --list or --run-now")
    if sites and not run_now:
        raise click.UsageError("--site goes with --run-now (the schedule covers every configured site)")
    try:
        settings.select_sites(sites)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    if list_jobs:
        print_jobs(sched.planned_jobs(settings))
        return EXIT_OK
    if run_now:
        results = sched.run_now(settings, sites)
        if any(r.outcome is not None and not r.ok for r in results) or not results:
            return EXIT_FAILED
        if any(r.skipped for r in results):
            return EXIT_ALREADY_RUNNING
        return EXIT_OK
    if not settings.sites:
        raise click.ClickException("no [[sites]] in the settings: nothing to schedule")
    sched.run_forever(settings)
    return EXIT_OK


def print_jobs(planned: list[sched.ScheduledJob]) -> None:
    console = Console(highlight=False)
    if not planned:
        console.print("no jobs: the settings have no [[sites]]")
        return
    table = Table(title="Scheduled crawls", title_justify="left")
    for column in ("job", "sites", "schedule", "next run", "state"):
        table.add_column(column)
    for job in planned:
        table.add_row(
            job.id,
            ", ".join(job.sites) or "all",
            job.schedule,
            job.next_run.strftime("%Y-%m-%d %H:%M %Z") if job.next_run else "-",
            job.state,
        )
    console.print(table)


HELP = """Run the nightly crawls (APScheduler) in the foreground until SIGTERM/Ctrl-C.

\b
The schedule is [schedule] in settings.toml (cron, timezone, misfire_grace_seconds,
per_site); jobs live in <data_dir>/scheduler.sqlite, so a restart keeps them and still runs
a crawl it missed within the grace period (once). One crawl of a site at a time, also across
processes (lock files in <data_dir>/locks/). Every run is recorded: see `archive runs`.

\b
--run-now exits with 0 when every crawl was ok, 1 when one failed, timed out or was
interrupted, 3 when a crawl of the site was already running (nothing done).

\b
Examples:
  python scheduler.py                      # production: the container's main process
  python scheduler.py --list               # jobs and their next run times
  python scheduler.py --run-now --site demo
  archive schedule --list
"""


@click.command("schedule", help=HELP)
@click.option("--list", "list_jobs", is_flag=True, help="Print the jobs and their next run times, then exit.")
@click.option("--run-now", is_flag=True, help="Crawl now (with the site locks), then exit.")
@click.option("--site", "sites", multiple=True, metavar="NAME", help="With --run-now: only this site (repeatable).")
@click.pass_obj
def schedule(app, list_jobs: bool, run_now: bool, sites: tuple[str, ...]) -> None:
    raise SystemExit(execute(app.settings, list_jobs, run_now, sites))
