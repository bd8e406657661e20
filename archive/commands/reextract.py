"""`archive reextract`: rebuild documents from the WARC captures (crawler/reextract.py)."""

from __future__ import annotations

import json

import click
from elastic_transport import TransportError
from elasticsearch import ApiError
from rich.console import Console
from rich.table import Table

from archive.config import ConfigError
from crawler.reextract import NoCaptures, ReextractProgress, reextract
from search.client import make_client


@click.command("reextract")
@click.option("--site", "sites", multiple=True, metavar="NAME", help="A configured site (repeatable). Default: all sites.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_obj
def reextract_command(app, sites: tuple[str, ...], fmt: str) -> None:
    """Rebuild archived articles from the stored WARC captures, without the network.

    The newest capture of every URL is extracted again with today's extractor and written
    like a crawl would: unchanged articles cost no write, changed ones keep their earlier
    version. A page the extractor now rejects is counted; its archived article stays.
    The exit code is 1 when some captures could not be read or written.

    \b
    Examples:
      archive reextract                    # every site with captures
      archive reextract --site demo --format json
    """
    settings = app.settings
    es = settings.elasticsearch
    err = Console(stderr=True, highlight=False)

    def progress(p: ReextractProgress) -> None:
        if p.phase == "scan":
            err.print(f"[dim]{p.site}: {p.done} captures read[/dim]")
        else:
            err.print(f"[dim]{p.site}: {p.done}/{p.total} URLs extracted[/dim]")

    try:
        result = reextract(settings, make_client(es), sites, on_progress=progress)
    except (NoCaptures, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None
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
