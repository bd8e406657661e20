"""The record of every crawl run, in the crawl-runs index (one document per site and run).

If Elasticsearch is down when a run ends, the record waits in a local file and is sent with
the next record, so the run history has no holes.
"""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch, NotFoundError

from archive.config import Settings
from search.client import make_client
from search.indices import RUNS_DEFINITION, ensure_index, replica_count

logger = logging.getLogger(__name__)


def run_documents(outcome, trigger: str, run_id: str | None = None) -> list[dict]:
    run_id = run_id or uuid.uuid4().hex[:12]
    docs = []
    # A run that died before any summary still gets a record for each site it was to crawl.
    summaries = {name: outcome.sites.get(name, {}) for name in outcome.requested_sites or outcome.sites}
    for site, summary in sorted(summaries.items()):
        # Each site's record has its own status (a site that finished before another timed out
        # stays ok); a site without a summary (the crawl died first) has the run's.
        status, error = outcome.status, outcome.error
        if summary.get("status"):
            status, error = summary["status"], summary.get("error")
        docs.append(
            {
                "run_id": run_id,
                "site": site,
                "trigger": trigger,
                "started": outcome.started.isoformat(timespec="seconds"),
                "ended": outcome.ended.isoformat(timespec="seconds"),
                "duration_seconds": round(outcome.duration_seconds, 2),
                "status": status,
                "exit_code": outcome.exit_code,
                "pages_fetched": summary.get("pages_fetched", 0),
                "requests": summary.get("requests", 0),
                "not_modified": summary.get("not_modified", 0),
                "articles_new": summary.get("articles_new", 0),
                "articles_updated": summary.get("articles_updated", 0),
                "articles_unchanged": summary.get("articles_unchanged", 0),
                "articles_spooled": summary.get("articles_spooled", 0),
                "remaining_listings": summary.get("remaining_listings", 0),
                "over_budget": summary.get("over_budget", 0),
                "canonical_conflicts": summary.get("canonical_conflicts", 0),
                "rejected_total": summary.get("rejected_total", 0),
                "rejections": summary.get("rejections", {}),
                "errors": ([error] if error else []) + summary.get("errors", []),
                "error_count": (1 if error else 0) + summary.get("index_errors", 0),
                # A few URLs per reason (crawler/rejections.py), for `archive runs --rejections`.
                "rejected_urls": summary.get("rejected_samples", {}),
                "ignored_urls": summary.get("url_samples", {}),
            }
        )
    return docs


def record_outcome(settings: Settings, outcome, trigger: str) -> list[dict]:
    """Store the run's records (one per site); kept locally if Elasticsearch is down."""
    docs = run_documents(outcome, trigger)
    pending = _pending_file(settings)
    backlog = _read_backlog(pending)
    try:
        client = make_client(settings.elasticsearch)
        replicas = replica_count(client, settings.elasticsearch.replicas)
        ensure_index(client, settings.elasticsearch.runs_index, RUNS_DEFINITION, replicas=replicas)
        for doc in backlog + docs:
            client.index(index=settings.elasticsearch.runs_index, id=f"{doc['run_id']}-{doc['site']}", document=doc, refresh="wait_for")
        pending.unlink(missing_ok=True)
    except (TransportError, ApiError) as exc:
        logger.error("could not record the run in Elasticsearch (%s); kept in %s", exc, pending)
        pending.parent.mkdir(parents=True, exist_ok=True)
        with pending.open("a", encoding="utf-8") as out:
            for doc in docs:
                out.write(json.dumps(doc) + "\n")
    return docs


def flush_pending_runs(settings: Settings) -> int:
    """Write the run records kept while Elasticsearch was unreachable; how many. Raises
    TransportError when it still is (the records stay kept)."""
    pending = _pending_file(settings)
    backlog = _read_backlog(pending)
    if not backlog:
        return 0
    client = make_client(settings.elasticsearch)
    ensure_index(client, settings.elasticsearch.runs_index, RUNS_DEFINITION,
                 replicas=replica_count(client, settings.elasticsearch.replicas))
    for doc in backlog:
        client.index(index=settings.elasticsearch.runs_index, id=f"{doc['run_id']}-{doc['site']}", document=doc, refresh="wait_for")
    pending.unlink(missing_ok=True)
    return len(backlog)


def list_runs(client: Elasticsearch, index: str, site: str | None = None, size: int = 20) -> list[dict]:
    query = {"term": {"site": site}} if site else {"match_all": {}}
    try:
        response = client.search(index=index, query=query, sort=[{"started": "desc"}], size=size)
    except NotFoundError:
        return []
    return [hit["_source"] for hit in response["hits"]["hits"]]


def run_records(client: Elasticsearch, index: str, run_id: str | None = None, site: str | None = None) -> list[dict]:
    """The records (one per site) of one run: the given run id, else the latest run (of the site)."""
    if run_id is None:
        latest = list_runs(client, index, site=site, size=1)
        if not latest:
            return []
        run_id = latest[0]["run_id"]
    filters = [{"term": {"run_id": run_id}}] + ([{"term": {"site": site}}] if site else [])
    try:
        response = client.search(index=index, query={"bool": {"filter": filters}}, sort=[{"site": "asc"}], size=1000)
    except NotFoundError:
        return []
    return [hit["_source"] for hit in response["hits"]["hits"]]


def _pending_file(settings: Settings) -> Path:
    return settings.data_dir / "runs-pending.ndjson"


def _read_backlog(path: Path) -> list[dict]:
    if not path.exists():
        return []
    docs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            docs.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return docs


LOW_CONFIDENCE_FIELDS = ["url", "title", "site", "confidence", "body_source", "body_candidates", "word_count", "crawled_at"]


def low_confidence_articles(client: Elasticsearch, articles_alias: str, runs_index: str, below: float,
                            run_id: str | None = None, site: str | None = None) -> tuple[list[dict], list[dict]]:
    """(the run's records, its articles whose body confidence is below `below`, least sure first).
    A run's articles are those of its sites crawled while it ran; articles stored before
    confidence existed have none and are not listed."""
    records = run_records(client, runs_index, run_id=run_id, site=site)
    found: list[dict] = []
    for record in records:
        query = {"bool": {"filter": [
            {"term": {"site": record["site"]}},
            {"range": {"crawled_at": {"gte": record["started"], "lte": record["ended"]}}},
            {"range": {"confidence": {"lt": below}}},
        ]}}
        try:
            response = client.search(index=articles_alias, query=query, sort=[{"confidence": "asc"}], size=1000,
                                     _source=LOW_CONFIDENCE_FIELDS)
        except NotFoundError:
            continue
        found.extend({"id": hit["_id"], **hit["_source"]} for hit in response["hits"]["hits"])
    return records, sorted(found, key=lambda a: a.get("confidence", 0.0))
