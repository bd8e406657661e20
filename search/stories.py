"""Wire and syndicated copies of one text grouped into a story, at write time.

Each article's body is cut into word shingles (5 words in a row) and summarised by a MinHash
(datasketch). The signature is split into bands; an article's band hashes are stored as keywords
(`story_bands`), so the copies a new article may have are found with one query on the shared
index: any process that writes sees what every other one wrote. A candidate is a copy only when
the exact Jaccard similarity of the two shingle sets reaches STORY_SIMILARITY, so pages that share
a site's boilerplate paragraph but little else stay apart (benchmarks/story_grouping.py).

The story id is the id of the story's earliest copy (display date, then id): when an earlier copy
turns up later, or an article joins two stories, every member is relabelled.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from elasticsearch import Elasticsearch, helpers

from search.analysis import with_stems

SHINGLE_WORDS = 5
BANDS, ROWS = 32, 4  # 128 permutations; P(candidate) > 0.999 at similarity 0.7, ~0.2 at 0.3
STORY_SIMILARITY = 0.7  # exact Jaccard of the shingle sets: copies with a new line or two stay above
MIN_SHINGLES = 25  # a text under ~30 words is too short to tell a copy from a formula
CANDIDATES = 8  # per article: the ones sharing most bands
# A candidate shares at least two bands: a copy at similarity 0.7 still does 99.8% of the time
# (one band: 99.99%), 0.75 and above all but always; a text sharing a paragraph or the site's
# boilerplate with it (similarity 0.1-0.3) shares one band 0.3-23% of the time but two only
# 0.0005-2.8%, and every candidate costs its whole body fetched and cut into shingles.
MIN_SHARED_BANDS = 2
_WORD = re.compile(r"\w+")
_SEED = 20  # fixed: band hashes must agree across processes and releases


class StoryLookupError(Exception):
    """Elasticsearch answered but refused a story look-up (a busy node's rejection, a limit): the
    batch is not written, so that no copy is stored outside its story; a crawl spools it."""


def shingles(text: str) -> set[str]:
    words = _WORD.findall((text or "").lower())
    return {" ".join(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}


def similarity(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def band_hashes(shingle_set: set[str]) -> list[str]:
    """The LSH band keys of a text (empty for a text too short to group)."""
    if len(shingle_set) < MIN_SHINGLES:
        return []
    from datasketch import MinHash  # loaded by writers only: searching does not need numpy

    minhash = MinHash(num_perm=BANDS * ROWS, seed=_SEED)
    minhash.update_batch([s.encode("utf-8") for s in shingle_set])
    values = minhash.hashvalues
    return [
        f"{band:02d}" + hashlib.blake2b(values[band * ROWS : (band + 1) * ROWS].tobytes(), digest_size=8).hexdigest()
        for band in range(BANDS)
    ]


def with_bands(document: dict) -> dict:
    """The document with its `story_bands` (computed from its body)."""
    return {**document, "story_bands": band_hashes(shingles(document.get("body", "")))}


@dataclass
class _Member:
    id: str
    story: str
    when: datetime
    shingles: set[str]
    bands: set[str]


def _moment(document: dict) -> datetime:
    value = document.get("display_date") or document.get("published") or document.get("first_seen") or document.get("crawled_at")
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return datetime.max.replace(tzinfo=timezone.utc)  # undated: never taken for the first copy
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _order(member: _Member) -> tuple:
    return (member.when, member.id)


class StoryAssigner:
    """Gives each document of a batch its `story`, looking up copies already stored (through the
    alias) and in the batch itself; returns the relabelling other stored copies need."""

    def __init__(self, client: Elasticsearch, alias: str):
        self.client = client
        self.alias = alias

    def assign(self, documents: dict[str, dict]) -> dict[str, dict]:
        """documents (id -> document with story_bands) get `story` set in place. Returns the
        copies stored earlier that change story: id -> their whole document, story changed
        (rewritten whole, stems included: a partial update would drop the unstored stems)."""
        members = {
            doc_id: _Member(doc_id, doc_id, _moment(doc), shingles(doc.get("body", "")), set(doc.get("story_bands") or ()))
            for doc_id, doc in documents.items()
        }
        stored = self._candidates(members)
        relabel: dict[str, str] = {}  # story id -> story id it merges into
        batch: list[_Member] = []
        for member in sorted(members.values(), key=_order):
            copies = [c for c in stored.get(member.id, []) + [b for b in batch if len(b.bands & member.bands) >= MIN_SHARED_BANDS]
                      if similarity(member.shingles, c.shingles) >= STORY_SIMILARITY]
            if copies:
                stories = {_root(c.story, relabel) for c in copies}
                first = min(copies, key=_order)
                story = member.id if _order(member) < _order(first) else _root(first.story, relabel)
                for other in stories - {story}:
                    relabel[other] = story
                member.story = story
            batch.append(member)
        for doc_id, document in documents.items():
            document["story"] = _root(members[doc_id].story, relabel)
        return self._stored_relabels(relabel, set(documents))

    def _candidates(self, members: dict[str, _Member]) -> dict[str, list[_Member]]:
        searches: list[dict] = []
        asked = [m for m in members.values() if m.bands]
        for member in asked:
            searches.append({"index": self.alias})
            searches.append({
                "size": CANDIDATES + 1,  # its own earlier capture, when rewritten, is left out below
                "_source": ["story", "display_date", "published", "first_seen", "crawled_at", "body"],
                "query": {"bool": {
                    "should": [{"constant_score": {"filter": {"term": {"story_bands": band}}}} for band in sorted(member.bands)],
                    "minimum_should_match": MIN_SHARED_BANDS,
                    # The batch's own ids are left out here, not in the query: an `ids` clause of
                    # a whole batch in each of its searches costs more than the searches.
                    "filter": [{"exists": {"field": "story"}}],
                }},
            })
        if not searches:
            return {}
        responses = self.client.msearch(searches=searches)["responses"]
        found: dict[str, list[_Member]] = {}
        for member, response in zip(asked, responses):
            if "error" in response:
                error = response["error"]
                reason = (error.get("root_cause") or [error])[0].get("reason", error) if isinstance(error, dict) else error
                raise StoryLookupError(f"story look-up refused: {reason}")
            found[member.id] = [
                _Member(hit["_id"], hit["_source"].get("story") or hit["_id"], _moment(hit["_source"]),
                        shingles(hit["_source"].get("body", "")), set())
                for hit in response["hits"]["hits"] if hit["_id"] not in members
            ][:CANDIDATES]
        return found

    def _stored_relabels(self, relabel: dict[str, str], written: set[str]) -> dict[str, dict]:
        """The stored copies (id -> whole document with its new story) of stories merged into another."""
        if not relabel:
            return {}
        merged = {old: _root(old, relabel) for old in relabel}
        moves = {}
        query = {"query": {"terms": {"story": sorted(merged)}}}
        for hit in helpers.scan(self.client, index=self.alias, query=query):
            if hit["_id"] not in written:
                moves[hit["_id"]] = {**hit["_source"], "story": merged[hit["_source"]["story"]]}
        return moves


def _root(story: str, relabel: dict[str, str]) -> str:
    seen = set()
    while story in relabel and story not in seen:
        seen.add(story)
        story = relabel[story]
    return story


def copies_of(client: Elasticsearch, alias: str, article: dict, size: int = 100) -> list[dict]:
    """Every copy of the article's story (itself included), earliest first."""
    story = article.get("story")
    if not story:
        return []
    response = client.search(
        index=alias, size=size, query={"term": {"story": story}},
        sort=[{"display_date": {"order": "asc", "missing": "_last"}}, {"url": "asc"}],
        source_excludes=["url_variants", "body_candidates"],
    )
    return [{"id": hit["_id"], **hit["_source"]} for hit in response["hits"]["hits"]]


def related_stories(client: Elasticsearch, alias: str, article: dict, size: int = 5) -> list[dict]:
    """Other stories like this article (more_like_this on its title and text), one hit per story,
    never a copy of its own story."""
    own = {"term": {"story": article["story"]}} if article.get("story") else {"ids": {"values": [article["id"]]}}
    like = [text for text in (article.get("title"), (article.get("body") or "")[:20_000]) if text]
    if not like:
        return []
    response = client.search(
        index=alias, size=size,
        query={"bool": {
            "must": [{"more_like_this": {"fields": ["title", "body"], "like": like, "min_term_freq": 1, "min_doc_freq": 1,
                                         "max_query_terms": 40, "minimum_should_match": "20%"}}],
            "must_not": [own, {"ids": {"values": [article["id"]]}}],
        }},
        collapse={"field": "story"},
        source_includes=["url", "title", "site", "published", "display_date", "story"],
    )
    return [{"id": hit["_id"], **hit["_source"]} for hit in response["hits"]["hits"]]


def assign_stored(client: Elasticsearch, alias: str, batch_size: int = 200) -> int:
    """Give a story to every stored article that has none (after `archive index migrate`),
    oldest first, so the earliest copy names its story. Returns how many were given one."""
    client.indices.refresh(index=alias)
    missing = {"bool": {"must_not": [{"exists": {"field": "story"}}]}}
    assigner = StoryAssigner(client, alias)
    done = 0
    while True:
        response = client.search(
            index=alias, size=batch_size, query=missing,
            sort=[{"display_date": {"order": "asc", "missing": "_last"}}, {"url": "asc"}],
        )
        hits = response["hits"]["hits"]
        if not hits:
            return done
        documents = {hit["_id"]: with_bands(hit["_source"]) for hit in hits}
        moves = assigner.assign(documents)
        rewritten = {**moves, **documents}
        actions = ({"_index": alias, "_id": doc_id, "_source": with_stems(doc)} for doc_id, doc in rewritten.items())
        helpers.bulk(client, actions, chunk_size=200)
        client.indices.refresh(index=alias)
        done += len(documents)


@dataclass(frozen=True)
class StoryCount:
    articles: int
    stories: int


def count_stories(client: Elasticsearch, alias: str) -> StoryCount:
    """How many articles and stories the archive holds (stories counted exactly up to 40,000)."""
    client.indices.refresh(index=alias)
    response = client.search(index=alias, size=0, track_total_hits=True,
                             aggs={"stories": {"cardinality": {"field": "story", "precision_threshold": 40000}}})
    return StoryCount(response["hits"]["total"]["value"], response["aggregations"]["stories"]["value"])
