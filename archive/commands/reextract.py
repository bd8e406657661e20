"""`archive reextract`: rebuild documents from the WARC captures (crawler/reextract.py)."""

from __future__ import annotations

import json

import click
from elastic_transport import TransportError
from elasticsearch import ApiError
from rich.console import Console
from rich.table import Table

from archive.config import ConfigError
from archive.warc_storage import StorageError
from crawler.reextract import NoCaptures, ReextractProgress, reextract
from search.client import make_client


@click.command("reextract")
@click.option("--site", "sites", multiple=True, metavar="NAME", help="A configured site (repeatable). Default: all sites.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--here", is_flag=True, help="With a broker configured: extract on this machine, not on the crawl workers.")
@click.pass_obj
def reextract_command(app, sites: tuple[str, ...], fmt: str, here: bool) -> None:
    """Rebuild archived articles from the stored WARC captures, without the network.

    The newest capture of every URL is extracted again with today's extractor and written
    like a crawl would: unchanged articles cost no write, changed ones keep their earlier
    version. A page the extractor now rejects is counted; its archived article stays.
    The exit code is 1 when some captures could not be read or written.

    Pages are extracted in the crawl's extraction worker pool. With a broker ([queue]
    broker_url), the work is split by WARC file: one job per file, taken by whichever
    `archive worker` is free (each reads the files from warc.storage); this command reads the
    captures once to choose the newest of each URL, then waits for the files' counts.

    \b
    Examples:
      archive reextract                    # every site with captures
      archive reextract --site demo --format json
      archive reextract --here             # with a broker, without the workers
    """
    settings = app.settings
    es = settings.elasticsearch
    err = Console(stderr=True, highlight=False)

    def progress(p: ReextractProgress) -> None:
        if p.phase == "scan":
            err.print(f"[dim]{p.site}: {p.done} captures read[/dim]")
        else:
            err.print(f"[dim]{p.site}: {p.done}/{p.total} URLs extracted[/dim]")

    def queued(files: int) -> None:
        err.print(f"queued {files} re-extraction job(s), one per WARC file, for `archive worker`; waiting for them")

    def file_done(site: str, file: str, worker: str, counts: dict | None, error: str | None) -> None:
        if error:
            err.print(f"[red]{site}: {error}[/red]")
        else:
            err.print(f"[dim]{file}: {counts.get('new', 0)} new, {counts.get('updated', 0)} updated, "
                      f"{counts.get('unchanged', 0)} unchanged, {counts.get('rejected_total', 0)} rejected (by {worker})[/dim]")

    try:
        if settings.queue.enabled and not here:
            from archive.scheduling.queue import QueueError
            from archive.scheduling.reextract_jobs import reextract_on_workers

            try:
                result = reextract_on_workers(settings, make_client(es), sites, on_progress=progress,
                                              on_file=file_done, on_queued=queued)
            except QueueError as exc:
                raise click.ClickException(str(exc)) from None
        else:
            result = reextract(settings, make_client(es), sites, on_progress=progress)
    except (NoCaptures, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    except StorageError as exc:
        raise click.ClickException(f"cannot read the WARC storage: {exc}") from None
    except (TransportError, ApiError) as exc:
        raise click.ClickException(f"Elasticsearch at {es.url} said {exc}") from None

    if fmt == "json":
        click.echo(json.dumps(result.as_dict(), indent=2))
    else:
        _print_summary(result)
    if not result.ok:
        raise SystemExit(1)


def _print_summary(result) -> None:
    console = Console(highlight=False)
    table = Table(title=f"Re-extraction in {result.duration_seconds:.1f}s", title_justify="left")
    table.add_column("site")
    for column in ("files", "captures", "urls", "new", "updated", "unchanged", "rejected", "errors"):
        table.add_column(column, justify="right")
    for name, s in sorted(result.sites.items()):
        table.add_row(
            name, str(s.files), str(s.captures), str(s.urls), str(s.new), str(s.updated), str(s.unchanged),
            str(s.rejected_total), str(len(s.errors) + s.failed),
        )
    console.print(table)
    for name, s in sorted(result.sites.items()):
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(s.rejected.items())) or "none"
        console.print(f"[dim]{name} rejections:[/dim] {reasons}")
    if result.skipped:
        console.print(f"[yellow]no captures yet (skipped):[/yellow] {', '.join(result.skipped)}")
    for message in result.errors[:20]:
        console.print(f"[red]error:[/red] {message}")
