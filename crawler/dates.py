"""Publication dates: parse what pages write, drop what cannot be true, choose among sources.

A page may carry its date in several places, and they disagree. The rule:

1. Every source is read into candidates, in this order of trust:
   ``json-ld`` (datePublished), the ``meta:*`` tags (article:published_time, itemprop,
   pubdate, parsely, Dublin Core), ``time-element`` (a ``<time datetime>`` marked as the
   publication), ``url`` (``/2019/11/19/`` in the path), ``text`` (a dateline in the visible
   page: a ``<time>``'s text or an element whose class says date/published), and last
   ``trafilatura`` (htmldate's guess).
2. A candidate is **implausible** and skipped when it is before 1990-01-01 or more than one day
   after the crawl (year-1 placeholders, ``9999-12-31``, clock errors): the next source is used.
3. The first plausible candidate wins. If it has a day but no time (a URL, a date-only meta)
   and a later candidate gives a time on the same day (local or UTC), that later, more precise
   one is taken (and named as the source).
4. Nothing plausible: no date. The crawl date is never stored as a publication date.

Parsing: ISO 8601, RFC 2822, and prose such as ``November 19, 2019, 07:47 PM EST`` or
``19 November 2019 19:47 CET``: AM/PM are honoured and named zones become their UTC offsets
(python-dateutil parses, ``ZONES`` below says what an abbreviation means; ``ET``/``PT``...
follow the region's summer time). Visible text may also say ``05.03.2024 07:10`` (day first).
A time with no zone stays naive (Elasticsearch reads it as UTC), a zone-less date stays a date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from email.utils import parsedate_to_datetime
from typing import Iterable

from zoneinfo import ZoneInfo

from dateutil import parser as dateutil_parser

# Earliest plausible publication date of a web page, and how far past the crawl a date may be
# (time zones, a clock slightly ahead).
EARLIEST = datetime(1990, 1, 1, tzinfo=timezone.utc)
FUTURE_SLACK = timedelta(days=1)

_H = 3600
# Named zones as news sites write them. Ambiguous ones take the reading most common in news:
# CST = US Central (not China), IST = India (not Irish), BST = British Summer Time.
ZONES: dict[str, int] = {
    "UTC": 0, "GMT": 0, "UT": 0, "Z": 0, "WET": 0, "WEST": 1 * _H, "BST": 1 * _H, "IST": 5 * _H + 1800,
    "CET": 1 * _H, "CEST": 2 * _H, "MET": 1 * _H, "MEST": 2 * _H, "EET": 2 * _H, "EEST": 3 * _H, "MSK": 3 * _H,
    "EST": -5 * _H, "EDT": -4 * _H, "CST": -6 * _H, "CDT": -5 * _H, "MST": -7 * _H, "MDT": -6 * _H,
    "PST": -8 * _H, "PDT": -7 * _H, "AKST": -9 * _H, "AKDT": -8 * _H, "HST": -10 * _H,
    "AST": -4 * _H, "ADT": -3 * _H, "NST": -3 * _H - 1800, "NDT": -2 * _H - 1800,
    "JST": 9 * _H, "KST": 9 * _H, "HKT": 8 * _H, "SGT": 8 * _H, "AWST": 8 * _H, "ACST": 9 * _H + 1800,
    "AEST": 10 * _H, "AEDT": 11 * _H, "NZST": 12 * _H, "NZDT": 13 * _H, "SAST": 2 * _H, "WAT": 1 * _H,
    "EAT": 3 * _H, "PKT": 5 * _H,
}
# Zones written without saying summer or winter ("5:00 PM ET"): the region's rules decide.
REGION_ZONES: dict[str, str] = {
    "ET": "America/New_York", "CT": "America/Chicago", "MT": "America/Denver", "PT": "America/Los_Angeles",
}
TZINFOS: dict[str, int | tzinfo] = {**ZONES, **{name: ZoneInfo(key) for name, key in REGION_ZONES.items()}}

_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
          r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_CLOCK = r"\d{1,2}[:.]\d{2}(?::\d{2})?\s*(?:[ap]\.?m\.?)?"
_ZONE = r"(?:\s*(?:(?:UTC|GMT)\s?[+-]\d{1,2}(?::?\d{2})?|[+-]\d{2}:?\d{2}|[A-Z]{1,5}\b))?"
_DAY = rf"(?:{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|\d{{1,2}}(?:st|nd|rd|th)?\.?\s+{_MONTH},?\s+\d{{4}})"
# "November 19, 2019, 07:47 PM EST" / "19 November 2019 19:47 CET" / "11:34 PM EST Nov 19, 2019"
PROSE_DATE = re.compile(
    rf"\b(?:{_CLOCK}{_ZONE}\s+(?:on\s+)?{_DAY}|{_DAY}(?:,?\s*(?:at\s+|-\s+|\|\s*)?{_CLOCK}{_ZONE})?)",
    re.IGNORECASE,
)
ISO_IN_TEXT = re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:?\d{2})?)?(?![\d-])")
DOTTED_DATE = re.compile(r"\b(\d{1,2})\.(\d{1,2})\.((?:19|20)\d{2})(?:,?\s+(\d{1,2})[:.](\d{2}))?\b")
URL_DATE = re.compile(r"/((?:19|20)\d{2})[/-](0?[1-9]|1[0-2])[/-](0?[1-9]|[12]\d|3[01])(?:/|-|$)")
RFC_2822 = re.compile(r"^(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{4}\s+\d{2}:\d{2}(?::\d{2})?\s+(?:[+-]\d{4}|[A-Z]{1,5})$")
_ALPHA_WORD = re.compile(r"\b[A-Za-z]{1,9}\b\.?")
_KEEP_WORDS = re.compile(rf"(?:{_MONTH}|[ap]m|on|st|nd|rd|th)", re.IGNORECASE)


@dataclass(frozen=True)
class Candidate:
    """One date a page states, parsed."""

    value: datetime | date
    source: str

    @property
    def has_time(self) -> bool:
        return isinstance(self.value, datetime)

    @property
    def day(self) -> date:
        return self.value.date() if isinstance(self.value, datetime) else self.value

    @property
    def utc_day(self) -> date:
        """The day in UTC (a URL's day may be the UTC one or the local one)."""
        if isinstance(self.value, datetime) and self.value.tzinfo:
            return self.value.astimezone(timezone.utc).date()
        return self.day

    def iso(self) -> str:
        return self.value.isoformat()


def parse_date(text: str | None) -> datetime | date | None:
    """A date as a page writes it -> datetime (aware when the page gave a zone) or date; None
    when it is not a date. Plausibility is ``plausible``'s job."""
    if not text:
        return None
    value = " ".join(str(text).split())
    if not value:
        return None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        pass
    if RFC_2822.match(value):  # seen in metas copied from feeds; the parser is too lenient for prose
        try:
            return parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            pass
    match = PROSE_DATE.search(value)
    return _parse_prose(match.group(0)) if match else None


def find_in_text(text: str) -> datetime | date | None:
    """A date written in visible text: prose ("Nov 19, 2019, 7:47 PM EST"), ISO, or day-first
    with dots ("05.03.2024 07:10", unambiguous; slashed dates are not read: 03/05 is March in
    one country and May in another)."""
    if match := PROSE_DATE.search(text):
        return _parse_prose(match.group(0))
    if match := ISO_IN_TEXT.search(text):
        return parse_date(match.group(0))
    if match := DOTTED_DATE.search(text):
        day, month, year, hour, minute = match.groups()
        try:
            if hour is not None:
                return datetime(int(year), int(month), int(day), int(hour), int(minute))
            return date(int(year), int(month), int(day))
        except ValueError:
            return None
    return None


def _parse_prose(span: str) -> datetime | date | None:
    span = re.sub(r"\b([ap])\.m\.?", r"\1m", span, flags=re.IGNORECASE)
    span = re.sub(r"\bat\b|\|", " ", span.replace(" - ", " "))
    span = re.sub(r"(\d)\.(\d{2})\b", r"\1:\2", span)  # "19.47" -> "19:47"
    # "UTC+2" means two hours ahead of UTC (dateutil reads it the POSIX way, inverted)
    span = re.sub(r"\b(?:UTC|GMT)\s?([+-])(\d{1,2})(?::?(\d{2}))?\b",
                  lambda m: f" {m.group(1)}{int(m.group(2)):02d}:{m.group(3) or '00'}", span)

    def word(match: re.Match) -> str:  # months and AM/PM stay, known zones in capitals, others go
        text = match.group(0)
        if _KEEP_WORDS.fullmatch(text):
            return text
        return text.upper() if text.upper() in TZINFOS else " "

    span = _ALPHA_WORD.sub(word, span)
    try:
        parsed = dateutil_parser.parse(span, tzinfos=TZINFOS, default=datetime(2000, 1, 1))
    except (ValueError, OverflowError, TypeError):
        return None
    has_time = bool(re.search(r"\d:\d{2}", span))
    return parsed if has_time else parsed.date()


def plausible(value: datetime | date, now: datetime | None = None) -> bool:
    """Not before 1990 and not more than a day after ``now`` (the crawl)."""
    now = now or datetime.now(timezone.utc)
    if isinstance(value, datetime):
        instant = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    else:
        instant = datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    return EARLIEST <= instant <= now + FUTURE_SLACK


def url_date(url: str) -> date | None:
    """``/2019/11/19/slug`` or ``/2019-11-19-slug`` -> 2019-11-19."""
    match = URL_DATE.search(url)
    if not match:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def choose(candidates: Iterable[Candidate], now: datetime | None = None) -> Candidate | None:
    """The page's date by the module's rule: first plausible source, refined by a later time
    on the same day. ``candidates`` come in order of trust (read lazily: later sources are only
    looked at when needed)."""
    best = None
    for candidate in candidates:
        if not plausible(candidate.value, now):
            continue
        if best is None:
            best = candidate
            if best.has_time:
                return best
        elif candidate.has_time and best.day in (candidate.day, candidate.utc_day):
            return candidate
    return best
