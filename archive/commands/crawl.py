"""`archive crawl`: crawl configured sites now, in a child process, with progress and a summary."""

from __future__ import annotations

import json
import threading
from dataclasses import replace

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from archive.scheduling.jobs import run_sites
from crawler.runner import SUCCESSFUL


@click.command()
@click.option("--site", "sites", multiple=True, metavar="NAME", help="A configured site (repeatable). Default: all sites.")
@click.option("--time-limit", type=float, help="Stop the crawl after this many seconds (default: crawl.time_limit).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--queue", "queued", is_flag=True, help="Queue one job per site for `archive worker` instead of crawling here.")
@click.pass_obj
def crawl(app, sites: tuple[str, ...], time_limit: float | None, fmt: str, queued: bool) -> None:
    """Crawl sites now and archive their articles.

    Progress lines appear every few seconds on stderr; a summary per site is printed at the
    end. The exit code is 0 when the crawl finished (status ok; also `incomplete` when the page
    budget left listings for the next run, and `ok-spooled` when Elasticsearch was unreachable
    and articles wait in the spool), 1 when it failed or timed out, 3 when another crawl of
    the site was already running.

    \b
    Examples:
      archive crawl                    # every site in settings.toml
      archive crawl --site demo --time-limit 600
      archive crawl --site demo --queue   # a job for a crawl worker (needs [queue] broker_url)
    """
    settings = app.settings
    try:
        settings.select_sites(sites)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if queued:
        from archive.scheduling.queue import QueueError, enqueue

        if time_limit is not None:
            raise click.UsageError("--time-limit does not go with --queue: workers use crawl.time_limit from their settings")
        try:
            for site, job in enqueue(settings, sites, trigger="cli"):
                click.echo(f"queued crawl of {site} (job {job})")
        except QueueError as exc:
            raise click.ClickException(str(exc)) from None
        return
    if time_limit is not None:
        settings = replace(settings, crawl=replace(settings.crawl, time_limit=time_limit))
    # Under the same per-site locks as the scheduler: never two crawls of one site at once.
    from archive.scheduling.locks import BrokerUnreachable

    try:
        # Saved searches' matches go out while it runs and once it ends (delivery rounds beside it).
        result = run_sites(settings, sites, trigger="cli", stop_event=threading.Event(), deliver=True)
    except BrokerUnreachable as exc:
        raise click.ClickException(str(exc)) from None
    if result.skipped:
        click.echo(f"skipped (a crawl is already running): {', '.join(result.skipped)}", err=True)
    if result.outcome is None:
        raise SystemExit(3)
    outcome = result.outcome
    if fmt == "json":
        click.echo(json.dumps({"status": outcome.status, "error": outcome.error, "sites": outcome.sites}, indent=2))
    else:
        print_summary(outcome)
    if outcome.status not in SUCCESSFUL:
        raise SystemExit(1)


def print_summary(outcome) -> None:
    console = Console()
    table = Table(title=f"Crawl {outcome.status} in {outcome.duration_seconds:.1f}s")
    table.add_column("site")
    for column in ("pages", "new", "updated", "unchanged", "spooled", "rejected"):
        table.add_column(column, justify="right")
    for site, s in sorted(outcome.sites.items()):
        table.add_row(
            site,
            str(s.get("pages_fetched", 0)),
            str(s.get("articles_new", 0)),
            str(s.get("articles_updated", 0)),
            str(s.get("articles_unchanged", 0)),
            str(s.get("articles_spooled", 0)),
            str(s.get("rejected_total", 0)),
        )
    console.print(table)
    for site, s in sorted(outcome.sites.items()):
        reasons = ", ".join(f"{k} {v}" for k, v in s.get("rejections", {}).items()) or "none"
        console.print(f"[dim]{site} rejections:[/dim] {reasons}")
    if outcome.error:
        label = "[red]error:[/red]" if outcome.status not in SUCCESSFUL else "[yellow]warning:[/yellow]"
        console.print(f"{label} {escape(outcome.error)}")  # patterns hold [a-z]: not markup


@click.command()
@click.pass_obj
def flush(app) -> None:
    """Write articles spooled while Elasticsearch was unreachable.

    Crawls also do this when they start; use it to empty the spool at once.
    """
    from elastic_transport import TransportError
    from elasticsearch import ApiError

    from search.client import make_client
    from search.indices import ensure_all
    from search.spool import Spool
    from search.stories import StoryLookupError
    from search.writer import ArticleWriter

    from search.runs import flush_pending_runs

    settings = app.settings
    spool = Spool(settings.data_dir / "spool")
    pending = spool.pending()
    try:
        runs = flush_pending_runs(settings)
    except TransportError as exc:
        raise click.ClickException(f"Elasticsearch at {settings.elasticsearch.url} is still unreachable ({exc}); "
                                   f"{pending} articles and the run records stay spooled") from None
    if runs:
        click.echo(f"wrote {runs} run records kept while Elasticsearch was unreachable")
    if not pending:
        click.echo(f"nothing spooled in {spool.directory}")
        return
    client = make_client(settings.elasticsearch)
    try:
        ensure_all(client, settings.elasticsearch)
        result = spool.replay(ArticleWriter(client, settings.elasticsearch))
    except TransportError as exc:
        raise click.ClickException(
            f"Elasticsearch at {settings.elasticsearch.url} is still unreachable ({exc}); {pending} articles stay spooled"
        ) from None
    except (ApiError, StoryLookupError) as exc:
        raise click.ClickException(
            f"Elasticsearch at {settings.elasticsearch.url} refused the spooled articles ({exc}); {pending} articles stay spooled"
        ) from None
    click.echo(
        f"flushed {pending} spooled articles: {result.new} new, {result.updated} updated, "
        f"{result.unchanged} unchanged, {result.failed} failed"
    )
    if result.failed:
        raise SystemExit(1)
