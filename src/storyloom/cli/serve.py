"""`storyloom serve`: the web UI and the JSON API."""

from __future__ import annotations

import os
from pathlib import Path

import click

from storyloom import blas
from storyloom.cli.common import Ctx, err

# Request heads up to this size reach the app, whose guard answers an overlong target with a JSON 414; beyond it
# uvicorn's HTTP parser answers a plain-text 400 itself (its default, ~128 KB, let a 112 KB query through to
# the handlers and refused a 129 KB one in plain text).
MAX_HEAD_BYTES = 1024 * 1024


@click.command()
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="Port (default 8000).")
@click.option("--token", envvar="STORYLOOM_TOKEN", help="API token: allows POST /api/ingest (env STORYLOOM_TOKEN).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Server processes: reads scale with cores (each request opens its own read-only connection).")
@click.pass_obj
def serve(obj: Ctx, host: str | None, port: int | None, token: str | None, workers: int) -> None:
    """Serve the web UI and the JSON API (OpenAPI at /docs)."""
    import uvicorn

    from storyloom.serve import create_app
    from storyloom.serve.app import SETTINGS_ENV, settings_env

    settings = obj.settings.with_overrides(host=host, port=port, api_token=token)
    if not Path(settings.db_path).exists():
        with obj.store():
            pass  # an empty store, so the UI opens (and says there is nothing yet)
    err.print(f"storyloom UI at [bold]http://{settings.host}:{settings.port}/[/]  (API docs: /docs; Ctrl-C to stop)"
              + (f", {workers} worker processes" if workers > 1 else ""))
    if workers == 1:
        uvicorn.run(create_app(settings, warm=True), host=settings.host, port=settings.port, log_level="warning",
                    h11_max_incomplete_event_size=MAX_HEAD_BYTES)
        return
    os.environ[SETTINGS_ENV] = settings_env(settings)  # the workers are new processes: they rebuild the app from it
    if not blas.user_chose():  # processes side by side, one per core: one BLAS thread each (storyloom.blas)
        os.environ.update(blas.WORKER_ENV)
    uvicorn.run("storyloom.serve.app:app_from_env", factory=True, workers=workers, host=settings.host,
                h11_max_incomplete_event_size=MAX_HEAD_BYTES,
                port=settings.port, log_level="warning")
