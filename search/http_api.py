"""A small read-only HTTP API over the search module, for newsroom tools.

    GET /health                          Elasticsearch health and article count
    GET /search?q=...&site=&author=&tag=&lang=&since=&until=&edited=1&sort=&size=&page=
    GET /search.csv?...                  the same hits as CSV
    GET /articles/<id>                   one article, body included
    GET /articles?url=<url>              one article by any URL it was reached under

Errors are JSON: {"error": "..."} with 400 for a bad query, 404 for an unknown article,
503 when Elasticsearch is down. Bound to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from datetime import date
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch, NotFoundError

from archive.config import ElasticsearchSettings
from search.query import MARK_POST, MARK_PRE, QuerySyntaxError, SearchRequest, SORTS
from search.service import get_article, search

logger = logging.getLogger(__name__)

CSV_COLUMNS = ("url", "title", "site", "authors", "published", "score", "snippets")


class BadRequest(ValueError):
    pass


def request_from_params(params: dict[str, list[str]]) -> tuple[SearchRequest, int]:
    def one(name: str, default: str | None = None) -> str | None:
        values = params.get(name)
        return values[-1] if values else default

    def day(name: str) -> date | None:
        value = one(name)
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise BadRequest(f"{name}={value!r} is not a date: use YYYY-MM-DD") from None

    def number(name: str, default: int, low: int, high: int) -> int:
        value = one(name, str(default))
        if not value.isdigit() or not low <= int(value) <= high:
            raise BadRequest(f"{name} must be a whole number from {low} to {high}")
        return int(value)

    sort = one("sort", "relevance")
    if sort not in SORTS:
        raise BadRequest(f"sort must be one of {', '.join(SORTS)}")
    request = SearchRequest(
        text=one("q", "") or "",
        sites=tuple(params.get("site", [])),
        authors=tuple(params.get("author", [])),
        tags=tuple(params.get("tag", [])),
        languages=tuple(params.get("lang", [])),
        since=day("since"),
        until=day("until"),
        edited=one("edited") in ("1", "true", "yes"),
        sort=sort,
        size=number("size", 10, 1, 100),
    )
    return request, number("page", 1, 1, 1_000_000)


def make_handler(client: Elasticsearch, settings: ElasticsearchSettings):
    alias = settings.articles_alias

    class Handler(BaseHTTPRequestHandler):
        server_version = "NewsroomArchive/0.1"

        def do_GET(self):  # noqa: N802 (http.server's naming)
            parts = urlsplit(self.path)
            params = parse_qs(parts.query)
            try:
                if parts.path == "/health":
                    self._json(self._health())
                elif parts.path in ("/search", "/search.csv"):
                    request, page = request_from_params(params)
                    response = search(client, alias, request, page=page)
                    if parts.path.endswith(".csv"):
                        self._csv(response.hits)
                    else:
                        self._json(
                            {
                                "total": response.total,
                                "page": page,
                                "hits": [h.as_dict() for h in response.hits],
                                "facets": {"sites": dict(response.sites), "months": dict(response.months)},
                            }
                        )
                elif parts.path.startswith("/articles/") or (parts.path == "/articles" and "url" in params):
                    key = params["url"][-1] if parts.path == "/articles" else parts.path.split("/", 2)[2]
                    article = get_article(client, alias, key)
                    if article is None:
                        self._json({"error": f"no archived article for {key!r}"}, HTTPStatus.NOT_FOUND)
                    else:
                        self._json(article)
                else:
                    self._json({"error": "not found: try /search?q=..., /articles/<id>, /health"}, HTTPStatus.NOT_FOUND)
            except (BadRequest, QuerySyntaxError) as exc:
                self._json({"error": str(exc)}, HTTPStatus.BAD_REQUEST)
            except NotFoundError:
                self._json({"error": "the archive has no articles index yet"}, HTTPStatus.SERVICE_UNAVAILABLE)
            except (TransportError, ApiError) as exc:
                logger.error("Elasticsearch error: %s", exc)
                self._json({"error": "Elasticsearch is unavailable"}, HTTPStatus.SERVICE_UNAVAILABLE)

        def _health(self) -> dict:
            health = client.cluster.health()
            try:
                count = client.count(index=alias)["count"]
            except NotFoundError:
                count = 0
            return {"elasticsearch": health["status"], "articles": count}

        def _json(self, payload, status: HTTPStatus = HTTPStatus.OK) -> None:
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _csv(self, hits) -> None:
            out = io.StringIO()
            writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            for hit in hits:
                row = hit.as_dict()
                row["authors"] = "; ".join(row["authors"])
                row["snippets"] = " … ".join(s.replace(MARK_PRE, "").replace(MARK_POST, "") for s in row["snippets"])
                writer.writerow(row)
            body = out.getvalue().encode("utf-8")
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/csv; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *args):
            logger.info("%s %s", self.address_string(), fmt % args)

    return Handler


def make_server(client: Elasticsearch, settings: ElasticsearchSettings, host: str = "127.0.0.1", port: int = 8800):
    return ThreadingHTTPServer((host, port), make_handler(client, settings))
