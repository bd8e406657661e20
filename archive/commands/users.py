"""`archive users add|list|remove`: journalists as Elasticsearch users with an archive role."""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from archive.commands import elasticsearch_errors


@click.group()
def users() -> None:
    """Journalists who sign in to the search page: Elasticsearch users with an archive role.

    \b
    reader  search, read, export; their own saved searches
    admin   the same, plus every saved search and the audit trail
    On the local node (`archive es start`) they are kept in its file realm; elsewhere in
    Elasticsearch's native realm, which needs credentials with the manage_security privilege
    (e.g. ELASTICSEARCH_USERNAME=elastic). Kibana's user management shows them too.
    """


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise click.UsageError("no terminal to ask for the password: pass it on stdin with --password-stdin")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(["reader", "admin"]), required=True, help="What the user may do.")
@click.option("--email", help="Where the user's alert e-mail goes.")
@click.option("--full-name", help="The user's name as shown on the page.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin (else it is asked for).")
@click.pass_obj
def add(app, username: str, role: str, email: str | None, full_name: str | None, password_stdin: bool) -> None:
    """Add a user, or give an existing one a new password, role, e-mail and name.

    \b
    Examples:
      archive users add me --role admin                     # asks for the password
      printf '%s\\n' "$PASSWORD" | archive users add priya --role reader --email priya@newsroom.example --password-stdin
    """
    from search.file_realm import FileRealmError
    from search.users import UserError, add_user

    password = _read_password(password_stdin)
    es = app.settings.elasticsearch
    with elasticsearch_errors(es.url):
        try:
            created = add_user(es, username, role, password, email=email, full_name=full_name)
        except (UserError, FileRealmError) as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"{'added' if created else 'updated'} {username} ({role}) on {es.url}")


@users.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_obj
def list_command(app, fmt: str) -> None:
    """The users with an archive role."""
    from search.users import list_users

    es = app.settings.elasticsearch
    with elasticsearch_errors(es.url):
        found = list_users(es)
    if fmt == "json":
        click.echo(json.dumps([u.to_dict() for u in found], indent=2))
        return
    console = Console(highlight=False)
    if not found:
        console.print(f"no users with an archive role on {es.url}; add one with `archive users add NAME --role reader`")
        return
    table = Table(title=f"{len(found)} archive user{'s' if len(found) != 1 else ''}", title_justify="left")
    for column in ("user", "role", "e-mail", "name", "realm"):
        table.add_column(column)
    for u in found:
        table.add_row(escape(u.username), u.role, escape(u.email or ""), escape(u.full_name or ""), u.realm)
    console.print(table)


@users.command("remove")
@click.argument("username")
@click.pass_obj
def remove(app, username: str) -> None:
    """Remove a user with an archive role (other Elasticsearch users are left alone)."""
    from search.users import UserError, remove_user

    es = app.settings.elasticsearch
    with elasticsearch_errors(es.url):
        try:
            gone = remove_user(es, username)
        except UserError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"removed {gone.username} ({gone.role}) from {es.url}")
