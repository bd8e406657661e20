"""How well does extraction keep the article and drop the rest? A benchmark, not a test.

Scores the archive's ArticleExtractor against plain
``trafilatura.extract(html, url=url, include_comments=False)`` on these sets, each with the true
article body:

- ``shared``: ``../shared/extraction-bench`` (41 real pages; the first rules were tuned on it);
- ``shared-2``: ``../shared/extraction-bench-2`` (87 real pages from Mozilla Readability's test
  suite; the body scorer's weights were fitted on it, ``crawler/scoring.py``);
- ``generated``: ``benchmarks/generated_pages.py``, 98 pages from varied publisher templates
  the heuristics were not tuned on (80 articles of which 18 briefs, 18 non-articles), with
  the true publication instant;
- ``holdout``: ``generated_pages.holdout()``, 39 pages from 6 more templates written after
  the rules were frozen and scored once (the ``generated`` set was looked at while building
  them, so it is no longer blind; this one is);
- ``demo``: the demo site's 34 article pages (the crawl's own test site).

    .venv/bin/python benchmarks/extraction_f1.py                      # every set
    .venv/bin/python benchmarks/extraction_f1.py --set shared         # the two shared sets
    .venv/bin/python benchmarks/extraction_f1.py --set generated --pages   # one row per page
    .venv/bin/python benchmarks/extraction_f1.py /path/to/bench --set shared --only 05844573 --show

Score (the benchmark's usual one): text is split into ``\\w+`` tokens and compared as bags of
n-token shingles (n=4 by default; ``--ngram 1`` for plain tokens). Precision is averaged over
the articles with output, recall over all articles, and F1 is taken of the two means. A real
article the extractor rejects has no output: precision is not counted, recall is 0, and it is
counted under "rejected". "Below" counts the pages where ours is more than 0.2 F1 under plain
trafilatura (the goal: none). Non-articles (placeholders, empty templates, listings) are not scored
for F1; the table counts how many were archived anyway. Time is CPU time per page
(``time.process_time``, after a warm-up; ``--repeat N`` keeps each page's fastest of N runs),
which other processes on the machine disturb less than wall time. Dates (sets with a known date): right instant, right day only, wrong, missing.
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
from datetime import date, datetime, timezone
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

import trafilatura  # noqa: E402

from archive.config import ExtractionSettings  # noqa: E402
from crawler.extraction import ArticleExtractor, detect_language  # noqa: E402
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


@dataclass
class Case:
    id: str
    url: str
    html: str
    body: str                  # true body; "" for a non-article
    is_article: bool = True
    published: str | None = None  # true publication date (ISO), when known


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


def load_shared(path: Path, only: str | None) -> list[Case]:
    truth = json.loads((path / "ground-truth.json").read_text(encoding="utf-8"))
    cases = []
    for page_id in sorted(truth):
        if only and not page_id.startswith(only):
            continue
        html = gzip.decompress((path / "html" / f"{page_id}.html.gz").read_bytes()).decode("utf-8", "replace")
        cases.append(Case(page_id, truth[page_id]["url"], html, truth[page_id]["articleBody"]))
    return cases


def load_generated(only: str | None) -> list[Case]:
    from benchmarks.generated_pages import generate

    return [Case(p.id, p.url, p.html, p.body, p.is_article, p.published)
            for p in generate() if not only or p.id.startswith(only)]


def load_holdout(only: str | None) -> list[Case]:
    from benchmarks.generated_pages import holdout

    return [Case(p.id, p.url, p.html, p.body, p.is_article, p.published)
            for p in holdout() if not only or p.id.startswith(only)]


def load_demo(only: str | None) -> list[Case]:
    from archive.demo_site import DemoSite
    from archive.demo_site import pages as demo_pages

    site, base = DemoSite(), "http://127.0.0.1:8701"
    return [Case(a.slug, base + a.path, demo_pages.article_page(site, a, base), a.body_text, True, a.published.isoformat())
            for a in site.articles if not only or a.slug.startswith(only)]


def run_ours(extractor: ArticleExtractor, html: str, url: str) -> tuple[str | None, str, str | None]:
    try:
        article = extractor.extract(html, url)
    except Rejected as exc:
        return None, f"rejected {exc}", None
    source = getattr(article, "body_source", "trafilatura")  # getattr: the script also scores older versions
    note = ("short " if getattr(article, "short", False) else "") + (source if source != "trafilatura" else "")
    return article.body, note.strip(), article.published and f"{article.published} ({article.published_source})"


def run_plain(html: str, url: str) -> tuple[str | None, str, str | None]:
    return trafilatura.extract(html, url=url, include_comments=False), "", None


def date_verdict(found: str | None, truth: str | None) -> str:
    """right | day | wrong | missing (instants compared; a date-only truth compares days)."""
    if not found:
        return "missing"
    value = found.split(" (")[0]
    got = _when(value)
    want = _when(truth)
    if isinstance(want, date) and not isinstance(want, datetime):
        return "right" if _day(got) == want else "wrong"
    if isinstance(got, datetime):
        return "right" if _utc(got) == _utc(want) else ("day" if _day(got) == _day(want) else "wrong")
    return "day" if got in (_utc(want).date(), want.date()) else "wrong"


def _when(value: str) -> date | datetime:
    return date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)


def _utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _day(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


@dataclass
class SetResult:
    name: str
    cases: list[Case]
    ours: list[Score]
    plain: list[Score]
    ours_archived_non_articles: int
    plain_archived_non_articles: int
    dates: Counter
    failures: list[str]


def evaluate(name: str, cases: list[Case], extractor: ArticleExtractor, ngram: int, show: bool, pages: bool,
             repeat: int = 1) -> SetResult:
    for case in cases[:3]:  # warm-up: imports, caches, first-call costs
        run_ours(extractor, case.html, case.url)
        run_plain(case.html, case.url)
    detect_language("a page that declares no language loads the language model once per process")
    result = SetResult(name, cases, [], [], 0, 0, Counter(), [])
    for index, case in enumerate(cases):
        per_page = []
        runners = [("ours", lambda: run_ours(extractor, case.html, case.url)),
                   ("plain", lambda: run_plain(case.html, case.url))]
        # Who runs first alternates: the second run on a page finds warm caches.
        for which, runner in runners if index % 2 == 0 else runners[::-1]:
            seconds = float("inf")
            for _ in range(max(repeat, 1)):
                started = time.process_time()
                text, note, published = runner()
                seconds = min(seconds, time.process_time() - started)
            if not case.is_article:
                if text:
                    if which == "ours":
                        result.ours_archived_non_articles += 1
                        result.failures.append(f"{case.id}: non-article archived ({len(text.split())} words)")
                    else:
                        result.plain_archived_non_articles += 1
                continue
            scored = score(text, case.body, ngram, seconds, note)
            (result.ours if which == "ours" else result.plain).append(scored)
            per_page.insert(0 if which == "ours" else len(per_page), scored)
            if which == "ours":
                if text is None:
                    result.failures.append(f"{case.id}: real article {note}")
                elif scored.f1 < 0.9:
                    result.failures.append(f"{case.id}: F1 {scored.f1:.2f} (P {scored.precision:.2f} R {scored.recall:.2f}) {note}")
                if case.published:
                    verdict = date_verdict(published, case.published)
                    result.dates[verdict] += 1
                    if verdict != "right":
                        result.failures.append(f"{case.id}: date {verdict}: {published} (true {case.published})")
            if show and which == "ours":
                print(f"----- {case.id}\n{text}\n")
        if pages and len(per_page) == 2:
            a, b = per_page
            flag = "  <" if a.f1 + 0.02 < b.f1 else ("  >" if a.f1 > b.f1 + 0.02 else "")
            print(f"{name:<9} {case.id[:22]:<22} {_fmt(a.precision):>7} {a.recall:>6.3f} {a.f1:>6.3f} {a.seconds * 1000:>5.0f} | "
                  f"{_fmt(b.precision):>7} {b.recall:>6.3f} {b.f1:>6.3f} {b.seconds * 1000:>5.0f}{flag}  {a.note}")
    return result


def _fmt(value: float | None) -> str:
    return "  -  " if value is None else f"{value:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bench", nargs="?", default=str(PROJECT_ROOT / ".." / "shared" / "extraction-bench"),
                        help="the shared benchmark folder with ground-truth.json and html/ (default: ../shared/extraction-bench)")
    parser.add_argument("--bench-2", default=str(PROJECT_ROOT / ".." / "shared" / "extraction-bench-2"),
                        help="the second shared set (default: ../shared/extraction-bench-2)")
    parser.add_argument("--set", choices=("all", "shared", "generated", "holdout", "demo"), default="all",
                        help="which set(s) to score (shared: both shared sets)")
    parser.add_argument("--ngram", type=int, default=4, help="shingle size in tokens (default 4; 1 = bag of tokens)")
    parser.add_argument("--only", help="only pages whose id starts with this")
    parser.add_argument("--precision", action="store_true",
                        help="ours with favor_precision=true, trafilatura's precision mode (for comparison)")
    parser.add_argument("--pages", action="store_true", help="one row per page")
    parser.add_argument("--repeat", type=int, default=1,
                        help="extract each page N times and keep the fastest (steadier ms/page on a busy machine)")
    parser.add_argument("--show", action="store_true", help="print our body of each page (use with --only)")
    args = parser.parse_args(argv)

    sets: list[tuple[str, list[Case]]] = []
    if args.set in ("all", "shared"):
        for name, folder in (("shared", args.bench), ("shared-2", args.bench_2)):
            bench = Path(folder).resolve()
            if (bench / "ground-truth.json").is_file():
                sets.append((name, load_shared(bench, args.only)))
            else:
                print(f"skipping {name}: {bench} has no ground-truth.json (give the folder: BENCH or --bench-2)")
    if args.set in ("all", "generated"):
        sets.append(("generated", load_generated(args.only)))
    if args.set in ("all", "holdout"):
        sets.append(("holdout", load_holdout(args.only)))
    if args.set in ("all", "demo"):
        sets.append(("demo", load_demo(args.only)))
    sets = [(name, cases) for name, cases in sets if cases]
    if not sets:
        parser.error("no pages selected")

    settings = ExtractionSettings(favor_precision=args.precision)
    extractor = ArticleExtractor(settings)
    if args.pages:
        print(f"{'set':<9} {'page':<22} {'ours P':>7} {'R':>6} {'F1':>6} {'ms':>5} | {'plain P':>7} {'R':>6} {'F1':>6} {'ms':>5}  note")
    results = [evaluate(name, cases, extractor, args.ngram, args.show, args.pages, args.repeat) for name, cases in sets]

    print(f"\n{args.ngram}-token shingles; ours: {settings}")
    print(f"{'set':<10}{'pages':>6} {'extractor':<11}{'P':>7} {'R':>7} {'F1':>7} {'ms/page':>8} "
          f"{'rejected':>9} {'non-art. kept':>14}  dates right/day/wrong/missing")
    for r in results:
        articles = sum(c.is_article for c in r.cases)
        non_articles = len(r.cases) - articles
        for label, scores, kept in (("ours", r.ours, r.ours_archived_non_articles), ("plain", r.plain, r.plain_archived_non_articles)):
            p, rec, f1, secs = summary(scores)
            rejected = sum(s.precision is None for s in scores)
            dates = "/".join(str(r.dates[k]) for k in ("right", "day", "wrong", "missing")) if label == "ours" and r.dates else ""
            print(f"{r.name:<10}{len(r.cases):>6} {label:<11}{p:>7.3f} {rec:>7.3f} {f1:>7.3f} {secs * 1000:>8.1f} "
                  f"{rejected:>4}/{articles:<4} {kept:>8}/{non_articles:<5}  {dates}")
    print(f"\n{'set':<10}{'pages':>6} {'F1 ours':>8} {'plain':>7} {'rejected ours/plain':>20} "
          f"{'> 0.2 below plain':>18} {'ms/page ours':>13} {'plain':>7} {'ratio':>6}")
    for r in results:
        ours_f1, plain_f1 = summary(r.ours)[2], summary(r.plain)[2]
        below = sum(1 for a, b in zip(r.ours, r.plain) if a.f1 < b.f1 - 0.2)
        ours_ms, plain_ms = summary(r.ours)[3] * 1000, summary(r.plain)[3] * 1000
        rejected = f"{sum(s.precision is None for s in r.ours)}/{sum(s.precision is None for s in r.plain)}"
        print(f"{r.name:<10}{len(r.cases):>6} {ours_f1:>8.3f} {plain_f1:>7.3f} {rejected:>20} {below:>18} "
              f"{ours_ms:>13.1f} {plain_ms:>7.1f} {ours_ms / plain_ms if plain_ms else 0:>5.2f}x")
    failures = [f"{r.name}/{f}" for r in results for f in r.failures]
    if failures:
        print(f"\nwhere ours still fails ({len(failures)}):")
        for line in failures:
            print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
