"""Raw captures every machine can read: warc.storage = "file:///..." copies each closed WARC file
into a folder every machine mounts; a file a stopped machine had not copied is copied at its
next start; `archive reextract` on another machine rebuilds the articles from that folder."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from archive.config import ConfigError, settings_from_dict
from archive.warc_storage import read_storage
from crawler.warc import Capture, WarcStore, iter_captures, read_capture, warc_files


def capture(n: int) -> Capture:
    body = f"<html><body><h1>Story {n}</h1><p>{'word ' * 80}</p></body></html>".encode()
    return Capture(url=f"https://news.example/2026/03/01/story-{n}", status=200,
                   headers=[("Content-Type", "text/html; charset=utf-8")], body=body,
                   fetched_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))


def test_the_storage_is_a_folder_url_or_a_bucket(tmp_path):
    assert settings_from_dict({}, env={}).warc.shared_dir is None
    s = settings_from_dict({"warc": {"storage": f"file://{tmp_path}/shared"}}, env={})
    assert s.warc.shared_dir == tmp_path / "shared" and read_storage(s).where == str(tmp_path / "shared")
    assert read_storage(settings_from_dict({"data_dir": str(tmp_path)}, env={})).where == str(tmp_path / "warc")
    assert settings_from_dict({}, env={"ARCHIVE_WARC_STORAGE": f"file://{tmp_path}"}).warc.shared_dir == tmp_path
    with pytest.raises(ConfigError, match="warc.storage: expected file:///absolute/path"):
        settings_from_dict({"warc": {"storage": "file://relative/path"}}, env={})


def test_each_closed_file_is_copied_whole_and_read_back_by_offset(tmp_path):
    local, shared = tmp_path / "machine-a" / "warc", tmp_path / "shared"
    store = WarcStore(local, "news", max_file_bytes=200, shared=shared)
    locations = [store.append(capture(n)) for n in range(4)]  # small files: several rotations
    assert len(store.files_written) > 1
    store.close()
    copied = warc_files(shared, "news")
    assert [p.name for p in copied] == [p.name for p in warc_files(local, "news")]
    assert all(c.read_bytes() == (local / "news" / c.name).read_bytes() for c in copied)
    assert not list(shared.glob("news/.*partial"))
    for n, location in enumerate(locations):
        assert read_capture(shared, location).body == capture(n).body
    assert len(list(iter_captures(shared, "news"))) == 4


def test_a_file_left_by_a_stopped_machine_is_copied_at_its_next_start(tmp_path, caplog):
    local, shared = tmp_path / "warc", tmp_path / "shared"
    # The machine wrote a file and stopped before copying it (no shared folder then, or a crash).
    store = WarcStore(local, "news")
    location = store.append(capture(1))
    store.close()
    assert not shared.exists()
    with caplog.at_level("INFO", logger="crawler.warc"):
        WarcStore(local, "news", shared=shared).close()
    assert "copied 1 WARC file(s) of news left from an earlier run" in caplog.text
    assert read_capture(shared, location).body == capture(1).body


@pytest.mark.e2e
def test_another_machine_reextracts_from_the_shared_folder(archive_settings, demo_sites, es_client, tmp_path):
    from archive.demo_site import DemoSite, serve_demo_site
    from crawler.reextract import reextract
    from crawler.runner import run_crawl

    shared = tmp_path / "shared-warc"
    server = serve_demo_site(DemoSite(article_count=8), host="127.0.0.1", port=0)
    try:
        machine_a = replace(archive_settings, data_dir=tmp_path / "a", sites=demo_sites(server.base_url),
                            warc=replace(archive_settings.warc, storage=f"file://{shared}"),
                            crawl=replace(archive_settings.crawl, download_delay=0.0, autothrottle=False))
        outcome = run_crawl(machine_a, ["demo"])
        assert outcome.status == "ok", outcome.error
        assert warc_files(shared, "demo")
    finally:
        server.stop()
    # Machine b never crawled (no local WARC at all) and the site is gone: it rebuilds from the folder.
    machine_b = replace(machine_a, data_dir=tmp_path / "b")
    result = reextract(machine_b, es_client, ["demo"])
    assert result.ok and result.extracted == 8
    assert result.unchanged == 8  # the same text as machine a stored
    assert not (tmp_path / "b" / "warc").exists()
