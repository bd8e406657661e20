"""Dates as pages write them: parsed with their zone, implausible ones discarded, sources ordered."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from crawler.dates import Candidate, choose, parse_date, plausible, url_date

UTC = timezone.utc


@pytest.mark.parametrize(
    "text, instant",
    [
        ("November 19, 2019, 07:47 PM EST", datetime(2019, 11, 20, 0, 47, tzinfo=UTC)),
        ("Nov. 19, 2019 at 7:47 p.m. EDT", datetime(2019, 11, 19, 23, 47, tzinfo=UTC)),
        ("Published 11:34 PM EST Nov 19, 2019", datetime(2019, 11, 20, 4, 34, tzinfo=UTC)),
        ("19 November 2019 19:47 CET", datetime(2019, 11, 19, 18, 47, tzinfo=UTC)),
        ("5 June 2020, 14:00 CEST", datetime(2020, 6, 5, 12, 0, tzinfo=UTC)),
        ("Jan 2, 2020 3:04 pm PST", datetime(2020, 1, 2, 23, 4, tzinfo=UTC)),
        ("Sep 30, 2020 11:15 BST", datetime(2020, 9, 30, 10, 15, tzinfo=UTC)),
        ("Updated 3 March 2021, 10.05 GMT", datetime(2021, 3, 3, 10, 5, tzinfo=UTC)),
        ("March 3, 2021 5:00 PM UTC", datetime(2021, 3, 3, 17, 0, tzinfo=UTC)),
        ("Jan 2, 2020 3:04 pm UTC+2", datetime(2020, 1, 2, 13, 4, tzinfo=UTC)),
        ("2019-04-24T09:12:00Z", datetime(2019, 4, 24, 9, 12, tzinfo=UTC)),
        ("Wed, 24 Apr 2019 09:12:00 +0000", datetime(2019, 4, 24, 9, 12, tzinfo=UTC)),
    ],
)
def test_prose_and_iso_dates_are_parsed_to_the_right_instant(text, instant):
    parsed = parse_date(text)
    assert isinstance(parsed, datetime) and parsed.tzinfo is not None, parsed
    assert parsed == instant


def test_a_time_without_zone_stays_naive_and_a_day_stays_a_day():
    assert parse_date("November 19, 2019, 9:02 AM") == datetime(2019, 11, 19, 9, 2)
    assert parse_date("Saturday, 12 March 2022") == date(2022, 3, 12)
    assert parse_date("2019-11-19") == date(2019, 11, 19)


@pytest.mark.parametrize("text", ["", "hello", "Chapter 12", "price 19.47 EUR", None])
def test_what_is_not_a_date_gives_none(text):
    assert parse_date(text) is None


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00Z", "0001-01-01", "1970-01-01T00:00:00Z", "9999-12-31", "2099-01-01T00:00:00Z"])
def test_year_one_epoch_and_far_future_dates_are_implausible(text):
    assert parse_date(text) is not None and not plausible(parse_date(text))


def test_plausible_allows_a_day_of_clock_and_zone_slack():
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    assert plausible(now + timedelta(hours=20), now)
    assert not plausible(now + timedelta(days=2), now)
    assert plausible(date(1990, 1, 1), now) and not plausible(date(1989, 12, 31), now)


def test_url_dates():
    assert url_date("/2019/11/19/water-company-fined") == date(2019, 11, 19)
    assert url_date("/news/2019-4-9-slug") == date(2019, 4, 9)
    assert url_date("/2019/13/45/x") is None and url_date("/section/world/") is None


def test_first_plausible_source_wins_and_a_later_time_on_the_same_day_refines_a_bare_day():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    broken = Candidate(datetime(1, 1, 1, tzinfo=UTC), "json-ld")
    meta = Candidate(datetime(2019, 11, 20, 0, 50, tzinfo=UTC), "meta:article:published_time")
    text = Candidate(datetime(2019, 11, 19, 19, 47, tzinfo=timezone(timedelta(hours=-5))), "text")
    url = Candidate(date(2019, 11, 19), "url")
    assert choose([broken, meta, url, text], now) is meta
    assert choose([broken, url, text], now) is text          # same local day: the time is taken
    assert choose([url, Candidate(datetime(2019, 12, 1, 8, 0), "text")], now) is url  # another day: not
    assert choose([broken], now) is None
    assert choose([], now) is None
