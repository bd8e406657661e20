"""`archive serve`: the search page for people and the JSON API for tools, one ASGI app (Starlette).

Pages (HTML; each has a JSON twin built from the same context, see search/web/pages.py):

    GET  /                                search page: ?q=&site=&author=&tag=&lang=&since=&until=&edited=1&briefs=0&sort=&size=&page=
                                          &copies=all (every copy of a story) &by=week &q2=&q3= (compare on the chart)
    GET  /article/<id>                    one article: metadata, text, versions and diffs, raw capture
    GET  /alerts, /alerts/<name>          saved searches; POST /alerts saves one,
                                          POST /alerts/<name>/check and /alerts/<name>/remove,
                                          POST /article/<id>/follow (for the signed-in user)
    GET  /alerts/<name>.atom              the saved search's Atom feed (signed in)
    GET  /feeds/<token>.atom              the same feed at its secret address, for feed readers
                                          (no session; POST /alerts/<name>/rotate-feed replaces it)
    GET  /login, POST /login, POST /logout  sign-in with an Elasticsearch user (search/web/access.py)

JSON API (parameters as `archive search`; repeat site/author/tag/lang for several values):

    GET /health                           Elasticsearch health and article count
    GET /search?q=...                     one page of hits with facets, did-you-mean suggestions and hints
                                          (the search page's twin)
    GET /search.csv?q=...                 every hit as CSV (streamed); one page with size= (and page=)
    GET /coverage.csv?q=...&q2=&q3=&by=   matching articles per day, week or month (the page's chart)
    GET /export.csv|.json|.ndjson?q=...   every hit, streamed with search_after (no 10,000 cap); size=N
                                          stops after N; .json is one JSON array; with_body=1 adds the text
    include_earlier=1                     (any search or export) also searches earlier versions of
                                          articles; such hits carry earlier_version_of and captured_at
    GET /articles/<id>                    one article, body included (plus versions, changes, raw_capture)
    GET /articles?url=<url>               one article by any URL it was reached under

Every page needs a signed-in user (303 to /login) and the API a session cookie (401 JSON)
when Elasticsearch has security on; /login, /static, /health and /feeds/<token>.atom do not.

Errors are JSON {"error": "..."} on the API and a page on the HTML routes: 400 for a bad
parameter or query (unknown site, language or tag: the message lists the known ones), 404 for
an unknown article or saved search, 503 with one line naming the URL and the fix when
Elasticsearch is down; a query Elasticsearch refuses (too many clauses...) is a 400 that says
why. Bound to 127.0.0.1 unless told otherwise. Every request passes search/web/guard.py first
(security headers, Host allowlist, same-origin proof for POSTs, body size limit).
"""

from __future__ import annotations

import logging
from dataclasses import replace
import threading
import time
from datetime import date
from contextlib import contextmanager
from elasticsearch import Elasticsearch, NotFoundError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from archive.config import Settings
from search.alerts import AlertError
from search.client import make_client
from search.errors import explain as explain_elasticsearch
from search.audit import search_filters
from search.errors import query_refusal
from search.export import MEDIA_TYPES, export_chunks, export_filename
from search.filters import UnknownFilter
from search.query import QuerySyntaxError
from search.service import iterate, search
from search.web import access as access_routes
from search.web import pages
from search.web.guard import BodyTooLarge, GuardSettings, RequestGuard, csrf_token, new_secret
from search.web.access import access, client_address, current_user, es_for
from search.web.context import (
    BadRequest, article_context, coverage_csv, params_from, request_from_params, validated, whole_number,
)

logger = logging.getLogger(__name__)

HTML_PREFIXES = ("/article/", "/alerts")


def explain(exc: Exception, settings: Settings) -> tuple[int, str]:
    """An exception as (HTTP status, one line a person can act on)."""
    if isinstance(exc, (BadRequest, QuerySyntaxError, UnknownFilter)):
        return 400, str(exc)
    if isinstance(exc, AlertError):
        return (404 if str(exc).startswith("no saved search") else 400), str(exc)
    if isinstance(exc, BodyTooLarge):
        return 413, str(exc)
    if (refused := query_refusal(exc)) is not None:  # the query's fault, not the cluster's
        return 400, refused
    message = explain_elasticsearch(exc, settings.elasticsearch.url)
    if message is None:
        raise exc
    # A missing index, a dead node, bad credentials: the service is unavailable, in one line.
    return 503, message


class ErrorMiddleware(BaseHTTPMiddleware):
    """User errors and an unreachable Elasticsearch become one clear line, never a traceback."""

    async def dispatch(self, request: Request, call_next):
        try:
            return await call_next(request)
        except Exception as exc:  # noqa: BLE001 (explain() re-raises what it does not know)
            status, message = explain(exc, request.app.state.settings)
            if status >= 500:
                logger.error("%s %s: %s", request.method, request.url.path, message)
            as_json = request.url.path.endswith((".json", ".csv", ".ndjson", ".atom")) or not (
                request.url.path == "/" or request.url.path.startswith(HTML_PREFIXES)
            )
            return pages.error_response(request, status, message, as_json)


# --- JSON API -------------------------------------------------------------------------------


def health(request: Request) -> Response:
    """For the operator and monitoring: Elasticsearch's status and the article count, or 503
    with what is wrong and the fix (the page only tells journalists that the archive is down)."""
    state = request.app.state
    try:
        status = state.client.cluster.health()["status"]
        try:
            count = state.client.count(index=state.settings.elasticsearch.articles_alias)["count"]
        except NotFoundError:
            count = 0
    except Exception as exc:  # noqa: BLE001 (explain() re-raises what is not an Elasticsearch failure)
        code, message = explain(exc, state.settings)
        return JSONResponse({"elasticsearch": "unavailable", "error": message}, status_code=code)
    return JSONResponse({"elasticsearch": status, "articles": count})


def startup_problem(app) -> str | None:
    """What keeps the archive from answering at start (Elasticsearch down, bad credentials), in
    one line, or None."""
    from search.client import check_health

    try:
        check_health(app.state.client, app.state.settings.elasticsearch)
    except Exception as exc:  # noqa: BLE001
        try:
            return explain(exc, app.state.settings)[1]
        except Exception:  # noqa: BLE001 (not an Elasticsearch failure: say what it was)
            return f"{type(exc).__name__}: {exc}"
    return None


def article_json(request: Request) -> Response:
    state = request.app.state
    if "article_id" in request.path_params:
        key = request.path_params["article_id"]
    elif request.query_params.get("url"):
        key = request.query_params["url"]
    else:
        return JSONResponse({"error": "give an id (/articles/<id>) or a URL (/articles?url=...)"}, status_code=400)
    article = article_context(es_for(request), state.settings, key)
    if article is None:
        return JSONResponse({"error": f"no archived article for {key!r}"}, status_code=404)
    return JSONResponse(article)


def search_csv(request: Request) -> Response:
    params = params_from(request.query_params)
    if "page" in params and "size" not in params:  # as `archive search --page` without --size
        raise BadRequest("page= without size= would cut the export to one page of 10: give size= too, or neither for every hit")
    if "size" in params:  # one page, as asked
        state = request.app.state
        search_request, page = request_from_params(params)
        search_request = validated(es_for(request), state.settings, search_request)
        es = state.settings.elasticsearch
        # Exports list every copy, each with its story; a file of hits has no use for facets.
        every_copy = replace(search_request, all_copies=True, facets=False)
        hits = search(es_for(request), es.articles_alias, every_copy, page=page, versions_alias=es.versions_alias).hits
        body = "".join(export_chunks("csv", hits, with_body=search_request.with_body, include_earlier=search_request.include_earlier,
                                     archive_base=pages.base_url(request)))
        record_export(request, search_request, "csv", len(hits))
        return Response(body, media_type=MEDIA_TYPES["csv"])
    return export(request, "csv")


def coverage_csv_route(request: Request) -> Response:
    """The search page's coverage chart as CSV: a period per row, a column per query."""
    name, body = coverage_csv(es_for(request), request.app.state.settings, params_from(request.query_params))
    return Response(body, media_type=MEDIA_TYPES["csv"], headers={"Content-Disposition": f'attachment; filename="{name}"'})


def export_route(fmt: str):
    return lambda request: export(request, fmt)


def export(request: Request, fmt: str) -> Response:
    """Every hit of the search (search.export's formats), streamed with search_after: memory
    stays flat however large the result set. size= limits the count; with_body=1 adds the text."""
    state = request.app.state
    es = state.settings.elasticsearch
    params = params_from(request.query_params)
    params.pop("page", None)
    bom = (params.pop("bom", None) or ["0"])[-1] == "1"
    limit = None
    if "size" in params:
        limit = _positive(params.pop("size")[-1], "size")
    search_request, _ = request_from_params(params)
    search_request = validated(es_for(request), state.settings, search_request)
    hits = iterate(es_for(request), es.articles_alias, search_request, limit=limit, versions_alias=es.versions_alias)
    first = next(hits, None)  # a bad query or a dead node answers 400/503 here, before any byte is sent
    rows = 0

    def every_hit():
        nonlocal rows
        try:
            if first is not None:
                rows += 1
                yield first
                for hit in hits:
                    rows += 1
                    yield hit
        finally:  # recorded with the rows actually sent, also when the download is cut short
            record_export(request, search_request, fmt, rows)

    chunks = export_chunks(fmt, every_hit(), with_body=search_request.with_body, include_earlier=search_request.include_earlier,
                           archive_base=pages.base_url(request))
    if fmt == "csv" and bom:
        chunks = _with_bom(chunks)
    name = export_filename(search_request.text, fmt, date.today().isoformat())
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return StreamingResponse(chunks, media_type=MEDIA_TYPES[fmt], headers=headers)


def _with_bom(chunks):
    """A byte order mark first: Excel then reads the CSV as UTF-8 (küstenschutz, not kÃ¼stenschutz).
    The page's download asks for it (bom=1); tools get plain UTF-8."""
    yield "\ufeff"
    yield from chunks


def record_export(request: Request, search_request, fmt: str, rows: int) -> None:
    """The audit trail keeps who exported which search, in which format, how many rows."""
    user = current_user(request)
    access(request).audit.record(
        "export", user.username if user else None, query=search_request.text, filters=search_filters(search_request),
        format=fmt, rows=rows, address=client_address(request),
    )


def _positive(value: str, name: str) -> int:
    number = whole_number(value)
    if number is None or number < 1:
        raise BadRequest(f"{name} must be a whole number of at least 1")
    return number


# --- the app ----------------------------------------------------------------------------------


def create_app(settings: Settings, client: Elasticsearch | None = None, bind_host: str = "127.0.0.1") -> Starlette:
    """The app; bind_host is the address it is served on (an allowed Host besides ARCHIVE_PUBLIC_URL's)."""
    routes = [
        Route("/login", access_routes.login_page, methods=["GET"]),
        Route("/login", access_routes.login, methods=["POST"]),
        Route("/logout", access_routes.logout, methods=["POST"]),
        Route("/", pages.search_page),
        Route("/search", pages.search_page),
        Route("/search.json", pages.search_page),
        Route("/search.csv", search_csv),
        Route("/coverage.csv", coverage_csv_route),
        Route("/export.csv", export_route("csv")),
        Route("/export.json", export_route("json")),
        Route("/export.ndjson", export_route("ndjson")),
        Route("/health", health),
        Route("/articles", article_json),
        Route("/articles/{article_id}", article_json),
        Route("/article/{article_id}.json", pages.article_page),
        Route("/article/{article_id}", pages.article_page),
        Route("/article/{article_id}/captured", pages.captured_view),
        Route("/article/{article_id}/captured/raw", pages.captured_raw),
        Route("/alerts", pages.alerts_page, methods=["GET"]),
        Route("/alerts", pages.save_search, methods=["POST"]),
        Route("/alerts.json", pages.alerts_page),
        Route("/alerts/{name}.atom", pages.alert_feed),
        Route("/alerts/{name}.json", pages.alert_page),
        Route("/alerts/{name}", pages.alert_page),
        Route("/alerts/{name}/check", pages.check_search, methods=["POST"]),
        Route("/alerts/{name}/remove", pages.remove_search, methods=["POST"]),
        Route("/article/{article_id}/follow", pages.follow_article, methods=["POST"]),
        Route("/alerts/{name}/rotate-feed", pages.rotate_feed, methods=["POST"]),
        Route("/feeds/{token}.atom", pages.token_feed),
        Mount("/static", app=StaticFiles(directory=pages.TEMPLATES.parent / "static"), name="static"),
    ]
    secret = new_secret()
    guard = GuardSettings(public_url=settings.alerts.public_url, bound_host=bind_host, max_body_bytes=settings.search.max_body_bytes)
    # Outermost first: the guard (headers, Host, same-origin POSTs), errors as one line, then sign-in.
    app = Starlette(routes=routes, middleware=[
        Middleware(RequestGuard, settings=guard, secret=secret), Middleware(ErrorMiddleware),
        Middleware(access_routes.SignInMiddleware),
    ])
    app.router.redirect_slashes = False  # its redirects are absolute, built from the Host header
    app.state.csrf_token = csrf_token(secret)
    app.state.settings = settings
    app.state.client = client or make_client(settings.elasticsearch)
    app.state.access = access_routes.Access.create(settings, app.state.client)
    app.state.jinja = pages.make_environment(settings.newsroom.timezone)
    return app


@contextmanager
def running_server(app, host: str = "127.0.0.1", port: int = 0):
    """Serve the app with uvicorn in a thread (tests, screenshots); yields its base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name="archive-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the web server did not start on {host}:{port}")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
