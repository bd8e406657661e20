"""The pages people use in a browser, each with its JSON twin built from the same context.

    /                       search page            twin: /search (and /search.json)
    /article/<id>           one article, versions and diffs   twin: /article/<id>.json
    /article/<id>/captured  the page as it was captured, in a sandboxed frame (search/web/capture.py)
    /alerts                 saved searches, and the form to save one   twin: /alerts.json
    /alerts/<name>          what a saved search reported      twin: /alerts/<name>.json
    /alerts/<name>.atom     its Atom feed

Pages are rendered by Jinja2 with autoescaping on: every title, snippet and body from a crawled
page is text, never markup. Only the highlight markers that Elasticsearch puts around matches
(search.query.MARK_PRE/MARK_POST, private-use characters no stored text carries) become <mark>
elements, after everything else was escaped; a literal "<mark>" in a crawled body stays text.
Every value shown passes archive.text.clean_text: no control character reaches a page.
Links that must be absolute (feeds) are built from ARCHIVE_PUBLIC_URL, never from the Host
header; redirects are relative.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from archive.text import clean_text
from archive.warc_storage import read_storage
from search.alerts import AlertError, AlertStore, SavedSearch, check_recipients
from search.outbox import check as check_searches
from search.feeds import atom_feed
from search.indices import ALERTS_DEFINITION, ensure_index
from search.filters import UnknownFilter
from search.query import MARK_POST, MARK_PRE, SORTS, QuerySyntaxError
from search.web.access import client_address, current_user, es_for
from search.web import dates
from search.web.context import (
    BadRequest,
    article_context,
    back_link,
    params_from,
    request_from_params,
    search_context,
    typed_query,
    url_with,
    validated,
    whole_number,
)
from search.service import get_article
from search.web.capture import CAPTURE_HEADERS, IFRAME_SANDBOX, CaptureUnavailable, captured_page

TEMPLATES = Path(__file__).parent / "templates"


def marked(text: str | None) -> Markup:
    """Escape everything, then turn only Elasticsearch's highlight markers into <mark>."""
    escaped = str(escape(_printable(text or "")))
    return Markup(escaped.replace(MARK_PRE, "<mark>").replace(MARK_POST, "</mark>"))


def _printable(text: str) -> str:
    """Text without control characters or non-characters; the highlight markers kept."""
    return MARK_PRE.join(MARK_POST.join(clean_text(part) for part in piece.split(MARK_POST)) for piece in text.split(MARK_PRE))


def _finalize(value):
    """Every {{ value }} of a template: strings without control characters (an article stored
    before extraction cleaned its text must not break the page)."""
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return clean_text(value)


class MarkedJSONResponse(JSONResponse):
    """The JSON twins: highlight markers written as <mark>, as the API has always given them."""

    def render(self, content) -> bytes:
        body = super().render(content)
        return body.replace(MARK_PRE.encode(), b"<mark>").replace(MARK_POST.encode(), b"</mark>")


def web_url(url: str | None) -> str:
    """Only http(s) URLs become links: a stored `javascript:` URL must never be clickable."""
    return url if url and url.lower().startswith(("http://", "https://")) else "#"


def make_environment(timezone: str = "UTC") -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True, default_for_string=True),
                      finalize=_finalize)
    env.filters["marked"] = marked
    env.filters["web_url"] = web_url
    env.filters["day"] = lambda value: (value or "")[:10] or "no date"
    env.filters["moment"] = lambda value: (value or "").replace("T", " ")[:19] or "never"
    # Dates as people write them, in the newsroom's zone; the exact value on hover.
    env.filters["when"] = lambda value, missing="never", source=None: dates.time_element(value, timezone, True, missing, source)
    env.filters["whenday"] = lambda value: dates.time_element(value, timezone, with_time=False)
    env.filters["date_source"] = dates.source_words
    return env


def render(request: Request, template: str, context: dict, status: int = 200) -> Response:
    user = getattr(request.state, "user", None)
    html = request.app.state.jinja.get_template(template).render(request=request, csrf_token=request.app.state.csrf_token,
                                                                  user=user, **context)
    return Response(html, status_code=status, media_type="text/html; charset=utf-8")


def twin(request: Request, context: dict, template: str, as_json: bool) -> Response:
    if as_json or request.query_params.get("_format") == "json":
        return MarkedJSONResponse(context)
    return render(request, template, context)


# --- search ---------------------------------------------------------------------------------


def search_page(request: Request) -> Response:
    state = request.app.state
    params = params_from(request.query_params)
    context = search_context(es_for(request), state.settings, params)
    # The form's choices as this reader may see them, for a page that shows an error instead.
    _known_by_reader(request)[_reader(request)] = context["known"]
    if state.settings.audit.searches and (params.get("q") or any(params.get(k) for k in ("site", "author", "tag", "lang"))):
        user = getattr(request.state, "user", None)
        state.access.audit.record("search", user.username if user else None, query=(params.get("q") or [""])[-1],
                                  filters={k: v for k, v in params.items() if k != "q"}, address=client_address(request))
    return twin(request, context, "search.html", request.url.path != "/")


def _reader(request: Request) -> str | None:
    user = current_user(request)
    return user.username if user else None


def _known_by_reader(request: Request) -> dict:
    if not hasattr(request.app.state, "known_by_reader"):
        request.app.state.known_by_reader = {}
    return request.app.state.known_by_reader


def search_form_with_error(request: Request, message: str, status: int) -> Response:
    """The search page with the error above the form and everything the user typed kept."""
    params = params_from(request.query_params)
    known = _known_by_reader(request).get(_reader(request)) or {"sites": [], "languages": [], "tags": []}
    query = typed_query(params)
    known = {**known, "sites": sorted({*known["sites"], *query["site"]}), "languages": sorted({*known["languages"], *query["lang"]})}
    context = {"error": message, "query": query, "known": known, "sorts": list(SORTS), "total": 0, "hits": []}
    return render(request, "search.html", context, status=status)


# --- one article ----------------------------------------------------------------------------


def article_page(request: Request) -> Response:
    state = request.app.state
    key = request.path_params["article_id"]
    back = back_link(request.query_params.get("back"))
    context = article_context(es_for(request), state.settings, key, highlight=back["q"] if back else None)
    as_json = request.url.path.endswith(".json")
    if context is None:
        return error_response(request, 404, f"no archived article with id {key!r}", as_json)
    return twin(request, context if as_json else {"article": context, "back": back}, "article.html", as_json)


def captured_view(request: Request) -> Response:
    """The article page's "page as captured": our frame around a sandboxed iframe of the capture."""
    state = request.app.state
    key = request.path_params["article_id"]
    article = get_article(es_for(request), state.settings.elasticsearch.articles_alias, key)
    if article is None:
        return error_response(request, 404, f"no archived article with id {key!r}", False)
    try:
        page = captured_page(read_storage(state.settings), article)
    except CaptureUnavailable as exc:
        return error_response(request, 404, f"no page as captured for this article: {exc}", False)
    return render(request, "captured.html", {"article": article, "capture": page, "sandbox": IFRAME_SANDBOX})


def captured_raw(request: Request) -> Response:
    """The captured HTML itself, under a policy that lets nothing run or load (search/web/capture.py)."""
    state = request.app.state
    key = request.path_params["article_id"]
    article = get_article(es_for(request), state.settings.elasticsearch.articles_alias, key)
    try:
        if article is None:
            raise CaptureUnavailable(f"no archived article with id {key!r}")
        page = captured_page(read_storage(state.settings), article)
    except CaptureUnavailable as exc:
        return Response(str(exc), status_code=404, media_type="text/plain; charset=utf-8", headers=CAPTURE_HEADERS)
    media_type = f"text/html; charset={page.charset}" if page.charset else "text/html"
    return Response(page.html, media_type=media_type, headers=CAPTURE_HEADERS)


# --- saved searches -------------------------------------------------------------------------


def _store(request: Request) -> AlertStore:
    """Saved searches are read and written by the archive's service user; who may see which is
    decided here, by owner (search/alerts.py)."""
    return AlertStore(request.app.state.client, request.app.state.settings.elasticsearch)


def base_url(request: Request) -> str:
    """This server as readers reach it (ARCHIVE_PUBLIC_URL), as webhook and mail link it: never
    the request's Host header, which any client can set."""
    return request.app.state.settings.alerts.public_url.rstrip("/")


def _visible(request: Request) -> list[SavedSearch]:
    """A reader's own saved searches; an admin's: everyone's (and those without an owner)."""
    user = current_user(request)
    if user is None or user.is_admin:
        return _store(request).list()
    return _store(request).list(owner=user.username)


def find_search(request: Request, name: str) -> SavedSearch:
    """The saved search this user means: their own; an admin may name another's owner with
    ?owner=. Another reader's search does not exist for a reader (404), whatever they try."""
    store, user = _store(request), current_user(request)
    owner = request.query_params.get("owner") or None
    if user is None:
        return store.require(name, owner)
    if not user.is_admin:
        if owner not in (None, user.username):
            raise AlertError(f"no saved search named {name!r}")
        return store.require(name, user.username)
    found = store.get(name, owner or user.username) or (None if owner else store.get(name))
    if found is None:
        raise AlertError(f"no saved search named {name!r}")
    return found


def _page_link(request: Request, search: SavedSearch, suffix: str = "") -> str:
    user = current_user(request)
    mine = user is None or search.owner == (user.username if user else None)
    query = f"?owner={quote(search.owner)}" if search.owner and not mine else ""
    return f"/alerts/{quote(search.name)}{suffix}{query}"


def _feed_url(request: Request, search: SavedSearch) -> str | None:
    """The secret feed address, for its owner (and the admins, for searches without an owner)."""
    user = current_user(request)
    if user is not None and search.owner != user.username and not (search.owner is None and user.is_admin):
        return None
    return f"{base_url(request)}/feeds/{search.feed_token}.atom" if search.feed_token else None


def alerts_context(request: Request, params: dict | None = None) -> dict:
    settings = request.app.state.settings
    user = current_user(request)
    store = _store(request)
    failed = store.failed_deliveries()
    return {
        "saved_searches": [
            {**s.as_dict(), "page": _page_link(request, s), "feed_url": _feed_url(request, s),
             "results": url_with("/", _search_params(s)), "failed_deliveries": failed.get(s.key, 0)}
            for s in _visible(request)
        ],
        "draft": params or {},
        "show_owners": user is None or user.is_admin,
        "delivery": {"webhook": bool(settings.alerts.webhook_url), "email": bool(settings.alerts.smtp_host)},
    }


def alerts_page(request: Request) -> Response:
    draft = params_from(request.query_params)
    return twin(request, alerts_context(request, draft), "alerts.html", request.url.path.endswith(".json"))


async def save_search(request: Request) -> Response:
    form = params_from(await request.form())
    form.pop("csrf_token", None)  # checked by search/web/guard.py; not part of the search
    try:
        saved = await run_in_threadpool(_save, request, form)
    except (AlertError, BadRequest, UnknownFilter, QuerySyntaxError) as exc:
        context = await run_in_threadpool(alerts_context, request, form)
        return render(request, "alerts.html", {**context, "error": str(exc)}, status=400)
    return RedirectResponse(f"/alerts/{quote(saved.name)}?saved=1", status_code=303)


def _save(request: Request, form: dict) -> SavedSearch:
    state = request.app.state
    user = current_user(request)
    name = (form.get("name") or [""])[-1]
    search_request, _ = request_from_params({k: v for k, v in form.items() if k in ("q", "site", "author", "tag", "lang")})
    search_request = validated(es_for(request), state.settings, search_request)
    if not search_request.text.strip() and not (search_request.sites or search_request.authors or search_request.tags or search_request.languages):
        raise BadRequest("give the saved search some words or a filter: an empty search would report every article")
    email_to = tuple(a.strip() for a in ",".join(form.get("email_to") or []).split(",") if a.strip())
    webhook = (form.get("webhook_url") or [""])[-1].strip()
    check_recipients(email_to, webhook)  # AlertError: 400, with the form kept
    ensure_index(state.client, state.settings.elasticsearch.alerts_alias, ALERTS_DEFINITION)  # the first save creates it
    saved = _store(request).add(SavedSearch(
        name=name, query=search_request.text, sites=search_request.sites, authors=search_request.authors,
        tags=search_request.tags, languages=search_request.languages,
        owner=user.username if user else None, owner_email=user.email if user else None,
        email_to=email_to, webhook_url=webhook,
    ))
    state.access.audit.record("saved-search", user.username if user else None, outcome="added", saved_search=saved.name,
                              owner=saved.owner, query=saved.query, address=client_address(request))
    return saved


def _search_params(search: SavedSearch) -> dict[str, list[str]]:
    params = {"q": [search.query]} if search.query else {}
    for key, values in (("site", search.sites), ("author", search.authors), ("tag", search.tags), ("lang", search.languages)):
        if values:
            params[key] = list(values)
    return params


def alert_context(request: Request, name: str) -> dict:
    store = _store(request)
    search = find_search(request, name)
    return {
        "saved_search": search.as_dict(),
        "failed_deliveries": store.failed_deliveries().get(search.key, 0),
        "feed_url": _feed_url(request, search),
        "actions": {"check": _page_link(request, search, "/check"), "remove": _page_link(request, search, "/remove"),
                    "rotate": _page_link(request, search, "/rotate-feed")},
        "results": url_with("/", _search_params(search)),
        "matches": [{**m.as_dict(), "snippet_marked": m.snippet, "archive_page": f"/article/{m.article_id}"}
                    for m in store.matches(search.name, limit=200, owner=search.owner)],
    }


def alert_page(request: Request) -> Response:
    name = request.path_params["name"]
    as_json = request.url.path.endswith(".json")
    context = alert_context(request, name)
    context["just_saved"] = request.query_params.get("saved") == "1"
    context["just_rotated"] = request.query_params.get("rotated") == "1"
    checked = request.query_params.get("checked")
    context["just_checked"] = whole_number(checked) if checked else None
    return twin(request, context, "alert.html", as_json)


def alert_feed(request: Request) -> Response:
    """/alerts/NAME.atom: the feed of one's own saved search, signed in."""
    search = find_search(request, request.path_params["name"])
    return _feed(request, search)


def token_feed(request: Request) -> Response:
    """/feeds/TOKEN.atom: works without a session, only with the saved search's current token."""
    search = _store(request).by_feed_token(request.path_params["token"])
    if search is None:
        return JSONResponse({"error": "no feed at this address (it may have been replaced by a new one)"}, status_code=404)
    return _feed(request, search)


def _feed(request: Request, search: SavedSearch) -> Response:
    body = atom_feed(search, _store(request).matches(search.name, limit=100, owner=search.owner), base_url(request))
    return Response(body, media_type="application/atom+xml; charset=utf-8")


async def check_search(request: Request) -> Response:
    search = await run_in_threadpool(find_search, request, request.path_params["name"])
    results = await run_in_threadpool(check_searches, request.app.state.client, request.app.state.settings,
                                      search.name, search.owner)
    return RedirectResponse(_page_link(request, search) + ("&" if "?" in _page_link(request, search) else "?")
                            + f"checked={len(results[0].new)}", status_code=303)


async def follow_article(request: Request) -> Response:
    """"Follow this article" on the article page: a saved search of the signed-in user, told of
    each change. Only an article this user may read can be followed."""
    state = request.app.state
    user = current_user(request)

    def follow() -> SavedSearch:
        article = get_article(es_for(request), state.settings.elasticsearch.articles_alias, request.path_params["article_id"])
        if article is None:
            raise AlertError(f"no archived article with id {request.path_params['article_id']!r}")
        ensure_index(state.client, state.settings.elasticsearch.alerts_alias, ALERTS_DEFINITION)
        saved = _store(request).follow(article["id"], owner=user.username if user else None,
                                       owner_email=user.email if user else None)
        state.access.audit.record("saved-search", user.username if user else None, outcome="followed",
                                  saved_search=saved.name, owner=saved.owner, article_id=article["id"],
                                  address=client_address(request))
        return saved

    saved = await run_in_threadpool(follow)
    return RedirectResponse(_page_link(request, saved) + "?saved=1", status_code=303)  # the user's own: no ?owner=


async def remove_search(request: Request) -> Response:
    search = await run_in_threadpool(find_search, request, request.path_params["name"])
    await run_in_threadpool(_store(request).remove, search.name, search.owner)
    user = current_user(request)
    await run_in_threadpool(request.app.state.access.audit.record, "saved-search", user.username if user else None,
                            outcome="removed", saved_search=search.name, owner=search.owner, address=client_address(request))
    return RedirectResponse("/alerts", status_code=303)


async def rotate_feed(request: Request) -> Response:
    search = await run_in_threadpool(find_search, request, request.path_params["name"])
    user = current_user(request)
    if user is not None and search.owner != user.username and not (search.owner is None and user.is_admin):
        raise AlertError(f"only the owner of {search.name!r} can replace its feed address")
    await run_in_threadpool(_store(request).rotate_feed, search)
    await run_in_threadpool(request.app.state.access.audit.record, "saved-search", user.username if user else None,
                            outcome="feed-rotated", saved_search=search.name, owner=search.owner, address=client_address(request))
    link = _page_link(request, search)
    return RedirectResponse(link + ("&" if "?" in link else "?") + "rotated=1", status_code=303)


# --- errors -----------------------------------------------------------------------------------


# What a journalist reads when Elasticsearch is down; the operator's detail goes to the log and /health.
UNAVAILABLE = "The archive is down; the newsroom's administrator has been told. Please try again in a few minutes."


def error_response(request: Request, status: int, message: str, as_json: bool) -> Response:
    if as_json:
        return MarkedJSONResponse({"error": message}, status_code=status)
    if status == 400 and request.url.path == "/":
        return search_form_with_error(request, message, status)
    if status >= 500:
        message = UNAVAILABLE
    return render(request, "error.html", {"status": status, "message": message}, status=status)
