"""What every benchmark needs: the project's settings, a live Elasticsearch, throwaway indices."""

from __future__ import annotations

import uuid
from dataclasses import replace

from archive.config import Settings, load_settings
from search.client import check_health, make_client


def throwaway_indices() -> tuple[Settings, object]:
    """settings.toml with index names of its own (bench-<id>-*), and a client that answers."""
    base = load_settings()
    client = make_client(base.elasticsearch)
    check_health(client, base.elasticsearch)
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    es = base.elasticsearch.with_index_prefix(prefix)
    return replace(base, elasticsearch=es), client
