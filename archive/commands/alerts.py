"""`archive alerts`: saved searches that report new matching articles (search/alerts.py)."""

from __future__ import annotations

import json

import click


def _store(app, create: bool = False):
    from search.alerts import AlertStore
    from search.client import make_client
    from search.indices import ensure_index, ALERTS_DEFINITION

    es = app.settings.elasticsearch
    client = make_client(es)
    if create:  # only saving creates the index; listing or checking an empty archive creates nothing
        ensure_index(client, es.alerts_alias, ALERTS_DEFINITION)
    return client, AlertStore(client, es)


def _audit(app, client, outcome: str, name: str, owner: str | None, **details) -> None:
    """The CLI acts for the operator: recorded as operator:<login name>."""
    from search.audit import AuditLog, operator

    es = app.settings.elasticsearch
    AuditLog(client, es.audit_alias).record("saved-search", operator(), outcome=outcome,
                                             saved_search=name, owner=owner, **details)


def _owner_email(app, owner: str | None) -> str | None:
    """The owner's e-mail from their Elasticsearch user, when these credentials may read it."""
    if not owner:
        return None
    from elastic_transport import TransportError
    from elasticsearch import ApiError

    from search.users import directory

    try:
        found = directory(app.settings.elasticsearch).get(owner)
    except (TransportError, ApiError):
        return None
    if found is None:
        raise click.ClickException(f"no archive user {owner!r}: add them with `archive users add {owner} --role reader`")
    return found.email


def _errors(func):
    """Turn the library's errors into one line (no traceback) and a non-zero exit."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from elastic_transport import TransportError
        from elasticsearch import ApiError

        from search.alerts import AlertError
        from search.errors import explain
        from search.filters import UnknownFilter
        from search.query import QuerySyntaxError

        app = click.get_current_context().obj
        try:
            return func(*args, **kwargs)
        except (AlertError, QuerySyntaxError, UnknownFilter) as exc:
            raise click.ClickException(str(exc)) from None
        except (TransportError, ApiError) as exc:
            raise click.ClickException(explain(exc, app.settings.elasticsearch.url) or str(exc)) from None

    return wrapper


@click.group()
def alerts() -> None:
    """Saved searches that tell you what is new on your beat.

    \b
    Articles are matched against every saved search as they are stored; each saved search
    reports an article that is new (or was edited and now matches) once: in its Atom feed
    (its secret /feeds/TOKEN.atom address on `archive serve`), and by webhook and e-mail where
    configured ([alerts] in settings.toml, ARCHIVE_SMTP_* variables), within about a minute,
    retried until it goes out. Each saved search belongs to a journalist (--owner, an
    Elasticsearch user with an archive role); its mail goes to the owner's e-mail and its own
    recipients. A search without an owner belongs to the admins; `migrate --owner` gives the
    older ones an owner.
    \b
    Examples:
      archive alerts add harbour '"harbour authority"' --site demo --owner priya
      archive alerts add first-hydrogen '"hydrogen ferry"' --first-appearance --owner priya
      archive alerts follow http://127.0.0.1:8701/2025/03/04/veyra-harbour-closed-after-crane-collapse --owner priya
      archive alerts list --owner priya --format json     # with each one's secret feed_url
      archive alerts show harbour --owner priya --since 2025-03-01
      archive alerts check             # deliver what is due; what each search reported since the last check
      archive alerts rotate-feed harbour --owner priya    # a new feed address; the old one stops
      archive alerts remove harbour --owner priya
      archive alerts migrate --owner chief                # searches saved before owners existed
    """


@alerts.command("add")
@click.argument("name")
@click.argument("query", required=False, default="")
@click.option("--site", "sites", multiple=True, help="Only this site (repeatable).")
@click.option("--author", "authors", multiple=True, help="Only articles by this author (repeatable).")
@click.option("--tag", "tags", multiple=True, help="Only articles with this tag (repeatable).")
@click.option("--lang", "languages", multiple=True, help="Only this language, e.g. en (repeatable).")
@click.option("--owner", help="The journalist it belongs to (an Elasticsearch user); without it: the admins'.")
@click.option("--email-to", "email_to", multiple=True, help="Also mail its alerts here (repeatable).")
@click.option("--webhook", "webhook_url", default="", help="Its own webhook (e.g. a desk's chat channel).")
@click.option("--first-appearance", is_flag=True, help="Report only the first article that matches, then stay quiet.")
@click.option("--digest-hour", type=click.IntRange(0, 23), default=None,
              help="Send one digest a day at this hour (UTC) instead of each match at once.")
@click.pass_obj
@_errors
def add(app, name, query, sites, authors, tags, languages, owner, email_to, webhook_url, first_appearance, digest_hour) -> None:
    """Save a search: from now on, new matching articles are reported once each."""
    from search.alert_delivery import feed_link
    from search.alerts import SavedSearch, check_recipients
    from search.filters import validate_filters
    from search.query import SearchRequest

    check_recipients(tuple(email_to), webhook_url)
    owner_email = _owner_email(app, owner)
    client, store = _store(app, create=True)
    request = SearchRequest(text=query, sites=sites, authors=authors, tags=tags, languages=languages)
    request = validate_filters(client, app.settings.elasticsearch.articles_alias, request, [s.name for s in app.settings.sites])
    if not request.text.strip() and not (request.sites or request.authors or request.tags or request.languages):
        raise click.UsageError("give a QUERY or a filter: an empty saved search would report every article")
    saved = store.add(SavedSearch(name=name, query=request.text, sites=request.sites, authors=request.authors,
                                  tags=request.tags, languages=request.languages, owner=owner or None,
                                  owner_email=owner_email, email_to=tuple(email_to), webhook_url=webhook_url,
                                  first_appearance=first_appearance, digest_hour=digest_hour))
    _audit(app, client, "added", saved.name, saved.owner, query=saved.query)
    whose = f" for {saved.owner}" if saved.owner else " (the admins')"
    when = f"a digest daily at {digest_hour:02d}:00 UTC" if digest_hour is not None else "new matches as they are archived"
    if first_appearance:
        when = "the first article that matches, once"
    click.echo(f"saved {saved.name!r}{whose}; {when}, feed: {feed_link(app.settings.alerts, saved)}")


@alerts.command("follow")
@click.argument("url")
@click.option("--name", default="", help="Name of the follow (default: follow-<article id>).")
@click.option("--owner", help="The journalist told of the changes (an Elasticsearch user); without it: the admins'.")
@click.pass_obj
@_errors
def follow(app, url, name, owner) -> None:
    """Be told when an archived article changes: its headline and changed paragraphs."""
    from search.alert_delivery import feed_link
    from search.alerts import AlertError
    from search.service import get_article

    client, store = _store(app, create=True)
    article = get_article(client, app.settings.elasticsearch.articles_alias, url)  # any URL it was reached under
    if article is None:
        raise AlertError(f"no archived article at {url}: `archive search` finds the URL of the one to follow")
    saved = store.follow(article["id"], name=name, owner=owner or None, owner_email=_owner_email(app, owner))
    _audit(app, client, "followed", saved.name, saved.owner, article_id=article["id"])
    click.echo(f"following {url} as {saved.name!r}; each change is reported, feed: {feed_link(app.settings.alerts, saved)}")


@alerts.command("show")
@click.argument("name")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), default=None,
              help="Only what was reported after this date (UTC).")
@click.option("--owner", help="Whose saved search (without it: one without an owner).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_obj
@_errors
def show(app, name, since, owner, fmt) -> None:
    """What a saved search reported: date, new or edited, title, URL and how its delivery went."""
    _, store = _store(app)
    search = store.require(name, owner)
    matches = store.matches(search.name, limit=1000, since=since.isoformat() if since else None, owner=search.owner)
    if fmt == "json":
        click.echo(json.dumps([m.as_dict() for m in matches], indent=2, ensure_ascii=False))
        return
    if not matches:
        click.echo(f"{name}: nothing reported{' since ' + since.date().isoformat() if since else ''} (saved {search.created_at[:19]})")
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"{name}: {len(matches)} reported", title_justify="left")
    for column in ("reported", "change", "title", "url", "delivery"):
        table.add_column(column)
    for m in matches:
        table.add_row(m.matched_at[:19], m.change, escape(m.title or ""), escape(m.url or ""), escape(m.delivery_status))
    Console().print(table)


@alerts.command("deliver")
@click.pass_obj
@_errors
def deliver(app) -> None:
    """Send what is due now (new matches, retries, digests). The scheduler and running crawls do it on their own."""
    from search.outbox import deliver_due

    client, _ = _store(app)
    report = deliver_due(client, app.settings)
    click.echo(f"delivered {report.delivered}, retrying later {report.retrying}, given up {report.given_up}"
               + (f"; matched {report.recovered} batch(es) a stopped process left" if report.recovered else ""))
    for line in report.failures:
        click.echo(f"  failed: {line}", err=True)
    if report.failures:
        raise SystemExit(1)


@alerts.command("list")
@click.option("--owner", help="Only this journalist's.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_obj
@_errors
def list_command(app, owner, fmt) -> None:
    """List the saved searches, their owners, when each was last checked and how its last delivery went."""
    from search.alert_delivery import feed_link

    _, store = _store(app)
    searches = store.list(owner=owner)
    failed = store.failed_deliveries()
    if fmt == "json":
        click.echo(json.dumps([{**s.as_dict(), "feed_url": feed_link(app.settings.alerts, s), "failed_deliveries": failed.get(s.key, 0)}
                               for s in searches], indent=2, ensure_ascii=False))
        return
    if not searches:
        click.echo("no saved searches: add one with `archive alerts add NAME QUERY`")
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"{len(searches)} saved search{'es' if len(searches) != 1 else ''}")
    for column in ("name", "owner", "query", "filters", "saved", "last checked", "last delivery", "problems"):
        table.add_column(column)
    for s in searches:
        filters = "; ".join(f"{k}: {', '.join(v)}" for k, v in (("site", s.sites), ("author", s.authors), ("tag", s.tags), ("lang", s.languages)) if v)
        filters += "; ".join(x for x in ((" first appearance" + (" (reported)" if s.quiet else "")) if s.first_appearance else "",
                                          f" digest {s.digest_hour:02d}:00 UTC" if s.digest_hour is not None else "") if x)
        delivery = ", ".join(f"{ch} {'ok' if st.get('ok') else 'FAILED: ' + str(st.get('error'))}"
                             for ch, st in s.as_dict()["last_delivery"].items()) or "-"
        problems = "; ".join(p for p in (f"query refused: {s.error['message']}" if s.error.get("message") else "",
                                         f"{failed[s.key]} delivery(ies) given up" if failed.get(s.key) else "") if p) or "-"
        table.add_row(escape(s.name), escape(s.owner or "(admins)"), escape(s.query), escape(filters.strip()), s.created_at[:19],
                      (s.last_checked_at or "never")[:19], escape(delivery), escape(problems))
    Console().print(table)


@alerts.command("remove")
@click.argument("name")
@click.option("--owner", help="Whose saved search (without it: one without an owner).")
@click.pass_obj
@_errors
def remove(app, name, owner) -> None:
    """Delete a saved search and what it reported."""
    client, store = _store(app)
    gone = store.remove(name, owner)
    _audit(app, client, "removed", name, owner)
    click.echo(f"removed {name!r} ({gone} reported match{'es' if gone != 1 else ''} with it)")


@alerts.command("rotate-feed")
@click.argument("name")
@click.option("--owner", help="Whose saved search (without it: one without an owner).")
@click.pass_obj
@_errors
def rotate_feed(app, name, owner) -> None:
    """Give a saved search a new secret feed address; the old one stops at once."""
    from search.alert_delivery import feed_link

    client, store = _store(app)
    rotated = store.rotate_feed(store.require(name, owner))
    _audit(app, client, "feed-rotated", name, owner)
    click.echo(f"{name!r}: new feed address {feed_link(app.settings.alerts, rotated)}")


@alerts.command("migrate")
@click.option("--owner", required=True, help="The journalist (or admin) who gets the saved searches without an owner.")
@click.pass_obj
@_errors
def migrate(app, owner) -> None:
    """Give every saved search made before searches had owners to OWNER, with what it reported."""
    owner_email = _owner_email(app, owner)
    client, store = _store(app, create=True)
    moved, kept = store.migrate(owner, owner_email)
    for name in moved:
        _audit(app, client, "migrated", name, owner)
    click.echo(f"{len(moved)} saved search{'es now belong' if len(moved) != 1 else ' now belongs'} to {owner}"
               + (f": {', '.join(moved)}" if moved else ""))
    if kept:
        raise click.ClickException(f"left without an owner, since {owner} already has searches of these names: "
                                   f"{', '.join(kept)}; rename or remove theirs, then migrate again")


@alerts.command("check")
@click.argument("name", required=False)
@click.option("--owner", help="Whose saved search (or, without NAME, all of theirs).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_obj
@_errors
def check(app, name, owner, fmt) -> None:
    """Deliver what is due, then print what each saved search (or one) reported since the last check."""
    from search.alert_delivery import article_link
    from search.outbox import check as check_searches

    client, _ = _store(app)
    results = check_searches(client, app.settings, name, owner)
    if fmt == "json":
        click.echo(json.dumps([{"name": r.search.name, "since": r.since, "new": [m.as_dict() for m in r.new], "delivery": r.delivery,
                                "last": r.last.as_dict() if r.last else None} for r in results], indent=2, ensure_ascii=False))
        return
    if not results:
        click.echo("no saved searches: add one with `archive alerts add NAME QUERY`")
    failed = False
    for result in results:
        count = len(result.new)
        if not count:
            last = f"{result.last.title} ({result.last.matched_at[:16].replace('T', ' ')})" if result.last else "nothing yet"
            click.echo(f"{result.search.name}: nothing new since {(result.since or '')[:16].replace('T', ' ')}; last reported: {last}")
        else:
            click.echo(f"{result.search.name}: {count} new article{'s' if count != 1 else ''} since {(result.since or '')[:16].replace('T', ' ')}")
        for match in result.new:
            label = f" [{match.change}]" if match.change != "new" else ""
            click.echo(f"  {match.title}{label}\n    {match.site} · {(match.published or 'no date')[:10]} · {match.url}\n"
                       f"    {article_link(app.settings.alerts, match.article_id)} · {match.delivery_status}")
        if result.search.error.get("message"):
            click.echo(f"  query refused by Elasticsearch: {result.search.error['message']}", err=True)
        for channel, status in result.delivery.items():
            if not status.get("ok"):
                failed = True
                click.echo(f"  {channel} delivery failed (retried later): {status.get('error')}", err=True)
    if failed:
        raise SystemExit(1)
