"""`archive runs` and `archive status`: the record of crawl runs (crawl-runs index) and, per
site, the last run and the next scheduled one."""

from __future__ import annotations

import json
from datetime import datetime

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from archive.commands import elasticsearch_errors
from search.client import make_client
from search.runs import list_runs, low_confidence_articles, run_records

STATUS_STYLE = {"ok": "green", "failed": "red", "no-articles": "red", "timed-out": "yellow", "interrupted": "yellow"}


def _fetch(settings, site: str | None, limit: int) -> list[dict]:
    es = settings.elasticsearch
    with elasticsearch_errors(es.url):
        return list_runs(make_client(es), es.runs_index, site=site, size=limit)


@click.command("runs")
@click.argument("run_id", metavar="[RUN]", required=False)
@click.option("--rejections", is_flag=True, help="List the rejected URLs of RUN (default: the latest run) with reason and detail.")
@click.option("--low-confidence", "low_confidence", is_flag=True,
              help="List the articles of RUN (default: the latest run) whose body was chosen with low confidence, "
                   "with the length of every candidate text.")
@click.option("--site", metavar="NAME", help="Only this site's runs.")
@click.option("--limit", "-n", type=click.IntRange(1, 10000), default=20, show_default=True, help="How many runs.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_obj
def runs(app, run_id: str | None, rejections: bool, low_confidence: bool, site: str | None, limit: int, fmt: str) -> None:
    """Crawl runs, newest first: when, how long, how it went, what it found.

    With --rejections: the URLs a run did not archive, by reason, with what was seen (the first
    20 per reason are kept with each run's record), and examples of links no pattern took.

    \b
    Examples:
      archive runs
      archive runs --site demo --limit 5
      archive runs --format json | jq '.[] | select(.status != "ok")'
      archive runs --rejections                 # the latest run
      archive runs --rejections 3f2a9c1b7d4e --site demo
      archive runs --low-confidence             # articles whose text may be the wrong part of the page
    """
    if low_confidence:
        show_low_confidence(app.settings, run_id, site, fmt)
        return
    if rejections or run_id:
        show_rejections(app.settings, run_id, site, fmt)
        return
    records = _fetch(app.settings, site, limit)
    if fmt == "json":
        click.echo(json.dumps(records, indent=2))
        return
    console = Console(highlight=False)
    if not records:
        console.print("no runs recorded" + (f" for {site}" if site else ""))
        return
    counted = f"{len(records)} run" if len(records) == 1 else f"{len(records)} runs"
    table = Table(title=f"{len(records)} most recent runs" if len(records) == limit > 1 else counted, title_justify="left")
    for column, justify in (
        ("site", "left"), ("started", "left"), ("duration", "right"), ("status", "left"), ("trigger", "left"),
        ("pages", "right"), ("new/updated/unchanged", "right"), ("rejected", "right"), ("errors", "right"),
    ):
        table.add_column(column, justify=justify)
    for r in records:
        table.add_row(
            r.get("site", "?"),
            _local(r.get("started")),
            _duration(r.get("duration_seconds")),
            _status(r.get("status")),
            r.get("trigger", ""),
            str(r.get("pages_fetched", 0)),
            f"{r.get('articles_new', 0)}/{r.get('articles_updated', 0)}/{r.get('articles_unchanged', 0)}",
            str(r.get("rejected_total", 0)),
            str(r.get("error_count", 0)),
        )
    console.print(table)
    failed = [r for r in records if r.get("status") != "ok" and r.get("errors")]
    if failed:
        latest = failed[0]
        console.print(f"latest error ({latest['site']}, {_local(latest.get('started'))}): {escape(latest['errors'][0])}")


def show_rejections(settings, run_id: str | None, site: str | None, fmt: str) -> None:
    es = settings.elasticsearch
    try:
        records = run_records(make_client(es), es.runs_index, run_id=run_id, site=site)
    except (TransportError, ApiError) as exc:
        raise click.ClickException(f"cannot read the run history: Elasticsearch at {es.url} said {exc}") from None
    if not records:
        raise click.ClickException(f"no run {run_id}" if run_id else "no runs recorded" + (f" for {site}" if site else ""))
    if fmt == "json":
        keys = ("run_id", "site", "started", "status", "rejections", "rejected_urls", "ignored_urls")
        click.echo(json.dumps([{k: r.get(k) for k in keys} for r in records], indent=2))
        return
    console = Console(highlight=False)
    for r in records:
        console.print(f"[bold]run {r.get('run_id')} · {r.get('site')} · {_local(r.get('started'))} · {_status(r.get('status'))}[/bold]")
        samples = r.get("rejected_urls") or {}
        counts = r.get("rejections") or {}
        if not counts:
            console.print("  no URL rejected")
        for reason, total in sorted(counts.items(), key=lambda kv: -kv[1]):
            kept = samples.get(reason, [])
            shown = f"{len(kept)} shown" if len(kept) < total else "all shown"
            console.print(f"  {reason}: {total} ({shown})")
            for sample in kept:
                detail = f"  [dim]{escape(sample['detail'])}[/dim]" if sample.get("detail") else ""
                console.print(f"    {escape(sample['url'])}{detail}", soft_wrap=True)
        for kind, kept in (r.get("ignored_urls") or {}).items():
            console.print(f"  not taken as articles ({kind}), e.g.:")
            for sample in kept:
                console.print(f"    {escape(sample['url'])}  [dim]{escape(sample['why'])}[/dim]", soft_wrap=True)


def show_low_confidence(settings, run_id: str | None, site: str | None, fmt: str) -> None:
    es, below = settings.elasticsearch, settings.extraction.low_confidence
    with elasticsearch_errors(es.url):
        records, articles = low_confidence_articles(make_client(es), es.articles_alias, es.runs_index, below,
                                                    run_id=run_id, site=site)
    if not records:
        raise click.ClickException(f"no run {run_id}" if run_id else "no runs recorded" + (f" for {site}" if site else ""))
    if fmt == "json":
        click.echo(json.dumps(articles, indent=2))
        return
    console = Console(highlight=False)
    first = records[0]
    console.print(f"[bold]run {first.get('run_id')} · {', '.join(r['site'] for r in records)} · {_local(first.get('started'))}[/bold]: "
                  f"{len(articles)} article{'s' if len(articles) != 1 else ''} with confidence below {below}", soft_wrap=True)
    for a in articles:
        lengths = ", ".join(f"{source} {words}" for source, words in (a.get("body_candidates") or {}).items())
        console.print(f"  {a.get('confidence', 0):.2f}  {escape(a.get('title') or '')}", soft_wrap=True)
        console.print(f"        {escape(a.get('url') or '')}", soft_wrap=True)
        console.print(f"        kept: {a.get('body_source')} ({a.get('word_count', 0)} words); candidates (words): {escape(lengths)}",
                      soft_wrap=True)


def site_status(settings) -> list[dict]:
    """Per configured site: the last recorded run, a crawl running now, the next scheduled run."""
    from archive.scheduling import schedule as sched  # APScheduler: only `status` needs it
    from archive.scheduling.locks import crawl_holder

    planned = {job.id: job for job in sched.planned_jobs(settings)}
    result = []
    for site in settings.sites:
        last = _fetch(settings, site.name, 1)
        job = planned.get(sched.job_for_site(settings, site.name))
        running = crawl_holder(settings, site.name)
        result.append(
            {
                "site": site.name,
                "last_run": last[0] if last else None,
                "running": running,
                "job": job.id if job else None,
                "next_run": job.next_run.isoformat() if job and job.next_run else None,
                "next_run_state": job.state if job else None,
            }
        )
    return result


@click.command("status")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_obj
def status(app, fmt: str) -> None:
    """Each site's last crawl (status, when, counts) and its next scheduled crawl.

    The next run time comes from the scheduler's job store (<data_dir>/scheduler.sqlite), or
    from [schedule] when the scheduler has not run yet; nothing is started.

    \b
    Examples:
      archive status
      archive status --format json
    """
    rows = site_status(app.settings)
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    console = Console(highlight=False)
    table = Table(title="Crawl status", title_justify="left")
    for column in ("site", "last run", "status", "duration", "pages", "new/updated/unchanged", "rejected", "errors", "next run"):
        table.add_column(column, justify="right" if column in ("duration", "pages", "rejected", "errors") else "left")
    for row in rows:
        r = row["last_run"] or {}
        if row["next_run"]:
            next_run = datetime.fromisoformat(row["next_run"]).strftime("%Y-%m-%d %H:%M %Z")
            if row["next_run_state"] == "missed":
                next_run += " (missed: runs when the scheduler starts, if within the grace)"
        else:
            next_run = "-"
        state = _status(r.get("status")) if r else "never run"
        if row["running"]:
            state = f"running since {_local(row['running'].get('started'))} (pid {row['running']['pid']}); last: {state}"
        table.add_row(
            row["site"],
            _local(r.get("started")) if r else "-",
            state,
            _duration(r.get("duration_seconds")) if r else "-",
            str(r.get("pages_fetched", 0)) if r else "-",
            f"{r.get('articles_new', 0)}/{r.get('articles_updated', 0)}/{r.get('articles_unchanged', 0)}" if r else "-",
            str(r.get("rejected_total", 0)) if r else "-",
            str(r.get("error_count", 0)) if r else "-",
            next_run,
        )
    console.print(table)
    for line in _alert_problems(app.settings):
        console.print(f"[yellow]warning:[/yellow] {escape(line)}")


def _alert_problems(settings) -> list[str]:
    """Saved searches whose query Elasticsearch refuses or whose deliveries were given up."""
    from search.alerts import AlertStore
    from search.client import make_client

    try:
        store = AlertStore(make_client(settings.elasticsearch), settings.elasticsearch)
        return store.problems()
    except Exception as exc:  # noqa: BLE001 (the crawl table stands without it)
        return [f"saved searches could not be read: {type(exc).__name__}"]


def _local(iso: str | None) -> str:
    if not iso:
        return "-"
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso


def _duration(seconds) -> str:
    if seconds is None:
        return "-"
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _status(value: str | None) -> str:
    if not value:
        return "-"
    style = STATUS_STYLE.get(value)
    return f"[{style}]{value}[/{style}]" if style else value
