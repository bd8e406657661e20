"""`archive es start|status|stop` against a real node on a second port (never 9200, which
developers and the session fixture use), with its own data folder. Slow (~30 s): one node for
the module."""

from __future__ import annotations

import json
import os
import shutil
import socket
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.cli import cli
from archive.config import load_settings
from search import localnode

pytestmark = pytest.mark.elasticsearch

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The CLI must see only the settings file written here, not the caller's overrides.
CLEAN_ENV = {"ELASTICSEARCH_URL": None, "ES_HEAP": None, "ARCHIVE_DATA_DIR": None, "ARCHIVE_CONFIG": None}


def _free_port(start: int = 9250) -> int:
    for port in range(start, start + 50):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError(f"no free port in {start}..{start + 49}")


@dataclass
class Node:
    config: Path
    url: str

    def run(self, *args: str, **env: str):
        result = CliRunner().invoke(cli, ["--config", str(self.config), "es", *args], env={**CLEAN_ENV, **env})
        assert "Traceback" not in result.output, result.output
        return result

    def status(self) -> dict:
        result = self.run("status", "--format", "json")
        return json.loads(result.stdout)

    @property
    def settings(self):
        return load_settings(self.config, env={})


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    folder = tmp_path_factory.mktemp("localnode")
    pinned = tomllib.loads((PROJECT_ROOT / "settings.toml").read_text())["local_node"]["version"]
    url = f"http://127.0.0.1:{_free_port()}"
    config = folder / "settings.toml"
    config.write_text(
        f'data_dir = "var"\n[elasticsearch]\nurl = "{url}"\n[local_node]\nversion = "{pinned}"\nheap = "512m"\n'
    )
    node = Node(config=config, url=url)
    yield node
    settings = node.settings
    localnode.stop(settings)
    # As root the node's state lives outside the tmp folder (see search/localnode.py): remove it too.
    state_root = localnode.node_paths(settings).node_dir.parent
    if state_root.parent == localnode.ROOT_BASE:
        shutil.rmtree(state_root, ignore_errors=True)
    shutil.rmtree(folder / "var", ignore_errors=True)  # the unpacked distribution is ~150 MB


@pytest.fixture
def running(node) -> Node:
    result = node.run("start")
    assert result.exit_code == 0, result.output
    return node


def test_start_runs_a_real_elasticsearch_of_the_pinned_version(node):
    node.run("stop")
    result = node.run("start")

    assert result.exit_code == 0, result.output
    assert "started in" in result.stdout
    status = node.status()
    assert status["running"] is True and status["managed"] is True
    assert status["version"] == node.settings.local_node.version == "9.5.4"
    assert status["health"] in ("green", "yellow")
    assert isinstance(status["pid"], int)
    assert status["rss_bytes"] > 100 * 1024 * 1024  # a JVM with a 512 MB heap, not a stub


def test_starting_a_running_node_is_a_noop_that_says_so(running):
    pid = running.status()["pid"]

    result = running.run("start")

    assert result.exit_code == 0, result.output
    assert "already running" in result.stdout
    assert running.status()["pid"] == pid


def test_status_table_for_humans(running):
    result = running.run("status")

    assert result.exit_code == 0, result.output
    for expected in ("running", "9.5.4", "health", "memory", "heap 512m"):
        assert expected in result.stdout


def test_status_lists_indices_with_document_counts(running):
    from search.client import make_client

    client = make_client(running.settings.elasticsearch)
    client.index(index="articles-status-probe", id="1", document={"t": "x"}, refresh=True)
    try:
        indices = {i["name"]: i for i in running.status()["indices"]}
        assert indices["articles-status-probe"]["docs"] == 1
        assert "articles-status-probe" in running.run("status").stdout
    finally:
        client.indices.delete(index="articles-status-probe")


def _health_as(url: str, auth: tuple[str, str] | None = None) -> int:
    """The HTTP status of GET /_cluster/health, signed in as auth (or anonymous)."""
    import base64
    import urllib.error
    import urllib.request

    request = urllib.request.Request(f"{url}/_cluster/health")
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_security_is_on_and_every_command_finds_the_credentials(running, tmp_path):
    from dataclasses import replace

    from search import node_credentials
    from search.client import make_client

    assert _health_as(running.url) == 401  # anonymous: refused, as in production
    kept = node_credentials.file_for(running.url)
    assert kept.stat().st_mode & 0o777 == 0o600 and kept.parent.stat().st_mode & 0o777 == 0o700
    secrets = node_credentials.read_file(kept)
    assert _health_as(running.url, (secrets.service.username, secrets.service.password)) == 200
    assert _health_as(running.url, ("elastic", secrets.elastic.password)) == 200
    started = running.run("stop"), running.run("start")
    for result in started:
        assert secrets.elastic.password not in result.output and secrets.service.password not in result.output

    # Whatever data_dir the settings name, the node's credentials are found by its address.
    elsewhere = replace(running.settings, data_dir=tmp_path / "another-data-dir")
    assert make_client(elsewhere.elasticsearch).cluster.health()["status"] in ("green", "yellow")
    status = CliRunner().invoke(cli, ["--config", str(running.config), "status"],
                                env={**CLEAN_ENV, "ARCHIVE_DATA_DIR": str(tmp_path / "other")})
    assert "refused the credentials" not in status.output and "401" not in status.output, status.output

    # Explicit credentials win over the kept ones.
    wrong = running.run("status", "--format", "json", ELASTICSEARCH_USERNAME="archive", ELASTICSEARCH_PASSWORD="not-it")
    assert json.loads(wrong.stdout)["running"] is False


def test_users_are_elasticsearch_users_whose_role_decides(running):
    from dataclasses import replace

    from elasticsearch import AuthorizationException

    from search.client import make_client

    def users(*args, stdin=None):
        return CliRunner().invoke(cli, ["--config", str(running.config), "users", *args], input=stdin, env=CLEAN_ENV)

    added = users("add", "priya", "--role", "reader", "--email", "priya@newsroom.example", "--password-stdin",
                  stdin="a-long-password\n")
    assert added.exit_code == 0, added.output
    assert "a-long-password" not in added.output
    listed = json.loads(users("list", "--format", "json").stdout)
    assert {"username": "priya", "role": "reader", "email": "priya@newsroom.example"}.items() <= listed[0].items()

    es = replace(running.settings.elasticsearch, username="priya", password="a-long-password")
    reader = make_client(es)
    assert reader.security.authenticate()["roles"] == ["archive_reader"]
    with pytest.raises(AuthorizationException):  # a reader reads; Elasticsearch refuses a write
        reader.index(index="articles", id="x", document={"title": "forged"})

    assert users("add", "elastic", "--role", "reader", "--password-stdin", stdin="a-long-password\n").exit_code == 1
    assert users("add", "bob", "--role", "reader", "--password-stdin", stdin="short\n").exit_code == 1
    removed = users("remove", "priya")
    assert removed.exit_code == 0, removed.output
    assert _health_as(running.url, ("priya", "a-long-password")) == 401
    assert users("remove", "archive").exit_code == 1  # the service user is not a journalist


def test_a_failed_start_says_why_with_the_log_and_no_traceback(node):
    node.run("stop")

    result = node.run("start", ES_HEAP="4m")  # far too small: the JVM dies while starting

    assert result.exit_code == 1
    assert "failed to start" in result.output
    assert "OutOfMemoryError" in result.output  # the tail of the node's output
    assert node.status()["running"] is False


def test_a_stale_pid_file_is_cleaned_up(node):
    node.run("stop")
    pid_file = localnode.node_paths(node.settings).pid_file
    pid_file.write_text(str(os.getpid()))  # alive, but not Elasticsearch

    status = node.run("status")
    assert status.exit_code == 3
    assert "stale pid file" in status.stdout
    assert not pid_file.exists()

    pid_file.write_text(str(os.getpid()))
    result = node.run("start")
    assert result.exit_code == 0, result.output
    assert "stale pid file" in result.output and "started in" in result.stdout
    assert node.status()["pid"] != os.getpid()


def test_port_taken_by_something_else_is_a_clear_error(node):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]

        result = node.run("start", ELASTICSEARCH_URL=f"http://127.0.0.1:{port}")

    assert result.exit_code == 1
    assert f"port {port}" in result.output and "does not answer as Elasticsearch" in result.output


def test_stop_stops_it(running):
    pid = running.status()["pid"]

    result = running.run("stop")

    assert result.exit_code == 0, result.output
    assert f"stopped (pid {pid})" in result.stdout
    status = running.run("status")
    assert status.exit_code == 3 and "not running" in status.stdout
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", int(running.url.rsplit(":", 1)[1]))) != 0
    again = running.run("stop")
    assert again.exit_code == 0 and "not running" in again.stdout
