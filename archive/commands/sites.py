"""`archive sites check NAME` and `archive sites add URL`: try a site's settings without
archiving anything, and propose the settings of a new site."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import click
from rich.console import Console
from rich.markup import escape

from archive.config import ConfigError, config_path, settings_from_dict

SHOWN_PER_KIND = 15


@click.group("sites")
def sites() -> None:
    """Check a configured site, or add a new one.

    \b
    Examples:
      archive sites check demo
      archive sites add https://news.example.com/ --name example --dry-run
    """


@sites.command("check")
@click.argument("name")
@click.option("--sample", "sample_size", type=click.IntRange(0, 50), default=5, show_default=True, help="Articles to extract.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_obj
def check(app, name: str, sample_size: int, fmt: str) -> None:
    """Dry run of a site's settings: what would be archived, followed or ignored, and why.

    Fetches robots.txt, the sitemaps, the feeds and the start pages (robots.txt obeyed, allowed
    domains only, the crawl's size limit), classifies every URL found with the site's patterns
    (regular expressions matched against the path and query, e.g. /2025/03/14/slug), and
    extracts a few articles. Writes nothing: no Elasticsearch, no crawl state, no WARC.

    \b
    Examples:
      archive sites check demo
      archive sites check demo --sample 10 --format json | jq '.samples[].title'
    """
    from crawler.sitecheck import check_site

    settings = app.settings
    try:
        site = settings.site(name)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    report = check_site(settings, site, sample_size=sample_size)
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        print_report(report)
    if not report.of_kind("article"):
        raise SystemExit(1)


def print_report(report) -> None:
    from crawler.diagnosis import quoted

    console = Console(highlight=False, soft_wrap=True)
    console.print(f"[bold]{report.site}[/bold]: patterns are matched against the path and query of each URL")
    for key, patterns in report.patterns.items():
        if patterns:
            console.print(f"  {key} = {escape(quoted(patterns))}")
    console.print(f"\n[bold]Fetched[/bold] ({report.requests} requests)")
    for f in report.fetched:
        state = f"[red]{escape(f['error'])}[/red]" if f["error"] else f"HTTP {f['status']}"
        console.print(f"  {f['what']:<10} {escape(f['url'])}  {state}")
    titles = {"article": "Would be archived as articles", "listing": "Listings that would be followed for links",
              "ignored": "Ignored", "offsite": "Offsite (not fetched)"}
    for kind, title in titles.items():
        found = report.of_kind(kind)
        console.print(f"\n[bold]{title}: {len(found)}[/bold]")
        for item in found[:SHOWN_PER_KIND]:
            console.print(f"  {escape(item.url)}  [dim]{escape(item.why)} · from {escape(item.source)}[/dim]")
        if len(found) > SHOWN_PER_KIND:
            console.print(f"  … and {len(found) - SHOWN_PER_KIND} more (--format json lists all)")
    console.print(f"\n[bold]Sample of {len(report.samples)} articles, extracted as a crawl would[/bold]")
    for s in report.samples:
        console.print(f"  {escape(s.url)}")
        if s.rejected:
            console.print(f"    [red]not archived: {escape(s.rejected)}[/red]")
            continue
        console.print(f"    title:   {escape(s.title or '-')}")
        console.print(f"    date:    {s.published or '-'} (from {s.published_source or 'nowhere'})")
        console.print(f"    authors: {escape(', '.join(s.authors) or '-')}")
        console.print(f"    words:   {s.word_count}")
        if s.low_confidence:
            console.print(f"    [yellow]low confidence ({s.confidence}): archived, and listed by "
                          f"`archive runs --low-confidence`[/yellow]")
        console.print(f"    text:    {escape(s.first_lines)} …")
    if not report.of_kind("article"):
        console.print("\n[red]No URL matched article_allow: a crawl would archive nothing.[/red]")


def configured_for(settings, url: str):
    """The configured site that already starts at this URL (its home page), if any."""
    from archive.urls import canonicalize

    def same(a: str) -> str:
        return canonicalize(a).rstrip("/")

    wanted = same(url)
    return next((s for s in settings.sites if any(same(u) == wanted for u in s.start_urls)), None)


@sites.command("add")
@click.argument("url")
@click.option("--name", help="The site's name in settings (default: from the host name).")
@click.option("--dry-run", is_flag=True, help="Print the entry instead of appending it to the settings file.")
@click.option("--sample", "sample_size", type=click.IntRange(0, 50), default=5, show_default=True, help="Articles to extract.")
@click.pass_obj
def add(app, url: str, name: str | None, dry_run: bool, sample_size: int) -> None:
    """Propose a [[sites]] entry for a news site and append it to the settings file.

    Reads robots.txt (its Sitemap lines), the sitemaps and news sitemaps, and the feeds the
    home page announces; infers article_allow from the shapes of the article URLs they list,
    and the listing pages to follow from the home page's navigation; checks the entry on a
    sample of articles; then appends it, commented, to the settings file (--dry-run: prints it).

    \b
    Examples:
      archive sites add https://news.example.com/ --dry-run
      archive sites add http://127.0.0.1:8701/ --name courier
    """
    from crawler.sitecheck import check_site
    from crawler.siteinfer import propose, toml_entry

    settings = app.settings
    if not url.startswith(("http://", "https://")):
        raise click.ClickException(f"not an http(s) URL: {url}")
    existing = configured_for(settings, url)
    if existing:
        raise click.ClickException(
            f"{url} is already configured as site {existing.name!r} (start_urls {list(existing.start_urls)}): "
            f"check it with `archive sites check {existing.name}`, or edit its entry in the settings file"
        )
    try:
        proposal = propose(settings, url, name)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if any(s.name == proposal.name for s in settings.sites):
        raise click.ClickException(f"a site named {proposal.name!r} is already configured: choose another with --name")
    entry = toml_entry(proposal)
    # The entry must read back as valid settings, exactly as written.
    try:
        import tomllib

        site = settings_from_dict(tomllib.loads(entry), env={}).sites[0]
    except (ConfigError, ValueError) as exc:
        raise click.ClickException(f"the proposed entry is not valid settings ({exc}); please report this") from None
    report = check_site(replace(settings, sites=(site,)), site, sample_size=sample_size)
    counts = report.to_dict()["counts"]
    ok = [s for s in report.samples if not s.rejected]
    click.echo(
        f"check: {counts['article']} article URLs, {counts['listing']} listings to follow, {counts['ignored']} ignored; "
        f"{len(ok)} of {len(report.samples)} sampled articles extracted",
        err=True,
    )
    for s in report.samples:
        click.echo(f"  {s.url}: " + (f"not archived ({s.rejected})" if s.rejected else f"{s.title!r}, {s.word_count} words"), err=True)
    if dry_run:
        click.echo(entry)
        return
    target = Path(settings.path) if settings.path else config_path(app.config_path)
    with target.open("a", encoding="utf-8") as out:
        out.write(entry)
    click.echo(f"appended site {proposal.name!r} to {target}; next: archive sites check {proposal.name}")
