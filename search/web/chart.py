"""The coverage chart as shapes a template draws in SVG: no script, scaled to any screen by its
viewBox. One bar per period and query (up to three queries side by side in each period) under a
guide at the highest count. The words around it (the highest count, the first, middle and last
periods) are HTML beside the drawing, so they keep their size on a phone."""

from __future__ import annotations

from search.coverage import Coverage

WIDTH, HEIGHT = 640, 200


def chart(counted: Coverage) -> dict:
    """{width, height, top, bars: [{x, y, width, height, series, period, count, query}], labels}."""
    periods = counted.periods
    highest = max((c for s in counted.series for c in s.counts), default=0)
    slot = WIDTH / max(len(periods), 1)
    bar_width = slot * 0.8 / max(len(counted.series), 1)
    bars = []
    for n, series in enumerate(counted.series):
        for i, (period, count) in enumerate(zip(periods, series.counts)):
            height = (HEIGHT - 1) * count / highest if highest else 0
            bars.append({
                "x": round(i * slot + slot * 0.1 + n * bar_width, 2), "y": round(HEIGHT - height, 2),
                "width": round(max(bar_width, 0.5), 2), "height": round(height, 2),
                "series": n + 1, "period": period, "count": count, "query": series.query or "all articles",
            })
    labels = [periods[i] for i in sorted({0, len(periods) // 2, len(periods) - 1})] if periods else []
    return {"width": WIDTH, "height": HEIGHT, "bars": bars, "labels": labels, "top": highest}
