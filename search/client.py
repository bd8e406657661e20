"""The one place an Elasticsearch client is built: URL, credentials and CA from settings."""

from __future__ import annotations

from elasticsearch import Elasticsearch

from archive.config import ElasticsearchSettings


class ElasticsearchUnavailable(RuntimeError):
    """Elasticsearch did not answer; the message says where we looked."""


def make_client(settings: ElasticsearchSettings, **overrides) -> Elasticsearch:
    options: dict = {
        "request_timeout": settings.request_timeout,
        "retry_on_timeout": True,
        "max_retries": 2,
    }
    if settings.api_key:
        options["api_key"] = settings.api_key
    elif settings.username:
        options["basic_auth"] = (settings.username, settings.password or "")
    if settings.ca_certs:
        options["ca_certs"] = settings.ca_certs
    options.update(overrides)
    return Elasticsearch(list(settings.hosts), **options)


def check_health(client: Elasticsearch, settings: ElasticsearchSettings, timeout: str = "5s") -> dict:
    """cluster.health, not info(): `GET /` is absent on the test distribution."""
    from elastic_transport import TransportError
    from elasticsearch import ApiError

    try:
        return dict(client.cluster.health(timeout=timeout))
    except (TransportError, ApiError) as exc:
        raise ElasticsearchUnavailable(
            f"Elasticsearch at {', '.join(settings.hosts)} is not reachable ({type(exc).__name__}: {exc}). "
            "Start the local node with `archive es start`, or set ELASTICSEARCH_URL."
        ) from None
