"""Contract test of the set-up step (deploy/setup.py) against recording HTTP servers.

This is a CONTRACT test, not an integration test: two small http.server instances on 127.0.0.1
(port 0) stand in for Elasticsearch and Kibana. They answer just enough of each API for the
script to proceed and record every request, and the test asserts those requests: the HTTP calls
the script makes, with which method, path, body and headers. Whether a real Elasticsearch 9 and
Kibana 9 accept these requests is covered by the API documentation, the integration tests on the
real Elasticsearch node (for `archive index init`) and the manual check in
deploy/README-production.md; it cannot be covered here (no Docker, no Kibana).

The script runs exactly as the `setup` service runs it: `python deploy/setup.py`, configured
only by environment variables, in a child process whose output is checked for secrets.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from archive.config import load_settings
from search.indices import ALERTS_DEFINITION, ARTICLES_DEFINITION, AUDIT_DEFINITION, RUNS_DEFINITION, definition_version, load_definition, versioned_name

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "deploy" / "setup.py"
NDJSON = ROOT / "kibana" / "saved_objects.ndjson"

ELASTIC_PASSWORD = "elastic-Pw-3f9a1c"
KIBANA_SYSTEM_PASSWORD = "kibana-Pw-77d2e0"
ARCHIVE_PASSWORD = "archive-Pw-5b1e84"
SECRETS = (ELASTIC_PASSWORD, KIBANA_SYSTEM_PASSWORD, ARCHIVE_PASSWORD)


@dataclass
class Recorded:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class FakeService:
    """Records requests; `respond(request) -> (status, json body)` decides the answers."""

    respond: object
    requests: list[Recorded] = field(default_factory=list)
    extra_headers: dict = field(default_factory=dict)

    def start(self) -> "FakeService":
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Recorded(
                    self.command, parts.path, parse_qs(parts.query, keep_blank_values=True),
                    {k.lower(): v for k, v in self.headers.items()}, body,
                )
                service.requests.append(request)
                status, payload = service.respond(request)
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for name, value in service.extra_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _handle

            def log_message(self, *args):  # keep pytest output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def find(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path == path]


class FakeElasticsearch:
    """Just enough Elasticsearch: health, security calls, aliases and index creation, with state."""

    def __init__(self, aliases: dict[str, str] | None = None, unhealthy_first: int = 0, password: str = ELASTIC_PASSWORD):
        self.aliases = dict(aliases or {})  # alias -> index
        self.indices = set(self.aliases.values())
        self.unhealthy_left = unhealthy_first
        self.password = password
        self.users: set[str] = set()
        self.unexpected: list[str] = []

    def __call__(self, r: Recorded):
        expected = "Basic " + base64.b64encode(f"elastic:{self.password}".encode()).decode()
        if r.headers.get("authorization") != expected:
            return 401, {"error": {"type": "security_exception", "reason": "unable to authenticate user [elastic]"}, "status": 401}
        path = r.path
        if path == "/_cluster/health":
            if self.unhealthy_left > 0:
                self.unhealthy_left -= 1
                return 503, {"error": {"type": "master_not_discovered_exception", "reason": "no master"}, "status": 503}
            return 200, {"cluster_name": "newsroom-archive", "status": "green", "number_of_nodes": 1, "number_of_data_nodes": 1}
        if r.method == "POST" and path == "/_security/user/kibana_system/_password":
            return 200, {}
        if r.method == "PUT" and path.startswith("/_security/role/"):
            return 200, {"role": {"created": True}}
        if r.method == "PUT" and path.startswith("/_security/user/"):
            created = path not in self.users
            self.users.add(path)
            return 200, {"created": created}
        match = re.fullmatch(r"/_alias/([^/]+)", path)
        if match and r.method in ("GET", "HEAD"):
            alias = match.group(1)
            if alias in self.aliases:
                return 200, {self.aliases[alias]: {"aliases": {alias: {"is_write_index": True}}}}
            return 404, {"error": f"alias [{alias}] missing", "status": 404}
        match = re.fullmatch(r"/([^/_][^/]*)/_mapping", path)
        if match and r.method == "GET":  # what `archive index init` compares with today's definitions
            alias = match.group(1)
            definition = load_definition(RUNS_DEFINITION if alias.endswith("runs") else ARTICLES_DEFINITION)
            return 200, {self.aliases.get(alias, alias): {"mappings": definition["mappings"]}}
        match = re.fullmatch(r"/([^/_][^/]*)/_count", path)
        if match and r.method in ("GET", "POST"):
            return 200, {"count": 0, "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0}}
        match = re.fullmatch(r"/([^/_][^/]*)", path)
        if match and r.method == "HEAD":
            return (200 if match.group(1) in self.indices else 404), None
        if match and r.method == "PUT":
            index = match.group(1)
            if index in self.indices:
                return 400, {"error": {"type": "resource_already_exists_exception", "reason": index}, "status": 400}
            self.indices.add(index)
            for alias in r.json().get("aliases", {}):
                self.aliases[alias] = index
            return 200, {"acknowledged": True, "shards_acknowledged": True, "index": index}
        match = re.fullmatch(r"/([^/_][^/]*)/_alias(?:es)?/([^/]+)", path)
        if match and r.method in ("PUT", "POST"):
            self.aliases[match.group(2)] = match.group(1)
            return 200, {"acknowledged": True}
        self.unexpected.append(f"{r.method} {path}")
        return 400, {"error": {"type": "illegal_argument_exception", "reason": f"unexpected {r.method} {path}"}, "status": 400}


class FakeKibana:
    def __init__(self, starting_for: int = 0, password: str = ELASTIC_PASSWORD):
        self.starting_left = starting_for
        self.password = password
        self.unexpected: list[str] = []

    def __call__(self, r: Recorded):
        expected = "Basic " + base64.b64encode(f"elastic:{self.password}".encode()).decode()
        if r.headers.get("authorization") != expected:
            return 401, {"statusCode": 401, "error": "Unauthorized", "message": "Unauthorized"}
        if r.method == "GET" and r.path == "/api/status":
            if self.starting_left > 0:
                self.starting_left -= 1
                return 503, {"statusCode": 503, "error": "Service Unavailable", "message": "Kibana server is not ready yet"}
            return 200, {"name": "kibana", "version": {"number": "9.5.4"}, "status": {"overall": {"level": "available"}}}
        if r.method == "POST" and r.path.endswith("/api/saved_objects/_import"):
            count = len(_multipart_file(r)[1].splitlines())
            return 200, {"success": True, "successCount": count, "successResults": []}
        self.unexpected.append(f"{r.method} {r.path}")
        return 404, {"statusCode": 404, "error": "Not Found", "message": "Not Found"}


def _multipart_file(r: Recorded) -> tuple[dict, bytes]:
    """(the part's headers, its content) of the one file in a multipart/form-data body."""
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + r.headers["content-type"].encode() + b"\r\n\r\n" + r.body
    )
    assert message.is_multipart(), "the import is not multipart/form-data"
    parts = list(message.iter_parts())
    assert len(parts) == 1
    part = parts[0]
    return {"name": part.get_param("name", header="content-disposition"), "filename": part.get_filename(),
            "content-type": part.get_content_type()}, part.get_payload(decode=True)


@pytest.fixture
def services():
    started: list[FakeService] = []

    def start(es: FakeElasticsearch | None = None, kibana: FakeKibana | None = None):
        es_service = FakeService(es or FakeElasticsearch(), extra_headers={"X-Elastic-Product": "Elasticsearch"}).start()
        kibana_service = FakeService(kibana or FakeKibana()).start()
        started.extend([es_service, kibana_service])
        return es_service, kibana_service

    yield start
    for service in started:
        service.stop()


def run_setup(es: FakeService, kibana: FakeService, *args: str, timeout: float = 20.0, **env_overrides) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELASTICSEARCH_", "KIBANA_", "ARCHIVE_", "SETUP_"))}
    env.update(
        ELASTICSEARCH_URL=es.url,
        KIBANA_URL=kibana.url,
        ELASTIC_PASSWORD=ELASTIC_PASSWORD,
        KIBANA_SYSTEM_PASSWORD=KIBANA_SYSTEM_PASSWORD,
        ARCHIVE_ES_USERNAME="archive",
        ARCHIVE_ES_PASSWORD=ARCHIVE_PASSWORD,
        ARCHIVE_CONFIG=str(ROOT / "settings.toml"),
        SETUP_TIMEOUT="15",
        SETUP_RETRY_INTERVAL="0.05",
    )
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def assert_no_secret(result: subprocess.CompletedProcess) -> None:
    output = result.stdout + result.stderr
    for secret in SECRETS:
        assert secret not in output, "a secret appears in the set-up output"
        assert base64.b64encode(f"elastic:{secret}".encode()).decode() not in output


def archive_indices() -> list[tuple[str, str, dict]]:
    """(alias, versioned index, definition) for every index the archive uses, from settings."""
    es = load_settings(ROOT / "settings.toml", env={}).elasticsearch
    return [
        (es.articles_alias, versioned_name(es.articles_alias, definition_version(ARTICLES_DEFINITION)), load_definition(ARTICLES_DEFINITION)),
        (es.versions_alias, versioned_name(es.versions_alias, definition_version(ARTICLES_DEFINITION)), load_definition(ARTICLES_DEFINITION)),
        (es.runs_index, versioned_name(es.runs_index, definition_version(RUNS_DEFINITION)), load_definition(RUNS_DEFINITION)),
        (es.alerts_alias, versioned_name(es.alerts_alias, definition_version(ALERTS_DEFINITION)), load_definition(ALERTS_DEFINITION)),
        (es.audit_alias, versioned_name(es.audit_alias, definition_version(AUDIT_DEFINITION)), load_definition(AUDIT_DEFINITION)),
    ]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --- the contract -------------------------------------------------------------------------


def test_first_run_sets_passwords_creates_indices_and_imports_saved_objects(services):
    es, kibana = services()
    result = run_setup(es, kibana)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_no_secret(result)
    assert not es.respond.unexpected and not kibana.respond.unexpected

    # every request to Elasticsearch is made as `elastic` with basic auth
    assert all(r.headers.get("authorization") == basic("elastic", ELASTIC_PASSWORD) for r in es.requests)

    # 1. waited for the cluster before anything else
    assert es.requests[0].path == "/_cluster/health"

    # 2. the kibana_system password
    [password_call] = es.find("POST", "/_security/user/kibana_system/_password")
    assert password_call.headers["content-type"].startswith("application/json")
    assert password_call.json() == {"password": KIBANA_SYSTEM_PASSWORD}

    # 3. the archive's role and user: only the archive's aliases and their versioned indices
    [role_call] = es.find("PUT", "/_security/role/newsroom_archive")
    role = role_call.json()
    names = {n for entry in role["indices"] for n in entry["names"]}
    for alias, index, _ in archive_indices():
        assert alias in names and any(re.fullmatch(n.replace("*", ".*"), index) for n in names)
    assert not any(n in ("*", "_all") or n.startswith(".") for n in names)
    # ...and the journalists' roles: read the archive, never write it; admins also read the audit
    [reader_call] = es.find("PUT", "/_security/role/archive_reader")
    [admin_call] = es.find("PUT", "/_security/role/archive_admin")
    for call in (reader_call, admin_call):
        grants = call.json()["indices"]
        assert all(set(g["privileges"]) <= {"read", "view_index_metadata"} for g in grants)
        readable = {n for g in grants for n in g["names"]}
        assert {"articles", "article-versions", "crawl-runs"} <= readable
        assert "saved-searches" not in readable  # saved searches are the archive's to show, by owner
    admin_names = {n for g in admin_call.json()["indices"] for n in g["names"]}
    reader_names = {n for g in reader_call.json()["indices"] for n in g["names"]}
    assert "archive-audit" in admin_names and "archive-audit" not in reader_names
    # The web app searches as the signed-in journalist: only the archive's own role may run as others.
    assert role.get("run_as") == ["*"] and not reader_call.json().get("run_as") and not admin_call.json().get("run_as")
    [user_call] = es.find("PUT", "/_security/user/archive")
    assert user_call.json()["password"] == ARCHIVE_PASSWORD
    assert user_call.json()["roles"] == ["newsroom_archive"]

    # 4. `archive index init`: each versioned index created with the project's definition, behind its alias
    for alias, index, definition in archive_indices():
        [create] = es.find("PUT", f"/{index}")
        body = create.json()
        assert body["mappings"] == definition["mappings"]
        assert body["settings"] == definition["settings"]
        assert alias in body["aliases"]
        assert es.respond.aliases[alias] == index

    # 5./6. waited for Kibana, then imported the saved objects
    assert kibana.requests[0].path == "/api/status"
    [import_call] = kibana.find("POST", "/api/saved_objects/_import")
    assert import_call.query == {"overwrite": ["true"]}
    assert import_call.headers["kbn-xsrf"] == "true"
    assert import_call.headers["authorization"] == basic("elastic", ELASTIC_PASSWORD)
    assert import_call.headers["content-type"].startswith("multipart/form-data; boundary=")
    part, content = _multipart_file(import_call)
    assert part["name"] == "file" and part["filename"].endswith(".ndjson")
    assert content == NDJSON.read_bytes()
    assert f"imported {len(NDJSON.read_text().splitlines())} saved objects" in result.stdout


def test_second_run_is_safe_and_creates_nothing_new(services):
    es, kibana = services()
    assert run_setup(es, kibana).returncode == 0
    first = len(es.requests)
    created_first = [r for r in es.requests if r.method == "PUT" and not r.path.startswith("/_security/")]
    assert len(created_first) == len(archive_indices())

    again = run_setup(es, kibana)
    assert again.returncode == 0, again.stdout + again.stderr
    assert_no_secret(again)
    second = es.requests[first:]
    writes = [r for r in second if r.method in ("PUT", "POST", "DELETE") and not r.path.startswith("/_security/")
              and not r.path.endswith("/_count")]  # a count is a read, whatever its method
    assert writes == [], f"the second run changed indices: {[(r.method, r.path) for r in writes]}"
    assert "exists:" in again.stdout
    # the idempotent upserts are repeated (same values), the import overwrites by id
    assert len(es.find("POST", "/_security/user/kibana_system/_password")) == 2
    assert len(kibana.find("POST", "/api/saved_objects/_import")) == 2


def test_existing_aliases_are_left_alone(services):
    existing = {alias: f"{alias}-v7" for alias, _, _ in archive_indices()}
    es, kibana = services(es=FakeElasticsearch(aliases=existing))
    result = run_setup(es, kibana, "--only", "elasticsearch")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [r for r in es.requests if r.method == "PUT" and not r.path.startswith("/_security/")] == []
    assert es.respond.aliases == existing
    assert kibana.requests == []  # phase elasticsearch only


def test_kibana_phase_only_touches_kibana(services):
    es, kibana = services()
    result = run_setup(es, kibana, "--only", "kibana", KIBANA_SPACE="newsroom")
    assert result.returncode == 0, result.stdout + result.stderr
    assert es.requests == []
    [import_call] = kibana.find("POST", "/s/newsroom/api/saved_objects/_import")
    assert import_call.query == {"overwrite": ["true"]}


def test_waits_for_services_that_are_still_starting(services):
    es, kibana = services(es=FakeElasticsearch(unhealthy_first=4), kibana=FakeKibana(starting_for=3))
    result = run_setup(es, kibana)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(es.find("GET", "/_cluster/health")) >= 5
    assert len(kibana.find("GET", "/api/status")) == 4
    assert "waiting for Elasticsearch" in result.stdout
    assert_no_secret(result)


def test_gives_up_after_the_timeout_and_says_why(services):
    es, kibana = services(es=FakeElasticsearch(unhealthy_first=10**6))
    result = run_setup(es, kibana, SETUP_TIMEOUT="1", SETUP_RETRY_INTERVAL="0.1")
    assert result.returncode == 1
    assert "gave up" in result.stdout and "Elasticsearch" in result.stdout
    assert es.find("POST", "/_security/user/kibana_system/_password") == []
    assert kibana.requests == []
    assert_no_secret(result)


def test_unreachable_elasticsearch_is_a_bounded_failure(services):
    es, kibana = services()
    es.stop()  # nothing listens on that port any more
    result = run_setup(es, kibana, SETUP_TIMEOUT="1", SETUP_RETRY_INTERVAL="0.1")
    assert result.returncode == 1
    assert "gave up" in result.stdout
    assert_no_secret(result)
    es.server = type("Stopped", (), {"shutdown": lambda self: None, "server_close": lambda self: None})()


def test_wrong_elastic_password_fails_with_a_hint_and_no_secret(services):
    es, kibana = services(es=FakeElasticsearch(password="the-real-one-123"))
    result = run_setup(es, kibana)
    assert result.returncode == 1
    assert "401" in result.stdout and "ELASTIC_PASSWORD" in result.stdout
    assert es.find("POST", "/_security/user/kibana_system/_password") == []
    assert_no_secret(result)


def test_a_failed_import_fails_the_step(services):
    class RejectingKibana(FakeKibana):
        def __call__(self, r):
            if r.path.endswith("/_import"):
                return 200, {"success": False, "successCount": 0, "errors": [
                    {"type": "lens", "id": "newsroom-top-tags", "error": {"type": "missing_references"}}]}
            return super().__call__(r)

    es, kibana = services(kibana=RejectingKibana())
    result = run_setup(es, kibana, "--only", "kibana")
    assert result.returncode == 1
    assert "lens/newsroom-top-tags: missing_references" in result.stdout


def test_missing_secrets_are_refused_before_any_request(services):
    es, kibana = services()
    result = run_setup(es, kibana, ELASTIC_PASSWORD="")
    assert result.returncode == 1 and "ELASTIC_PASSWORD is not set" in result.stdout
    assert es.requests == [] and kibana.requests == []


# --- Kibana's status, and the split of the set-up ----------------------------------------------


class DegradedKibana(FakeKibana):
    """Kibana 8+/9 reports `degraded` when a plugin is unwell (no Fleet, no ML...): the
    saved-objects import works all the same."""

    def __init__(self, overall: str = "degraded", saved_objects: str = "available", http_status: int = 200):
        super().__init__()
        self.overall, self.saved_objects, self.http_status = overall, saved_objects, http_status

    def __call__(self, r):
        if r.method == "GET" and r.path == "/api/status":
            return self.http_status, {"name": "kibana", "version": {"number": "9.5.4"}, "status": {
                "overall": {"level": self.overall, "summary": "1 service is degraded: fleet"},
                "core": {"elasticsearch": {"level": "available"}, "savedObjects": {"level": self.saved_objects}},
            }}
        return super().__call__(r)


def test_a_degraded_kibana_gets_its_dashboards(services):
    es, kibana = services(kibana=DegradedKibana())
    result = run_setup(es, kibana, "--only", "kibana", SETUP_TIMEOUT="2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(kibana.find("POST", "/api/saved_objects/_import")) == 1
    assert "status degraded" in result.stdout


def test_the_saved_objects_service_status_decides_when_the_overall_level_is_worse(services):
    es, kibana = services(kibana=DegradedKibana(overall="unavailable", saved_objects="available", http_status=503))
    result = run_setup(es, kibana, "--only", "kibana", SETUP_TIMEOUT="2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "saved-objects service available" in result.stdout
    not_ready = DegradedKibana(overall="unavailable", saved_objects="unavailable", http_status=503)
    es, kibana = services(kibana=not_ready)
    result = run_setup(es, kibana, "--only", "kibana", SETUP_TIMEOUT="1", SETUP_RETRY_INTERVAL="0.1")
    assert result.returncode == 1 and "saved objects unavailable" in result.stdout
    assert kibana.find("POST", "/api/saved_objects/_import") == []


def test_the_password_step_needs_neither_the_settings_nor_the_indices(services, tmp_path):
    es, kibana = services()
    broken = tmp_path / "settings.toml"
    broken.write_text("this is [not toml", encoding="utf-8")
    result = run_setup(es, kibana, "--only", "passwords", ARCHIVE_CONFIG=str(broken))
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(es.find("POST", "/_security/user/kibana_system/_password")) == 1
    assert [r for r in es.requests if r.method == "PUT"] == []  # no role, user or index
    assert kibana.requests == []
    # The same broken settings stop the index step, and only it.
    result = run_setup(es, kibana, "--only", "indices", ARCHIVE_CONFIG=str(broken))
    assert result.returncode == 1 and "bad settings" in result.stdout
    assert len(es.find("POST", "/_security/user/kibana_system/_password")) == 1
