"""Generated articles of real news prose, loaded through the archive's own writer.

The paragraphs come from the true article bodies of the extraction benchmarks
(``../shared/extraction-bench*/ground-truth.json``: real pages of news sites and blogs in
several languages); each generated article recombines paragraphs of source bodies of one
language, so its words, their frequencies and its language are those of real articles. The
benchmark reads them from there; they are never copied into the repository.

Every document is a pure function of its number, so several processes can each write a slice
(``load``), each through ``search.writer.ArticleWriter`` as a crawl does: content hashes looked
up first, display dates, folded and stemmed fields.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import sys
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# ../shared beside the repository (or beside one of its parent folders, for a git worktree).
SHARED = next((p / "shared" for p in Path(__file__).resolve().parents[1:] if (p / "shared").is_dir()), Path("../shared"))
SITES = ("northmere-post", "coastal-times", "valemouth-herald", "riverside-gazette", "harbour-daily", "wire-desk")
TAGS = ("politics", "business", "technology", "culture", "sport", "science", "local", "world", "opinion", "health")
AUTHORS = ("Maren Okafor", "Tomas Lindqvist", "Aisha Rahman", "Pedro Alves", "Ines Weber", "Kofi Mensah", "Lena Novak", "Sam Ortiz")
FIRST_DAY = date(2019, 1, 1)
DAYS = 7 * 365
BATCH = 500


def source_bodies(shared: Path = SHARED) -> dict[str, list[str]]:
    """language -> paragraphs of real article bodies (at least 8 words each)."""
    from crawler.extraction import detect_language

    files = sorted(shared.glob("extraction-bench*/ground-truth.json"))
    if not files:
        raise RuntimeError(f"no {shared}/extraction-bench*/ground-truth.json: the prose corpus is needed")
    by_language: dict[str, list[str]] = {}
    for path in files:
        for entry in json.loads(path.read_text(encoding="utf-8")).values():
            body = entry.get("articleBody") or ""
            paragraphs = [p.strip() for p in body.split("\n") if len(p.split()) >= 8]
            if paragraphs:
                by_language.setdefault(detect_language(body) or "xx", []).extend(paragraphs)
    return by_language


class ProseArticles:
    """Article number -> a document as the crawler hands it to the writer."""

    def __init__(self, bodies: dict[str, list[str]]):
        # Languages weighted by how much prose the sources have in each (mostly English).
        self.languages = sorted(bodies)
        self.weights = [len(bodies[lang]) for lang in self.languages]
        self.bodies = bodies

    def document(self, number: int) -> dict:
        rng = random.Random(number * 1_000_003 + 17)
        language = rng.choices(self.languages, self.weights)[0]
        paragraphs = self.bodies[language]
        body = "\n\n".join(rng.choice(paragraphs) for _ in range(rng.randint(4, 12)))
        first = rng.choice(paragraphs).split()
        title = " ".join(first[: rng.randint(6, 12)]).rstrip(",;:")
        site = SITES[number % len(SITES)]
        published = FIRST_DAY + timedelta(days=rng.randrange(DAYS))
        section = rng.choice(TAGS)
        return {
            "url": f"https://{site}.example/{published:%Y/%m}/story-{number}",
            "site": site,
            "title": title,
            "authors": [rng.choice(AUTHORS)],
            "published": published.isoformat(),
            "tags": sorted({section, rng.choice(TAGS)}),
            "section": section,
            "description": " ".join(rng.choice(paragraphs).split()[:30]),
            "language": language,
            "body": body,
            "word_count": len(body.split()),
            "content_hash": f"{rng.getrandbits(64):016x}",
            "crawled_at": f"{published.isoformat()}T06:00:00+00:00",
        }


def _load_slice(args) -> tuple[int, int]:
    """Write articles start, start+step, ... below count; (written, failed)."""
    es_settings, bodies, start, step, count = args
    from archive.urls import document_id
    from search.client import make_client
    from search.writer import ArticleWriter

    articles = ProseArticles(bodies)
    writer = ArticleWriter(make_client(es_settings), es_settings)
    written = failed = 0
    batch: dict[str, dict] = {}
    for number in range(start, count, step):
        doc = articles.document(number)
        batch[document_id(doc["url"])] = doc
        if len(batch) >= BATCH or number + step >= count:
            result = writer.write(batch)
            written += result.new + result.updated + result.unchanged
            failed += result.failed
            if result.errors:
                print(f"  rejected: {result.errors[0]}", flush=True)
            batch = {}
            if start == 0 and written % 20_000 < BATCH:
                print(f"  ~{written * step:,} articles written", flush=True)
    return written, failed


def load(client, es_settings, count: int, processes: int) -> float:
    """Write `count` articles into es_settings.articles_alias with `processes` writers; seconds taken."""
    started = time.perf_counter()
    alias = es_settings.articles_alias
    client.indices.put_settings(index=alias, settings={"index": {"refresh_interval": "-1"}})
    es_settings = replace(es_settings, bulk_size=BATCH)
    bodies = source_bodies()
    print(f"prose from {SHARED}: " + ", ".join(f"{lang} {len(p):,}" for lang, p in sorted(bodies.items(), key=lambda kv: -len(kv[1])))
          + " paragraphs", flush=True)
    try:
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            results = pool.map(_load_slice, [(es_settings, bodies, i, processes, count) for i in range(processes)])
    finally:
        client.indices.put_settings(index=alias, settings={"index": {"refresh_interval": "1s"}})
        client.indices.refresh(index=alias)
    failed = sum(f for _, f in results)
    if failed:
        raise SystemExit(f"{failed:,} articles were rejected by Elasticsearch")
    return time.perf_counter() - started
