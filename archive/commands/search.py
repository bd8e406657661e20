"""`archive search` and `archive show`: what journalists type."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from datetime import date

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from archive.commands import elasticsearch_errors
from search.client import make_client
from search.export import FORMATS, write_export
from search.filters import UnknownFilter, validate_filters
from search.query import MARK_POST, MARK_PRE, QuerySyntaxError, SearchRequest, count_noun, sample_note
from search.service import get_article, iterate, search as run_search
from search.coverage import choose_interval, coverage, date_span
from search.stories import copies_of
from search.understood import line as understood_line, understood
from search.versions import captures, changes


def _date(ctx, param, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date: use YYYY-MM-DD, e.g. 2025-03-01") from None


@click.command("search")
@click.argument("query", nargs=-1)
@click.option("--site", "sites", multiple=True, help="Only this site (repeatable; any case).")
@click.option("--author", "authors", multiple=True, help="Only articles by this author (repeatable).")
@click.option("--tag", "tags", multiple=True, help="Only articles with this tag (repeatable).")
@click.option("--lang", "languages", multiple=True, help="Only this language: a code (de) or a name (german) (repeatable).")
@click.option("--since", callback=_date, help="Published on or after YYYY-MM-DD.")
@click.option("--until", callback=_date, help="Published on or before YYYY-MM-DD.")
@click.option("--edited", is_flag=True, help="Only articles that changed after their first capture.")
@click.option("--no-briefs", is_flag=True, help="Leave out very short articles (news briefs, flagged short).")
@click.option("--include-earlier", is_flag=True, help="Also search earlier versions of edited articles (marked with their date).")
@click.option("--sort", type=click.Choice(["relevance", "newest", "oldest"]), default="relevance", show_default=True)
@click.option("--size", "-n", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="Hits per page; with csv/json/ndjson: export only this many.")
@click.option("--page", type=click.IntRange(1), default=1, show_default=True, help="Page number (works past 10,000 hits).")
@click.option("--all", "export_all", is_flag=True, help="Every hit (the default for csv/json/ndjson).")
@click.option("--with-body", is_flag=True, help="Exports: add the article text.")
@click.option("--all-copies", is_flag=True, help="List every copy of a story (wire and syndicated copies), not one hit per story.")
@click.option("--over-time", is_flag=True, help="Print how many articles matched per day, week or month, with bars.")
@click.option("--by", "interval", type=click.Choice(["day", "week", "month"]),
              help="With --over-time: the period (default: chosen from the range).")
@click.option("--format", "fmt", type=click.Choice(["table", *FORMATS]), default="table", show_default=True,
              help="table: one page; csv/json/ndjson: every hit, streamed (unless --size).")
@click.pass_context
def search_command(ctx, query, sites, authors, tags, languages, since, until, edited, no_briefs, include_earlier, sort, size,
                   page, export_all, with_body, all_copies, over_time, interval, fmt):
    """Search the archive.

    \b
    QUERY syntax:
      climate summit              both words, also inflected (strikes finds strike, Schaden Schäden)
      "harbour authority"         the exact phrase (“…”, „…“, «…», ‘…’ work too)
      "harbour closure"~3         the words at most 3 positions apart
      elect*                      words starting with 'elect'
      desalnation~                fuzzy: words 1-2 letters away (~1 or ~2 to choose)
      fish OR fishing             either word (also |); AND (also +) is the default
      summit NOT trade            exclude a word (also: summit -trade)
      (tariff OR quota) AND steel grouping
      title:harbour  author:"Maren Okafor"  body:  description:  site:demo  tag:energy  lang:de
    \b
    Copies of one text on several sites (wire and syndicated stories) show as one
    hit, the earliest copy, naming the other sites; --all-copies lists each.
    Exports (--format csv|json|ndjson) hold every hit, every copy, unless --size is
    given, with a story column (the id of the story's first copy); json is one JSON
    array. A count of what was written goes to stderr. In csv, a cell starting with
    = + - @ (a formula to a spreadsheet) gets a leading '.
    \b
    Examples:
      archive search '"climate summit"' --since 2025-01-01 --sort newest
      archive search budget --site demo --author "Mara Lindqvist" --format csv > budget.csv
      archive search --tag energy --format ndjson --with-body > energy.ndjson
      archive search 'headline words' --include-earlier
      archive search '"harbour authority"' --over-time --by week
    """
    app = ctx.obj
    es = app.settings.elasticsearch
    size_given = ctx.get_parameter_source("size") == click.core.ParameterSource.COMMANDLINE
    if export_all and fmt == "table":
        raise click.UsageError("--all is for exports: add --format csv, json or ndjson")
    if export_all and size_given:
        raise click.UsageError("--all and --size contradict each other: give one")
    if interval and not over_time:
        raise click.UsageError("--by is for --over-time: add --over-time")
    if over_time and fmt != "table":
        raise click.UsageError("--over-time prints counts in the terminal: leave out --format")
    if fmt != "table" and page > 1 and not size_given:
        raise click.UsageError(f"--page with --format {fmt} needs --size: without it, an export holds every hit")
    request = SearchRequest(
        text=" ".join(query),
        sites=sites,
        authors=authors,
        tags=tags,
        languages=languages,
        since=since,
        until=until,
        edited=edited,
        briefs=not no_briefs,
        sort=sort,
        size=size,
        with_body=with_body,
        include_earlier=include_earlier,
        all_copies=all_copies,
        limits=app.settings.search,
    )
    client = make_client(es)
    versions = es.versions_alias if include_earlier else None
    with elasticsearch_errors(es.url):
        try:
            request = validate_filters(client, es.articles_alias, request, [s.name for s in app.settings.sites])
            if fmt != "table":
                _export(client, es, request, fmt, page, size if size_given else None, versions, app.settings.alerts.public_url)
                return
            if over_time:  # asked for the counts themselves: every match counted, never a sample
                request = replace(request, interval=interval or choose_interval(*_range(client, es.articles_alias, request)),
                                  limits=replace(request.limits, facet_sample=0.0))
            response = run_search(client, es.articles_alias, request, page=page, versions_alias=versions)
        except QuerySyntaxError as exc:
            raise click.UsageError(f"cannot read the query: {exc}") from None
        except UnknownFilter as exc:
            raise click.UsageError(str(exc)) from None
    if over_time:
        print_over_time(coverage(response, [request.text], request.interval))
        return
    print_hits(response, page, size)


def _range(client, alias: str, request: SearchRequest) -> tuple:
    """The range the counts cover: the dates asked for, else the archive's first and last."""
    if request.since and request.until:
        return request.since, request.until
    first, last = date_span(client, alias)
    return request.since or first, request.until or last


def print_over_time(counted) -> None:
    console = Console(highlight=False)
    [series] = counted.series
    console.print(f"[bold]{series.total_text} article{'' if series.total == 1 else 's'}[/bold] per {counted.interval}")
    table = Table(show_header=True, box=None)
    table.add_column(counted.interval)
    table.add_column("articles", justify="right")
    table.add_column("")
    widest = max(series.counts, default=0) or 1
    for period, count in zip(counted.periods, series.counts):
        table.add_row(period, f"{count:,}", "[cyan]" + "█" * round(40 * count / widest) + "[/cyan]")
    console.print(table)


def _export(client, es, request: SearchRequest, fmt: str, page: int, limit: int | None, versions: str | None,
            archive_base: str) -> None:
    """Every hit (or --size of them, from --page), streamed to stdout; how the query was
    understood and a count to stderr."""
    if limit is not None and page > 1:
        hits = run_search(client, es.articles_alias, replace(request, all_copies=True, facets=False), page=page,
                          versions_alias=versions).hits
    else:
        hits = iterate(client, es.articles_alias, request, limit=limit, versions_alias=versions)
    first: list = []  # the forms each word matched, as in the first hits written

    def noted(hits):
        for hit in hits:
            if len(first) < 100:
                first.append(hit)
            yield hit

    written = write_export(fmt, noted(hits), sys.stdout, with_body=request.with_body, include_earlier=request.include_earlier,
                           archive_base=archive_base)
    sys.stdout.flush()
    from search.audit import AuditLog, operator, search_filters

    AuditLog(client, es.audit_alias).record("export", operator(), query=request.text, filters=search_filters(request),
                                            format=fmt, rows=written)
    readings = understood(request, first)
    if readings:
        click.echo(f"searched: {understood_line(readings)}", err=True)
    note = f" (--size {limit}{f', --page {page}' if page > 1 else ''})" if limit is not None else ""
    click.echo(f"exported {count_noun(written, 'article')}{note}; every copy of a story is a row, "
               "its story column names the story's first copy", err=True)


def _marked(text: str) -> str:
    """Highlights from Elasticsearch (<mark>…</mark>) as bold yellow in the terminal."""
    return escape(text).replace(MARK_PRE, "[bold yellow]").replace(MARK_POST, "[/bold yellow]")


def print_hits(response, page: int, size: int) -> None:
    console = Console(highlight=False)
    first = (page - 1) * size + 1
    if response.understood:
        console.print(f"[dim]Searched: {escape(understood_line(response.understood))}[/dim]")
    for hint in response.hints:
        console.print(f"[yellow]{escape(hint)}[/yellow]")
    if response.suggestions:
        console.print("Did you mean: " + "; ".join(escape(str(s)) for s in response.suggestions))
    if not response.hits:
        if response.total:
            console.print(f"No articles on page {page}: {response.count_text()} in all.")
        else:
            console.print("No articles found.")
        return
    last = first + len(response.hits) - 1
    shown = response.total if response.stories is None else response.stories
    more = response.total_more and len(response.hits) == size  # counting stopped: pages go on while full
    following = f", next: `--page {page + 1}`" if last < shown or more else ""
    grouped = response.stories is not None and response.stories < response.total  # copies were grouped
    stories = f" in {count_noun(response.stories, 'story', 'stories')}" if grouped else ""
    of = "" if response.total_more else f" of {shown:,}"
    console.print(f"[bold]{response.count_text()}{stories}[/bold]; showing {first}–{last}{of}{following}\n")
    for n, hit in enumerate(response.hits, start=first):
        title = _marked(hit.title_highlight) if hit.title_highlight else escape(hit.title)
        byline = ", ".join(hit.authors) or "unknown author"
        earlier = f" [magenta](earlier version, captured {hit.captured_at[:10]})[/magenta]" if hit.captured_at else ""
        console.print(f"[bold]{n}. {title}[/bold]{earlier}")
        console.print(f"   [dim]{hit.site} · {byline} · {(hit.published or 'no date')[:10]}[/dim]")
        console.print(f"   [blue]{escape(hit.url)}[/blue]")
        if hit.copies_total > 1:
            also = f"also published by {', '.join(hit.other_sites)}" if hit.other_sites else "copies on the same site"
            console.print(f"   [magenta]{escape(also)} ({hit.copies_total} copies; --all-copies lists them)[/magenta]")
        for snippet in hit.snippets[:2]:
            console.print(f"   …{_marked(' '.join(snippet.split()))}…")
        console.print()
    facets = Table(title="Counts", show_header=True)
    facets.add_column("site")
    facets.add_column("articles", justify="right")
    for site, count in response.sites:
        facets.add_row(site, response.facet_count_text(count))
    console.print(facets)
    if response.facet_sample:
        console.print(f"Counts {sample_note(response.facet_sample)}.")


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
    with elasticsearch_errors(es.url):
        article = get_article(client, es.articles_alias, url_or_id)
        history = captures(client, es.versions_alias, article) if article and (versions or diff) else []
        copies = copies_of(client, es.articles_alias, article) if article else []
    if article is None:
        raise click.ClickException(f"no archived article for {url_or_id!r}")
    if versions or diff:
        _print_history(history, diff, fmt)
        return
    if fmt == "json":
        click.echo(json.dumps({**article, "copies": [c["url"] for c in copies if c["id"] != article["id"]]},
                              indent=2, ensure_ascii=False))
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
        ("copies", "; ".join(f"{c['site']}: {c['url']}" for c in copies if c["id"] != article["id"])),
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
