"""Writes articles through the alias, in bulk, idempotently.

Document id = hash of the canonical URL, so a re-crawl overwrites rather than duplicates.
Before writing, the stored content hashes are fetched: an unchanged article costs no write,
a changed one keeps its first-seen date and its previous text goes to the versions index.
Per-document errors are counted and reported, never fatal. Every stored batch is then matched
against the saved searches (search/alert_matching.py), whoever writes: a crawl, re-extraction
or the spool's replay.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from elasticsearch import Elasticsearch, helpers

from archive.config import ElasticsearchSettings
from search.alert_matching import AlertMatcher
from search.analysis import with_stems
from search.holdings import forget
from search.stories import StoryAssigner, with_bands

logger = logging.getLogger(__name__)

# What an earlier capture keeps of itself in the versions index.
VERSION_FIELDS = (
    "url", "site", "title", "authors", "published", "modified", "body", "content_hash", "crawled_at", "warc_file",
    "warc_offset", "description", "language", "tags", "section",  # searched with --include-earlier
)


@dataclass
class WriteResult:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    new_ids: list[str] = field(default_factory=list)
    updated_ids: list[str] = field(default_factory=list)
    failed_ids: list[str] = field(default_factory=list)

    def add(self, other: "WriteResult") -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.failed += other.failed
        self.errors.extend(other.errors[:20])
        self.new_ids.extend(other.new_ids)
        self.updated_ids.extend(other.updated_ids)
        self.failed_ids.extend(other.failed_ids)


def display_date(document: dict) -> str | None:
    """The date every article has, for Kibana's time field and date charts: published, else
    first seen (else, for an article stored before first_seen existed, when it was crawled)."""
    return document.get("published") or document.get("first_seen") or document.get("crawled_at")


class ArticleWriter:
    def __init__(self, client: Elasticsearch, settings: ElasticsearchSettings, alerts: AlertMatcher | None = None):
        """alerts: how stored batches are matched against saved searches; by default at once,
        after each write (a crawl passes a DeferredMatcher: the delivery rounds match its batches)."""
        self.client = client
        self.alias = settings.articles_alias
        self.versions_alias = settings.versions_alias
        self.chunk_size = settings.bulk_size
        self.alerts = alerts or AlertMatcher(client, settings)
        self._wrote = False

    def write(self, documents: dict[str, dict]) -> WriteResult:
        """documents: doc id -> document. Raises only when Elasticsearch cannot be reached."""
        result = WriteResult()
        if not documents:
            return result
        stored = self._stored(list(documents))
        actions = []
        to_write: dict[str, dict] = {}
        outcome: dict[str, str] = {}
        previous_text: dict[str, dict] = {}  # updated articles: what they said before (followed articles' diffs)
        for doc_id, document in documents.items():
            previous = stored.get(doc_id)
            if previous is None:
                outcome[doc_id] = "new"
                document = {**document, "first_seen": document.get("crawled_at"), "edited": False, "version_count": 1}
                document["display_date"] = display_date(document)
            elif previous.get("content_hash") == document.get("content_hash"):
                result.unchanged += 1
                continue
            else:
                outcome[doc_id] = "updated"
                previous_text[doc_id] = {"title": previous.get("title"), "body": previous.get("body")}
                actions.append(self._version_action(doc_id, previous))
                document = {
                    **document,
                    "first_seen": previous.get("first_seen") or previous.get("crawled_at"),
                    "edited": True,
                    "version_count": int(previous.get("version_count") or 1) + 1,
                }
                document["display_date"] = display_date(document)
            to_write[doc_id] = with_bands(document)
        moved = self._stories(to_write)
        # The store fills the folded, stemmed fields itself, whoever built the document.
        actions += [{"_op_type": "index", "_index": self.alias, "_id": doc_id, "_source": with_stems(document)}
                    for doc_id, document in {**moved, **to_write}.items()]

        marker_id = None
        if outcome and self.alerts.active():
            # In the same bulk request as the articles, before them: a batch stored is a batch
            # that will be matched, even if this process dies right after storing it.
            marker_id, marker = self.alerts.marker(sorted(outcome))
            actions.insert(0, marker)
        for ok, item in helpers.streaming_bulk(
            self.client,
            actions,
            chunk_size=self.chunk_size,
            max_retries=3,  # 429 from a busy node: back off and resend
            initial_backoff=1,
            raise_on_error=False,
            raise_on_exception=True,
        ):
            info = next(iter(item.values()))
            doc_id = info.get("_id", "")
            if doc_id == marker_id:
                if not ok:
                    logger.error("could not record the batch for saved searches: %s", info.get("error"))
                continue
            if info.get("_index", "").startswith(self.versions_alias):
                if not ok:
                    logger.error("could not keep the earlier version of %s: %s", doc_id, info.get("error"))
                continue
            if doc_id not in outcome:  # an earlier copy relabelled with its story's new first copy
                if not ok:
                    logger.error("could not move %s to its story: %s", doc_id, info.get("error"))
                continue
            if ok:
                kind = outcome[doc_id]
                if kind == "new":
                    result.new += 1
                    result.new_ids.append(doc_id)
                else:
                    result.updated += 1
                    result.updated_ids.append(doc_id)
            else:
                result.failed += 1
                result.failed_ids.append(doc_id)
                error = info.get("error", {})
                message = f"{doc_id}: {error.get('type', 'error')}: {error.get('reason', error)}"
                result.errors.append(message)
                logger.error("Elasticsearch rejected %s", message)
        forget(self.alias)  # a new site, language or tag may have come with these
        if marker_id is not None:
            self.alerts.after_write(marker_id, result.new_ids, {i: previous_text[i] for i in result.updated_ids}, documents)
        return result

    def _stories(self, documents: dict[str, dict]) -> dict[str, dict]:
        """Set each document's story; the stored copies whose story changes, to rewrite."""
        if not documents:
            return {}
        if self._wrote:  # our previous batch must be searchable, or its copies are missed
            self.client.indices.refresh(index=self.alias)
        self._wrote = True
        return StoryAssigner(self.client, self.alias).assign(documents)

    def _stored(self, ids: list[str]) -> dict[str, dict]:
        stored = {}
        response = self.client.mget(index=self.alias, ids=ids, source_excludes=["url_variants"])
        for doc in response["docs"]:
            if doc.get("found"):
                stored[doc["_id"]] = doc["_source"]
        return stored

    def _version_action(self, doc_id: str, previous: dict) -> dict:
        captured = previous.get("crawled_at")
        version = {k: previous.get(k) for k in VERSION_FIELDS if previous.get(k) is not None}
        version.update(article_id=doc_id, captured_at=captured)
        return {
            "_op_type": "index",
            "_index": self.versions_alias,
            "_id": f"{doc_id}-{previous.get('content_hash', '')[:16]}",
            "_source": with_stems(version),
        }
