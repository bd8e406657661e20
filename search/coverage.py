"""Coverage over time: how many articles matched per day, week or month, for one query or up to
three side by side. The counts come with the search itself (search.query.over_time_aggregation);
this module picks the period from the range and lines the series up on the same periods.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from elasticsearch import Elasticsearch, NotFoundError

from search.query import INTERVALS, SearchResponse

MAX_COMPARED = 3
DAYS_BY_DAY = 62  # up to two months: a bar per day
DAYS_BY_WEEK = 2 * 366  # up to two years: a bar per week; beyond, per month


@dataclass(frozen=True)
class Series:
    query: str
    total: int
    counts: tuple[int, ...]  # one per period of the Coverage
    total_text: str = ""  # the total as the reader sees it: "1,204", "more than 10,000", "about 430,000"


@dataclass(frozen=True)
class Coverage:
    interval: str  # day, week or month
    periods: tuple[str, ...]  # the first day of each, YYYY-MM-DD
    series: tuple[Series, ...]
    sample: float = 0.0  # > 0: the counts are estimates from a random sample of this share of the matches

    def rows(self) -> list[tuple[str, ...]]:
        """period, then one count per query: a table for screen readers and the CSV."""
        return [(period, *(str(s.counts[n]) for s in self.series)) for n, period in enumerate(self.periods)]


def choose_interval(first: date | None, last: date | None) -> str:
    """Day, week or month, so that a range shows tens of bars, not one or thousands."""
    if first is None or last is None:
        return "month"
    days = (last - first).days
    return "day" if days <= DAYS_BY_DAY else "week" if days <= DAYS_BY_WEEK else "month"


def checked_interval(value: str | None) -> str | None:
    if value is None or value in INTERVALS:
        return value
    raise ValueError(f"by={value!r}: use one of {', '.join(INTERVALS)}")


def date_span(client: Elasticsearch, alias: str) -> tuple[date | None, date | None]:
    """The first and last display dates the archive holds."""
    try:
        response = client.search(index=alias, size=0, aggs={"first": {"min": {"field": "display_date"}},
                                                             "last": {"max": {"field": "display_date"}}})
    except NotFoundError:
        return None, None
    return span_of(response.get("aggregations", {}))


def span_of(aggregations: dict) -> tuple[date | None, date | None]:
    """min/max aggregations named first and last, as dates."""
    def day(name: str) -> date | None:
        text = (aggregations.get(name) or {}).get("value_as_string")
        return date.fromisoformat(text[:10]) if text else None

    return day("first"), day("last")


def coverage(response: SearchResponse, queries: list[str], interval: str) -> Coverage:
    """The response's counts over time for its query and request.compare's, on shared periods."""
    found = [(response.total, response.over_time), *response.compared]
    periods = sorted({period for _, counts in found for period, _ in counts})
    series = tuple(
        Series(query, total, tuple(dict(counts).get(period, 0) for period in periods), f"{total:,}")
        for query, (total, counts) in zip(queries, found)
    )
    if series and response.facet_sample:
        series = (replace(series[0], total=response.estimated_total,
                          total_text=response.facet_count_text(response.estimated_total)), *series[1:])
    elif series and response.total_more:
        series = (replace(series[0], total_text=f"more than {response.total:,}"), *series[1:])
    return Coverage(interval, tuple(periods), series, response.facet_sample)
