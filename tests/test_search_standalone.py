"""The store stands alone and starts fast: search imports nothing of the crawler, and the
everyday commands load neither Scrapy nor trafilatura. Failures are one line."""

from __future__ import annotations

import ast
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("scrapy", "trafilatura", "twisted", "crawler")
SLOW = HEAVY + ("aiohttp", "requests", "httpx")  # optional transports of the Elasticsearch client


def test_no_module_of_the_store_imports_the_crawler():
    offenders = []
    for path in sorted((ROOT / "search").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in HEAVY]
    assert offenders == []


def _loaded_after(code: str, among: tuple[str, ...] = HEAVY) -> list[str]:
    script = f"import sys, json\n{code}\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules if sys.modules[m]}})))"
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [m for m in json.loads(out.splitlines()[-1]) if m in among]


def test_importing_every_search_module_loads_nothing_of_the_crawler():
    modules = [p.stem for p in (ROOT / "search").glob("*.py") if p.stem not in ("__init__", "http_api")]
    assert _loaded_after("\n".join(f"import search.{m}" for m in modules)) == []


@pytest.mark.parametrize("command", [["search", "harbour"], ["show", "http://x.example/a"], ["runs"], ["status"]])
def test_everyday_commands_load_neither_scrapy_nor_trafilatura(command):
    code = (
        "from archive.cli import cli\n"
        f"try:\n    cli.main({command!r}, standalone_mode=False)\nexcept BaseException:\n    pass"
    )
    assert [m for m in _loaded_after(code, SLOW) if m != "crawler"] == []


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("command", [["search", "harbour"], ["show", "http://x.example/a"], ["runs"], ["status"]])
def test_elasticsearch_unreachable_is_one_line_with_the_fix(command):
    url = f"http://127.0.0.1:{_unused_port()}"
    env = {**os.environ, "ELASTICSEARCH_URL": url}
    archive = Path(sys.executable).with_name("archive")
    result = subprocess.run([str(archive), *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines == [f"Error: Elasticsearch is not reachable at {url}: start it with `archive es start`, or set ELASTICSEARCH_URL to where it runs"]

    verbose = subprocess.run([str(archive), "-v", *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert "Traceback" in verbose.stderr  # -v shows what happened
