"""Saved searches and alerts, against the real Elasticsearch, with real local receivers:
an HTTP server for the webhook and aiosmtpd for e-mail. The feed is read with feedparser.
Articles are matched as the writer stores them; deliveries go through the outbox."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import socket
import threading
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import feedparser
import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from archive.cli import AppContext, cli
from archive.config import AlertSettings
from archive.demo_site import DemoSite, serve_demo_site
from archive.scheduling.jobs import run_sites
from archive.urls import canonicalize, document_id
from crawler.runner import run_crawl
from search.alerts import CHANGED, EDITED, FIRST, LEASE, NEW, AlertError, AlertStore, SavedSearch
from search.http_api import create_app, running_server
from search.indices import ensure_all
from search.alert_matching import AlertMatcher
from search.outbox import ImmediateSender, check as check_and_deliver, deliver_due
from search.writer import ArticleWriter
from _web import signed_in_everywhere


def at(offset_seconds: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=offset_seconds)).isoformat()


def article(slug: str, title: str, body: str, crawled_at: str, site: str = "news") -> tuple[str, dict]:
    url = f"https://{site}.example/2025/{slug}"
    return document_id(url), {"url": url, "title": title, "site": site, "authors": ["Ana Ruiz"], "language": "en",
                              "published": "2025-06-01T08:00:00+00:00", "body": body, "content_hash": f"{slug}:{hash(body)}",
                              "crawled_at": crawled_at}


@pytest.fixture
def store(es_client, archive_settings):
    ensure_all(es_client, archive_settings.elasticsearch)
    return AlertStore(es_client, archive_settings.elasticsearch)


def write(es_client, settings, *docs):
    """Store articles as a crawl does (the writer matches them), then make all of it searchable now."""
    ArticleWriter(es_client, settings.elasticsearch).write(dict(docs))
    es_client.indices.refresh(index=f"{settings.elasticsearch.articles_alias},{settings.elasticsearch.alerts_alias}")


def test_new_means_archived_after_saving_each_article_once_edits_once(es_client, archive_settings, store):
    before = at(-3600)
    write(es_client, archive_settings,
          article("plan", "Harbour dredging plan", "The port wants dredging of the channel.", before),
          article("tram", "Tram timetable", "Trams run every ten minutes.", before),
          article("other", "Dredging elsewhere", "Dredging on another site.", before, site="other"))
    store.add(SavedSearch(name="dredging", query="dredging", sites=("news",)))
    assert store.matches("dredging") == []  # what was there when it was saved is never "new"

    # Matched as the writer stores them: no check, no crawl end needed.
    write(es_client, archive_settings,
          article("starts", "Dredging starts at the harbour", "Work boats began dredging today.", at(1)),
          article("budget", "Council budget", "The council passed its budget.", at(1)),
          article("tram", "Tram timetable", "Trams run every ten minutes, except during dredging.", at(1)),  # edited: now matches
          article("plan", "Harbour dredging plan", "The port wants dredging of the channel, and more.", at(1)),  # matched before
          article("other2", "More dredging", "Dredging on the other site again.", at(1), site="other"))
    assert {m.title: m.change for m in store.matches("dredging")} == {"Dredging starts at the harbour": NEW, "Tram timetable": EDITED}

    write(es_client, archive_settings,
          article("tram", "Tram timetable", "Trams run every ten minutes, except during dredging works.", at(2)),  # again: once ever
          article("more", "Dredging halted by storm", "Dredging stopped.", at(2)))
    assert [m.title for m in store.matches("dredging")][:1] == ["Dredging halted by storm"]
    assert len(store.matches("dredging")) == 3


def test_saved_searches_refuse_bad_names_duplicates_and_unreadable_queries(store):
    store.add(SavedSearch(name="beat", query="harbour"))
    with pytest.raises(AlertError, match="exists already"):
        store.add(SavedSearch(name="beat", query="tram"))
    with pytest.raises(AlertError, match="lowercase letters"):
        store.add(SavedSearch(name="My Beat", query="tram"))
    with pytest.raises(AlertError, match="lowercase letters"):
        store.add(SavedSearch(name="beat2\n", query="tram"))  # a trailing newline would break mail headers
    with pytest.raises(ValueError, match="unclosed quote"):
        store.add(SavedSearch(name="broken", query='"harbour'))
    with pytest.raises(AlertError, match=r"no saved search named 'nope' \(saved: beat\)"):
        store.require("nope")
    assert store.remove("beat") == 0 and store.list() == []


def test_a_query_elasticsearch_would_refuse_is_refused_when_saved(es_client, archive_settings, store):
    write(es_client, archive_settings, article("any", "Harbour news", "The harbour authority met.", at(-60)))
    with pytest.raises(AlertError, match="Elasticsearch refuses this query, so it cannot be saved"):
        store.add(SavedSearch(name="wide", query='"harbour authority"~9999999999'))
    with pytest.raises(ValueError, match="the limit is"):  # search.max_query_chars, before Elasticsearch is asked
        store.add(SavedSearch(name="huge", query=" ".join(["harbour"] * 120_000)))
    assert store.list() == []  # nothing stored to fail later


def test_one_saved_search_with_an_error_never_stops_the_others(es_client, archive_settings, store, caplog):
    store.add(SavedSearch(name="ferry", query="ferry"))
    store.add(SavedSearch(name="broken", query="ferry"))
    store.add(SavedSearch(name="zebra", query="timetable"))
    # A query stored before saving checked it (an older version stored "harbour authority"~9999999999):
    # Elasticsearch refuses the whole multi-search request that carries it.
    alias = archive_settings.elasticsearch.alerts_alias
    source = es_client.get(index=alias, id="search:broken")["_source"]
    source["compiled"] = {"query": {"match_phrase": {"body": {"query": "ferry", "slop": 9999999999}}}}
    es_client.index(index=alias, id="search:broken", document=source, refresh=True)
    write(es_client, archive_settings, article("fares", "Ferry timetable", "The ferry timetable changes.", at(1)))
    assert [m.title for m in store.matches("ferry")] == ["Ferry timetable"]
    assert [m.title for m in store.matches("zebra")] == ["Ferry timetable"]
    assert store.matches("broken") == []
    assert "9999999999" in store.require("broken").error["message"]
    assert any("saved search broken" in p for p in store.problems())
    listed = CliRunner().invoke(cli, ["alerts", "list", "--format", "json"], obj=AppContext(None, archive_settings))
    assert [s["name"] for s in json.loads(listed.output) if s["error"]] == ["broken"]
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and errors[0].startswith("saved search broken: Elasticsearch refused its query")


class Receiver:
    """A local webhook endpoint: answers with the queued statuses (then 200) and keeps every body."""

    def __init__(self, statuses=(), port: int = 0):
        self.statuses = list(statuses)
        self.bodies: list[dict] = []
        self.holding = threading.Event()  # while set: each POST is held unanswered until released, and not kept
        self.released = threading.Event()
        self.held = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                if receiver.holding.is_set():
                    receiver.held += 1
                    receiver.released.wait(60)
                    return
                length = int(self.headers["Content-Length"])
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def receivers():
    webhook = Receiver(statuses=[500])  # the first attempt fails: delivery must retry
    mailbox = Mailbox()
    with socket.socket() as probe:  # aiosmtpd checks its own port after starting: give it a real one
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(mailbox, hostname="127.0.0.1", port=port)
    smtp.start()
    yield webhook, mailbox, port
    smtp.stop()
    webhook.close()


def test_new_matches_go_out_by_webhook_with_retry_and_by_mail(es_client, archive_settings, store, receivers):
    webhook, mailbox, smtp_port = receivers
    settings = replace(archive_settings, alerts=AlertSettings(
        public_url="http://archive.test:8800", webhook_url=webhook.url, smtp_host="127.0.0.1", smtp_port=smtp_port,
        email_to=("desk@newsroom.test",), email_from="archive@newsroom.test"))
    store.add(SavedSearch(name="ferry", query="ferry"))
    write(es_client, settings, article("fares", "Ferry fares rise", "Ferry fares rise by five percent.", at(1)))
    report = deliver_due(es_client, settings)
    assert report.delivered == 1 and not report.failures
    assert len(webhook.bodies) == 2  # the failed attempt and the retry
    body = webhook.bodies[-1]
    assert body["saved_search"] == "ferry" and body["new"] == 1
    assert body["text"].startswith("1 new article for “ferry”:") and "Ferry fares rise http://archive.test:8800/article/" in body["text"]
    assert body["matches"][0]["title"] == "Ferry fares rise"
    assert body["matches"][0]["archive_url"].startswith("http://archive.test:8800/article/")
    assert body["feed"].startswith("http://archive.test:8800/feeds/")  # the secret address a feed reader can use
    (mail,) = mailbox.messages
    assert mail.rcpt_tos == ["desk@newsroom.test"]
    text = mail.content.decode("utf-8")
    assert "1 new article for" in text and "Ferry fares rise" in text and "http://archive.test:8800/article/" in text
    assert re.search(r"^Date: \w{3}, \d{2} \w{3} \d{4} ", text, re.M)
    assert re.search(r"^Message-ID: <alert-[0-9a-f]{32}@newsroom\.test>", text, re.M)
    assert "List-Unsubscribe: <http://archive.test:8800/alerts/ferry>" in text
    (match,) = store.matches("ferry")
    assert match.state == "delivered" and match.delivery["webhook"]["ok"] and match.delivery["email"]["ok"]

    # Nothing new: nothing is sent.
    deliver_due(es_client, settings)
    assert len(webhook.bodies) == 2 and len(mailbox.messages) == 1


def test_a_webhook_down_for_the_first_delivery_gets_the_alert_once_later(es_client, archive_settings, store):
    receiver = Receiver()
    port = int(receiver.url.split(":")[2].split("/")[0])
    receiver.close()  # the chat server is down when the match is found
    settings = replace(archive_settings, alerts=AlertSettings(webhook_url=receiver.url, webhook_attempts=1, webhook_timeout=2.0,
                                                               retry_first=4.0))
    store.add(SavedSearch(name="ferry", query="ferry"))
    store.add(SavedSearch(name="fares", query="fares"))
    write(es_client, settings, article("fares", "Ferry fares rise", "Ferry fares rise.", at(1)))
    first = deliver_due(es_client, settings)
    assert first.delivered == 0 and first.retrying == 2
    failing = [m for name in ("ferry", "fares") for m in store.matches(name)]
    assert all(m.state == "pending" and "retrying at" in m.delivery_status for m in failing)
    assert any("unreachable" in m.delivery_status for m in failing)
    assert all(receiver.url not in m.delivery_status for m in failing)  # the webhook's URL is a secret
    out = CliRunner().invoke(cli, ["alerts", "show", "ferry"], obj=AppContext(None, settings))
    assert "retrying at" in out.output and "unreachable" in out.output

    revived = Receiver(port=port)  # back up
    try:
        assert deliver_due(es_client, settings).delivered == 0  # not due yet: retried after its backoff
        time.sleep(4.5)
        second = deliver_due(es_client, settings)
        assert second.delivered == 2
        assert sorted(b["saved_search"] for b in revived.bodies) == ["fares", "ferry"]  # once each
        time.sleep(4.5)
        deliver_due(es_client, settings)
        assert len(revived.bodies) == 2
        (match,) = store.matches("ferry")
        assert match.state == "delivered" and match.delivery["webhook"]["attempts"] == 2
    finally:
        revived.close()


def test_a_crawls_own_sends_skip_a_webhook_that_just_failed_and_leave_its_matches_to_the_retries(es_client, archive_settings, store):
    receiver = Receiver(statuses=[500] * 5)  # the chat server fails
    settings = replace(archive_settings, alerts=AlertSettings(webhook_url=receiver.url, webhook_attempts=1, retry_first=60.0))
    store.add(SavedSearch(name="ferry", query="ferry"))
    matcher = AlertMatcher(es_client, settings.elasticsearch, deliver=ImmediateSender(es_client, settings))
    writer = ArticleWriter(es_client, settings.elasticsearch, alerts=matcher)  # as a crawl's: each batch sent once matched
    try:
        writer.write(dict([article("fares", "Ferry fares rise", "Ferry fares rise.", at(1))]))
        writer.write(dict([article("strike", "Ferry strike", "The ferry strike goes on.", at(2))]))
        assert len(receiver.bodies) == 1  # the second batch did not wait on the webhook that had just failed
        es_client.indices.refresh(index=settings.elasticsearch.alerts_alias)
        waiting = store.matches("ferry")
        assert len(waiting) == 2 and all(m.state == "pending" and m.delivery_status.startswith("retrying at") for m in waiting)
        receiver.statuses.clear()  # back up
        retried = deliver_due(es_client, settings, now=datetime.now(timezone.utc) + timedelta(minutes=2))
        assert retried.delivered == 2
        assert sorted(m["title"] for m in receiver.bodies[-1]["matches"]) == ["Ferry fares rise", "Ferry strike"]
    finally:
        receiver.close()


def test_a_delivery_failing_past_the_retry_window_is_given_up_and_shown(es_client, archive_settings, store):
    dead = Receiver()
    dead.close()
    settings = replace(archive_settings, alerts=AlertSettings(webhook_url=dead.url, webhook_attempts=1, webhook_timeout=1.0,
                                                               retry_first=1.0, retry_hours=0.0005))  # 1.8 s
    store.add(SavedSearch(name="ferry", query="ferry"))
    write(es_client, settings, article("fares", "Ferry fares rise", "Ferry fares rise.", at(1)))
    deliver_due(es_client, settings)
    time.sleep(2.5)
    assert deliver_due(es_client, settings).given_up == 1
    (match,) = store.matches("ferry")
    assert match.state == "failed" and match.delivery_status.startswith("FAILED")
    listed = CliRunner().invoke(cli, ["alerts", "list", "--format", "json"], obj=AppContext(None, settings))
    assert json.loads(listed.output)[0]["failed_deliveries"] == 1
    status = CliRunner().invoke(cli, ["status"], obj=AppContext(None, settings))
    assert "warning: saved search ferry: 1 match(es) not delivered after retries" in " ".join(status.output.split())


def test_a_digest_search_sends_its_matches_together_at_its_hour(es_client, archive_settings, store):
    receiver = Receiver()
    settings = replace(archive_settings, alerts=AlertSettings(webhook_url=receiver.url))
    hour = (datetime.now(timezone.utc) + timedelta(hours=3)).hour
    try:
        store.add(SavedSearch(name="ferry", query="ferry", digest_hour=hour))
        write(es_client, settings, article("fares", "Ferry fares rise", "Ferry fares rise.", at(1)))
        write(es_client, settings, article("strike", "Ferry strike", "The ferry crews strike.", at(2)))
        assert deliver_due(es_client, settings).delivered == 0 and receiver.bodies == []  # not yet: at its hour
        due = {m.next_attempt_at for m in store.matches("ferry")}
        (moment,) = due
        assert datetime.fromisoformat(moment).hour == hour and datetime.fromisoformat(moment).minute == 0
        assert deliver_due(es_client, settings, now=datetime.fromisoformat(moment)).delivered == 2
        (digest,) = receiver.bodies  # one message with both
        assert sorted(m["title"] for m in digest["matches"]) == ["Ferry fares rise", "Ferry strike"]
        with pytest.raises(AlertError, match="hour from 0 to 23"):
            store.add(SavedSearch(name="late", query="ferry", digest_hour=24))
    finally:
        receiver.close()


def test_cli_add_list_check_show_remove(es_client, archive_settings):
    run = lambda *args: CliRunner().invoke(cli, ["alerts", *args], obj=AppContext(None, archive_settings))  # noqa: E731
    ensure_all(es_client, archive_settings.elasticsearch)
    write(es_client, archive_settings, article("old", "Old ferry story", "Ferry news.", at(-60)))
    added = run("add", "ferries", "ferry", "--site", "NEWS")
    assert added.exit_code == 0, added.output
    assert "(the admins')" in added.output and "feed: http://127.0.0.1:8800/feeds/" in added.output
    refused = run("add", "x", "ferry", "--site", "nosuch")
    assert refused.exit_code != 0 and "sites in the archive: news (1 article)" in refused.output and "Traceback" not in refused.output
    listed = json.loads(run("list", "--format", "json").output)
    assert [(s["name"], s["query"], s["sites"]) for s in listed] == [("ferries", "ferry", ["news"])]
    write(es_client, archive_settings, article("new", "New ferry timetable", "Ferry timetable.", at(1)))
    checked = run("check", "ferries")
    assert checked.exit_code == 0 and "ferries: 1 new article since" in checked.output and "New ferry timetable" in checked.output
    assert "Old ferry story" not in checked.output
    again = run("check")
    assert re.search(r"ferries: nothing new since \d{4}-\d\d-\d\d \d\d:\d\d; last reported: New ferry timetable", again.output)
    shown = json.loads(run("show", "ferries", "--format", "json").output)
    assert [(m["title"], m["change"], m["delivery_status"]) for m in shown] == [("New ferry timetable", "new", "feed only")]
    assert "nothing reported since 2999-01-01" in run("show", "ferries", "--since", "2999-01-01").output
    unknown = run("check", "nope")
    assert unknown.exit_code == 1 and "no saved search named 'nope'" in unknown.output
    assert "removed 'ferries' (1 reported match with it)" in run("remove", "ferries").output
    assert "no saved searches" in run("list").output


def test_following_an_article_reports_its_edit_with_the_changed_paragraphs(es_client, archive_settings, store):
    receiver = Receiver()
    settings = replace(archive_settings, alerts=AlertSettings(webhook_url=receiver.url))
    url = "https://news.example/2025/closure"
    try:
        write(es_client, settings, article("closure", "Harbour closed", "The harbour closed on Monday.\n\nCranes stood still.", at(-60)))
        followed = CliRunner().invoke(cli, ["alerts", "follow", url], obj=AppContext(None, settings))
        assert followed.exit_code == 0 and "following " + url in followed.output, followed.output
        write(es_client, settings, article("closure", "Harbour closed", "The harbour closed on Monday.\n\nCranes stood still.", at(1)))
        assert deliver_due(es_client, settings).delivered == 0  # unchanged text: nothing to tell
        write(es_client, settings, article("closure", "Harbour reopens", "The harbour closed on Monday.\n\nCranes moved again on Friday.", at(2)))
        deliver_due(es_client, settings)
        (body,) = receiver.bodies
        (change,) = body["matches"]
        assert change["change"] == CHANGED and change["title"] == "Harbour reopens"
        assert change["diff"]["title_before"] == "Harbour closed" and change["diff"]["removed"] == ["Cranes stood still."]
        assert change["diff"]["added"] == ["Cranes moved again on Friday."]
        assert "1 change to a followed article" in body["text"]
        write(es_client, settings, article("closure", "Harbour reopens", "Cranes moved again on Friday. Ships left.", at(3)))
        deliver_due(es_client, settings)
        assert len(receiver.bodies) == 2  # each change, not once ever
        with running_server(create_app(settings, es_client)) as base:
            # the feed's secret address, as the webhook names it: a feed reader needs no session
            feed = feedparser.parse(urllib.request.urlopen(base + urllib.parse.urlsplit(body["feed"]).path, timeout=20).read())
        assert len(feed.entries) == 2 and "Cranes moved again on Friday." in feed.entries[1].summary
    finally:
        receiver.close()


def test_a_first_appearance_search_reports_exactly_one_article(es_client, archive_settings, store):
    write(es_client, archive_settings, article("old", "Old news", "Nothing about it yet.", at(-60)))
    store.add(SavedSearch(name="hydrogen", query='"hydrogen ferry"', first_appearance=True))
    write(es_client, archive_settings,
          article("a", "Port plans", "A hydrogen ferry is planned.", at(1)),
          article("b", "Again", "The hydrogen ferry again.", at(1)))
    write(es_client, archive_settings, article("c", "Third", "The hydrogen ferry, a third time.", at(2)))
    (first,) = store.matches("hydrogen")
    assert first.change == FIRST and first.title in ("Port plans", "Again")
    assert store.require("hydrogen").quiet
    with pytest.raises(AlertError, match="already appears in 3 archived articles"):
        store.add(SavedSearch(name="late", query='"hydrogen ferry"', first_appearance=True))


def post_form(url: str, fields: list[tuple[str, str]], origin: str) -> tuple[int, str]:
    """POST a form as a browser does from this server's own page (Origin, Sec-Fetch-Site)."""
    request = urllib.request.Request(url, data=urllib.parse.urlencode(fields).encode(), method="POST",
                                     headers={"Origin": origin, "Content-Type": "application/x-www-form-urlencoded",
                                              "Sec-Fetch-Site": "same-origin"})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_save_from_the_page_and_read_the_atom_feed(es_client, archive_settings, store, web_admin):
    write(es_client, archive_settings, article("old", "Old ferry story", "Ferry news.", at(-60)))
    app = create_app(archive_settings, es_client)
    with running_server(app) as base, signed_in_everywhere(base, web_admin):
        # Links in feeds point at the public address, whatever Host a request names.
        app.state.settings = replace(archive_settings, alerts=replace(archive_settings.alerts, public_url="http://archive.test:8800"))
        status, html = post_form(base + "/alerts", [("name", "ferry"), ("q", "ferry")], origin=base)
        assert status == 200 and "Saved search “ferry”" in html and "Saved." in html  # after the 303 redirect
        status, body = post_form(base + "/alerts", [("name", "evil"), ("q", "x")], origin="http://elsewhere.test")
        assert status == 403 and store.get("evil") is None  # a page elsewhere cannot save searches
        status, html = post_form(base + "/alerts", [("name", "ferry"), ("q", "x")], origin=base)
        assert status == 400 and "exists already" in html

        write(es_client, archive_settings, article("new", 'Ferry <script>alert("x")</script> timetable', "Ferry timetable changes.", at(1)))
        status, html = post_form(base + "/alerts/ferry/check", [], origin=base)
        assert status == 200 and "Checked now: 1 new match." in html
        assert "<script>alert" not in html

        with urllib.request.urlopen(base + "/alerts/ferry.atom", timeout=20) as response:
            assert response.headers["Content-Type"].startswith("application/atom+xml")
            feed = feedparser.parse(response.read())
        assert not feed.bozo, feed.bozo_exception
        assert feed.version == "atom10"
        (entry,) = feed.entries
        assert entry.title == 'Ferry <script>alert("x")</script> timetable'  # text, as the reader shows it
        assert entry.link.startswith("http://archive.test:8800/article/")  # links follow ARCHIVE_PUBLIC_URL
        assert "Ferry timetable changes" in entry.summary
        assert any(link.href == "https://news.example/2025/new" for link in entry.links)

        twin = json.loads(urllib.request.urlopen(base + "/alerts/ferry.json", timeout=20).read())
        assert [m["title"] for m in twin["matches"]] == ['Ferry <script>alert("x")</script> timetable']


@pytest.mark.e2e
def test_an_alert_saved_before_the_next_night_gets_exactly_the_new_matches(es_client, es_settings, tmp_path, demo_sites, receivers, web_admin):
    """Night 1 crawls edition 1; searches are saved; night 2 (edition 2) triggers the checks by itself."""
    webhook, mailbox, smtp_port = receivers
    webhook.statuses.clear()
    first = {a.slug: a for a in DemoSite(edition=1).articles}
    second = DemoSite(edition=2)
    new_slugs = {a.slug for a in second.articles if a.slug not in first}
    # A phrase an edit added to one article and nothing else in either edition says.
    edited_slug, phrase = _phrase_only_an_edit_added(first, second)
    site = DemoSite()
    window = math.ceil((datetime.now(timezone.utc) - site.articles[2].published).total_seconds() / 86400)
    with serve_demo_site(site, port=0) as server:
        settings = replace(
            es_settings,
            elasticsearch=es_settings.elasticsearch.with_index_prefix(f"test-alerts-{uuid.uuid4().hex[:8]}"),
            data_dir=tmp_path / "var",
            sites=demo_sites(server.base_url),
            crawl=replace(es_settings.crawl, download_delay=0.0, recheck_days=window),
            alerts=AlertSettings(webhook_url=webhook.url, smtp_host="127.0.0.1", smtp_port=smtp_port, email_to=("desk@test",)),
        )
        try:
            assert run_sites(settings, ["demo"], trigger="test").ok
            store = AlertStore(es_client, settings.elasticsearch)
            ensure_all(es_client, settings.elasticsearch)
            store.add(SavedSearch(name="election", query="election"))
            store.add(SavedSearch(name="edit", query=f'"{phrase}"'))
            server.set_edition(2)
            assert run_sites(settings, ["demo"], trigger="test").ok  # matched as stored, delivered by the crawl itself

            url = lambda slug: canonicalize(server.base_url + second.article(slug).path)  # noqa: E731
            election_new = {s for s in new_slugs if re.search(r"\belection", second.article(s).title + " " + second.article(s).body_text, re.I)}
            assert election_new  # edition 2 brings at least one
            assert {m.url for m in store.matches("election")} == {url(s) for s in election_new}
            assert [(m.url, m.change) for m in store.matches("edit")] == [(url(edited_slug), EDITED)]
            with running_server(create_app(settings, es_client)) as base, signed_in_everywhere(base, web_admin):
                feed = feedparser.parse(urllib.request.urlopen(base + "/alerts/election.atom", timeout=20).read())
            assert {link.href for e in feed.entries for link in e.links if link.rel == "related"} == {url(s) for s in election_new}
            by_search = {b["saved_search"]: {m["url"] for m in b["matches"]} for b in webhook.bodies}
            assert by_search == {"election": {url(s) for s in election_new}, "edit": {url(edited_slug)}}
            assert len(mailbox.messages) == 2
        finally:
            from search.indices import drop_all

            drop_all(es_client, settings.elasticsearch)


def _phrase_only_an_edit_added(first: dict, second: DemoSite) -> tuple[str, str]:
    def words(text: str) -> list[str]:
        return re.findall(r"[a-z]+", text.lower())

    everything_else = []
    for a in list(first.values()) + second.articles:
        everything_else.append(" ".join(words(a.title + " " + a.body_text)))
    for article in second.articles:
        before = first.get(article.slug)
        if before is None or before.body_text == article.body_text:
            continue
        old = " ".join(words(before.title + " " + before.body_text))
        new_words = words(article.body_text)
        for i in range(len(new_words) - 2):
            phrase = " ".join(new_words[i:i + 3])
            if phrase not in old and sum(phrase in text for text in everything_else) == 1:
                return article.slug, phrase
    raise AssertionError("edition 2 has no edit that adds a phrase of its own")


def test_a_failing_delivery_round_is_one_log_line_and_never_an_exception(archive_settings, caplog):
    from search.outbox import deliver_round

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = replace(archive_settings, elasticsearch=replace(archive_settings.elasticsearch, url=f"http://127.0.0.1:{port}", request_timeout=1.0))
    assert deliver_round(down) is None  # must not raise: a crawl or the scheduler goes on
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and errors[0].startswith("saved searches: delivery round failed")


@pytest.mark.e2e
def test_a_crawl_killed_between_storing_and_delivering_delivers_after_restart_once(es_client, es_settings, tmp_path, demo_sites):
    """The crawl stores a matching article and is killed (SIGKILL) while it sends the alert,
    before the webhook answered: once the claim of the dead crawl lapses, a delivery round
    sends every match, each once."""
    receiver = Receiver()
    receiver.holding.set()
    site = DemoSite()
    word = "election"
    with serve_demo_site(site, port=0) as server:
        settings = replace(
            es_settings,
            elasticsearch=es_settings.elasticsearch.with_index_prefix(f"test-kill-{uuid.uuid4().hex[:8]}"),
            data_dir=tmp_path / "var",
            sites=demo_sites(server.base_url),
            crawl=replace(es_settings.crawl, download_delay=0.3),  # slow enough to be killed mid-way
            alerts=AlertSettings(webhook_url=receiver.url, deliver_every=3600.0),  # no round but the crawl's own sends
        )
        store = AlertStore(es_client, settings.elasticsearch)
        try:
            ensure_all(es_client, settings.elasticsearch)
            store.add(SavedSearch(name="vote", query=word))
            pids = []
            crawl = threading.Thread(target=run_crawl, args=(settings, ["demo"]), kwargs={"on_start": pids.append})
            crawl.start()
            deadline = time.monotonic() + 120
            while not receiver.held and time.monotonic() < deadline:
                time.sleep(0.1)
            es_client.indices.refresh(index=settings.elasticsearch.alerts_alias)
            assert store.matches("vote") and receiver.held, "no matching article was stored and sent"
            os.killpg(pids[0], signal.SIGKILL)  # stored, matched, being sent: not delivered
            crawl.join(timeout=60)
            receiver.holding.clear()
            receiver.released.set()
            assert receiver.bodies == []

            restarted = replace(settings, crawl=replace(settings.crawl, download_delay=0.0))
            assert run_sites(restarted, ["demo"], trigger="test").outcome is not None  # sends its own at once
            assert any(m.state == "pending" for m in store.matches("vote", limit=500))  # the dead crawl's: still claimed
            stored = {m.url for m in store.matches("vote", limit=500)}
            deliver_due(es_client, restarted, now=datetime.now(timezone.utc) + LEASE + timedelta(minutes=1))  # the claim lapsed
            delivered = [m["url"] for b in receiver.bodies for m in b["matches"]]
            assert stored <= set(delivered)
            assert len(delivered) == len(set(delivered))  # each once
            assert {m.url for m in store.matches("vote", limit=500)} == set(delivered)
            assert all(m.state == "delivered" for m in store.matches("vote", limit=500))
        finally:
            receiver.close()
            from search.indices import drop_all

            drop_all(es_client, settings.elasticsearch)


def test_owned_searches_mail_their_owner_and_recipients_and_older_ones_migrate(es_client, archive_settings, receivers, journalists):
    webhook, mailbox, smtp_port = receivers
    webhook.statuses.clear()
    settings = replace(archive_settings, alerts=AlertSettings(
        smtp_host="127.0.0.1", smtp_port=smtp_port, email_to=("desk@newsroom.test",), email_from="archive@newsroom.test"))
    run = lambda *args: CliRunner().invoke(cli, ["alerts", *args], obj=AppContext(None, settings))  # noqa: E731
    owner, _ = journalists("reader", email="priya@newsroom.test")
    ensure_all(es_client, settings.elasticsearch)
    AlertStore(es_client, settings.elasticsearch).add(SavedSearch(name="legacy", query="ferry"))  # saved before owners
    added = run("add", "ferry", "ferry", "--owner", owner, "--email-to", "night-desk@newsroom.test", "--webhook", webhook.url)
    assert added.exit_code == 0, added.output
    assert run("add", "x", "ferry", "--owner", "nobody-here").exit_code != 0  # an owner must be a user
    assert run("add", "y", "ferry", "--email-to", "not-an-address").exit_code != 0

    listed = json.loads(run("list", "--owner", owner, "--format", "json").output)
    assert [(s["name"], s["owner"], s["owner_email"]) for s in listed] == [("ferry", owner, "priya@newsroom.test")]
    assert listed[0]["feed_url"].startswith("http://127.0.0.1:8800/feeds/")

    write(es_client, settings, article("fares", "Ferry fares rise", "Ferry fares rise.", at(1)))
    results = {r.search.key: r for r in check_and_deliver(es_client, settings)}
    assert results[f"{owner}/ferry"].delivery["email"]["recipients"] == ["priya@newsroom.test", "night-desk@newsroom.test"]
    assert results["legacy"].delivery["email"]["recipients"] == ["desk@newsroom.test"]  # no owner: the global list
    assert [b["saved_search"] for b in webhook.bodies] == ["ferry"]  # its own webhook; legacy has none
    assert sorted(tuple(m.rcpt_tos) for m in mailbox.messages) == [
        ("desk@newsroom.test",), ("priya@newsroom.test", "night-desk@newsroom.test")]

    migrated = run("migrate", "--owner", owner)
    assert migrated.exit_code == 0 and "1 saved search now belongs to" in migrated.output, migrated.output
    store = AlertStore(es_client, settings.elasticsearch)
    assert store.list(ownerless=True) == []
    moved = store.get("legacy", owner)
    assert moved.owner == owner and moved.owner_email == "priya@newsroom.test"
    assert [m.title for m in store.matches("legacy", owner=owner)] == ["Ferry fares rise"]  # what it reported moved too
    assert check_and_deliver(es_client, settings, "legacy", owner)[0].new == []  # and is not reported again
