"""The coverage chart as shapes a template draws in SVG: no script, scaled to any screen by its
viewBox. One bar per period and query (up to three queries side by side in each period), a
horizontal guide at the highest count, and a few period labels along the bottom."""

from __future__ import annotations

from search.coverage import Coverage

WIDTH, HEIGHT = 640, 220
LEFT, BOTTOM, TOP = 44, 24, 10  # room for the count labels, the period labels and the top guide
LABELS = 6  # period labels along the bottom at most: readable on a phone


def chart(counted: Coverage) -> dict:
    """{width, height, bars: [{x, y, width, height, series, period, count, query}], labels, top}."""
    periods = counted.periods
    highest = max((c for s in counted.series for c in s.counts), default=0)
    plot_width, plot_height = WIDTH - LEFT, HEIGHT - BOTTOM - TOP
    slot = plot_width / max(len(periods), 1)
    bar_width = slot * 0.8 / max(len(counted.series), 1)
    bars = []
    for n, series in enumerate(counted.series):
        for i, (period, count) in enumerate(zip(periods, series.counts)):
            height = plot_height * count / highest if highest else 0
            bars.append({
                "x": round(LEFT + i * slot + slot * 0.1 + n * bar_width, 2), "y": round(TOP + plot_height - height, 2),
                "width": round(max(bar_width, 0.5), 2), "height": round(height, 2),
                "series": n + 1, "period": period, "count": count, "query": series.query or "all articles",
            })
    step = max(1, -(-len(periods) // LABELS))
    labels = [{"x": round(LEFT + i * slot + slot / 2, 2), "text": period}
              for i, period in enumerate(periods) if i % step == 0]
    return {"width": WIDTH, "height": HEIGHT, "bars": bars, "labels": labels, "top": highest,
            "left": LEFT, "guide_y": TOP, "base_y": HEIGHT - BOTTOM}
