"""`archive audit`: who signed in, exported, and changed saved searches (search/audit.py)."""

from __future__ import annotations

import json

import click

from archive.commands import elasticsearch_errors


@click.command("audit")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M"]), help="From this day (UTC).")
@click.option("--user", help="Only this user's events.")
@click.option("--event", type=click.Choice(["sign-in", "sign-out", "export", "saved-search", "search"]), help="Only this kind.")
@click.option("--limit", "-n", type=click.IntRange(1, 10000), default=200, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_obj
def audit(app, since, user, event, limit, fmt) -> None:
    """The audit trail, newest first: sign-ins (and failed ones), exports with their query and
    row count, saved-search changes. The text of ordinary searches is there only with
    `[audit] searches = true`. Also in Kibana: the "Archive audit" search.

    \b
    Examples:
      archive audit --since 2026-01-01
      archive audit --user priya --event export --format json
    """
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from search.audit import AuditLog
    from search.client import make_client

    es = app.settings.elasticsearch
    with elasticsearch_errors(es.url):
        events = AuditLog(make_client(es), es.audit_alias).read(
            since=since.isoformat() if since else None, user=user, event=event, size=limit)
    if fmt == "json":
        click.echo(json.dumps(events, indent=2, ensure_ascii=False))
        return
    console = Console(highlight=False)
    if not events:
        console.print("no audit events" + (f" for {user}" if user else "") + (f" since {since:%Y-%m-%d}" if since else ""))
        return
    table = Table(title=f"{len(events)} audit event{'s' if len(events) != 1 else ''}, newest first", title_justify="left")
    for column in ("when (UTC)", "event", "user", "what"):
        table.add_column(column)
    for e in events:
        table.add_row(e.get("@timestamp", "")[:19].replace("T", " "), e.get("event", ""), escape(e.get("user") or "-"), escape(_what(e)))
    console.print(table)


def _what(event: dict) -> str:
    kind = event.get("event")
    if kind == "sign-in":
        return f"{event.get('outcome')} from {event.get('address')}" + (f" ({event['reason']})" if event.get("reason") else "")
    if kind == "export":
        filters = "; ".join(f"{k}: {v}" for k, v in (event.get("filters") or {}).items())
        return f"{event.get('rows')} rows as {event.get('format')}: {event.get('query') or '(any text)'}" + (f" [{filters}]" if filters else "")
    if kind == "saved-search":
        whose = f" of {event['owner']}" if event.get("owner") else ""
        return f"{event.get('outcome')} {event.get('saved_search')}{whose}"
    if kind == "search":
        return event.get("query") or ""
    return event.get("address") or ""


