"""`archive demo` and `archive demo-site`: the archive's main job on a site it serves itself."""

from __future__ import annotations

import threading

import click
from rich.console import Console

from archive.commands.crawl import print_summary
from archive.commands.search import print_hits
from archive.demo_site import DemoSite, background, serve_demo_site
from archive.scheduling.jobs import run_sites
from crawler.runner import OK
from search.client import ElasticsearchUnavailable, check_health, make_client
from search.indices import ensure_all
from search.query import SearchRequest
from search.service import search

DEMO_QUERY = '"harbour authority confirmed the closure"'


@click.command()
@click.option("--site", "site_name", default="demo", show_default=True, help="The settings entry that points at the demo site.")
@click.option("--query", default=DEMO_QUERY, show_default=True, help="The sample search run after the crawl.")
@click.pass_obj
def demo(app, site_name: str, query: str) -> None:
    """Serve the demo news site, crawl it into Elasticsearch, and search it.

    Elasticsearch must be running (`archive es start`, or ELASTICSEARCH_URL).
    """
    settings = app.settings
    console = Console()
    es = settings.elasticsearch
    client = make_client(es)
    try:
        check_health(client, es)
    except ElasticsearchUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    ensure_all(client, es)
    try:
        settings.site(site_name)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None

    host, port = settings.demo_site.host, settings.demo_site.port
    try:
        # In the background: it keeps running after this command, so "original" links work.
        base_url = background.start(settings.data_dir, host, port, edition=1)
    except background.DemoSiteError as exc:
        raise click.ClickException(str(exc)) from None
    console.print(f"[bold]1. Demo site[/bold] ({len(DemoSite().articles)} articles, edition 1) at {base_url}/")
    console.print(f"[bold]2. Crawling[/bold] site '{site_name}' (progress below)")
    result = run_sites(settings, [site_name], trigger="demo", stop_event=threading.Event(), deliver=True)
    if result.outcome is None:
        raise click.ClickException(f"a crawl of {site_name} is already running")
    outcome = result.outcome
    print_summary(outcome)
    if outcome.status != OK:
        raise SystemExit(1)

    client.indices.refresh(index=es.articles_alias)
    console.print(f"\n[bold]3. Searching[/bold] archive search '{query}'\n")
    print_hits(search(client, es.articles_alias, SearchRequest(text=query, size=5)), page=1, size=5)
    console.print("Try more: archive search 'desalinat*' --sort newest · archive search 'tram AND strike' --format json")
    console.print("In a browser: archive serve, then open http://127.0.0.1:8800/ and sign in as a user you add with "
                  "`archive users add me --role admin` (the local node has security on, like production)")
    console.print(f"The demo site keeps running at {base_url}/ (the articles' original links work). The next night's "
                  "edition: archive demo-site start --edition 2, then archive crawl --site demo (README: "
                  "The next edition). Stop it: archive demo-site stop")


@click.group("demo-site")
def demo_site() -> None:
    """The fictional news site the project serves for the demo and the tests."""


@demo_site.command("start")
@click.option("--edition", type=click.IntRange(1, 2), default=1, show_default=True, help="2 = the 'next night' version.")
@click.pass_obj
def start_site(app, edition: int) -> None:
    """Serve the demo site in the background (replacing the one running), at [demo_site] host:port.

    \b
    Examples:
      archive demo-site start --edition 2   # the next night: new articles, edited ones
      archive demo-site stop
    """
    settings = app.settings
    try:
        url = background.start(settings.data_dir, settings.demo_site.host, settings.demo_site.port, edition=edition)
    except background.DemoSiteError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"demo site: {url}/ (edition {edition}) runs in the background; `archive demo-site stop` stops it")


@demo_site.command("stop")
@click.pass_obj
def stop_site(app) -> None:
    """Stop the demo site started in the background."""
    pid = background.stop(app.settings.data_dir)
    click.echo(f"demo site stopped (pid {pid})" if pid else "no demo site was running in the background")


@demo_site.command("serve")
@click.option("--port", type=int, help="Port (default: [demo_site] port in settings).")
@click.option("--articles", type=click.IntRange(34), help="Scale the site to this many articles (generated).")
@click.option("--edition", type=click.IntRange(1, 2), default=1, show_default=True, help="2 = the 'next night' version.")
@click.pass_obj
def serve_site(app, port: int | None, articles: int | None, edition: int) -> None:
    """Serve the demo site in the foreground until Ctrl-C."""
    settings = app.settings.demo_site
    server = serve_demo_site(DemoSite(article_count=articles, edition=edition), host=settings.host, port=port or settings.port)
    click.echo(f"demo site: {server.base_url}/ ({len(server.site.articles)} articles, edition {edition}); Ctrl-C stops")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
