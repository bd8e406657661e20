"""The archive's store: Elasticsearch indices, writes and searches (nothing of the crawler).

The Elasticsearch client talks HTTP through urllib3, but elastic_transport imports every
other HTTP library it finds (aiohttp, requests, httpx) to offer it as an optional node
class; aiohttp alone is there as Scrapy's dependency, and loading them costs `archive search`
about 0.17 s of its ~0.5 s. So this package, which every use of the client goes through,
loads elastic_transport first while those imports fail (Python's own way: a None entry in
sys.modules); afterwards they import as usual for whoever needs them (Scrapy).
"""

import sys

_OPTIONAL_TRANSPORTS = ("aiohttp", "requests", "httpx")


def _load_elastic_transport_without_optional_http_libraries() -> None:
    blocked = [name for name in _OPTIONAL_TRANSPORTS if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None
    try:
        import elastic_transport  # noqa: F401
    finally:
        for name in blocked:
            if sys.modules.get(name, "kept") is None:
                del sys.modules[name]


_load_elastic_transport_without_optional_http_libraries()
