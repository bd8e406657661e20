"""How well does extraction keep the article and drop the rest? A benchmark, not a test.

Scores the archive's ArticleExtractor against plain ``trafilatura.extract(html, url=url)`` on
the shared article-extraction benchmark (real pages with their true article body).

    .venv/bin/python benchmarks/extraction_f1.py                      # ../shared/extraction-bench
    .venv/bin/python benchmarks/extraction_f1.py /path/to/bench --ngram 1 --only 05844573

Score (the benchmark's usual one): text is split into ``\\w+`` tokens and compared as bags of
n-token shingles (n=4 by default; ``--ngram 1`` for plain tokens). Precision is averaged over
the pages with output, recall over all pages, and F1 is taken of the two means. A page the
extractor rejects (``Rejected``) has no output: precision is not counted, recall is 0.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

import trafilatura  # noqa: E402

from archive.config import ExtractionSettings  # noqa: E402
from crawler.extraction import ArticleExtractor  # noqa: E402
from crawler.rejections import Rejected  # noqa: E402

TOKEN = re.compile(r"\w+")


@dataclass
class Score:
    precision: float | None  # None: no output
    recall: float
    seconds: float
    note: str = ""

    @property
    def f1(self) -> float:
        p = self.precision or 0.0
        return 2 * p * self.recall / (p + self.recall) if p + self.recall else 0.0


def shingles(text: str, n: int) -> Counter:
    tokens = TOKEN.findall(text.lower())
    if len(tokens) < n:
        return Counter([tuple(tokens)]) if tokens else Counter()
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def score(predicted: str | None, truth: str, n: int, seconds: float, note: str = "") -> Score:
    expected = shingles(truth, n)
    if not predicted:
        return Score(None, 0.0, seconds, note or "no output")
    got = shingles(predicted, n)
    common = sum((got & expected).values())
    precision = common / max(sum(got.values()), 1)
    recall = common / max(sum(expected.values()), 1)
    return Score(precision, recall, seconds, note)


def summary(scores: list[Score]) -> tuple[float, float, float, float]:
    with_output = [s.precision for s in scores if s.precision is not None]
    p = statistics.mean(with_output) if with_output else 0.0
    r = statistics.mean(s.recall for s in scores) if scores else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f1, statistics.mean(s.seconds for s in scores) if scores else 0.0


def load_bench(path: Path, only: str | None) -> list[tuple[str, str, str, str]]:
    truth = json.loads((path / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id in sorted(truth):
        if only and not page_id.startswith(only):
            continue
        html = gzip.decompress((path / "html" / f"{page_id}.html.gz").read_bytes()).decode("utf-8", "replace")
        pages.append((page_id, truth[page_id]["url"], html, truth[page_id]["articleBody"]))
    return pages


def run_ours(extractor: ArticleExtractor, html: str, url: str) -> tuple[str | None, str]:
    try:
        return extractor.extract(html, url).body, ""
    except Rejected as exc:
        return None, f"rejected {exc}"


def run_plain(html: str, url: str) -> tuple[str | None, str]:
    return trafilatura.extract(html, url=url), ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bench", nargs="?", default=str(PROJECT_ROOT / ".." / "shared" / "extraction-bench"),
                        help="benchmark folder with ground-truth.json and html/ (default: ../shared/extraction-bench)")
    parser.add_argument("--ngram", type=int, default=4, help="shingle size in tokens (default 4; 1 = bag of tokens)")
    parser.add_argument("--only", help="only pages whose id starts with this")
    parser.add_argument("--balanced", action="store_true",
                        help="ours with favor_precision=false, trafilatura's balanced mode (for tuning)")
    parser.add_argument("--show", action="store_true", help="print our body of each page (use with --only)")
    args = parser.parse_args(argv)

    bench = Path(args.bench).resolve()
    if not (bench / "ground-truth.json").is_file():
        parser.error(f"{bench}: no ground-truth.json (give the benchmark folder as argument)")
    pages = load_bench(bench, args.only)
    if not pages:
        parser.error("no pages selected")

    settings = ExtractionSettings(favor_precision=not args.balanced)
    extractor = ArticleExtractor(settings)
    ours: list[Score] = []
    plain: list[Score] = []
    for page_id, url, html, truth in pages:
        for runner, scores in ((lambda: run_ours(extractor, html, url), ours), (lambda: run_plain(html, url), plain)):
            started = time.perf_counter()
            text, note = runner()
            scores.append(score(text, truth, args.ngram, time.perf_counter() - started, note))
            if args.show and scores is ours:
                print(f"----- {page_id}\n{text}\n")

    def fmt(value: float | None) -> str:
        return "  -  " if value is None else f"{value:.3f}"

    print(f"{len(pages)} pages from {bench} ({args.ngram}-token shingles); "
          f"ours: {settings}")
    print(f"{'page':<12} {'ours P':>7} {'R':>6} {'F1':>6} {'ms':>5} | {'plain P':>7} {'R':>6} {'F1':>6} {'ms':>5}  note")
    for (page_id, url, _, _), a, b in zip(pages, ours, plain):
        flag = "  <" if a.f1 + 0.02 < b.f1 else ("  >" if a.f1 > b.f1 + 0.02 else "")
        print(f"{page_id[:12]:<12} {fmt(a.precision):>7} {a.recall:>6.3f} {a.f1:>6.3f} {a.seconds * 1000:>5.0f} | "
              f"{fmt(b.precision):>7} {b.recall:>6.3f} {b.f1:>6.3f} {b.seconds * 1000:>5.0f}{flag}  {a.note}")
    print()
    print(f"{'':<22}{'mean P':>8} {'mean R':>8} {'F1':>8} {'ms/page':>9}")
    for name, scores in (("ours (ArticleExtractor)", ours), ("plain trafilatura", plain)):
        p, r, f1, secs = summary(scores)
        print(f"{name:<22}{p:>8.3f} {r:>8.3f} {f1:>8.3f} {secs * 1000:>9.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
