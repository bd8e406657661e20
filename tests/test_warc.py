"""crawler/warc.py: raw responses of the demo site (fetched over real HTTP) kept in WARC files."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.demo_site import DemoSite, serve_demo_site
from crawler.urls import canonicalize
from crawler.warc import (
    CANONICAL_HEADER, Capture, WarcError, WarcLocation, WarcStore, iter_captures, read_capture, warc_files, warc_root,
)

ROOT = Path(__file__).resolve().parents[1]


def fetch_capture(url: str, canonical: str | None = None) -> Capture:
    """One real HTTP response of the demo site, as a Capture."""
    with urllib.request.urlopen(url, timeout=30) as resp:
        body = resp.read()
        return Capture(
            url=resp.url,
            status=resp.status,
            headers=list(resp.headers.items()),
            body=body,
            fetched_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            canonical_url=canonical,
        )


@pytest.fixture(scope="module")
def demo_pages():
    """(site, captures) of a few real demo article pages, fetched once."""
    site = DemoSite()
    with serve_demo_site(site, host="127.0.0.1", port=0) as server:
        captures = [
            fetch_capture(server.base_url + a.path, canonicalize(server.base_url + a.path)) for a in site.articles[:6]
        ]
    return site, captures


def test_append_then_read_gives_the_response_back_byte_for_byte(tmp_path, demo_pages):
    _, captures = demo_pages
    store = WarcStore(tmp_path, "demo")
    location = store.append(captures[0])
    store.close()

    assert location.file.startswith("demo/demo-") and location.file.endswith(".warc.gz")
    assert f"-{os.getpid()}-" in location.file
    assert location.offset > 0  # the warcinfo record comes first
    again = WarcStore(tmp_path, "demo").read(location)
    assert again == captures[0]
    assert again.status == 200
    assert again.body == captures[0].body and len(again.body) > 1000
    assert again.headers == captures[0].headers
    assert dict(again.headers)["Content-Type"].startswith("text/html")
    assert again.fetched_at == captures[0].fetched_at
    assert again.canonical_url == captures[0].canonical_url


def test_many_appends_are_each_readable_by_offset(tmp_path, demo_pages):
    _, captures = demo_pages
    with WarcStore(tmp_path, "demo") as store:
        locations = [store.append(c) for c in captures]
        # readable while the store is still writing
        assert store.read(locations[2]) == captures[2]
    assert len({loc.file for loc in locations}) == 1
    assert [loc.offset for loc in locations] == sorted(loc.offset for loc in locations)
    for location, capture in zip(locations, captures):
        assert read_capture(tmp_path, location) == capture
    assert list(iter_captures(tmp_path, "demo")) == list(zip(locations, captures))


def test_the_file_is_a_valid_warc_for_warcio(tmp_path, demo_pages):
    _, captures = demo_pages
    with WarcStore(tmp_path, "demo") as store:
        locations = [store.append(c) for c in captures[:3]]
    path = tmp_path / locations[0].file

    records = []
    with open(path, "rb") as fh:
        iterator = ArchiveIterator(fh, check_digests="raise")  # a wrong digest raises
        for record in iterator:
            content = record.content_stream().read()
            records.append((record, content, iterator.get_record_offset()))

    types = [r.rec_type for r, _, _ in records]
    assert types == ["warcinfo", "response", "response", "response"]
    info_record, info_text, _ = records[0]
    assert info_record.rec_headers.protocol == "WARC/1.1"
    assert info_record.rec_headers.get_header("WARC-Filename") == path.name
    assert b"software: newsroom-archive" in info_text
    assert b"format: WARC File Format 1.1" in info_text
    for (record, content, offset), location, capture in zip(records[1:], locations, captures):
        headers = record.rec_headers
        assert headers.protocol == "WARC/1.1"
        assert headers.get_header("WARC-Target-URI") == capture.url
        assert headers.get_header(CANONICAL_HEADER) == capture.canonical_url
        assert headers.get_header("WARC-Payload-Digest").startswith("sha1:")
        assert headers.get_header("WARC-Block-Digest").startswith("sha1:")
        assert headers.get_header("WARC-Record-ID").startswith("<urn:uuid:")
        assert headers.get_header("WARC-Date").startswith(capture.fetched_at[:19])
        assert record.http_headers.get_statuscode() == "200"
        assert content == capture.body
        assert offset == location.offset
        assert record.digest_checker.passed is not False

    # warcio's own checker agrees (digests verified)
    checked = subprocess.run([str(ROOT / ".venv/bin/warcio"), "check", "-v", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_files_rotate_at_max_file_bytes(tmp_path, demo_pages):
    _, captures = demo_pages
    size = len(captures[0].body)
    store = WarcStore(tmp_path, "demo", max_file_bytes=2 * size)  # bodies compress: a few records per file
    locations = [store.append(c) for c in captures * 4]
    store.close()

    files = warc_files(tmp_path, "demo")
    assert len(files) >= 2
    assert [f.name for f in files] == sorted({Path(loc.file).name for loc in locations}, key=[f.name for f in files].index)
    for f in files:
        with open(f, "rb") as fh:
            assert next(iter(ArchiveIterator(fh))).rec_type == "warcinfo"  # every file starts with warcinfo
    for f in files[:-1]:
        # a file is closed once it passes the limit: it went over by less than one record
        assert f.stat().st_size >= 2 * size
        assert f.stat().st_size < 2 * size + max(loc.offset for loc in locations) + 10 * size
    # oldest file first, in append order
    assert [loc for loc, _ in iter_captures(tmp_path, "demo")] == locations
    assert [c for _, c in iter_captures(tmp_path)] == captures * 4


def test_a_tiny_limit_gives_one_response_per_file(tmp_path, demo_pages):
    _, captures = demo_pages
    with WarcStore(tmp_path, "demo", max_file_bytes=1) as store:
        locations = [store.append(c) for c in captures[:3]]
    assert len({loc.file for loc in locations}) == 3
    assert [c for _, c in iter_captures(tmp_path, "demo")] == captures[:3]


def test_two_stores_of_one_process_never_share_a_file(tmp_path, demo_pages):
    _, captures = demo_pages
    a, b = WarcStore(tmp_path, "demo"), WarcStore(tmp_path, "demo")
    la, lb = a.append(captures[0]), b.append(captures[1])
    a.close(), b.close()
    assert la.file != lb.file
    assert {c.url for _, c in iter_captures(tmp_path, "demo")} == {captures[0].url, captures[1].url}


def test_sites_have_their_own_folders(tmp_path, demo_pages):
    _, captures = demo_pages
    with WarcStore(tmp_path, "demo") as demo, WarcStore(tmp_path, "other") as other:
        demo.append(captures[0])
        other.append(captures[1])
    assert [c.url for _, c in iter_captures(tmp_path, "other")] == [captures[1].url]
    assert [c.url for _, c in iter_captures(tmp_path, "demo")] == [captures[0].url]
    assert len(list(iter_captures(tmp_path))) == 2
    assert list(iter_captures(tmp_path, "missing")) == []
    assert list(iter_captures(tmp_path / "nothing-here")) == []


@pytest.mark.parametrize("cut", ["in-body", "in-headers", "in-gzip-header", "one-byte"])
def test_a_file_cut_inside_its_last_record_still_yields_every_earlier_record(tmp_path, demo_pages, caplog, cut):
    _, captures = demo_pages
    with WarcStore(tmp_path, "demo") as store:
        locations = [store.append(c) for c in captures[:4]]
    path = tmp_path / locations[0].file
    data = path.read_bytes()
    last = locations[-1].offset
    keep = {
        "in-body": last + (len(data) - last) // 2,
        "in-headers": last + 40,
        "in-gzip-header": last + 5,
        "one-byte": len(data) - 9,  # the record's data is complete but not its gzip trailer
    }[cut]
    path.write_bytes(data[:keep])

    with caplog.at_level(logging.WARNING, logger="crawler.warc"):
        got = list(iter_captures(tmp_path, "demo"))
    if cut == "one-byte":
        # only the gzip trailer is gone: every byte of the record is there (length and block
        # digest checked), so it is kept
        assert got == list(zip(locations, captures[:4]))
        return
    assert got == list(zip(locations[:3], captures[:3]))
    assert any("torn" in r.getMessage() or "unreadable" in r.getMessage() for r in caplog.records)
    assert str(last) in caplog.text
    with pytest.raises(WarcError):
        read_capture(tmp_path, locations[-1])
    # appending after a kill starts a new file; the torn one stays as it is
    with WarcStore(tmp_path, "demo") as store:
        after = store.append(captures[4])
    assert after.file != locations[0].file
    assert [c for _, c in iter_captures(tmp_path, "demo")] == captures[:3] + [captures[4]]


def test_a_damaged_record_is_skipped_and_the_rest_is_read(tmp_path, demo_pages, caplog):
    """A flipped byte inside a record's data fails its block digest: that record is skipped."""
    import gzip as gz

    _, captures = demo_pages
    with WarcStore(tmp_path, "demo") as store:
        locations = [store.append(c) for c in captures[:3]]
    path = tmp_path / locations[0].file
    data = path.read_bytes()
    start, end = locations[1].offset, locations[2].offset
    member = bytearray(gz.decompress(data[start:end]))
    member[-100] ^= 0x20  # one letter of the body changes case
    path.write_bytes(data[:start] + gz.compress(bytes(member)) + data[end:])
    with caplog.at_level(logging.WARNING, logger="crawler.warc"):
        got = [c for _, c in iter_captures(tmp_path, "demo")]
    assert got == [captures[0], captures[2]]
    assert "digest mismatch" in caplog.text


def test_kill_9_right_after_append_loses_nothing(tmp_path, demo_pages):
    """A child appends, says where, and is killed with SIGKILL before it can close anything."""
    _, captures = demo_pages
    (tmp_path / "captures.json").write_text(
        json.dumps([{**c.__dict__, "body": c.body.decode("utf-8"), "headers": c.headers} for c in captures[:3]])
    )
    child = textwrap.dedent(
        f"""
        import json, sys, time
        from pathlib import Path
        from crawler.warc import Capture, WarcStore
        raw = json.loads(Path({str(tmp_path / "captures.json")!r}).read_text())
        store = WarcStore(Path({str(tmp_path / "warc")!r}), "demo")
        for item in raw:
            item["body"] = item["body"].encode("utf-8")
            item["headers"] = [tuple(h) for h in item["headers"]]
            loc = store.append(Capture(**item))
            print(loc.file, loc.offset, flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", child], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline().split() for _ in range(3)]
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    locations = [WarcLocation(file=f, offset=int(o)) for f, o in lines]
    assert all(f"-{proc.pid}-" in loc.file for loc in locations)  # the writer's pid is in the name
    warc = tmp_path / "warc"
    assert [read_capture(warc, loc) for loc in locations] == captures[:3]
    assert [c for _, c in iter_captures(warc, "demo")] == captures[:3]


def test_fetch_time_round_trips_in_utc(tmp_path, demo_pages):
    _, captures = demo_pages
    base = captures[0]
    variants = {
        "2026-11-27T02:00:03+00:00": "2026-11-27T02:00:03+00:00",
        "2026-11-27T03:00:03+01:00": "2026-11-27T02:00:03+00:00",
        "2026-11-27T02:00:03.250000+00:00": "2026-11-27T02:00:03.250000+00:00",
        "2026-11-27T02:00:03Z": "2026-11-27T02:00:03+00:00",
    }
    with WarcStore(tmp_path, "demo") as store:
        for given, expected in variants.items():
            location = store.append(Capture(base.url, 200, base.headers, base.body, given))
            assert store.read(location).fetched_at == expected
            assert store.read(location).canonical_url is None


def test_reading_a_wrong_location_is_a_clear_error(tmp_path, demo_pages):
    _, captures = demo_pages
    with WarcStore(tmp_path, "demo") as store:
        location = store.append(captures[0])
    with pytest.raises(WarcError, match="no WARC file"):
        read_capture(tmp_path, WarcLocation("demo/nope.warc.gz", 0))
    with pytest.raises(WarcError, match="not a response"):
        read_capture(tmp_path, WarcLocation(location.file, 0))  # the warcinfo record
    with pytest.raises(WarcError):
        read_capture(tmp_path, WarcLocation(location.file, location.offset + 3))
    with pytest.raises(WarcError, match="outside"):
        read_capture(tmp_path, WarcLocation("../elsewhere.warc.gz", 0))


def test_the_warc_folder_is_under_the_data_dir(tmp_path):
    assert warc_root(tmp_path / "var") == tmp_path / "var" / "warc"
    with pytest.raises(ValueError):
        WarcStore(tmp_path, "../escape")
