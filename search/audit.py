"""The audit trail: who signed in (or failed to), who exported what, who changed which saved
search. One document per event in the `archive-audit` alias (settings.elasticsearch.audit_alias,
definition definitions/audit.json), written by the archive's service user; admins read it with
`archive audit` and in Kibana ("Archive audit").

    sign-in          outcome success|failure, user, address (reason on failure)
    sign-out         user, address
    export           user, query, filters, format, rows (the page, the API and `archive search
                     --format`, recorded as operator:<login name>)
    saved-search     outcome added|followed|removed|feed-rotated|migrated, saved_search, owner, user
    search           user, query, filters (only with [audit] searches = true: a newsroom
                     protects what its reporters look into)

Recording never fails what it records: an audit write that Elasticsearch refuses is logged as
an error, with the event, and the request goes on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone

from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch, NotFoundError

logger = logging.getLogger(__name__)

EVENTS = ("sign-in", "sign-out", "export", "saved-search", "search")


def utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def search_filters(request) -> dict:
    """A SearchRequest's filters as the audit trail keeps them (the words go in `query`)."""
    return {k: v for k, v in (
        ("sites", list(request.sites)), ("authors", list(request.authors)), ("tags", list(request.tags)),
        ("languages", list(request.languages)), ("since", str(request.since or "") or None),
        ("until", str(request.until or "") or None),
    ) if v}


def operator() -> str:
    """Who a command-line action is recorded as: the operator's login name."""
    import getpass

    return f"operator:{getpass.getuser()}"


@dataclass
class AuditLog:
    client: Elasticsearch
    alias: str
    _ready: bool = False

    def record(self, event: str, user: str | None, **details) -> None:
        document = {"@timestamp": utcnow(), "event": event, "user": user,
                    **{k: v for k, v in details.items() if v is not None}}
        try:
            if not self._ready:  # never let a write create a plain index where the alias belongs
                from search.indices import AUDIT_DEFINITION, ensure_index

                ensure_index(self.client, self.alias, AUDIT_DEFINITION)
                self._ready = True
            self.client.index(index=self.alias, document=document)
        except (TransportError, ApiError) as exc:
            logger.error("audit: could not record %s for %s (%s): %s", event, user, document, exc)

    def read(self, since: str | None = None, user: str | None = None, event: str | None = None,
             size: int = 1000) -> list[dict]:
        """Newest first."""
        filters: list[dict] = []
        if since:
            filters.append({"range": {"@timestamp": {"gte": since}}})
        if user:
            filters.append({"term": {"user": user}})
        if event:
            filters.append({"term": {"event": event}})
        try:
            self.client.indices.refresh(index=self.alias)
            response = self.client.search(index=self.alias, query={"bool": {"filter": filters}},
                                          sort=[{"@timestamp": "desc"}], size=size)
        except NotFoundError:
            return []
        return [h["_source"] for h in response["hits"]["hits"]]
