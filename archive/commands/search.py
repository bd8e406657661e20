"""`archive search` and `archive show`: what journalists type."""

from __future__ import annotations

import csv
import json
import sys
from datetime import date

import click
from elastic_transport import TransportError
from elasticsearch import ApiError, NotFoundError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from search.client import make_client
from search.query import MARK_POST, MARK_PRE, QuerySyntaxError, SearchRequest
from search.service import get_article, iterate, search as run_search
from search.versions import captures, changes

EXPORT_COLUMNS = ("url", "title", "site", "authors", "published", "score", "snippets", "tags", "section", "language")


def _date(ctx, param, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date: use YYYY-MM-DD, e.g. 2025-03-01") from None


@click.command("search")
@click.argument("query", nargs=-1)
@click.option("--site", "sites", multiple=True, help="Only this site (repeatable).")
@click.option("--author", "authors", multiple=True, help="Only articles by this author (repeatable).")
@click.option("--tag", "tags", multiple=True, help="Only articles with this tag or section (repeatable).")
@click.option("--lang", "languages", multiple=True, help="Only this language, e.g. en (repeatable).")
@click.option("--since", callback=_date, help="Published on or after YYYY-MM-DD.")
@click.option("--until", callback=_date, help="Published on or before YYYY-MM-DD.")
@click.option("--edited", is_flag=True, help="Only articles that changed after their first capture.")
@click.option("--sort", type=click.Choice(["relevance", "newest", "oldest"]), default="relevance", show_default=True)
@click.option("--size", "-n", type=click.IntRange(1, 1000), default=10, show_default=True, help="Hits per page.")
@click.option("--page", type=click.IntRange(1), default=1, show_default=True, help="Page number (works past 10,000 hits).")
@click.option("--all", "export_all", is_flag=True, help="Every hit, not one page (for exports; use with json/csv/ndjson).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "ndjson"]), default="table", show_default=True)
@click.pass_obj
def search_command(app, query, sites, authors, tags, languages, since, until, edited, sort, size, page, export_all, fmt):
    """Search the archive.

    \b
    QUERY syntax:
      climate summit              both words (anywhere in title, authors, description, body)
      "harbour authority"         the exact phrase
      elect*                      words starting with 'elect'
      fish OR fishing             either word;  AND is the default
      summit NOT trade            exclude a word (also: summit -trade)
      (tariff OR quota) AND steel grouping
    \b
    Examples:
      archive search '"climate summit"' --since 2025-01-01 --sort newest
      archive search budget --site demo --author "Mara Lindqvist" --format csv > budget.csv
      archive search --tag energy --all --format ndjson > energy.ndjson
    """
    es = app.settings.elasticsearch
    request = SearchRequest(
        text=" ".join(query),
        sites=sites,
        authors=authors,
        tags=tags,
        languages=languages,
        since=since,
        until=until,
        edited=edited,
        sort=sort,
        size=size,
    )
    client = make_client(es)
    try:
        if export_all:
            _export(iterate(client, es.articles_alias, request), fmt)
            return
        response = run_search(client, es.articles_alias, request, page=page)
    except QuerySyntaxError as exc:
        raise click.UsageError(f"cannot read the query: {exc}") from None
    except NotFoundError:
        raise click.ClickException("the archive has no articles index yet: run `archive index init` or a crawl") from None
    except (TransportError, ApiError) as exc:
        raise click.ClickException(f"search failed: Elasticsearch at {es.url} said {exc}") from None

    if fmt == "table":
        print_hits(response, page, size)
    elif fmt == "json":
        click.echo(
            json.dumps(
                {
                    "total": response.total,
                    "page": page,
                    "hits": [h.as_dict() for h in response.hits],
                    "facets": {"sites": dict(response.sites), "months": dict(response.months)},
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        _export(response.hits, fmt)


def _export(hits, fmt: str) -> None:
    out = sys.stdout
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for hit in hits:
            row = hit.as_dict()
            row["authors"] = "; ".join(row["authors"])
            row["tags"] = "; ".join(row["tags"] or [])
            row["snippets"] = " … ".join(s.replace(MARK_PRE, "").replace(MARK_POST, "") for s in row["snippets"])
            writer.writerow(row)
    elif fmt in ("ndjson", "json"):
        # --all with json streams one object per line too: exports can be larger than memory.
        for hit in hits:
            out.write(json.dumps(hit.as_dict(), ensure_ascii=False) + "\n")
    else:
        raise click.UsageError("--all exports need --format json, csv or ndjson")


def _marked(text: str) -> str:
    """Highlights from Elasticsearch (<mark>…</mark>) as bold yellow in the terminal."""
    return escape(text).replace(MARK_PRE, "[bold yellow]").replace(MARK_POST, "[/bold yellow]")


def print_hits(response, page: int, size: int) -> None:
    console = Console()
    first = (page - 1) * size + 1
    if not response.hits:
        console.print(f"No articles found ({response.total} hits).")
        return
    console.print(f"[bold]{response.total}[/bold] articles; showing {first}-{first + len(response.hits) - 1}\n")
    for n, hit in enumerate(response.hits, start=first):
        title = _marked(hit.title_highlight) if hit.title_highlight else escape(hit.title)
        byline = ", ".join(hit.authors) or "unknown author"
        console.print(f"[bold]{n}. {title}[/bold]")
        console.print(f"   [dim]{hit.site} · {byline} · {(hit.published or 'no date')[:10]}[/dim]")
        console.print(f"   [blue]{escape(hit.url)}[/blue]")
        for snippet in hit.snippets[:2]:
            console.print(f"   …{_marked(' '.join(snippet.split()))}…")
        console.print()
    facets = Table(title="Counts", show_header=True)
    facets.add_column("site")
    facets.add_column("articles", justify="right")
    for site, count in response.sites:
        facets.add_row(site, str(count))
    months = Table(show_header=True)
    months.add_column("month")
    months.add_column("articles", justify="right")
    for month, count in response.months[-12:]:
        months.add_row(month, str(count))
    console.print(facets)
    console.print(months)


@click.command("show")
@click.argument("url_or_id")
@click.option("--versions", is_flag=True, help="List every capture of the article (edits after publication).")
@click.option("--diff", is_flag=True, help="Show what changed between captures (title changes called out).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_obj
def show(app, url_or_id: str, versions: bool, diff: bool, fmt: str) -> None:
    """Show one archived article by its URL (any URL it was reached under) or its id.

    \b
    Examples:
      archive show http://127.0.0.1:8701/2025/03/14/harbour-closure
      archive show 3f2a... --format json     # the whole document, body included
      archive show URL --versions            # when it was captured, and how often it changed
      archive show URL --diff                # unified diff of the text between captures
    """
    es = app.settings.elasticsearch
    client = make_client(es)
    try:
        article = get_article(client, es.articles_alias, url_or_id)
        history = captures(client, es.versions_alias, article) if article and (versions or diff) else []
    except (TransportError, ApiError) as exc:
        raise click.ClickException(f"Elasticsearch at {es.url} said {exc}") from None
    if article is None:
        raise click.ClickException(f"no archived article for {url_or_id!r}")
    if versions or diff:
        _print_history(history, diff, fmt)
        return
    if fmt == "json":
        click.echo(json.dumps(article, indent=2, ensure_ascii=False))
        return
    console = Console()
    console.print(f"[bold]{escape(article.get('title', ''))}[/bold]")
    meta = [
        ("url", article.get("url")),
        ("site", article.get("site")),
        ("authors", ", ".join(article.get("authors") or [])),
        ("published", f"{article.get('published')} (from {article.get('published_source')})"),
        ("modified", article.get("modified")),
        ("section", article.get("section")),
        ("tags", ", ".join(article.get("tags") or [])),
        ("language", article.get("language")),
        ("words", article.get("word_count")),
        ("first seen", article.get("first_seen")),
        ("last crawled", article.get("crawled_at")),
        ("edited", f"yes, {article.get('version_count')} versions" if article.get("edited") else "no"),
        ("id", article.get("id")),
    ]
    for key, value in meta:
        if value not in (None, ""):
            console.print(f"[dim]{key:>12}[/dim]  {escape(str(value))}")
    console.print()
    console.print(escape(article.get("body", "")))


def _print_history(history, with_diff: bool, fmt: str) -> None:
    edits = changes(history)
    if fmt == "json":
        payload = {
            "captures": [{"captured_at": c.captured_at, "title": c.title, "content_hash": c.content_hash, "current": c.current} for c in history],
            "changes": [
                {"from": e.before.captured_at, "to": e.after.captured_at, "title_changed": e.title_changed,
                 "title_before": e.before.title, "title_after": e.after.title, "diff": e.diff}
                for e in edits
            ],
        }
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    console = Console()
    console.print(f"[bold]{len(history)} capture(s)[/bold], {len(edits)} change(s)")
    for capture in history:
        marker = " (current)" if capture.current else ""
        console.print(f"  {capture.captured_at}{marker}  {escape(capture.title)}")
    if not with_diff:
        return
    if not edits:
        console.print("Never changed since its first capture.")
    for edit in edits:
        console.print(f"\n[bold]{edit.before.captured_at} → {edit.after.captured_at}[/bold]")
        if edit.title_changed:
            console.print(f"[yellow]Headline changed:[/yellow] {escape(edit.before.title)!s} → {escape(edit.after.title)}")
        for line in edit.diff.splitlines():
            style = "green" if line.startswith("+") else "red" if line.startswith("-") else "dim"
            console.print(f"[{style}]{escape(line)}[/{style}]")
