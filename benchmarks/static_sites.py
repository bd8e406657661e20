"""The benchmark's two sites as static files, served by Debian's nginx on 127.0.0.1.

    demo       the generated demo site (archive/demo_site), rendered once to files
    realworld  the 41 pages of ../shared/extraction-bench repeated under N distinct article URLs,
               each with its own canonical link, listed in /sitemap.xml (robots.txt points at it)

nginx, not a Python server: the benchmark must measure the crawl, not its server
(``keepalive_pages_per_second`` shows by how much nginx outruns the crawl).
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

from archive.demo_site import DemoSite
from archive.demo_site.content import SECTIONS
from archive.demo_site.server import DemoServer

REAL_PAGES = Path(__file__).resolve().parents[2] / "shared" / "extraction-bench" / "html"
INSTALL_HINT = "nginx is missing: apt-get install -y nginx (the benchmark starts its own instance on 127.0.0.1)"

NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type text/html;
    charset utf-8;
    charset_types text/html application/xml text/plain;
    access_log off;
    sendfile on;
    tcp_nodelay on;
    keepalive_requests 100000;
    client_body_temp_path {root}/tmp; proxy_temp_path {root}/tmp; fastcgi_temp_path {root}/tmp;
    uwsgi_temp_path {root}/tmp; scgi_temp_path {root}/tmp;
    {servers}
}}
"""

SERVER = """
    server {{
        listen 127.0.0.1:{port};
        root {docroot};
        types {{ application/xml xml; text/plain txt; }}
        location / {{
            # /section/x?page=2 is the file section/x/__page-2
            set $f $uri;
            if ($arg_page) {{ set $f "$uri/__page-$arg_page"; }}
            try_files $f $f/index.html =404;
        }}
    }}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write(docroot: Path, path: str, body: bytes) -> None:
    path, _, query = path.partition("?")
    target = docroot / path.lstrip("/")
    if path.endswith("/") or path == "":
        target = target / "index.html"
    if query:
        target = docroot / path.strip("/") / f"__page-{query.split('=')[1]}"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(body)


def render_demo_site(docroot: Path, base_url: str, articles: int) -> DemoSite:
    """Every page a crawl of the demo site asks for, as the demo server would answer at base_url."""
    site = DemoSite(article_count=articles)
    server = DemoServer(site, port=0)
    try:
        server.base_url = base_url  # links and sitemaps point at nginx
        paths = ["/", "/robots.txt", "/sitemap_index.xml", "/sitemap-news.xml", "/sitemap-articles.xml", "/feed.xml"]
        paths += [a.path for a in site.articles]
        for section in SECTIONS:
            paths.append(f"/section/{section}")
            paths += [f"/section/{section}?page={n}" for n in range(2, site.section_pages(section) + 1)]
        for path in paths:
            response = server.respond(path)
            while response.status == 503:  # the flaky article: a static site serves it at once
                response = server.respond(path)
            if response.status == 200:
                body = response.body if isinstance(response.body, bytes) else response.body.encode()
                # /section/x is a folder (its ?page=N files live in it): nginx finds x/index.html
                _write(docroot, path + "/" if path.startswith("/section/") and "?" not in path else path, body)
    finally:
        server.stop()
    return site


_CANONICAL = re.compile(rb"<link[^>]+rel=[\"']?canonical[^>]*>|<meta[^>]+og:url[^>]*>", re.I)


def render_real_site(docroot: Path, base_url: str, articles: int) -> int:
    """N article URLs over the 41 real pages; each copy declares its own canonical URL."""
    if not REAL_PAGES.is_dir():
        raise SystemExit(f"the real-world pages are missing: {REAL_PAGES}")
    pages = [gzip.decompress(p.read_bytes()) for p in sorted(REAL_PAGES.glob("*.html.gz"))]
    urls = []
    for n in range(articles):
        path = f"/2024/{1 + n % 12:02d}/{1 + n % 28:02d}/story-{n:05d}"
        url = base_url + path
        html = _CANONICAL.sub(b"", pages[n % len(pages)])
        tag = f'<link rel="canonical" href="{url}"><meta property="og:url" content="{url}">'.encode()
        html, found = re.subn(rb"<head[^>]*>", lambda m: m.group(0) + tag, html, count=1, flags=re.I)
        if not found:
            html = tag + html
        _write(docroot, path, html)
        urls.append(url)
    entries = "".join(f"<url><loc>{u}</loc></url>\n" for u in urls)
    _write(docroot, "/sitemap.xml", (
        '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        + entries + "</urlset>\n").encode())
    _write(docroot, "/robots.txt", f"User-agent: *\nDisallow: /private/\n\nSitemap: {base_url}/sitemap.xml\n".encode())
    _write(docroot, "/", b"<!DOCTYPE html><html><head><title>Real pages</title></head><body>see the sitemap</body></html>")
    return len(pages)


@contextlib.contextmanager
def nginx(root: Path, sites: dict[str, tuple[int, Path]]) -> Iterator[subprocess.Popen]:
    """nginx in the foreground, one server per site (name -> (port, docroot)); stopped on exit."""
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if not binary:
        raise SystemExit(INSTALL_HINT)
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    servers = "".join(SERVER.format(port=port, docroot=docroot) for port, docroot in sites.values())
    conf = root / "nginx.conf"
    conf.write_text(NGINX_CONF.format(root=root, servers=servers))
    user = ["-g", "user root;"] if os.geteuid() == 0 else []
    proc = subprocess.Popen([binary, "-c", str(conf), "-p", str(root), *user],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for port, _ in sites.values():
            _wait_for_port(port, proc, root)
        yield proc
    finally:
        proc.send_signal(signal.SIGQUIT)  # graceful
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_for_port(port: int, proc: subprocess.Popen, root: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"nginx exited: {proc.stderr.read().decode(errors='replace')}"
                             f"{(root / 'error.log').read_text(errors='replace') if (root / 'error.log').exists() else ''}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nginx did not listen on 127.0.0.1:{port}")


def keepalive_pages_per_second(port: int, paths: list[str], seconds: float = 3.0) -> float:
    """One client, one keep-alive connection, one request after another: the server's pace."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        conn.request("GET", paths[done % len(paths)])
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"nginx answered {response.status} for {paths[done % len(paths)]}")
        done += 1
    conn.close()
    return done / (time.perf_counter() - started)
