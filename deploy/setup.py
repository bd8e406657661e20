#!/usr/bin/env python3
"""One-shot set-up of the production stack (run by docker-compose.yml; safe to run again).

Phase "passwords" (the `setup` service; Kibana waits only for this one):
  1. wait for Elasticsearch (cluster health yellow or green, bounded retries);
  2. set the built-in `kibana_system` user's password (POST /_security/user/kibana_system/_password).

Phase "indices" (the `index-setup` service; the archive waits for it, Kibana does not, so a
problem with the settings or an index never keeps Kibana down):
  3. wait for Elasticsearch;
  4. create or update the archive's roles (search/roles.py: its own, limited to the archive's
     indices, and archive_reader / archive_admin for journalists) and its user;
  5. run `archive index init` (creates each versioned index and its alias unless the alias exists).

Phase "kibana" (the `kibana-setup` service, once Kibana is healthy):
  6. wait for Kibana (GET /api/status: overall `available` or `degraded` — degraded means some
     plugin is unwell, e.g. no Fleet, while the import API works — or, whatever the overall
     level, the saved-objects service itself `available`);
  7. import kibana/saved_objects.ndjson (POST /api/saved_objects/_import?overwrite=true).

`--only elasticsearch` runs "passwords" then "indices" (as before the split).

Every step is idempotent: passwords, the role and the user are set to the same values again,
existing aliases are left alone, saved objects are overwritten by their stable ids.

Everything comes from the environment (nothing is printed that is secret):

    ELASTICSEARCH_URL        default http://127.0.0.1:9200
    ELASTIC_PASSWORD         required: password of the `elastic` superuser
    KIBANA_SYSTEM_PASSWORD   required for phase elasticsearch
    ARCHIVE_ES_USERNAME      default archive
    ARCHIVE_ES_PASSWORD      optional: without it no archive user/role is created
    ARCHIVE_CONFIG           settings file (aliases are read from it), default ./settings.toml
    KIBANA_URL               default http://127.0.0.1:5601
    KIBANA_SPACE             optional Kibana space id (default space when empty)
    SAVED_OBJECTS_FILE       default kibana/saved_objects.ndjson beside this script's folder
    SETUP_TIMEOUT            seconds to wait for each service, default 300
    SETUP_RETRY_INTERVAL     seconds between attempts, default 5
    ARCHIVE_COMMAND          how to run the archive CLI (default: the `archive` script beside
                             this Python, else `python -c "from archive.cli import main; main()"`)

Usage: python deploy/setup.py [--only passwords|indices|elasticsearch|kibana]
Exit status 0 when everything is in place; 1 with a message naming the failed step otherwise.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SAVED_OBJECTS = ROOT / "kibana" / "saved_objects.ndjson"
if str(ROOT) not in sys.path:  # run as `python deploy/setup.py` from a checkout
    sys.path.append(str(ROOT))

from search.roles import SERVICE_ROLE as ARCHIVE_ROLE  # noqa: E402  (one definition of the roles)
from search.roles import role_bodies  # noqa: E402


class SetupError(RuntimeError):
    """A set-up step failed; the message says which and why (never a secret)."""


class Unavailable(Exception):
    """The service is not (yet) answering usefully: worth another try."""


@dataclass
class Config:
    elasticsearch_url: str
    elastic_password: str = field(repr=False)
    kibana_url: str
    kibana_system_password: str | None = field(default=None, repr=False)
    archive_username: str = "archive"
    archive_password: str | None = field(default=None, repr=False)
    kibana_space: str = ""
    saved_objects_file: Path = DEFAULT_SAVED_OBJECTS
    timeout: float = 300.0
    retry_interval: float = 5.0
    archive_command: list[str] | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "Config":
        def number(name: str, default: float) -> float:
            raw = env.get(name) or str(default)
            try:
                value = float(raw)
            except ValueError:
                raise SetupError(f"{name}: expected a number of seconds, got {raw!r}") from None
            if value <= 0:
                raise SetupError(f"{name}: must be greater than 0")
            return value

        command = env.get("ARCHIVE_COMMAND")
        return cls(
            elasticsearch_url=(env.get("ELASTICSEARCH_URL") or "http://127.0.0.1:9200").rstrip("/"),
            elastic_password=env.get("ELASTIC_PASSWORD") or "",
            kibana_url=(env.get("KIBANA_URL") or "http://127.0.0.1:5601").rstrip("/"),
            kibana_system_password=env.get("KIBANA_SYSTEM_PASSWORD") or None,
            archive_username=env.get("ARCHIVE_ES_USERNAME") or "archive",
            archive_password=env.get("ARCHIVE_ES_PASSWORD") or None,
            kibana_space=env.get("KIBANA_SPACE") or "",
            saved_objects_file=Path(env.get("SAVED_OBJECTS_FILE") or DEFAULT_SAVED_OBJECTS),
            timeout=number("SETUP_TIMEOUT", 300.0),
            retry_interval=number("SETUP_RETRY_INTERVAL", 5.0),
            archive_command=shlex.split(command) if command else None,
        )

    def secrets(self) -> list[str]:
        return [s for s in (self.elastic_password, self.kibana_system_password, self.archive_password) if s]


class Log:
    """Prints progress; every message passes through redaction of the known secrets."""

    def __init__(self, secrets: list[str], stream=None):
        self._secrets = sorted(secrets, key=len, reverse=True)
        self._stream = stream

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "********")
        return text

    def __call__(self, message: str) -> None:
        print(f"setup: {self.redact(message)}", file=self._stream or sys.stdout, flush=True)


@dataclass
class Response:
    status: int
    body: Any


class Http:
    """A tiny JSON-over-HTTP client for one base URL with basic auth (standard library only)."""

    def __init__(self, base_url: str, username: str, password: str, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        self._auth = f"Basic {token}"
        self.timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        json_body: Any = None,
        *,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        all_headers = {"Authorization": self._auth, "Accept": "application/json"}
        if json_body is not None:
            data = json.dumps(json_body).encode("utf-8")
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                return Response(reply.status, _decode(reply.read()))
        except urllib.error.HTTPError as exc:
            return Response(exc.code, _decode(exc.read()))
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise Unavailable(f"{method} {self.base_url}{path}: {reason}") from None


def _decode(raw: bytes) -> Any:
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return text


def _error_text(body: Any) -> str:
    """The error type and reason of an Elasticsearch/Kibana error body, short."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return f"{error.get('type', 'error')}: {error.get('reason', '')}".strip()
        if body.get("message"):
            return str(body["message"])[:300]
        if error:
            return str(error)[:300]
    return str(body)[:300]


def retry(what: str, attempt: Callable[[], Any], cfg: Config, log: Log, sleep=time.sleep, clock=time.monotonic):
    """Call attempt() until it returns without raising Unavailable, for at most cfg.timeout seconds."""
    deadline = clock() + cfg.timeout
    last = ""
    tries = 0
    while True:
        tries += 1
        try:
            return attempt()
        except Unavailable as exc:
            last = str(exc)
        if clock() + cfg.retry_interval > deadline:
            raise SetupError(f"{what}: gave up after {tries} attempts in {cfg.timeout:.0f}s; last error: {last}")
        if tries == 1 or tries % 6 == 0:
            log(f"waiting for {what} ({last})")
        sleep(cfg.retry_interval)


# --- Elasticsearch -----------------------------------------------------------------------


def wait_for_elasticsearch(es: Http, cfg: Config, log: Log, **kw) -> str:
    unauthorized = 0

    def attempt() -> str:
        nonlocal unauthorized
        reply = es.request("GET", "/_cluster/health?wait_for_status=yellow&timeout=5s")
        if reply.status == 401:
            # Right after the first start the security index may not be ready; a few tries,
            # then it is the password (ELASTIC_PASSWORD only applies to an empty data volume).
            unauthorized += 1
            if unauthorized >= 5:
                raise SetupError(
                    "Elasticsearch refused the `elastic` user's password (401). ELASTIC_PASSWORD only "
                    "sets the password on the first start of an empty data volume: use the password the "
                    "cluster was created with, or reset it (bin/elasticsearch-reset-password -u elastic)."
                )
            raise Unavailable("401 unauthorized")
        if reply.status != 200 or not isinstance(reply.body, dict):
            raise Unavailable(f"HTTP {reply.status} {_error_text(reply.body)}")
        status = reply.body.get("status")
        if status not in ("green", "yellow"):
            raise Unavailable(f"cluster status {status}")
        return status

    status = retry(f"Elasticsearch at {cfg.elasticsearch_url}", attempt, cfg, log, **kw)
    log(f"Elasticsearch is up (cluster status {status})")
    return status


def _expect_ok(reply: Response, what: str) -> Any:
    if not 200 <= reply.status < 300:
        raise SetupError(f"{what}: HTTP {reply.status} {_error_text(reply.body)}")
    return reply.body


def set_kibana_system_password(es: Http, cfg: Config, log: Log) -> None:
    if not cfg.kibana_system_password:
        raise SetupError("KIBANA_SYSTEM_PASSWORD is not set")
    reply = es.request("POST", "/_security/user/kibana_system/_password", {"password": cfg.kibana_system_password})
    _expect_ok(reply, "setting the kibana_system password")
    log("kibana_system password set")


def archive_role_bodies(alias_names: list[str]) -> dict[str, dict]:
    """{role: body}: index privileges on the archive's aliases and their versioned indices only."""
    articles, versions, runs, alerts = alias_names
    return role_bodies(articles, versions, runs, alerts)


def ensure_archive_user(es: Http, cfg: Config, log: Log, alias_names: list[str]) -> None:
    """The roles always (journalists need archive_reader / archive_admin); the archive's user
    only when its password is given."""
    bodies = archive_role_bodies(alias_names)
    for role, body in bodies.items():
        reply = es.request("PUT", f"/_security/role/{role}", body)
        _expect_ok(reply, f"creating the role {role}")
    log(f"roles {', '.join(bodies)} created or updated")
    if not cfg.archive_password:
        log("ARCHIVE_ES_PASSWORD not set: no archive user created (the archive must use other credentials)")
        return
    user = urllib.parse.quote(cfg.archive_username, safe="")
    body = {
        "password": cfg.archive_password,
        "roles": [ARCHIVE_ROLE],
        "full_name": "Newsroom archive (crawler, scheduler, web app)",
    }
    reply = es.request("PUT", f"/_security/user/{user}", body)
    result = _expect_ok(reply, f"creating the user {cfg.archive_username}")
    created = isinstance(result, dict) and result.get("created")
    log(f"user {cfg.archive_username} {'created' if created else 'updated'}")


def archive_aliases(env: Mapping[str, str]) -> list[str]:
    """The aliases the archive uses, from the settings file (the same one `archive` reads)."""
    try:
        from archive.config import ConfigError, load_settings
    except ImportError:  # running outside the project: the documented defaults
        return ["articles", "article-versions", "crawl-runs", "saved-searches"]
    try:
        es = load_settings(env=env).elasticsearch
    except ConfigError as exc:
        raise SetupError(f"bad settings: {exc}") from None
    return [es.articles_alias, es.versions_alias, es.runs_index, es.alerts_alias]


def archive_command(cfg: Config) -> list[str]:
    if cfg.archive_command:
        return list(cfg.archive_command)
    script = Path(sys.executable).with_name("archive")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from archive.cli import main; main()"]


def run_index_init(cfg: Config, log: Log, env: Mapping[str, str]) -> None:
    """`archive index init` as the `elastic` user: creates each index and alias unless present."""
    child_env = dict(env)
    child_env.update(
        ELASTICSEARCH_URL=cfg.elasticsearch_url,
        ELASTICSEARCH_USERNAME="elastic",
        ELASTICSEARCH_PASSWORD=cfg.elastic_password,
    )
    child_env.pop("ELASTICSEARCH_API_KEY", None)  # it would win over the basic auth above
    command = archive_command(cfg) + ["index", "init"]
    log("running `archive index init`")
    try:
        done = subprocess.run(command, env=child_env, capture_output=True, text=True, timeout=cfg.timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SetupError(f"`archive index init` could not run: {type(exc).__name__}: {exc}") from None
    for line in (done.stdout + done.stderr).splitlines():
        if line.strip():
            log(f"  {line}")
    if done.returncode != 0:
        raise SetupError(f"`archive index init` failed with exit status {done.returncode}")


def setup_passwords(cfg: Config, log: Log, **kw) -> None:
    es = Http(cfg.elasticsearch_url, "elastic", cfg.elastic_password)
    wait_for_elasticsearch(es, cfg, log, **kw)
    set_kibana_system_password(es, cfg, log)


def setup_indices(cfg: Config, log: Log, env: Mapping[str, str], **kw) -> None:
    es = Http(cfg.elasticsearch_url, "elastic", cfg.elastic_password)
    wait_for_elasticsearch(es, cfg, log, **kw)
    ensure_archive_user(es, cfg, log, archive_aliases(env))
    run_index_init(cfg, log, env)


# --- Kibana ------------------------------------------------------------------------------


def _space_prefix(cfg: Config) -> str:
    return f"/s/{urllib.parse.quote(cfg.kibana_space, safe='')}" if cfg.kibana_space else ""


# Kibana's status levels are available, degraded, unavailable, critical (8.x+; "green" before).
# Degraded: some plugin is unwell, the saved-objects import works.
READY_LEVELS = ("available", "degraded", "green", "yellow")


def kibana_ready(status_body: dict) -> tuple[bool, str]:
    """(ready for the import, a description of the status)."""
    status = status_body.get("status") or {}
    overall = status.get("overall") or {}
    level = overall.get("level") or overall.get("state")
    saved_objects = ((status.get("core") or {}).get("savedObjects") or {}).get("level")
    if level in READY_LEVELS:
        return True, f"status {level}" + (f": {overall['summary']}" if level == "degraded" and overall.get("summary") else "")
    if saved_objects == "available":
        return True, f"status {level}, saved-objects service available"
    return False, f"status {level}" + (f", saved objects {saved_objects}" if saved_objects else "")


def wait_for_kibana(kibana: Http, cfg: Config, log: Log, **kw) -> str:
    def attempt() -> str:
        reply = kibana.request("GET", "/api/status")
        if reply.status == 401:
            raise SetupError("Kibana refused the `elastic` user's password (401): check ELASTIC_PASSWORD")
        # A degraded Kibana may answer 503 with its status body: the body decides.
        if reply.status not in (200, 503) or not isinstance(reply.body, dict) or "status" not in reply.body:
            raise Unavailable(f"HTTP {reply.status} {_error_text(reply.body)}")
        ready, description = kibana_ready(reply.body)
        if not ready:
            raise Unavailable(f"Kibana {description}")
        return description

    description = retry(f"Kibana at {cfg.kibana_url}", attempt, cfg, log, **kw)
    log(f"Kibana is up ({description})")
    return description


def multipart(field_name: str, filename: str, content: bytes, content_type: str) -> tuple[bytes, str]:
    boundary = f"----newsroom-archive-{uuid.uuid4().hex}"
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field_name}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode("utf-8")
    tail = f"\r\n--{boundary}--\r\n".encode("utf-8")
    return head + content + tail, f"multipart/form-data; boundary={boundary}"


def import_saved_objects(kibana: Http, cfg: Config, log: Log) -> int:
    path = cfg.saved_objects_file
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise SetupError(f"cannot read the saved objects file {path}: {exc.strerror}") from None
    data, content_type = multipart("file", path.name, content, "application/ndjson")
    reply = kibana.request(
        "POST",
        f"{_space_prefix(cfg)}/api/saved_objects/_import?overwrite=true",
        data=data,
        headers={"kbn-xsrf": "true", "Content-Type": content_type},
    )
    body = _expect_ok(reply, "importing the Kibana saved objects")
    if not isinstance(body, dict) or not body.get("success"):
        errors = body.get("errors", []) if isinstance(body, dict) else []
        details = "; ".join(
            f"{e.get('type')}/{e.get('id')}: {(e.get('error') or {}).get('type', '?')}" for e in errors[:10]
        )
        raise SetupError(f"Kibana did not import every saved object: {details or _error_text(body)}")
    count = int(body.get("successCount", 0))
    log(f"imported {count} saved objects from {path.name} into Kibana (overwrite)")
    return count


def setup_kibana(cfg: Config, log: Log, **kw) -> None:
    kibana = Http(cfg.kibana_url, "elastic", cfg.elastic_password)
    wait_for_kibana(kibana, cfg, log, **kw)
    import_saved_objects(kibana, cfg, log)


# --- entry point -------------------------------------------------------------------------


def main(argv: list[str] | None = None, env: Mapping[str, str] = os.environ) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--only", choices=("passwords", "indices", "elasticsearch", "kibana"),
        help="run one phase (elasticsearch = passwords then indices; default: all)",
    )
    args = parser.parse_args(argv)
    log = Log([])
    try:
        cfg = Config.from_env(env)
        log = Log(cfg.secrets())
        if not cfg.elastic_password:
            raise SetupError("ELASTIC_PASSWORD is not set")
        if args.only in (None, "elasticsearch", "passwords"):
            setup_passwords(cfg, log)
        if args.only in (None, "elasticsearch", "indices"):
            setup_indices(cfg, log, env)
        if args.only in (None, "kibana"):
            setup_kibana(cfg, log)
    except SetupError as exc:
        log(f"FAILED: {exc}")
        return 1
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
