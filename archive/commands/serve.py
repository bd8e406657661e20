"""`archive serve`: the search page and the JSON API (search/http_api.py), served by uvicorn."""

from __future__ import annotations

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; keep 127.0.0.1 unless a proxy fronts it.")
@click.option("--port", default=8800, show_default=True, type=click.IntRange(0, 65535))
@click.pass_obj
def serve(app, host: str, port: int) -> None:
    """Serve the search page (open it in a browser) and the JSON API.

    \b
    Examples:
      archive serve --port 8800        # then open http://127.0.0.1:8800/
      curl 'http://127.0.0.1:8800/search?q=%22harbour+authority%22&sort=newest'
      curl 'http://127.0.0.1:8800/export.csv?q=budget&site=demo' > budget.csv
      curl 'http://127.0.0.1:8800/alerts/my-beat.atom'
    """
    import uvicorn

    from search.http_api import create_app, startup_problem

    web = create_app(app.settings, bind_host=host)
    click.echo(f"search page on http://{host}:{port}/ (JSON API: /search?q=..., Ctrl-C stops)")
    problem = startup_problem(web)
    if problem:  # one line for the operator; the page tells journalists the archive is down
        click.echo(f"warning: {problem}; the page says the archive is down until it answers (GET /health)", err=True)
    uvicorn.run(web, host=host, port=port, log_level="warning")
