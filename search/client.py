"""The one place an Elasticsearch client is built: URL, credentials and CA from settings.

Credentials, first found wins: ELASTICSEARCH_API_KEY, then ELASTICSEARCH_USERNAME/PASSWORD
(both read into the settings by archive/config.py), then, for a node on this machine, the ones
`archive es start` generated (search/node_credentials.py). So every command, test and child
process reaches the secured development node without configuration.
"""

from __future__ import annotations

from elasticsearch import Elasticsearch

from archive.config import ElasticsearchSettings
from search import node_credentials


class ElasticsearchUnavailable(RuntimeError):
    """Elasticsearch did not answer; the message says where we looked."""


def has_explicit_credentials(settings: ElasticsearchSettings) -> bool:
    return bool(settings.api_key or settings.username)


def make_client(settings: ElasticsearchSettings, *, admin: bool = False, **overrides) -> Elasticsearch:
    """A client with the archive's credentials; admin=True uses the local node's `elastic`
    superuser instead of its service user (user management), unless credentials are explicit."""
    options: dict = {
        "request_timeout": settings.request_timeout,
        "retry_on_timeout": True,
        "max_retries": 2,
    }
    if settings.api_key:
        options["api_key"] = settings.api_key
    elif settings.username:
        options["basic_auth"] = (settings.username, settings.password or "")
    else:
        local = node_credentials.find(settings.hosts)
        if local is not None:
            user = local.elastic if admin else local.service
            options["basic_auth"] = (user.username, user.password)
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
