"""Named reasons for not archiving a page.

Every page the crawler gives up on is counted under ``rejected/<reason>`` in the crawl stats,
with one of the reasons below; nothing is dropped silently. Components raise ``Rejected``
(or return it) and the pipeline turns it into the counter and a log line.
"""

from __future__ import annotations

import enum

STATS_PREFIX = "rejected/"


class Reason(str, enum.Enum):
    """Why a page is not in the archive. The value is the counter name."""

    NOT_ARTICLE = "not-article"            # no article body, or a listing/section/home page
    TOO_SHORT = "too-short"                # fewer than extraction.min_words words
    NO_TITLE = "no-title"                  # an article without any title
    DUPLICATE = "duplicate"                # same canonical URL / content already archived
    ROBOTS = "robots"                      # forbidden by robots.txt
    OFFSITE = "offsite"                    # outside the site's allowed domains
    NON_HTML = "non-html"                  # PDF, image, feed... where an article page was expected
    TOO_LARGE = "too-large"                # response larger than crawl.max_response_bytes
    HTTP_ERROR = "http-error"              # 4xx/5xx after retries
    TOO_DEEP = "too-deep"                  # beyond the site's max_depth
    TOO_OLD = "too-old"                    # published before the site's max_age_days
    NETWORK_ERROR = "network-error"        # DNS, connection, timeout after retries
    EXTRACTION_ERROR = "extraction-error"  # the extractor failed on the page (a bug or broken HTML)
    REDIRECT_LOOP = "redirect-loop"        # a redirect back into its own chain, or more than REDIRECT_MAX_TIMES
    REDIRECT_OFFSITE = "redirect-offsite"  # a redirect out of allowed_domains (host or port) or to an internal address
    SITEMAP_TOO_LARGE = "sitemap-too-large"  # a sitemap over the protocol's 50 MB once decompressed
    EXTRACTION_TIMEOUT = "extraction-timeout"  # extraction took longer than crawl.extraction_timeout (the worker is replaced)
    ROBOTS_UNREADABLE = "robots-unreadable"  # robots.txt answered 5xx, was too large or timed out: the site waits for the next run
    KNOWN_BAD = "known-bad"                # answered 404/410, too large or not HTML on an earlier run: not asked again yet

    def __str__(self) -> str:  # f"{reason}" gives "not-article", not "Reason.NOT_ARTICLE"
        return self.value

    @property
    def stats_key(self) -> str:
        return STATS_PREFIX + self.value


ALL_REASONS: tuple[str, ...] = tuple(r.value for r in Reason)

# How many rejected URLs per reason a run keeps (with the run's record) for `archive runs --rejections`.
SAMPLES_PER_REASON = 20
SAMPLES_KEY = "rejected_samples"


def record_rejection(stats, reason: Reason | str, url: str, detail: str = "", limit: int = SAMPLES_PER_REASON) -> None:
    """Count a rejection and keep the first few URLs of each reason with their detail."""
    reason = Reason(reason).value
    stats.inc_value(STATS_PREFIX + reason)
    samples = stats.get_value(SAMPLES_KEY)
    if samples is None:
        samples = {}
        stats.set_value(SAMPLES_KEY, samples)
    kept = samples.setdefault(reason, [])
    if len(kept) < limit:
        kept.append({"url": url, "detail": detail})


class Rejected(Exception):
    """A page is not archived, for a named reason; ``detail`` says what exactly was seen."""

    def __init__(self, reason: Reason | str, detail: str = "") -> None:
        self.reason = Reason(reason)  # a misspelt reason fails here, not in a dashboard
        self.detail = detail
        super().__init__(f"{self.reason.value}: {detail}" if detail else self.reason.value)

    @property
    def stats_key(self) -> str:
        return self.reason.stats_key

    def __reduce__(self):  # picklable across the crawl's process boundary
        return (type(self), (self.reason.value, self.detail))
