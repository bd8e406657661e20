"""The archive's Elasticsearch roles, one definition for production (deploy/setup.py) and the
local node (search/localnode.py). Standard library only: deploy/setup.py imports it too.

    newsroom_archive  the archive's service user (crawler, scheduler, web app): reads and
                      writes its own indices, and searches *as* a signed-in journalist (run_as),
                      so that their own roles decide what they read (search/web/access.py)
    archive_reader    a journalist: searches, reads and exports articles and crawl runs;
                      saved searches are theirs alone (the archive checks the owner)
    archive_admin     the same, plus the audit trail (and every saved search, in the archive)

Journalists are ordinary Elasticsearch users with archive_reader or archive_admin, so Kibana's
user management works for them too. Elasticsearch, not the archive, decides what they read.
"""

from __future__ import annotations

from typing import Iterable

SERVICE_ROLE = "newsroom_archive"
READER_ROLE = "archive_reader"
ADMIN_ROLE = "archive_admin"
ROLE_BY_NAME = {"reader": READER_ROLE, "admin": ADMIN_ROLE}
AUDIT_INDEX = "archive-audit"


def _names(aliases: Iterable[str], any_prefix: bool) -> list[str]:
    """An alias and its versioned indices (alias-v2); with any_prefix also <prefix>-alias, the
    throwaway names tests and benchmarks give each run on a development node."""
    names = set()
    for alias in aliases:
        names |= {alias, f"{alias}-*"}
        if any_prefix:
            names |= {f"*-{alias}", f"*-{alias}-*"}
    return sorted(names)


def role_bodies(
    articles: str, versions: str, runs: str, alerts: str, audit: str = AUDIT_INDEX, any_prefix: bool = False,
    scratch: tuple[str, ...] = (), state: str = "crawl-state",
) -> dict[str, dict]:
    """{role name: body for PUT /_security/role/<name>}; `scratch`: index patterns the service
    user may also use (a development node's test and benchmark indices); `state`: the crawl
    state index (crawl.state = "elasticsearch"), the service user's alone."""
    read = [articles, versions, runs]
    own = [articles, versions, runs, alerts, audit, state]
    if any_prefix:  # the suffixes with_index_prefix gives test indices (test-1a2b-versions, ...)
        read += ["versions", "runs"]
        own += ["versions", "runs", "alerts", "audit", "state"]
    readable = _names(read, any_prefix)
    reader = {
        "cluster": ["monitor", "manage_own_api_key"],
        "indices": [{"names": readable, "privileges": ["read", "view_index_metadata"]}],
    }
    admin = {
        "cluster": ["monitor", "manage_own_api_key"],
        "indices": [
            {"names": readable, "privileges": ["read", "view_index_metadata"]},
            {"names": _names([audit], any_prefix), "privileges": ["read", "view_index_metadata"]},
        ],
    }
    service = {
        "cluster": ["monitor"],
        # Elasticsearch cannot limit run_as to holders of a role: the web app only ever runs as a
        # user who has just proven their password and holds an archive role. This makes the
        # service user's password as precious as `elastic`'s (README, deploy/README-production.md).
        "run_as": ["*"],
        "indices": [{"names": _names(own, any_prefix) + list(scratch), "privileges": ["read", "write", "manage"]}],
    }
    return {SERVICE_ROLE: service, READER_ROLE: reader, ADMIN_ROLE: admin}
