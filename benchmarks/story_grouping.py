"""Benchmark: how well wire and syndicated copies are grouped into stories, and how rarely pages
that share only boilerplate are.

    .venv/bin/python benchmarks/story_grouping.py [--bench ../shared/extraction-bench ...]

Real article bodies (the extraction benchmarks' ground truth) are written through the archive's
own writer (search/writer.py: MinHash bands looked up in Elasticsearch, exact similarity checked)
into throwaway indices of the Elasticsearch at ELASTICSEARCH_URL, as:

    originals    every article once, on site "origin"
    copies       for each article, copies on other sites a day later: with a credit line and a
                 dateline ("credit"), with its last fifth cut ("trimmed"), with one word in
                 fifty ("edited") or one in twenty ("reworded") replaced, and with another site's
                 chrome text leaked into the body ("chrome")
    boilerplate  pairs of *different* articles that carry the same block of a site's chrome text
                 (the text of a real page outside its article: menus, newsletter and cookie
                 boxes, footers), cut to 50, 150 and 300 words, as an extraction that leaks
                 chrome would store them

and prints, over every pair of stored articles: precision and recall of "same story", recall per
kind of copy, the false groups among boilerplate pairs, and the writer's time per article. The
indices are deleted at the end.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import itertools
import json
import os
import random
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _throwaway import throwaway_indices  # noqa: E402
from archive.urls import document_id  # noqa: E402
from search.indices import drop_all, ensure_all  # noqa: E402
from search.stories import STORY_SIMILARITY, shingles, similarity  # noqa: E402
from search.writer import ArticleWriter  # noqa: E402

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
COPY_KINDS = ("credit", "trimmed", "edited", "reworded", "chrome")
CHROME_WORDS = (50, 150, 300)


def articles(benches: list[Path]) -> list[tuple[str, str, str]]:
    """(id, body, the page's chrome text) of each benchmark page with a body of 60+ words."""
    found = []
    for bench in benches:
        truth = json.loads((bench / "ground-truth.json").read_text(encoding="utf-8"))
        for page_id, entry in sorted(truth.items()):
            body = entry.get("articleBody") or ""
            if len(body.split()) < 60:
                continue
            page = bench / "html" / f"{page_id}.html.gz"
            found.append((page_id, body, chrome_text(gzip.decompress(page.read_bytes()).decode("utf-8", "replace"), body)
                          if page.exists() else ""))
    return found


def chrome_text(html: str, body: str) -> str:
    """The page's visible text outside its article: lines of 4+ words not in the body."""
    from lxml import html as lxml_html

    tree = lxml_html.fromstring(html)
    for bad in tree.xpath("//script|//style|//noscript"):
        bad.drop_tree()
    in_body = set(re.findall(r"\w+(?:\W+\w+){5}", body.lower()))
    lines = [" ".join(line.split()) for line in tree.text_content().splitlines()]
    return " ".join(line for line in lines if len(line.split()) >= 4
                    and not any(s in in_body for s in re.findall(r"\w+(?:\W+\w+){5}", line.lower())))


def same_texts_merged(pages: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """The benchmark pages without those whose text is another's (some sites' pages carry the same
    article): such a pair is one story, not a false group."""
    kept: list[tuple[str, str, str]] = []
    for page in pages:
        if any(similarity(shingles(page[1]), shingles(other[1])) >= 0.5 for other in kept):
            print(f"left out {page[0]}: its text is another benchmark page's")
            continue
        kept.append(page)
    return kept


def copies(body: str, chrome: str, rng: random.Random) -> dict[str, str]:
    paragraphs = [p for p in body.split("\n") if p.strip()]
    def replaced(share: float) -> str:
        return " ".join(rng.choice(["said", "the", "new", "city", "report"]) if rng.random() < share else w for w in body.split())

    return {
        "credit": "LONDON (Wire) — " + body + "\nThis story was first published by our partners and is republished with permission.",
        "trimmed": "\n".join(paragraphs[: max(1, round(len(paragraphs) * 0.8))]),
        "edited": replaced(0.02),  # a word in fifty: house style, a name spelled out
        "reworded": replaced(0.05),  # a word in twenty: every sentence touched
        "chrome": body + "\n" + " ".join(chrome.split()[:120]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", action="append", type=Path,
                        help="extraction benchmark folder(s) (default: ../shared/extraction-bench and -2)")
    args = parser.parse_args()
    benches = args.bench or [SHARED / "extraction-bench", SHARED / "extraction-bench-2"]
    pages = same_texts_merged(articles(benches))
    rng = random.Random(11)
    documents: dict[str, dict] = {}
    truth: dict[str, str] = {}  # doc id -> the original it is a copy of
    kind_of: dict[str, str] = {}

    def add(url: str, site: str, body: str, day: int, original: str, kind: str) -> None:
        doc_id = document_id(url)
        documents[doc_id] = {
            "url": url, "site": site, "title": f"{kind} {url[-24:]}", "body": body, "language": "en",
            "published": f"2026-03-{day:02d}T08:00:00+00:00", "crawled_at": "2026-04-01T00:00:00+00:00",
            "content_hash": hashlib.sha256(body.encode()).hexdigest(), "word_count": len(body.split()),
        }
        truth[doc_id], kind_of[doc_id] = original, kind

    chromes = [c for _, _, c in pages if len(c.split()) >= max(CHROME_WORDS)]
    for n, (page_id, body, chrome) in enumerate(pages):
        add(f"https://origin.example/{page_id}", "origin", body, 1, page_id, "original")
        for kind, text in copies(body, chromes[(n + 1) % len(chromes)] if chromes else "", rng).items():
            add(f"https://{kind}.example/{page_id}", kind, text, 2, page_id, kind)
    # Different articles with the same site chrome in their text: only boilerplate in common.
    for size in CHROME_WORDS:
        for n, (page_id, body, _) in enumerate(pages):
            block = " ".join(chromes[n % len(chromes)].split()[:size]) if chromes else ""
            add(f"https://leaky-{size}.example/{page_id}", f"leaky-{size}", body + "\n" + block, 3, page_id, f"chrome {size}")
            partner = pages[(n + 1) % len(pages)]
            add(f"https://leaky-{size}-b.example/{page_id}", f"leaky-{size}-b", partner[1] + "\n" + block, 3, partner[0],
                f"chrome {size}")

    settings, client = throwaway_indices()
    es = settings.elasticsearch
    try:
        ensure_all(client, es)
        writer = ArticleWriter(client, es)
        items = list(documents.items())
        rng.shuffle(items)  # copies arrive before and after their original, as crawls find them
        started = time.perf_counter()
        for start in range(0, len(items), 50):
            writer.write(dict(items[start : start + 50]))
        elapsed = time.perf_counter() - started
        client.indices.refresh(index=es.articles_alias)
        story = {hit["_id"]: hit["_source"]["story"] for hit in
                 client.search(index=es.articles_alias, size=10_000, source=["story"], query={"match_all": {}})["hits"]["hits"]}
    finally:
        drop_all(client, es)

    same_true = same_story = both = 0
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    false_pairs: list[tuple[str, str, float]] = []
    for a, b in itertools.combinations(sorted(documents), 2):
        truly, grouped = truth[a] == truth[b], story[a] == story[b]
        same_true += truly
        same_story += grouped
        both += truly and grouped
        if truly and "original" in (kind_of[a], kind_of[b]):
            kind = kind_of[b] if kind_of[a] == "original" else kind_of[a]
            by_kind[kind][0] += 1
            by_kind[kind][1] += grouped
        if grouped and not truly:
            false_pairs.append((a, b, similarity(shingles(documents[a]["body"]), shingles(documents[b]["body"]))))
    leaky_false = sum(1 for a, b, _ in false_pairs if kind_of[a].startswith("chrome") or kind_of[b].startswith("chrome"))
    load = os.getloadavg()
    print(f"{len(pages)} real articles, {len(documents)} stored; threshold {STORY_SIMILARITY} (exact shingle Jaccard)")
    print(f"pairs: {same_true} truly the same story, {same_story} grouped, {both} both")
    print(f"precision {both / same_story if same_story else 1:.3f}   recall {both / same_true if same_true else 1:.3f}")
    for kind, (pairs, grouped) in sorted(by_kind.items()):
        print(f"  {kind:<12} copies grouped with their original: {grouped}/{pairs}")
    print(f"false groups: {len(false_pairs)} pairs ({leaky_false} sharing only chrome text)")
    for a, b, sim in false_pairs[:10]:
        print(f"  {kind_of[a]} {documents[a]['url']} ~ {kind_of[b]} {documents[b]['url']}: similarity {sim:.2f}")
    print(f"writer: {1000 * elapsed / len(documents):.1f} ms per article (stems, bands, look-up, bulk)")
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
