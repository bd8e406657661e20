"""WARC files in S3 (warc.storage = "s3://bucket/prefix"), against a real SeaweedFS on 127.0.0.1:
each closed file is uploaded whole after it was written and fsynced here; a file not uploaded
when a crawl stopped (the server down) is uploaded at the next start; a record is read back by
offset with one Range GET; another machine with no WARC of its own re-extracts from the bucket
and shows an article's page as captured from it; the keys come from the environment only and
are never printed."""

from __future__ import annotations

import logging
import socket
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from _s3 import s3_server  # noqa: F401 (fixture)
from _web import browser, browser_sign_in  # noqa: F401 (fixture)

from archive.config import ConfigError, WarcSettings, settings_from_dict, settings_to_dict
from archive.warc_storage import S3Storage, read_storage, shared_storage
from crawler.warc import Capture, WarcError, WarcLocation, WarcStore, iter_captures, read_capture, warc_files


def capture(n: int) -> Capture:
    body = f"<html><body><h1>Story {n}</h1><p>{'word ' * 80}</p></body></html>".encode()
    return Capture(url=f"https://news.example/2026/03/01/story-{n}", status=200,
                   headers=[("Content-Type", "text/html; charset=utf-8")], body=body,
                   fetched_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))


def s3_settings(server, prefix: str, endpoint: str | None = None) -> WarcSettings:
    return WarcSettings(storage=f"s3://{server.bucket}/{prefix}", endpoint_url=endpoint or server.endpoint_url,
                        access_key=server.access_key, secret_key=server.secret_key)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_s3_storage_settings_take_the_keys_from_the_environment_only():
    env = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI-secret",
           "AWS_ENDPOINT_URL": "http://127.0.0.1:8393"}
    settings = settings_from_dict({"warc": {"storage": "s3://archive-warc/newsroom"}}, env=env)
    warc = settings.warc
    assert warc.is_s3 and warc.shared_dir is None
    assert (warc.endpoint_url, warc.access_key, warc.secret_key) == ("http://127.0.0.1:8393", "AKIDEXAMPLE", "wJalrXUtnFEMI-secret")
    assert "wJalrXUtnFEMI-secret" not in repr(settings) and "AKIDEXAMPLE" not in repr(settings)
    # What a crawl process is handed: the storage and the endpoint, no key (it reads them itself).
    handed = settings_to_dict(settings)["warc"]
    assert handed == {"storage": "s3://archive-warc/newsroom", "endpoint_url": "http://127.0.0.1:8393", "region": ""}
    storage = shared_storage(warc)
    assert isinstance(storage, S3Storage) and storage.where == "s3://archive-warc/newsroom at http://127.0.0.1:8393"
    with pytest.raises(ConfigError, match="no S3 keys in settings.toml"):
        settings_from_dict({"warc": {"storage": "s3://archive-warc", "secret_key": "x"}}, env={})
    with pytest.raises(ConfigError, match="expected s3://bucket/prefix"):
        settings_from_dict({"warc": {"storage": "s3://Not_A_Bucket/x"}}, env={})
    with pytest.raises(ConfigError, match="warc.endpoint_url: expected http"):
        settings_from_dict({"warc": {"storage": "s3://archive-warc", "endpoint_url": "ftp://user:pw@host/x"}}, env={})


def test_each_closed_file_is_uploaded_and_a_record_is_read_by_offset(s3_server, tmp_path):
    bucket = shared_storage(s3_settings(s3_server, "upload"))
    local = tmp_path / "warc"
    store = WarcStore(local, "news", max_file_bytes=200, shared=bucket)
    locations = [store.append(capture(n)) for n in range(4)]  # small files: several rotations
    assert len(store.files_written) > 1
    open_file = store.files_written[-1]
    assert bucket.size(open_file) is None  # the file being written is not uploaded yet
    store.close()
    assert bucket.files("news") == [p.relative_to(local).as_posix() for p in warc_files(local, "news")]
    for path in warc_files(local, "news"):
        with bucket.open(f"news/{path.name}") as uploaded:
            assert uploaded.read() == path.read_bytes()
    # Each record read back on its own, from its offset on (a Range GET), and every one in order.
    assert [read_capture(bucket, location).body for location in reversed(locations)] == [capture(n).body for n in (3, 2, 1, 0)]
    assert [c.body for _, c in iter_captures(bucket, "news")] == [capture(n).body for n in range(4)]
    assert bucket.files("other") == [] and list(iter_captures(bucket, "other")) == []
    with pytest.raises(WarcError, match="no WARC file news/nope.warc.gz in s3://"):
        read_capture(bucket, WarcLocation("news/nope.warc.gz", 0))
    with pytest.raises(WarcError, match="outside"):
        read_capture(bucket, WarcLocation("../elsewhere.warc.gz", 0))


def test_a_file_not_uploaded_when_the_server_was_down_is_uploaded_at_the_next_start(s3_server, tmp_path, caplog):
    local = tmp_path / "warc"
    down = shared_storage(s3_settings(s3_server, "late", endpoint=f"http://127.0.0.1:{closed_port()}"))
    with caplog.at_level(logging.INFO, logger="crawler.warc"):
        store = WarcStore(local, "news", shared=down)
        location = store.append(capture(1))
        store.close()  # the upload fails: said, and the file stays here
    name = location.file.split("/")[1]
    assert f"WARC {name} not copied to s3://{s3_server.bucket}/late at http://127.0.0.1:" in caplog.text
    assert f"kept in {local / 'news'}, copied at the next crawl of news" in caplog.text
    assert (local / location.file).is_file()

    up = shared_storage(s3_settings(s3_server, "late"))
    assert up.files("news") == []
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="crawler.warc"):
        WarcStore(local, "news", shared=up).close()
    assert "copied 1 WARC file(s) of news left from an earlier run" in caplog.text
    assert read_capture(up, location).body == capture(1).body
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="crawler.warc"):
        WarcStore(local, "news", shared=up).close()  # nothing left: nothing copied twice
    assert "copied" not in caplog.text


def test_wrong_keys_are_refused_clearly_and_lose_nothing(s3_server, tmp_path, caplog):
    wrong = replace(s3_settings(s3_server, "keys"), secret_key="not-the-secret")
    bucket = shared_storage(wrong)
    with caplog.at_level(logging.INFO, logger="crawler.warc"):
        with WarcStore(tmp_path / "warc", "news", shared=bucket) as store:
            location = store.append(capture(2))
    assert "not copied to s3://" in caplog.text and "SignatureDoesNotMatch" in caplog.text
    assert "not-the-secret" not in caplog.text and s3_server.access_key not in caplog.text
    assert read_capture(tmp_path / "warc", location).body == capture(2).body  # still here
    with pytest.raises(WarcError, match="SignatureDoesNotMatch"):
        read_capture(bucket, location)


def test_a_stored_name_outside_the_storage_is_refused(s3_server, tmp_path):
    from search.web.capture import CaptureUnavailable, captured_page

    folder = read_storage(settings_from_dict({"data_dir": str(tmp_path)}, env={}))
    for storage in (shared_storage(s3_settings(s3_server, "names")), folder):
        for name in ("../../etc/passwd", "/etc/passwd", "demo/../../x.warc.gz"):
            with pytest.raises(CaptureUnavailable, match="refused WARC file name"):
                captured_page(storage, {"warc_file": name, "warc_offset": 0})
        with pytest.raises(CaptureUnavailable, match="the WARC file is not in"):
            captured_page(storage, {"warc_file": "demo/missing.warc.gz", "warc_offset": 0})


@pytest.mark.e2e
def test_another_machine_reextracts_from_the_bucket_and_shows_the_capture(
        s3_server, archive_settings, demo_sites, es_client, tmp_path, monkeypatch, browser, web_admin):
    from selenium.webdriver.common.by import By

    from archive.demo_site import DemoSite, serve_demo_site
    from crawler.reextract import reextract
    from crawler.runner import run_crawl
    from search.http_api import create_app, running_server

    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)  # the crawl process reads its keys from the environment
    server = serve_demo_site(DemoSite(article_count=8), host="127.0.0.1", port=0)
    try:
        machine_a = replace(archive_settings, data_dir=tmp_path / "a", sites=demo_sites(server.base_url),
                            warc=s3_settings(s3_server, "newsroom"),
                            crawl=replace(archive_settings.crawl, download_delay=0.0, autothrottle=False))
        outcome = run_crawl(machine_a, ["demo"])
        assert outcome.status == "ok", outcome.error
        titles = {a.title for a in server.site.articles}
    finally:
        server.stop()
    bucket = read_storage(machine_a)
    assert bucket.files("demo") == [p.relative_to(tmp_path / "a" / "warc").as_posix()
                                    for p in warc_files(tmp_path / "a" / "warc", "demo")]
    # Machine b never crawled (no WARC folder at all) and the site is gone: it rebuilds from the bucket.
    machine_b = replace(machine_a, data_dir=tmp_path / "b")
    result = reextract(machine_b, es_client, ["demo"])
    assert result.ok and result.extracted == 8
    assert result.unchanged == 8  # the same text as machine a stored
    assert not (tmp_path / "b" / "warc").exists()

    # Its search page shows an article's page as captured, read from the bucket.
    es_client.indices.refresh(index=machine_b.elasticsearch.articles_alias)
    article = es_client.search(index=machine_b.elasticsearch.articles_alias, size=1,
                               query={"match_all": {}})["hits"]["hits"][0]
    with running_server(create_app(machine_b, es_client)) as base:
        browser_sign_in(browser, base, web_admin)
        browser.get(f"{base}/article/{article['_id']}")
        assert "kept since" in browser.find_element(By.ID, "raw-capture").text
        browser.find_element(By.ID, "view-captured").click()
        frame = browser.find_element(By.ID, "capture")
        browser.switch_to.frame(frame)
        try:
            assert browser.find_element(By.TAG_NAME, "h1").text == article["_source"]["title"]
            assert article["_source"]["title"] in titles
        finally:
            browser.switch_to.default_content()
