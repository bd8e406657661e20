"""Fit the body scorer's weights (crawler/scoring.py) on one shared set, validate on the other.

For every page of both sets the script builds every candidate text once (trafilatura's, the
chrome-pruned lines, JSON-LD articleBody, the article container, and the readability reading
trafilatura makes on the way), scores each
candidate against the true body (4-token shingle F1, as benchmarks/extraction_f1.py does), then
searches a grid of weights for the best mean F1 of the chosen text on one set and reports what
those weights give on the other, in both directions, beside the weights in use. It does the same
for the step that puts back prose paragraphs the chosen text lacks from the readability reading
(``crawler/body.py`` ``with_missing_prose``: its minimum words and cover).

    .venv/bin/python benchmarks/fit_body_scorer.py ../shared/extraction-bench ../shared/extraction-bench-2
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
from dataclasses import astuple
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from archive.config import ExtractionSettings  # noqa: E402
from benchmarks.extraction_f1 import load_shared, score  # noqa: E402
from crawler import body, scoring  # noqa: E402
from crawler.extraction import ArticleExtractor  # noqa: E402

GRID = {
    "length": (0.5, 1, 2, 4),
    "kept": (0, 1, 2),
    "within": (0, 1, 2),
    "links": (0, 2),
    "lists": (0, 1),
    "declared": (0, 0.2, 0.5),
    "support": (0, 1, 2, 4, 8),
}

MISSING_GRID = {"min_words": (8, 15, 25), "cover": (0.8, 0.9, 0.95)}


class Page:
    """The candidate list of a page, described, with each candidate's true F1."""

    def __init__(self, candidates: list[scoring.Candidate], facts: dict, truth: str):
        self.candidates = scoring.describe(candidates, facts)
        self.facts, self.truth = facts, truth
        self.f1 = {c.source: score("\n".join(c.paragraphs), truth, 4, 0).f1 for c in self.candidates}

    def chosen_f1(self, weights: scoring.Weights) -> float:
        return self.f1[scoring.pick(self.candidates, weights).source]

    def completed_f1(self, min_words: int, cover: float | None) -> float:
        """F1 of the chosen text (weights in use) with the missing prose put back (None: not)."""
        chosen = scoring.pick(self.candidates)
        reading = next((c for c in self.candidates if c.source == "readability"), None)
        if cover is None or reading is None or reading is chosen:
            return self.f1[chosen.source]
        saved = body.MISSING_MIN_WORDS, body.MISSING_COVER
        body.MISSING_MIN_WORDS, body.MISSING_COVER = min_words, cover
        try:
            completed = body.with_missing_prose(chosen.paragraphs, reading.paragraphs, self.facts)
        finally:
            body.MISSING_MIN_WORDS, body.MISSING_COVER = saved
        return score("\n".join(completed), self.truth, 4, 0).f1


def mean_f1(pages: list[Page], weights: scoring.Weights) -> float:
    return statistics.mean(p.chosen_f1(weights) for p in pages)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("first", help="a shared set folder (with ground-truth.json and html/)")
    parser.add_argument("second", help="the other shared set folder")
    args = parser.parse_args(argv)

    settings = ExtractionSettings()
    extractor = ArticleExtractor(settings)
    sets = {}
    for folder in (args.first, args.second):
        pages = []
        for case in load_shared(Path(folder), None):
            candidates, facts = extractor.body_candidates(case.html, case.url)
            pages.append(Page(candidates, facts, case.body))
        sets[Path(folder).name] = pages
    grid = [scoring.Weights(*values) for values in itertools.product(*GRID.values())]
    print("mean F1 of the chosen text per page")
    print(f"{'set':<22}{'trafilatura':>12}{'best possible':>14}{'weights in use':>15}")
    for name, pages in sets.items():
        print(f"{name:<22}{statistics.mean(p.f1['trafilatura'] for p in pages):>12.3f}"
              f"{statistics.mean(max(p.f1.values()) for p in pages):>14.3f}{mean_f1(pages, scoring.WEIGHTS):>15.3f}")
    names = list(sets)
    for fit, check in ((names[0], names[1]), (names[1], names[0])):
        best = max(grid, key=lambda w: mean_f1(sets[fit], w))
        print(f"fitted on {fit}: weights {astuple(best)} -> {fit} {mean_f1(sets[fit], best):.3f}, "
              f"validated on {check} {mean_f1(sets[check], best):.3f}")
    print(f"weights in use: {astuple(scoring.WEIGHTS)} ({', '.join(GRID)})")

    missing = list(itertools.product(MISSING_GRID["min_words"], MISSING_GRID["cover"]))
    def completed(name: str, setting: tuple) -> float:
        return statistics.mean(p.completed_f1(*setting) for p in sets[name])
    print("missing prose put back (min words, cover): "
          + ", ".join(f"{name} {completed(name, (0, None)):.4f}" for name in names) + " without")
    for fit, check in ((names[0], names[1]), (names[1], names[0])):
        best = max(missing, key=lambda m: completed(fit, m))
        print(f"fitted on {fit}: {best} -> {fit} {completed(fit, best):.4f}, validated on {check} {completed(check, best):.4f}")
    in_use = (body.MISSING_MIN_WORDS, body.MISSING_COVER)
    print(f"in use: {in_use} -> " + ", ".join(f"{name} {completed(name, in_use):.4f}" for name in names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
