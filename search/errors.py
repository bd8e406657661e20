"""Elasticsearch failures explained in one line that names the URL and the fix.

The CLI prints it and exits non-zero (the traceback only with -v); the HTTP API answers 503
with it, or 400 when Elasticsearch refused the query itself (``query_refusal``: too many
clauses, a prefix too long...), which is the query's fault, not the cluster's. ``explain``
returns None for what is not an Elasticsearch failure. No message carries a password.
"""

from __future__ import annotations

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout, TransportError
from elasticsearch import ApiError, AuthenticationException, AuthorizationException, NotFoundError

from archive.redact import redact
from search.client import ElasticsearchUnavailable

START_HINT = "start it with `archive es start`, or set ELASTICSEARCH_URL to where it runs"
CREDENTIALS_HINT = (
    "check ELASTICSEARCH_USERNAME/ELASTICSEARCH_PASSWORD or ELASTICSEARCH_API_KEY (for a node started "
    "by `archive es start`, leave them unset: its credentials are found in ~/.config/newsroom-archive/local-nodes)"
)


def query_refusal(exc: BaseException) -> str | None:
    """Elasticsearch refused this query (400: too many clauses, a prefix or slop beyond its
    limits, a query nested too deep): one line that says why, or None for other failures."""
    if isinstance(exc, ApiError) and exc.status_code == 400 and _error_type(exc) != "index_not_found_exception":
        return redact(f"Elasticsearch refused the query: {_reason(exc)}; simplify the query (fewer words or operators, shorter prefixes)")
    return None


def explain(exc: BaseException, url: str) -> str | None:
    """One line for an Elasticsearch failure, e.g. 'Elasticsearch is not reachable at
    http://127.0.0.1:9200: start it with `archive es start`, ...'."""
    message = _explain(exc, url)
    return None if message is None else redact(message)


def _explain(exc: BaseException, url: str) -> str | None:
    url = redact(url)
    if (refused := query_refusal(exc)) is not None:
        return refused
    if isinstance(exc, ElasticsearchUnavailable):
        return str(exc)
    if isinstance(exc, ConnectionTimeout):
        return f"Elasticsearch at {url} did not answer in time: it may be starting or overloaded; check `archive es status`"
    if isinstance(exc, TransportConnectionError):
        return f"Elasticsearch is not reachable at {url}: {START_HINT}"
    if isinstance(exc, AuthenticationException):
        return f"Elasticsearch at {url} refused the credentials (401): {CREDENTIALS_HINT}"
    if isinstance(exc, AuthorizationException):
        return f"Elasticsearch at {url} does not allow this user to read the archive (403): {CREDENTIALS_HINT}"
    if isinstance(exc, NotFoundError):
        if _error_type(exc) == "index_not_found_exception":
            index = (exc.body.get("error") or {}).get("index") or "its indices"
            return f"the archive at {url} has no index {index!r} yet: run `archive index init` or a crawl"
        return f"Elasticsearch at {url}: not found ({_reason(exc)})"
    if isinstance(exc, ApiError):
        if exc.status_code in (503, 500) or _error_type(exc) in ("search_phase_execution_exception", "cluster_block_exception"):
            return (
                f"Elasticsearch at {url} cannot answer ({exc.status_code}, {_reason(exc)}): the cluster may be red or "
                "still starting; check `archive es status` or its log"
            )
        return f"Elasticsearch at {url} refused the request ({exc.status_code}): {_reason(exc)}"
    if isinstance(exc, TransportError):
        return f"Elasticsearch at {url} failed: {exc}; {START_HINT}"
    return None


def _error_type(exc: ApiError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    return (body.get("error") or {}).get("type", "") if isinstance(body.get("error"), dict) else ""


def _reason(exc: ApiError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error")
    if isinstance(error, dict):
        causes = error.get("root_cause") or []
        reason = (causes[0] if causes else error).get("reason") or error.get("type")
        return str(reason)
    return str(error or exc.message)
