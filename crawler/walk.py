"""The listing walk of one site and its cursor: how far back it got, and whether it got to the end.

A site's listing pages (front page, sections, their pagination) are walked newest first. A walk
can be cut short by the page budget, the time limit or a crash; what it did not finish must
wait for the next run, not be forgotten. So the walk keeps, per listing page, whether it is
done: fetched, every link on it requested, every article it led to settled. At the end of the
run the pages not done are the *frontier*, saved in the crawl state (crawler/state.py) with
their depth; the next run starts from them as well as from the front page.

"Caught up" (a listing whose articles are all known: its older pages hold nothing new) is only
believed when what lies behind it was walked before: on the walk from the front page after a
run that did not crash, or anywhere once a walk reached the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FRONT, RESUMED = "front", "resumed"  # where a listing's walk started this run


@dataclass(frozen=True)
class ListingCursor:
    """What the crawl state keeps per site between runs."""

    frontier: tuple[tuple[str, int], ...] = ()  # listing URLs (and their depth) not finished yet
    reached_end: bool = False  # a walk went all the way (nothing left behind it) at least once
    interrupted: bool = True  # the last walk never said how it ended (a crash), or there is none yet


@dataclass
class _Listing:
    depth: int
    parsed: bool = False
    unfinished_links: bool = False  # a link of it was not requested (the page budget)
    failed: bool = False  # fetching it failed for now (5xx, network): walk it again
    open_articles: int = 0  # article requests it led to, not settled yet


@dataclass
class ListingWalk:
    cursor: ListingCursor
    listings: dict[str, _Listing] = field(default_factory=dict)

    def may_stop_at_known(self, origin: str) -> bool:
        """May a listing of only known articles end the walk here?"""
        if self.cursor.interrupted:
            return False  # the last walk crashed: what lies behind known ground is unknown
        return origin == FRONT or self.cursor.reached_end

    def scheduled(self, url: str, depth: int) -> None:
        self.listings.setdefault(url, _Listing(depth))

    def parsed(self, url: str) -> None:
        if url in self.listings:
            self.listings[url].parsed = True
            self.listings[url].failed = False

    def failed(self, url: str) -> None:
        if url in self.listings:
            self.listings[url].failed = True

    def link_left(self, listing: str | None) -> None:
        if listing in self.listings:
            self.listings[listing].unfinished_links = True

    def article_requested(self, listing: str | None) -> None:
        if listing in self.listings:
            self.listings[listing].open_articles += 1

    def article_settled(self, listing: str | None) -> None:
        if listing in self.listings:
            self.listings[listing].open_articles -= 1

    def frontier(self) -> list[tuple[str, int]]:
        return [(url, l.depth) for url, l in self.listings.items()
                if not l.parsed or l.failed or l.unfinished_links or l.open_articles > 0]

    def next_cursor(self, finished: bool) -> ListingCursor:
        """The cursor after this run; `finished`: the run ended by itself, not by a limit or an error."""
        frontier = self.frontier()
        return ListingCursor(
            frontier=tuple(frontier),
            reached_end=self.cursor.reached_end or (finished and not frontier),
            interrupted=False,
        )
