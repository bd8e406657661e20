"""`archive serve`: the read-only HTTP search API (search/http_api.py)."""

from __future__ import annotations

import click

from search.client import make_client
from search.http_api import make_server


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; keep 127.0.0.1 unless a proxy fronts it.")
@click.option("--port", default=8800, show_default=True, type=click.IntRange(0, 65535))
@click.pass_obj
def serve(app, host: str, port: int) -> None:
    """Serve the search API over HTTP.

    \b
    Examples:
      archive serve --port 8800
      curl 'http://127.0.0.1:8800/search?q=%22harbour+authority%22&sort=newest'
      curl 'http://127.0.0.1:8800/search.csv?q=budget&site=demo' > budget.csv
    """
    es = app.settings.elasticsearch
    server = make_server(make_client(es), es, host, port)
    click.echo(f"search API on http://{host}:{server.server_address[1]}/search?q=... (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
