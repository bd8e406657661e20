"""Matching stored articles against every saved search: a crawl's batches in the delivery rounds, others as stored.

Elasticsearch's percolator would be the conventional engine, but it is the `percolator` module,
which the development node (Elastic's integ-test-zip distribution) does not have: a mapping with
a `percolator` field is refused there ("The mapper type [percolator] ... does not exist"), and the
archive's mapping must run everywhere; nor is the module published on Maven Central for this
version (neither org.elasticsearch.plugin:percolator-client nor a percolator module artifact
exists there for 9.5.4), so it cannot be added to the node. So each batch is matched with one multi-search: every
saved search's compiled query (what `archive search` runs, stems included), restricted to the
batch's ids. The cost grows with batches × saved searches, but each query only visits the
batch's documents; benchmarks/alerts_scale.py measures it.

Nothing is lost between storing and matching: the writer puts a ``pending:<uuid>`` marker naming
the batch's articles in the same bulk request as the articles (before them), and marks it ready
once the request is done. A crawl matches nothing itself (``DeferredMatcher``): its batches wait
as ready markers, and each delivery round matches every ready marker at once (``match_waiting``),
so matching costs a request per round and group of saved searches, whatever the crawl's batch
sizes, and none of it on the crawl's write path. A marker is deleted only after its batch is
matched; one never marked ready (its writer died mid-request) is matched after STALE_MARKER.
Match entries are created with op_type=create and fixed ids, so matching the same batch twice
(a round killed after creating entries, two rounds at once) reports nothing twice.
"""

from __future__ import annotations

import functools
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

from elasticsearch import ApiError, BadRequestError, Elasticsearch, NotFoundError

from archive.config import ElasticsearchSettings
from search.alerts import (
    CHANGED, COMPILED_WITH, EDITED, FIRST, LEASE, MATCH_FIELDS, NEW, PENDING, AlertStore, SavedSearch, es_reason, utcnow,
)
from search.analysis import fold, language_code, stem
from search.query import MARK_POST, MARK_PRE, SearchRequest, build_search_body, parse_query
from search.versions import what_changed

logger = logging.getLogger(__name__)

GROUP = 50  # saved searches per query (named clauses): well under Elasticsearch's clause limit
MSEARCH_CHUNK = 40  # queries per multi-search request: bounds the request's size
STALE_MARKER = timedelta(minutes=2)  # a live writer matches its batch within seconds


@dataclass
class MatchOutcome:
    entries: int = 0  # match entries created (each to be delivered)
    errors: int = 0  # saved searches Elasticsearch refused
    leased: list[dict] = field(default_factory=list)  # created entries due now, claimed by this matcher to send at once
    failed: bool = False  # not matched (Elasticsearch failed): its markers stay for a later round


class AlertMatcher:
    def __init__(self, client: Elasticsearch, settings: ElasticsearchSettings,
                 deliver: Callable[[list[dict]], object] | None = None):
        """deliver: given the entries a batch created that are due now, sends them at once (a
        delivery round sets it while it matches). The entries are created claimed (a lease, as
        a delivery round claims them), so no other round sends them too, and no claim costs a
        write; if this process dies first, the lease expires and a later round sends them.
        Without it, the delivery rounds claim and send them."""
        self.client = client
        self.deliver = deliver
        self.settings = settings
        self.alias = settings.alerts_alias
        self.articles = settings.articles_alias
        self.versions = settings.versions_alias
        self._exists = False
        self._versions: dict[str, tuple[int, int]] = {}  # saved search id -> (seq_no, primary_term) of the copy held
        self._searches: list[SavedSearch] = []
        self._narrowed: dict[tuple, dict] = {}  # (search, languages) -> its query for articles of those languages

    def active(self) -> bool:
        """Whether anything was ever saved (the saved-searches index exists)."""
        if not self._exists:
            try:
                exists = bool(self.client.indices.exists_alias(name=self.alias))
                if exists:
                    from search.indices import ensure_alert_fields

                    ensure_alert_fields(self.client, self.alias)  # an index saved by an older version
            except ApiError as exc:  # e.g. no right to the index: the articles are stored all the same
                logger.error("saved searches cannot be matched (%s); articles are stored without alerts", es_reason(exc))
                return False
            self._exists = exists
        return self._exists

    def marker(self, article_ids: list[str]) -> tuple[str, dict]:
        """The bulk action that records the batch as not yet matched."""
        marker_id = f"pending:{uuid.uuid4().hex}"
        return marker_id, {"_op_type": "index", "_index": self.alias, "_id": marker_id,
                           "_source": {"kind": "pending", "state": "writing", "article_ids": article_ids, "matched_at": utcnow()}}

    def after_write(self, marker_id: str, new_ids: list[str], updated: dict[str, dict], documents: dict[str, dict]) -> MatchOutcome:
        """Match what the writer stored, now. Never raises: a failure is one log line and the
        marker stays (ready) for the next delivery round to match again."""
        outcome = self._match_marked([marker_id], new_ids, updated, documents)
        if outcome.failed:
            self.mark_ready(marker_id)
        return outcome

    def mark_ready(self, marker_id: str) -> None:
        """The batch's articles are all written: a delivery round may match it now. Never
        raises: a marker left unready is matched after STALE_MARKER all the same."""
        try:
            self.client.update(index=self.alias, id=marker_id, doc={"state": "ready"})
        except Exception as exc:  # noqa: BLE001 (the articles are stored: that must not fail)
            logger.warning("saved searches: batch marker not marked ready (%s); it is matched within %d min",
                           es_reason(exc) if isinstance(exc, ApiError) else exc, STALE_MARKER.seconds // 60)

    def close(self) -> None:
        """Nothing waits: matching happened in after_write."""

    def _match_marked(self, marker_ids: list[str], new_ids: list[str], updated: dict[str, dict], documents: dict[str, dict],
                      stored_at: dict[str, str] | None = None) -> MatchOutcome:
        from elasticsearch import helpers  # here: it loads the async client, ~0.5 s of a command's start

        try:
            outcome = self.match(new_ids, updated, documents, stored_at)
            helpers.bulk(self.client, ({"_op_type": "delete", "_index": self.alias, "_id": m} for m in marker_ids), raise_on_error=False)
            if outcome.leased and self.deliver is not None:
                self.deliver(outcome.leased)  # never raises (search/outbox.py deliver_due)
            return outcome
        except Exception as exc:  # noqa: BLE001 (matching must never fail a write)
            logger.error("saved searches not matched yet for %d stored article(s) (%s: %s); the next delivery round retries",
                         len(new_ids) + len(updated), type(exc).__name__, es_reason(exc) if isinstance(exc, ApiError) else exc)
            return MatchOutcome(failed=True)

    # --- matching ---------------------------------------------------------------------------

    def match(self, new_ids: list[str], updated: dict[str, dict], documents: dict[str, dict],
              stored_at: dict[str, str] | None = None) -> MatchOutcome:
        """new_ids: articles stored for the first time; updated: id -> the previous capture
        (title, body) of articles whose text changed; documents: id -> what was stored;
        stored_at: id -> when its batch was stored, when that was before now (a round matching
        a crawl's batches): a search saved after that reports nothing of it (it was there)."""
        outcome = MatchOutcome()
        ids = list(new_ids) + list(updated)
        if not ids:
            return outcome
        searches = self.saved_searches()
        if not searches:
            return outcome
        # The batch (and the earlier versions it replaced) must be visible to the queries.
        self.client.indices.refresh(index=f"{self.articles},{self.versions}", ignore_unavailable=True)
        entries: list[dict] = []
        now = utcnow()
        first_time = set(new_ids)
        queries = [s for s in searches if not s.follows and not s.quiet]
        matched = self._run(queries, ids, documents, outcome)
        if stored_at:
            matched = [(s, c, kept) for s, c, hits in matched if (kept := [h for h in hits if not _was_there(s, stored_at.get(h["_id"]))])]
        reported = self._reported([f"match:{s.key}:{h['_id']}" for s, _, hits in matched for h in hits])
        to_report: list[tuple[SavedSearch, dict, dict, str]] = []
        for search, compiled, hits in matched:
            if search.first_appearance:
                earliest = min(hits, key=lambda h: (h["_source"].get("published") or h["_source"].get("first_seen") or "", h["_id"]))
                to_report.append((search, compiled, earliest, FIRST))
                continue
            for hit in hits:
                if f"match:{search.key}:{hit['_id']}" in reported:
                    continue
                change = NEW if hit["_id"] in first_time else self._edit(search, hit)
                if change:
                    to_report.append((search, compiled, hit, change))
        for search, _, hit, change in to_report:
            document = documents.get(hit["_id"]) or {}
            snippet = marked_snippet(search.query, document.get("body") or "", document.get("language")) \
                or hit["_source"].get("description") or ""
            entry = self._entry(search, hit["_id"], hit["_source"], snippet, change, now)
            if change == FIRST:  # once ever, whichever article comes first
                entry["_id"] = f"match:{search.key}:first"
                self.client.update(index=self.alias, id=search.doc_id, doc={"quiet": True})
                self._remember(replace(search, quiet=True))
            entries.append(entry)
        for search in (s for s in searches if s.follows in updated and not _was_there(s, (stored_at or {}).get(s.follows))):
            current = documents.get(search.follows) or {}
            previous = updated[search.follows] or {}
            diff = what_changed(previous.get("title") or "", previous.get("body") or "",
                                current.get("title") or "", current.get("body") or "")
            snippet = (diff["added"] or diff["removed"] or [current.get("description") or ""])[0][:300]
            entry = self._entry(search, search.follows, current, snippet, CHANGED, now, diff=diff)
            entry["_id"] = f"match:{search.key}:{search.follows}:{(current.get('content_hash') or uuid.uuid4().hex)[:16]}"
            entries.append(entry)
        outcome.entries, outcome.leased = self._create(entries)
        return outcome

    def saved_searches(self) -> list[SavedSearch]:
        """Every saved search with its compiled query. The copies are kept between rounds: one
        small request lists each search's sequence number, and only the searches added or
        changed since (saved, edited, migrated, compiled again) are read again."""
        from elasticsearch import helpers  # here: it loads the async client, ~0.5 s of a command's start

        query = {"term": {"kind": "search"}}
        try:
            hits = self.client.search(index=self.alias, size=10_000, source=False, seq_no_primary_term=True, query=query)["hits"]["hits"]
            if len(hits) == 10_000:  # more than one page holds
                hits = list(helpers.scan(self.client, index=self.alias, size=5000,
                                         query={"query": query, "_source": False, "seq_no_primary_term": True}))
        except NotFoundError:
            return []
        versions = {h["_id"]: (h["_seq_no"], h["_primary_term"]) for h in hits}
        if versions != self._versions:
            changed = [i for i, v in versions.items() if self._versions.get(i) != v]
            kept = {s.doc_id: s for s in self._searches if s.doc_id in versions and s.doc_id not in changed}
            for start in range(0, len(changed), 500):
                docs = self.client.mget(index=self.alias, ids=changed[start:start + 500])["docs"]
                kept.update({d["_id"]: SavedSearch.from_source(d["_source"]) for d in docs if d.get("found")})
            unchanged = {search.key for i, search in kept.items() if i not in changed}
            self._searches = [kept[i] for i in versions if i in kept]
            self._versions = versions
            self._narrowed = {key: value for key, value in self._narrowed.items() if key[0] in unchanged}
        return self._searches

    def _run(self, searches: list[SavedSearch], ids: list[str], documents: dict[str, dict], outcome: MatchOutcome):
        """Which saved searches each article of the batch matches. The searches go in groups, each
        group one query over the batch's ids with every search a named clause (the hit's
        `matched_queries` names those it matched), all groups in one multi-search request: the
        articles are read once per group, not once per saved search."""
        planned = []
        codes = tuple(sorted({language_code((documents.get(i) or {}).get("language")) for i in ids}))
        for search in searches:
            if not any(_may_match(search, documents.get(i)) for i in ids):
                continue  # e.g. a search for another site
            compiled = search.compiled if search.compiled_with == COMPILED_WITH else self._recompile(search)
            if compiled:
                key = (search.key, codes)
                if key not in self._narrowed:
                    self._narrowed[key] = {**compiled, "query": narrowed(compiled["query"], codes)}
                planned.append((search, self._narrowed[key]))
        # Searches that failed before go alone: one that Elasticsearch cannot even parse fails the
        # whole request, and must not cost the others a split every batch.
        healthy = [p for p in planned if not p[0].error]
        groups = [healthy[i:i + GROUP] for i in range(0, len(healthy), GROUP)] + [[p] for p in planned if p[0].error]
        found: dict[str, list[dict]] = {}
        for start in range(0, len(groups), MSEARCH_CHUNK):
            self._msearch(groups[start:start + MSEARCH_CHUNK], ids, found, outcome)
        by_name = {search.key: (search, compiled) for search, compiled in planned}
        return [(by_name[name][0], by_name[name][1], hits) for name, hits in found.items() if name in by_name]

    def _msearch(self, groups: list[list], ids: list[str], found: dict[str, list[dict]], outcome: MatchOutcome) -> None:
        """Run the groups in one request; a group (or request) Elasticsearch refuses is split in
        halves until the searches at fault are found, and each is recorded on itself."""
        lines = []
        for group in groups:
            should = [{"bool": {"must": [compiled["query"]], "_name": search.key}} for search, compiled in group]
            # All in filter context: which searches match is the question, not how well (no scores).
            lines += [{}, {"query": {"bool": {"filter": [{"ids": {"values": ids}}, {"bool": {"should": should, "minimum_should_match": 1}}]}},
                           "size": len(ids), "_source": list(MATCH_FIELDS)}]
        try:
            responses = self.client.msearch(index=self.articles, searches=lines)["responses"]
        except BadRequestError as exc:
            if len(groups) > 1:
                middle = len(groups) // 2
                self._msearch(groups[:middle], ids, found, outcome)
                self._msearch(groups[middle:], ids, found, outcome)
                return
            responses = [{"error": (exc.info or {}).get("error") or {"reason": str(exc)}}]
        for group, response in zip(groups, responses):
            if "error" in response and len(group) > 1:
                middle = len(group) // 2
                self._msearch([group[:middle], group[middle:]], ids, found, outcome)
                continue
            if "error" in response:
                self._failed(group[0][0], _response_error(response["error"]), outcome)
                continue
            for search, _ in group:
                if search.error:  # it works again
                    AlertStore(self.client, self.settings).record_error(search, None)
                    self._remember(replace(search, error={}))
            for hit in response["hits"]["hits"]:
                for name in hit.get("matched_queries") or ():
                    found.setdefault(name, []).append(hit)

    def _failed(self, search: SavedSearch, message: str, outcome: MatchOutcome) -> None:
        """One saved search's error is recorded on it (page, `alerts list`, `status`) and never
        stops the others."""
        if (search.error or {}).get("message") != message:
            logger.error("saved search %s: Elasticsearch refused its query: %s", search.key, message)
        AlertStore(self.client, self.settings).record_error(search, message)
        self._remember(replace(search, error={"message": message}))
        outcome.errors += 1

    def _recompile(self, search: SavedSearch) -> dict:
        try:
            return search.compile().compiled
        except ValueError as exc:
            AlertStore(self.client, self.settings).record_error(search, f"query no longer readable: {exc}")
            return {}

    def _remember(self, search: SavedSearch) -> None:
        self._searches = [search if s.key == search.key else s for s in self._searches]

    def _reported(self, entry_ids: list[str]) -> set[str]:
        if not entry_ids:
            return set()
        docs = self.client.mget(index=self.alias, ids=entry_ids, source=False)["docs"]
        return {d["_id"] for d in docs if d.get("found")}

    def _edit(self, search: SavedSearch, hit: dict) -> str | None:
        """An edited article that matches now and was not reported: "edited", unless it was
        already archived and matching when the search was saved (the journalist saw it then)."""
        first_seen = hit["_source"].get("first_seen") or ""
        if first_seen and _instant(first_seen) > _instant(search.created_at):
            return EDITED
        return None if self._matched_when_saved(search, hit["_id"]) else EDITED

    def _matched_when_saved(self, search: SavedSearch, article_id: str) -> bool:
        try:
            response = self.client.search(
                index=self.versions,
                query={"bool": {"filter": [{"term": {"article_id": article_id}}, {"range": {"captured_at": {"lte": search.created_at}}}]}},
                sort=[{"captured_at": "desc"}], size=1, source=False,
            )
        except NotFoundError:
            return False
        hits = response["hits"]["hits"]
        if not hits:
            return False
        # Versions keep the text, site and authors, not tags or language: compare on what they keep.
        body = build_search_body(SearchRequest(text=search.query, sites=search.sites, authors=search.authors, facets=False, highlight=False))
        query = {"bool": {"must": [body["query"]], "filter": [{"ids": {"values": [hits[0]["_id"]]}}]}}
        return self.client.count(index=self.versions, query=query)["count"] > 0

    def _entry(self, search: SavedSearch, article_id: str, source: dict, snippet: str, change: str, now: str,
               diff: dict | None = None) -> dict:
        due = due_time(search, now)
        document = {
            "kind": "match", "name": search.key, "search_id": search.doc_id, "owner": search.owner,
            "article_id": article_id, "url": source.get("url"), "title": source.get("title"), "site": source.get("site"),
            "published": source.get("published"), "first_seen": source.get("first_seen") or source.get("crawled_at"),
            "content_hash": source.get("content_hash"), "snippet": snippet, "change": change, "matched_at": now,
            "state": PENDING, "next_attempt_at": due, "delivery": {},
        }
        if self.deliver is not None and due <= now:
            document["lease_until"] = (_instant(now) + LEASE).isoformat(timespec="milliseconds")
        if diff:
            document["diff"] = diff
        return {"_op_type": "create", "_index": self.alias, "_id": f"match:{search.key}:{article_id}", "_source": document}

    def _create(self, entries: list[dict]) -> tuple[int, list[dict]]:
        """Creates the entries; returns how many were created, and those of them created leased."""
        from elasticsearch import helpers  # here: it loads the async client, ~0.5 s of a command's start

        if not entries:
            return 0, []
        by_id = {entry["_id"]: entry for entry in entries}
        created: list[dict] = []
        # Not refreshed here (a refresh per batch costs the crawl): the delivery round refreshes
        # before it claims, and the feed and page see them within a second.
        for ok, item in helpers.streaming_bulk(self.client, entries, raise_on_error=False, max_retries=3):
            info = item["create"]
            if ok:
                created.append(by_id[info["_id"]])
            elif info.get("status") != 409:  # 409: reported before, by this or another process
                logger.error("match entry %s not stored: %s", info.get("_id"), info.get("error"))
        if created:
            logger.info("saved searches: %d new match(es) to deliver", len(created))
        return len(created), [entry for entry in created if entry["_source"].get("lease_until")]

    # --- the stored batches waiting for matching ------------------------------------------

    MAX_ARTICLES = 1000  # matched in one go at most (one multi-search over them)

    def match_waiting(self, stale_after: timedelta = STALE_MARKER) -> int:
        """Match the stored batches waiting for it: every ready marker, and any a writer left
        unready (it died mid-request) once it is stale. The batches go together, up to
        MAX_ARTICLES articles at a time. Returns how many batches were matched. The caller
        refreshes the saved-searches index first (markers a crawl wrote a moment ago)."""
        if not self.active():
            return 0
        cutoff = (datetime.now(timezone.utc) - stale_after).isoformat()
        query = {"bool": {"filter": [{"term": {"kind": "pending"}}], "minimum_should_match": 1,
                          "should": [{"term": {"state": "ready"}}, {"range": {"matched_at": {"lt": cutoff}}}]}}
        try:
            markers = self.client.search(index=self.alias, size=1000, query=query, sort=[{"matched_at": "asc"}],
                                         source_includes=["article_ids", "matched_at"])["hits"]["hits"]
        except NotFoundError:
            return 0
        matched, chunk, articles = 0, [], 0
        for marker in markers:
            chunk.append(marker)
            articles += len(marker["_source"].get("article_ids") or [])
            if articles >= self.MAX_ARTICLES or marker is markers[-1]:
                if not self._match_markers(chunk):
                    break  # Elasticsearch failed (said once): the rest wait for the next round
                matched += len(chunk)
                chunk, articles = [], 0
        return matched

    def _match_markers(self, markers: list[dict]) -> bool:
        ids = list(dict.fromkeys(i for m in markers for i in m["_source"].get("article_ids") or []))
        docs = self.client.mget(index=self.articles, ids=ids, source_excludes=["url_variants", "*_stem"])["docs"] if ids else []
        stored = {d["_id"]: d["_source"] for d in docs if d.get("found")}
        stored_at = {i: m["_source"].get("matched_at") for m in markers for i in m["_source"].get("article_ids") or []}
        followed = {s.follows for s in self.saved_searches() if s.follows}
        new_ids = [i for i, d in stored.items() if not d.get("edited")]
        # The capture before, for a followed article's diff only (a request per article).
        updated = {i: self._previous(i) if i in followed else {} for i, d in stored.items() if d.get("edited")}
        return not self._match_marked([m["_id"] for m in markers], new_ids, updated, stored, stored_at).failed

    def _previous(self, article_id: str) -> dict:
        """The capture before the current one (for a followed article's diff)."""
        try:
            hits = self.client.search(index=self.versions, query={"term": {"article_id": article_id}},
                                      sort=[{"captured_at": "desc"}], size=1, source_includes=["title", "body"])["hits"]["hits"]
        except NotFoundError:
            return {}
        return hits[0]["_source"] if hits else {}


class DeferredMatcher(AlertMatcher):
    """A crawl's matcher: it matches nothing on the crawl's write path. Each stored batch is
    left as a ready marker, and the delivery rounds (the scheduler's, `archive crawl`'s own,
    `alerts deliver` / `alerts check`) match every waiting batch together."""

    def after_write(self, marker_id, new_ids, updated, documents) -> MatchOutcome:
        self.mark_ready(marker_id)
        return MatchOutcome()


def _was_there(search: SavedSearch, stored_at: str | None) -> bool:
    """Whether the article's batch was stored before the search was saved (never "new" to it)."""
    return bool(stored_at and search.created_at) and _instant(stored_at) < _instant(search.created_at)


def due_time(search: SavedSearch, now: str) -> str:
    """When a new match is due: now, or the search's next digest hour (UTC)."""
    if search.digest_hour is None:
        return now
    moment = _instant(now)
    due = moment.replace(hour=search.digest_hour, minute=0, second=0, microsecond=0)
    if due <= moment:
        due += timedelta(days=1)
    return due.isoformat(timespec="milliseconds")


def _may_match(search: SavedSearch, document: dict | None) -> bool:
    """Filters checked in Python first: a search for one site never queries another's articles."""
    if document is None:
        return True
    if search.sites and document.get("site") not in search.sites:
        return False
    if search.languages and (document.get("language") or "").lower() not in {lang.lower() for lang in search.languages}:
        return False
    return True


def narrowed(query, codes: tuple[str, ...]):
    """The compiled query for articles of these languages only: each stemmed-field clause keeps
    the tokens of those languages (a token is prefixed with its language, en_strike, and can
    only meet an article of that language), so it matches exactly what the whole query matches
    there, with a fraction of the clauses (13 languages' forms of every word otherwise)."""
    if isinstance(query, list):
        return [narrowed(q, codes) for q in query]
    if not isinstance(query, dict):
        return query
    match = query.get("multi_match")
    if isinstance(match, dict) and match.get("fields") and all(f.split("^")[0].endswith("_stem") for f in match["fields"]):
        kept = [t for t in str(match.get("query", "")).split() if t.split("_", 1)[0] in codes]
        return {"multi_match": {**match, "query": " ".join(kept)}} if kept else {"match_none": {}}
    return {key: narrowed(value, codes) for key, value in query.items()}


def marked_snippet(query: str, body: str, language: str | None, width: int = 180) -> str:
    """The first passage of the body with the query's words marked (MARK_PRE/MARK_POST), made
    here rather than by Elasticsearch's highlighter: a highlight request per saved search and
    batch would cost the crawl what matching in groups saved. Words compare folded and
    stemmed, as the *_stem fields match them; prefixes (elect*) by their start."""
    wanted, prefixes = set(), []
    for term in _terms(query):
        for word in re.findall(r"\w+", term.text):
            if term.kind == "prefix":
                prefixes.append(fold(word))
            else:
                wanted.add(_stem(word, language or ""))
    if not wanted and not prefixes:
        return ""
    for paragraph in (p.strip() for p in body.split("\n")):
        spans = [m.span() for m in re.finditer(r"\w+", paragraph)
                 if _stem(m.group(), language or "") in wanted or any(fold(m.group()).startswith(p) for p in prefixes)]
        if not spans:
            continue
        start = max(0, spans[0][0] - width // 3)
        end = min(len(paragraph), start + width)
        start = paragraph.rfind(" ", 0, start) + 1 if start else 0
        pieces, at = [], start
        for a, b in spans:
            if a < start or b > end:
                continue
            pieces += [paragraph[at:a], MARK_PRE, paragraph[a:b], MARK_POST]
            at = b
        pieces.append(paragraph[at:end])
        return "".join(pieces)
    return ""


_stem = functools.lru_cache(maxsize=100_000)(stem)  # a crawl's vocabulary is stemmed once


def _terms(query: str):
    """The query's terms outside NOT (what a reader expects to see marked)."""
    try:
        tree = parse_query(query).tree
    except ValueError:
        return []
    found = []

    def walk(node):
        if node is None:
            return
        kind = node[0]
        if kind == "term":
            found.append(node[1])
        elif kind in ("and", "or"):
            for child in node[1]:
                walk(child)

    walk(tree)
    return found


def _response_error(error: dict) -> str:
    causes = error.get("root_cause") or []
    cause = error.get("caused_by") or (causes[0] if causes else error)
    while isinstance(cause.get("caused_by"), dict):
        cause = cause["caused_by"]
    return f"{cause.get('type', 'error')}: {cause.get('reason', '')}"[:500]


def _instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
