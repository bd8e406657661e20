"""The coverage chart's period follows the range asked for: tens of bars, not one or thousands."""

from __future__ import annotations

from datetime import date

from search.coverage import choose_interval


def test_the_period_is_chosen_from_the_range():
    assert choose_interval(date(2026, 11, 1), date(2026, 11, 30)) == "day"
    assert choose_interval(date(2026, 1, 1), date(2026, 6, 30)) == "week"
    assert choose_interval(date(2020, 1, 1), date(2026, 6, 30)) == "month"
    assert choose_interval(None, None) == "month"  # an empty archive
