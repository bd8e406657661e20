"""The outbox: match entries waiting to be sent, sent in rounds, retried, never dropped.

A match entry (search/alert_matching.py creates it, state "pending") is due at once, or at its
saved search's digest hour. A delivery round:

1. matches every stored batch waiting for it (``AlertMatcher.match_waiting``: a crawl only
   stores its batches), creating the entries due now already claimed (a lease) and sending them
   at once (steps 3 and 4 without the claim's write per entry);
2. claims the other due entries (retries, digests, what a stopped process left) with a lease (an
   optimistic-concurrency update), so two processes running rounds at once (the scheduler,
   `archive crawl`, `archive alerts deliver`) never both send one;
3. sends each saved search's claimed entries together, by each channel that has not yet taken
   them (webhook, e-mail);
4. records each entry's attempts: "delivered" only once every channel took it; otherwise retried
   after alerts.retry_first seconds, doubling up to an hour, for alerts.retry_hours; then
   "failed", shown on the saved search's page, in `alerts list` and `archive status`.

Who runs rounds: the scheduler every alerts.deliver_every seconds (``deliver_round``, which keeps
its matcher, so the saved searches' compiled queries are read again only when they change);
`archive crawl` beside its crawl and once at its end (``DeliveryLoop``); and `archive alerts
deliver` / `alerts check` on demand. An entry is marked delivered only after its send
succeeded; a process killed between sending and recording sends it again after the lease (the
same `delivery_id` / Message-ID, so a receiver can drop it).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from elasticsearch import Elasticsearch, NotFoundError

from archive.config import Settings
from search.alert_matching import AlertMatcher
from search.alerts import DELIVERED, FAILED, LEASE, PENDING, AlertStore, CheckResult, SavedSearch, match_from_source

logger = logging.getLogger(__name__)

BATCH = 1000  # due entries claimed at a time
SENDERS = 8  # saved searches' messages sent side by side


@dataclass
class RoundReport:
    delivered: int = 0  # entries every channel took (or feed-only entries)
    retrying: int = 0  # entries to be tried again later
    given_up: int = 0  # entries still failing after alerts.retry_hours
    matched_batches: int = 0  # stored batches matched by this round
    failures: list[str] = field(default_factory=list)  # one line per saved search and channel that failed
    by_search: dict[str, dict] = field(default_factory=dict)  # saved search key -> channel -> outcome


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def deliver_due(client: Elasticsearch, settings: Settings, names: list[str] | None = None, now: datetime | None = None,
                sleep=time.sleep, matcher: AlertMatcher | None = None) -> RoundReport:
    """One delivery round (see the module's description): the waiting batches matched, their
    matches sent, then everything else due now, claimed a thousand at a time. Raises only
    when Elasticsearch cannot be reached; a channel's failure is recorded and retried, never
    raised. matcher: one kept between rounds (its saved searches stay read)."""
    report = RoundReport()
    es = settings.elasticsearch
    matcher = matcher or AlertMatcher(client, es)
    if not matcher.active():
        return report  # nothing was ever saved
    now = now or datetime.now(timezone.utc)
    if not _anything_waiting(client, es.alerts_alias, now, names):
        return report  # the usual answer, in one small query
    dead: set[str] = set()  # channels that failed this round: not tried again for every saved search

    def send_at_once(entries: list[dict]) -> None:
        hits = [{"_index": e["_index"], "_id": e["_id"], "_source": e["_source"]} for e in entries]
        try:
            _deliver_claimed(client, settings, hits, datetime.now(timezone.utc), dead, sleep, report)
        except Exception as exc:  # noqa: BLE001 (the batch is matched: its entries wait, claimed, for a later round)
            logger.error("saved searches: %d new match(es) not sent yet (%s: %s); a delivery round sends them after %d min",
                         len(hits), type(exc).__name__, exc, LEASE.seconds // 60)

    matcher.deliver = send_at_once
    try:
        report.matched_batches = matcher.match_waiting()
    finally:
        matcher.deliver = None
    while True:
        claimed = _claim(client, es.alerts_alias, now, names)
        if not claimed:
            break
        _deliver_claimed(client, settings, claimed, now, dead, sleep, report)
        if len(claimed) < BATCH:
            break
    if report.given_up:
        logger.error("saved searches: %d match(es) given up after %.0f h of failed deliveries (see `archive alerts list`)",
                     report.given_up, settings.alerts.retry_hours)
    return report


def _deliver_claimed(client: Elasticsearch, settings: Settings, claimed: list[dict], now: datetime, dead: set[str], sleep,
                     report: RoundReport) -> None:
    es = settings.elasticsearch
    groups: dict[str, list[dict]] = {}
    for hit in claimed:
        groups.setdefault(hit["_source"]["name"], []).append(hit)
    docs = client.mget(index=es.alerts_alias, ids=[f"search:{n}" for n in groups])["docs"]
    searches = {search.key: search for search in (SavedSearch.from_source(d["_source"]) for d in docs if d.get("found"))}
    actions = []
    for name in [n for n in groups if n not in searches]:  # removed while its matches waited: nothing to tell anyone
        actions += [{"_op_type": "delete", "_index": h["_index"], "_id": h["_id"]} for h in groups.pop(name)]
    # A few saved searches' messages at a time: a thousand searches with news must not wait in line.
    with ThreadPoolExecutor(max_workers=SENDERS, thread_name_prefix="alert-send") as pool:
        outcomes = dict(zip(groups, pool.map(lambda n: _send(settings, searches[n], groups[n], dead, sleep), groups)))
    for name, hits in groups.items():
        search, outcome = searches[name], outcomes[name]
        for hit in hits:
            action, state = _recorded(settings, search, hit, outcome, now)
            actions.append(action)
            if state == DELIVERED:
                report.delivered += 1
            elif state == FAILED:
                report.given_up += 1
            else:
                report.retrying += 1
        if outcome:
            report.by_search[name] = outcome
            actions += [{"_op_type": "update", "_index": es.alerts_alias, "_id": search.doc_id, "doc": {"last_delivery": value}}
                        for value in _last_delivery_writes(search.last_delivery, outcome, now)]
        for channel, status in outcome.items():
            if status["ok"]:
                logger.info("alert %s: %d match(es) sent by %s", name, len(hits), channel)
            else:
                report.failures.append(f"{name}: {channel}: {status['error']}")
                logger.error("alert %s: %s delivery failed (retried later): %s", name, channel, status["error"])
    from elasticsearch import helpers  # here: it loads the async client, ~0.5 s of a command's start

    # Refreshed: the next claim and `alerts check` see them.
    _, errors = helpers.bulk(client, actions, raise_on_error=False, refresh=True)
    if errors:  # an entry whose record failed keeps its lease: a later round tries it again
        logger.error("saved searches: %d of %d delivery record(s) not written (first: %s)",
                     len(errors), len(actions), next(iter(errors[0].values())).get("error"))


def _last_delivery_writes(stored: dict, outcome: dict, now: datetime) -> list:
    """The saved search's last delivery, as partial updates: none when it says what the stored
    one says and that is under a minute old (rounds send a search's news every few seconds:
    a write each time would cost more than the news); the outcome alone when it has the stored
    one's keys (a partial update merges objects: then merging is replacing); else emptied, then
    set, in order, in one request, so a failure never keeps the last success's "status": 200."""
    def shape(delivery: dict) -> dict:
        return {channel: (bool(status.get("ok")), status.get("error"), tuple(sorted(status)))
                for channel, status in (delivery or {}).items() if isinstance(status, dict)}

    same = shape(stored) == shape(outcome)
    times = [_parse(status.get("at")) for status in (stored or {}).values() if isinstance(status, dict)]
    if same and times and all(t is not None and now - t < timedelta(minutes=1) for t in times):
        return []
    return [outcome] if same else [None, outcome]


def _due(now: datetime, names: list[str] | None) -> dict:
    """The match entries due to be sent now and claimed by no one."""
    filters = [{"term": {"kind": "match"}}, {"term": {"state": PENDING}}, {"range": {"next_attempt_at": {"lte": _iso(now)}}}]
    if names:
        filters.append({"terms": {"name": names}})
    return {"bool": {"filter": filters, "must_not": [{"range": {"lease_until": {"gt": _iso(now)}}}]}}


def _anything_waiting(client: Elasticsearch, alias: str, now: datetime, names: list[str] | None) -> bool:
    """Whether a stored batch waits to be matched or a match waits to be sent: one refresh (what
    a crawl or a writer stored a moment ago) and one count that stops at the first hit."""
    try:
        client.indices.refresh(index=alias)
        response = client.search(index=alias, size=0, track_total_hits=1, query={"bool": {"minimum_should_match": 1, "should": [
            {"term": {"kind": "pending"}}, _due(now, names)]}})
    except NotFoundError:
        return False
    return response["hits"]["total"]["value"] > 0


def _claim(client: Elasticsearch, alias: str, now: datetime, names: list[str] | None) -> list[dict]:
    """The due entries, claimed (the round refreshed the index first; later batches were
    recorded with a refresh)."""
    query = _due(now, names)
    try:
        hits = client.search(index=alias, query=query, size=BATCH, seq_no_primary_term=True,
                             sort=[{"next_attempt_at": "asc"}])["hits"]["hits"]
    except NotFoundError:
        return []
    if not hits:
        return []
    from elasticsearch import helpers  # here: it loads the async client, ~0.5 s of a command's start

    lease = {"lease_until": _iso(now + LEASE)}
    claims = ({"_op_type": "update", "_index": h["_index"], "_id": h["_id"], "doc": lease,
               "if_seq_no": h["_seq_no"], "if_primary_term": h["_primary_term"]} for h in hits)
    won = {item["update"]["_id"] for ok, item in helpers.streaming_bulk(client, claims, raise_on_error=False) if ok}
    return [h for h in hits if h["_id"] in won]  # the others were claimed by another round


def _send(settings: Settings, search: SavedSearch, hits: list[dict], dead: set[str], sleep) -> dict:
    from search.alert_delivery import channel_target, channels_for, send  # here: mail and HTTP modules load only to send

    outcome: dict = {}
    for channel in channels_for(settings.alerts, search):
        waiting = [match_from_source(h["_source"]) for h in hits if not ((h["_source"].get("delivery") or {}).get(channel) or {}).get("ok")]
        if not waiting:
            continue
        target = channel_target(settings.alerts, search, channel)
        if target in dead:
            outcome[channel] = {"ok": False, "skipped": True, "at": _iso(datetime.now(timezone.utc)),
                                "error": f"not tried: the {channel} failed earlier in this round"}
            continue
        outcome[channel] = send(channel, settings.alerts, search, waiting, sleep=sleep)
        if not outcome[channel]["ok"]:
            dead.add(target)
    return outcome


def _recorded(settings: Settings, search: SavedSearch, hit: dict, outcome: dict, now: datetime) -> tuple[dict, str]:
    """The update that records one entry's round, and its state after it."""
    from search.alert_delivery import channels_for

    source = hit["_source"]
    delivery = dict(source.get("delivery") or {})
    for channel, status in outcome.items():
        previous = delivery.get(channel) or {}
        if previous.get("ok"):
            continue
        tries = int(previous.get("attempts") or 0) + (0 if status.get("skipped") else 1)
        delivery[channel] = {"ok": status["ok"], "attempts": tries, "at": status["at"], **({"error": status["error"]} if not status["ok"] else {})}
    channels = channels_for(settings.alerts, search)
    first_attempt = _parse(source.get("first_attempt_at")) or now
    doc = {"delivery": delivery, "lease_until": None, "first_attempt_at": _iso(first_attempt)}
    if all((delivery.get(c) or {}).get("ok") for c in channels):
        state = DELIVERED
        doc["delivered_at"] = _iso(now)
    elif now - first_attempt >= timedelta(hours=settings.alerts.retry_hours):
        state = FAILED
    else:
        state = PENDING
        tries = max([int((delivery.get(c) or {}).get("attempts") or 0) for c in channels] or [1])
        wait = min(settings.alerts.retry_first * 2 ** max(tries - 1, 0), 3600.0)
        doc["next_attempt_at"] = _iso(now + timedelta(seconds=wait))
    doc["state"] = state
    return {"_op_type": "update", "_index": hit["_index"], "_id": hit["_id"], "doc": doc}, state


_KEPT: dict = {}  # Elasticsearch settings (URL, credentials, indices) -> a loop's lock, client and matcher
_KEPT_LOCK = threading.Lock()


def deliver_round(settings: Settings) -> RoundReport | None:
    """A round for a loop or a job: never raises; a failure is one log line. The client and
    matcher are kept for the next round of the same process (its compiled saved searches)."""
    from search.client import make_client

    es = settings.elasticsearch
    try:
        with _KEPT_LOCK:
            if es not in _KEPT:
                client = make_client(es)
                _KEPT[es] = (threading.Lock(), client, AlertMatcher(client, es))
            lock, client, matcher = _KEPT[es]
        with lock:  # one round at a time per matcher
            return deliver_due(client, settings, matcher=matcher)
    except Exception as exc:  # noqa: BLE001 (a delivery problem must never stop a crawl or the scheduler)
        logger.error("saved searches: delivery round failed (%s: %s); the next round retries", type(exc).__name__, exc)
        return None


class DeliveryLoop:
    """Delivery rounds in a thread beside a crawl (`archive crawl`, outside the crawl's process),
    every alerts.deliver_every seconds, and one when it stops: matches go out within about a
    minute of being stored."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-delivery", daemon=True)

    def start(self) -> "DeliveryLoop":
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.settings.alerts.deliver_every):
            deliver_round(self.settings)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        deliver_round(self.settings)


def check(client: Elasticsearch, settings: Settings, name: str | None = None, owner: str | None = None) -> list[CheckResult]:
    """`alerts check` and the page's Check now: deliver what is due, then tell each saved search
    (or one; or all of one owner) what it reported since its last check."""
    store = AlertStore(client, settings.elasticsearch)
    searches = [store.require(name, owner)] if name else store.list(owner=owner)
    if not searches:
        return []
    everything = name is None and owner is None
    report = deliver_due(client, settings, names=None if everything else [s.key for s in searches])
    results = store.check(searches, everything=everything)
    for result in results:
        result.delivery = report.by_search.get(result.search.key, {})
    return results
