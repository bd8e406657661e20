"""Shared fixtures: a real Elasticsearch for the tests (never a mock).

Session-wide:

    es_settings       archive Settings (settings.toml, or $ARCHIVE_CONFIG, read with
                      settings_from_dict) whose elasticsearch.url answers. That is
                      ELASTICSEARCH_URL (else the url in the settings file, 127.0.0.1:9200) if an
                      Elasticsearch answers there; otherwise a local node is started on that port
                      with search/localnode.py (first time: Maven download, ~130 MB) and stopped at
                      the end of the session. A node the fixture did not start is never stopped.
    es_client         the official client for it (search.client.make_client).
    journalists       make(role) -> (name, password): users of the node for sign-in tests
    web_admin         one admin user, for tests of the page and the API (tests/_web.py signs in)

Per test:

    index_names       IndexNames(prefix, articles, versions, runs): unique alias names such as
                      test-1a2b3c4d5e6f-articles. Every index named <prefix>-* is deleted after
                      the test, whatever the test created.
    archive_settings  es_settings with those names in settings.elasticsearch (articles_alias,
                      versions_alias, runs_index) and data_dir in the test's tmp_path. Give it to
                      any code that writes, so tests never touch the real `articles` alias, each
                      other's data, or the developer's var/ folder.

Tests using any of these are marked `elasticsearch` automatically, so
`pytest -m "not elasticsearch"` runs the rest without a node.

    ELASTICSEARCH_URL=http://127.0.0.1:9200 pytest   # use the node that already runs there
    ELASTICSEARCH_URL=http://127.0.0.1:9260 pytest   # nothing there: start (and stop) one
"""

from __future__ import annotations

import contextlib
import os
import sys
import tomllib
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from archive.config import Settings, config_path, settings_from_dict
from search import localnode
from search.client import make_client

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ES_FIXTURES = {"es_settings", "es_client", "index_names", "archive_settings"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if ES_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.elasticsearch)


@dataclass(frozen=True)
class IndexNames:
    prefix: str
    articles: str
    versions: str
    runs: str


def _project_settings() -> Settings:
    """The project's settings file as the tests' base (one version pin, the demo site), with
    the environment's overrides (ELASTICSEARCH_URL, ES_HEAP, ARCHIVE_DATA_DIR) applied."""
    file = config_path()
    if not file.is_absolute():
        file = PROJECT_ROOT / file
    raw = tomllib.loads(file.read_text(encoding="utf-8"))
    return settings_from_dict(raw, base_dir=file.parent, env=os.environ, path=file)


@pytest.fixture(scope="session")
def es_settings(request) -> Settings:
    settings = _project_settings()
    capture = request.config.pluginmanager.get_plugin("capturemanager")

    def say(message: str) -> None:
        # Shown live, not captured: a first start downloads ~130 MB and takes a while.
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            print(f"\n[elasticsearch] {message}", file=sys.stderr, flush=True)

    node = None
    if localnode.health(settings) is None:  # any Elasticsearch answering there will do
        try:
            node = localnode.start(settings, on_progress=say)
        except localnode.NodeError as exc:
            pytest.fail(f"no Elasticsearch for the tests at {settings.elasticsearch.url}: {exc}", pytrace=False)
        say(f"{node.message} at {node.url}")
    yield settings
    if node is not None and node.started:
        say(localnode.stop(settings).message)


@pytest.fixture(scope="session")
def es_client(es_settings):
    client = make_client(es_settings.elasticsearch)
    yield client
    client.close()


@pytest.fixture
def index_names(es_client) -> IndexNames:
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    yield IndexNames(prefix=prefix, articles=f"{prefix}-articles", versions=f"{prefix}-versions", runs=f"{prefix}-runs")
    _delete_indices(es_client, f"{prefix}-*")


def _delete_indices(client, pattern: str) -> None:
    """Resolve the wildcard first: Elasticsearch refuses wildcard deletes (destructive_requires_name)."""
    found = client.indices.get(index=pattern, expand_wildcards="all", allow_no_indices=True, ignore_unavailable=True)
    if found.body:
        client.indices.delete(index=",".join(found.body), ignore_unavailable=True)


@pytest.fixture
def archive_settings(es_settings, index_names, tmp_path) -> Settings:
    es = es_settings.elasticsearch.with_index_prefix(index_names.prefix)
    return replace(es_settings, elasticsearch=es, data_dir=tmp_path / "var")


@pytest.fixture(scope="session")
def journalists(es_settings):
    """make(role="reader", email=None) -> (name, password): a new user of the secured node with
    that archive role (search/users.py); every one made is removed at the end of the session."""
    from search.users import add_user, remove_user

    made: list[str] = []

    def make(role: str = "reader", email: str | None = None) -> tuple[str, str]:
        name, password = f"test-{role}-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
        add_user(es_settings.elasticsearch, name, role, password, email=email)
        made.append(name)
        return name, password

    yield make
    for name in made:
        with contextlib.suppress(Exception):
            remove_user(es_settings.elasticsearch, name)


@pytest.fixture(scope="session")
def web_admin(journalists) -> tuple[str, str]:
    """(name, password) of an admin for tests of the page and API that are not about users."""
    return journalists("admin")


@pytest.fixture(scope="session")
def demo_sites(es_settings):
    """The shipped settings.toml entry for the demo site, pointed at a test server's URL:
    ``settings = replace(settings, sites=demo_sites(server.base_url))``."""

    def point_at(base_url: str) -> tuple:
        site = es_settings.site("demo")
        return (replace(site, start_urls=(base_url + "/",), feeds=(base_url + "/feed.xml",)),)

    return point_at
