"""The production deployment files: docker-compose.yml, Dockerfile, .env.example, .gitignore.

Static checks that need no Docker: the compose file is valid against the Compose Specification's
JSON schema (vendored in tests/fixtures/compose-spec/, see SOURCE.md there), the Elastic images
use the version pinned in settings.toml, only the TLS proxy is published beyond 127.0.0.1 and
the page behind it is configured to require sign-in, no secret is written into the compose
file, every variable it uses is documented in .env.example, and the image runs the scheduler as
a non-root user. The proxy's Caddyfile is checked and served by tests/test_proxy.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
SCHEMA_FILE = ROOT / "tests" / "fixtures" / "compose-spec" / "compose-spec.json"

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, ${VAR?message}, ${VAR:+x}; $$ escapes.
VARIABLE = re.compile(r"(?<!\$)\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?+])?(?P<arg>[^}]*)\}")
BARE_VARIABLE = re.compile(r"(?<!\$)\$(?P<name>[A-Za-z_][A-Za-z0-9_]*)")
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ENCRYPTION_?KEY|PRIVATE_?KEY|CREDENTIAL", re.I)


@pytest.fixture(scope="module")
def compose_text() -> str:
    return COMPOSE_FILE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def compose(compose_text) -> dict:
    return yaml.safe_load(compose_text)


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def pinned_version() -> str:
    settings = tomllib.loads((ROOT / "settings.toml").read_text(encoding="utf-8"))
    return settings["local_node"]["version"]


def env_entries(service: dict) -> dict[str, str | None]:
    """A service's environment as a mapping, whichever of the two compose syntaxes it uses."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        result: dict[str, str | None] = {}
        for item in env:
            name, sep, value = item.partition("=")
            result[name] = value if sep else None
        return result
    return {k: (None if v is None else str(v)) for k, v in env.items()}


def env_example() -> dict[str, tuple[str, str]]:
    """name -> (example value, the comment block right above it)."""
    documented = {}
    comment: list[str] = []
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        match = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", stripped)
        if stripped.startswith("#"):
            comment.append(stripped.lstrip("# ").strip())
        elif match:
            documented[match.group(1)] = (match.group(2).strip(), " ".join(comment))
            comment = [] if not stripped else comment
        else:
            comment = []
    return documented


# --- the compose file ---------------------------------------------------------------------


def test_compose_file_is_valid_against_the_compose_specification(compose):
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def test_the_schema_check_catches_a_broken_file(compose):
    """The validator really bites: a misspelt key and a bad depends_on condition are errors."""
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    broken = json.loads(json.dumps(compose))
    broken["services"]["archive"]["restrat"] = "always"
    broken["services"]["kibana"]["depends_on"]["setup"]["condition"] = "service_finished"
    assert len(list(validator.iter_errors(broken))) >= 2


def test_expected_services_and_their_roles(services):
    assert {"elasticsearch", "kibana", "setup", "index-setup", "kibana-setup", "archive"} <= set(services)
    es = env_entries(services["elasticsearch"])
    assert es["discovery.type"] == "single-node"
    assert es["xpack.security.enabled"] == "true"
    assert "${ES_HEAP" in es["ES_JAVA_OPTS"] and "-Xms" in es["ES_JAVA_OPTS"] and "-Xmx" in es["ES_JAVA_OPTS"]
    assert any(str(v).endswith(":/usr/share/elasticsearch/data") for v in services["elasticsearch"]["volumes"])

    kibana = env_entries(services["kibana"])
    assert kibana["ELASTICSEARCH_USERNAME"] == "kibana_system"
    assert services["kibana"]["depends_on"]["setup"]["condition"] == "service_completed_successfully"

    archive = services["archive"]
    archive_env = env_entries(archive)
    assert archive["build"]["context"] == "."
    assert archive.get("command", ["python", "scheduler.py"]) == ["python", "scheduler.py"]
    assert archive_env["ARCHIVE_DATA_DIR"] == "/data"
    assert archive_env["ELASTICSEARCH_URL"] == "http://elasticsearch:9200"
    assert archive_env["ELASTICSEARCH_USERNAME"] and archive_env["ELASTICSEARCH_PASSWORD"]
    assert archive["restart"] == "unless-stopped"
    assert archive["depends_on"]["index-setup"]["condition"] == "service_completed_successfully"
    data_volumes = [v for v in archive["volumes"] if str(v).endswith(":/data")]
    assert data_volumes and data_volumes[0].split(":")[0] == "archive-data"
    # the settings file is mounted, so `docker compose restart archive` picks up a new site
    assert any(str(v).startswith("./settings.toml:") for v in archive["volumes"])

    # the set-up steps run the set-up script from the archive image, once
    for name, phase in (("setup", "passwords"), ("index-setup", "indices"), ("kibana-setup", "kibana")):
        step = services[name]
        assert step["image"] == archive["image"]
        assert step["command"][:2] == ["python", "deploy/setup.py"] and phase in step["command"]
        assert step.get("restart", "no") == "no"
    assert services["kibana-setup"]["depends_on"]["kibana"]["condition"] == "service_healthy"


def _needs(services, name: str) -> set[str]:
    """Every service `name` waits for, directly or through others."""
    found, todo = set(), [name]
    while todo:
        for dependency in services[todo.pop()].get("depends_on") or ():
            if dependency not in found:
                found.add(dependency)
                todo.append(dependency)
    return found


def test_an_index_problem_cannot_keep_kibana_down(services):
    """Kibana waits for its password only; `archive index init` (and the settings it reads) runs in
    a step of its own that only the archive waits for."""
    assert "index-setup" not in _needs(services, "kibana")
    assert "index-setup" not in _needs(services, "kibana-setup")
    assert "index-setup" in _needs(services, "archive")
    setup_env = env_entries(services["setup"])
    assert "ARCHIVE_CONFIG" not in setup_env and "ARCHIVE_ES_PASSWORD" not in setup_env
    assert "settings.toml" not in " ".join(str(v) for v in services["setup"].get("volumes") or ())


def test_named_volumes_are_declared(compose, services):
    declared = set(compose.get("volumes") or {})
    used = set()
    for service in services.values():
        for volume in service.get("volumes") or []:
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source")
            if source and not source.startswith((".", "/", "~")):
                used.add(source)
    assert used, "expected named volumes for the data of elasticsearch, kibana and the archive"
    assert used <= declared, f"undeclared named volumes: {used - declared}"
    assert "archive-data" in used


def test_no_dependency_cycle(services):
    graph = {name: set(s.get("depends_on") or ()) for name, s in services.items()}
    visiting, done = set(), set()

    def visit(node):
        assert node not in visiting, f"depends_on cycle through {node}"
        if node in done:
            return
        visiting.add(node)
        for dep in graph[node]:
            assert dep in graph, f"{node} depends on unknown service {dep}"
            visit(dep)
        visiting.discard(node)
        done.add(node)

    for name in graph:
        visit(name)


def test_elastic_images_use_the_version_pinned_in_settings(services, pinned_version):
    assert services["elasticsearch"]["image"] == f"docker.elastic.co/elasticsearch/elasticsearch:{pinned_version}"
    assert services["kibana"]["image"] == f"docker.elastic.co/kibana/kibana:{pinned_version}"


PROXY = "proxy"  # the one service published beyond this host


def test_only_the_proxy_is_published_beyond_this_host(services):
    published = 0
    for name, service in services.items():
        if name == PROXY:
            continue
        for port in service.get("ports") or []:
            published += 1
            if isinstance(port, dict):
                assert port.get("host_ip") == "127.0.0.1", f"{name}: {port}"
            else:
                assert str(port).startswith("127.0.0.1:"), f"{name}: port {port!r} is not bound to 127.0.0.1"
                resolved = VARIABLE.sub(lambda m: m.group("arg") if m.group("op") in (":-", "-") else "1", str(port))
                assert re.fullmatch(r"127\.0\.0\.1:\d+:\d+(/tcp|/udp)?", resolved), f"{name}: {port!r}"
    # Elasticsearch: for the operator on the host only; the page and Kibana: through the proxy only
    assert published >= 1
    assert services["elasticsearch"]["ports"] == ["127.0.0.1:${ES_PORT:-9200}:9200"]
    assert "ports" not in services["kibana"] and "ports" not in services["web"]
    # the proxy: HTTPS (and HTTP/3), and plain HTTP only to redirect and for Let's Encrypt's challenge
    assert services[PROXY]["ports"] == ["80:80", "443:443", "443:443/udp"]
    assert "expose" not in services["elasticsearch"] and "network_mode" not in services["elasticsearch"]


def test_the_page_behind_the_proxy_requires_sign_in(services):
    """The page is reached at https://ARCHIVE_HOSTNAME and reads an Elasticsearch with security on,
    as the archive's own user: the conditions under which `archive serve` asks for a sign-in and
    marks its cookie Secure."""
    web = env_entries(services["web"])
    hostname = "https://${ARCHIVE_HOSTNAME:?set ARCHIVE_HOSTNAME in .env (see .env.example)}"
    assert web["ARCHIVE_PUBLIC_URL"] == hostname
    assert env_entries(services["archive"])["ARCHIVE_PUBLIC_URL"] == hostname  # alert links
    assert env_entries(services[PROXY])["ARCHIVE_HOSTNAME"] == hostname.removeprefix("https://")
    assert web["ELASTICSEARCH_URL"] == "http://elasticsearch:9200"
    assert web["ELASTICSEARCH_USERNAME"] == "${ARCHIVE_ES_USERNAME:-archive}"
    assert web["ELASTICSEARCH_PASSWORD"].startswith("${ARCHIVE_ES_PASSWORD:?")
    for name in ("elasticsearch", "es01", "es02", "es03"):
        assert env_entries(services[name])["xpack.security.enabled"] == "true", name
    # the proxy reaches the port the page listens on, inside the project's network only
    assert services["web"]["command"][-2:] == ["--port", "8800"]
    # uvicorn believes X-Forwarded-For/-Proto from any sender only because no port reaches it
    # except through the proxy
    assert web["FORWARDED_ALLOW_IPS"] == "*" and "ports" not in services["web"]
    for name, service in services.items():
        if name != "web":
            assert "FORWARDED_ALLOW_IPS" not in env_entries(service), name


def test_kibana_knows_its_public_https_address(services):
    kibana = env_entries(services["kibana"])
    assert kibana["SERVER_PUBLICBASEURL"] == "https://${KIBANA_HOSTNAME:?set KIBANA_HOSTNAME in .env (see .env.example)}"
    assert env_entries(services[PROXY])["KIBANA_HOSTNAME"] == kibana["SERVER_PUBLICBASEURL"].removeprefix("https://")
    assert kibana["XPACK_SECURITY_SECURECOOKIES"] == "true"  # TLS ends at the proxy
    assert "SERVER_BASEPATH" not in kibana  # a name of its own, not a path under the archive's


def test_the_proxy_serves_the_projects_caddyfile_and_keeps_its_certificates(compose, services):
    proxy = services[PROXY]
    assert re.fullmatch(r"caddy:2\.\d+\.\d+", proxy["image"]), "pin a Caddy release"
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    assert "caddy-data:/data" in proxy["volumes"]  # certificates and the internal CA survive a restart
    assert env_entries(proxy)["ARCHIVE_TLS"] == "${ARCHIVE_TLS:-internal}"
    assert proxy["restart"] == "unless-stopped"
    # neither keeps the other away: a bad settings file (index-setup) leaves Kibana reachable,
    # a Kibana problem leaves the page reachable
    assert not _needs(services, PROXY) & {"web", "index-setup", "kibana", "setup"}


def _strings(node, path=""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _strings(value, f"{path}[{i}]")
    elif node is not None:
        yield path, str(node)


def test_no_literal_secret_in_the_compose_file(compose, services):
    checked = 0
    for name, service in services.items():
        for key, value in env_entries(service).items():
            if not SECRET_NAME.search(key):
                continue
            checked += 1
            match = VARIABLE.fullmatch(value or "")
            assert match, f"{name}.environment.{key} must be a ${{VAR}} reference, not a literal"
            # a default (${X:-changeme}) would be a literal secret in disguise
            assert match.group("op") in (None, ":?", "?"), f"{name}.environment.{key}: no default for a secret"
            assert SECRET_NAME.search(match.group("name")), f"{name}.environment.{key} <- {match.group('name')}"
    assert checked >= 6
    # and nowhere else (healthchecks, commands, labels): user:password pairs only from variables
    for path, text in _strings(compose):
        for user_pass in re.findall(r"-u\s+\"?([^\s\"]+)", text):
            assert ":$" in user_pass, f"{path}: literal credentials {user_pass!r}"
        without_references = VARIABLE.sub("", text)
        assert not re.search(r"(?i)(password|secret)\s*[=:]\s*[^\s$\"'{]", without_references), f"{path}: {text!r}"


def test_no_documented_example_secret_leaks_into_the_compose_file(compose_text):
    for name, (value, _comment) in env_example().items():
        if SECRET_NAME.search(name) and value:
            assert value not in compose_text


def test_required_secrets_fail_loudly_when_unset(compose_text):
    for name in ("ELASTIC_PASSWORD", "KIBANA_SYSTEM_PASSWORD", "ARCHIVE_ES_PASSWORD", "KIBANA_ENCRYPTION_KEY"):
        uses = [m for m in VARIABLE.finditer(compose_text) if m.group("name") == name]
        assert uses, f"{name} is not used"
        assert all(m.group("op") == ":?" and m.group("arg").strip() for m in uses), f"{name}: use ${{{name}:?message}}"


def test_every_variable_is_documented_in_env_example(compose_text):
    documented = env_example()
    used = {m.group("name") for m in VARIABLE.finditer(compose_text)}
    used |= {m.group("name") for m in BARE_VARIABLE.finditer(compose_text)}
    assert used, "the compose file uses no variables?"
    missing = used - set(documented)
    assert not missing, f"not in .env.example: {sorted(missing)}"
    for name in used:
        assert documented[name][1], f".env.example: {name} needs a comment above it"


def test_env_example_holds_no_real_secret():
    for name, (value, _comment) in env_example().items():
        if SECRET_NAME.search(name):
            assert value == "", f".env.example must leave {name} empty"


def test_dot_env_is_git_ignored():
    patterns = [l.strip() for l in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()]
    assert ".env" in patterns or "/.env" in patterns
    result = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT)
    assert result.returncode == 0, ".env is not ignored by git"
    result = subprocess.run(["git", "check-ignore", "-q", ".env.example"], cwd=ROOT)
    assert result.returncode == 1, ".env.example must not be ignored"


# --- the image --------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    text = re.sub(r"\\\n", " ", text)
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def test_dockerfile_runs_the_scheduler_as_a_non_root_user():
    instructions = dockerfile_instructions()
    froms = [rest for kw, rest in instructions if kw == "FROM"]
    assert froms and froms[0].startswith("python:3.11-slim")
    cmds = [rest for kw, rest in instructions if kw == "CMD"]
    assert cmds and json.loads(cmds[-1]) == ["python", "scheduler.py"]
    users = [rest for kw, rest in instructions if kw == "USER"]
    assert users, "the image must switch to a non-root USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0", "")
    runs = " ".join(rest for kw, rest in instructions if kw == "RUN")
    assert "pip install ." in runs
    copies = " ".join(rest for kw, rest in instructions if kw == "COPY")
    for needed in ("settings.toml", "scheduler.py", "deploy", "kibana", "pyproject.toml"):
        assert needed in copies
    # the non-root user must come after the install and before the CMD
    keywords = [kw for kw, _ in instructions]
    assert keywords.index("USER") > max(i for i, kw in enumerate(keywords) if kw == "RUN")


def test_dockerignore_keeps_local_state_out_of_the_build():
    patterns = {l.strip().rstrip("/") for l in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()}
    for needed in (".venv", "var", ".cache", ".git", ".env"):
        assert needed in patterns


def test_files_the_image_copies_exist():
    for instruction, rest in dockerfile_instructions():
        if instruction == "COPY" and not rest.startswith("--from"):
            *sources, _target = rest.split()
            for source in sources:
                if source == "scheduler.py" and not (ROOT / source).exists():
                    pytest.skip("scheduler.py is not written yet")
                assert (ROOT / source).exists(), f"Dockerfile copies {source}, which does not exist"


# --- the three-node profile ----------------------------------------------------------------

CLUSTER_NODES = ("es01", "es02", "es03")


def test_the_cluster_profile_runs_three_nodes_instead_of_the_single_one(services):
    assert services["elasticsearch"]["profiles"] == ["single"]
    for name in (*CLUSTER_NODES, "certs"):
        assert services[name]["profiles"] == ["cluster"], name
    # nothing else is tied to a profile: setup, Kibana and the archive run with either
    for name in ("setup", "kibana", "kibana-setup", "archive"):
        assert "profiles" not in services[name], name
    env_example = (ROOT / ".env.example").read_text()
    assert re.search(r"^COMPOSE_PROFILES=single$", env_example, re.M), "the single node must stay the default"


def test_cluster_nodes_keep_the_single_nodes_security_and_add_transport_tls(services, pinned_version):
    single = env_entries(services["elasticsearch"])
    for name in CLUSTER_NODES:
        node = services[name]
        env = env_entries(node)
        assert node["image"] == f"docker.elastic.co/elasticsearch/elasticsearch:{pinned_version}"
        for key in ("xpack.security.enabled", "xpack.security.http.ssl.enabled", "xpack.license.self_generated.type",
                    "ELASTIC_PASSWORD", "ES_JAVA_OPTS", "bootstrap.memory_lock", "cluster.name"):
            assert env[key] == single[key], (name, key)
        assert "discovery.type" not in env
        assert env["node.name"] == name
        assert env["cluster.initial_master_nodes"].split(",") == list(CLUSTER_NODES)
        assert set(env["discovery.seed_hosts"].split(",")) == set(CLUSTER_NODES)
        assert env["xpack.security.transport.ssl.enabled"] == "true"
        assert env["xpack.security.transport.ssl.certificate"] == f"certs/{name}/{name}.crt"
        assert env["xpack.security.transport.ssl.key"] == f"certs/{name}/{name}.key"
        assert f"{name}-data:/usr/share/elasticsearch/data" in node["volumes"]
        assert "es-certs:/usr/share/elasticsearch/config/certs:ro" in node["volumes"]
        assert node["depends_on"]["certs"]["condition"] == "service_completed_successfully"
        # the name every client uses resolves to whichever nodes are up
        assert "elasticsearch" in node["networks"]["default"]["aliases"]
        assert node["healthcheck"] == services["elasticsearch"]["healthcheck"]
    assert services["es01"]["ports"] == services["elasticsearch"]["ports"]
    assert "ports" not in services["es02"] and "ports" not in services["es03"]
    certs_script = services["certs"]["command"][-1]
    assert "elasticsearch-certutil ca" in certs_script and "elasticsearch-certutil cert" in certs_script
    for name in CLUSTER_NODES:
        assert f"name: {name}" in certs_script


def test_dependents_wait_for_whichever_elasticsearch_the_profile_runs(services):
    for name in ("setup", "kibana", "archive"):
        depends = services[name]["depends_on"]
        for es in ("elasticsearch", "es01"):
            assert depends[es] == {"condition": "service_healthy", "required": False}, (name, es)


def test_crawl_workers_take_site_jobs_from_redis_and_the_scheduler_only_queues(services):
    worker, scheduler, redis = services["worker"], services["archive"], services["redis"]
    assert worker["command"] == ["archive", "worker"] and worker["image"] == scheduler["image"]
    assert "CRAWL_WORKERS" in str(worker["deploy"]["replicas"])
    for service in (worker, scheduler):
        env = env_entries(service)
        assert env["ARCHIVE_BROKER_URL"].startswith("redis://:${REDIS_PASSWORD:?") and env["ARCHIVE_BROKER_URL"].endswith("@redis:6379/0")
        assert env["ARCHIVE_CRAWL_STATE"] == "elasticsearch"  # one crawl state for every machine
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "ports" not in redis  # reached over the project network only
    assert "--requirepass" in " ".join(redis["command"])


def test_the_page_signs_journalists_in_against_the_secured_elasticsearch(services):
    """The web service reaches Elasticsearch (security on) as the archive's own user, whose role
    may search as the signed-in journalist: the page then asks for a sign-in (search/web/access.py)
    and sets Secure cookies when ARCHIVE_PUBLIC_URL is https."""
    assert env_entries(services["elasticsearch"])["xpack.security.enabled"] == "true"
    web = env_entries(services["web"])
    assert web["ELASTICSEARCH_USERNAME"] == "${ARCHIVE_ES_USERNAME:-archive}"  # never `elastic`
    assert web["ELASTICSEARCH_PASSWORD"].startswith("${ARCHIVE_ES_PASSWORD")
    assert web["ARCHIVE_SESSION_IDLE_HOURS"].startswith("${ARCHIVE_SESSION_IDLE_HOURS")
    assert "ARCHIVE_PUBLIC_URL" in web
