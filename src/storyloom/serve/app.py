"""The FastAPI application factory: JSON API under /api, web pages elsewhere, one store, one error shape.

Every request opens its own read-only connection (WAL lets it read while an ingest writes); writes
(POST /api/ingest) take the store's single writer.  Article text, titles and URLs are untrusted data:
templates autoescape, JSON embedded in pages is escaped for HTML, links are http(s) only, and a strict
Content-Security-Policy forbids inline scripts, so even a missed escape could not run code.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from storyloom import __version__
from storyloom.serve import api, errors, follow, web
from storyloom.serve.deps import ReadPool
from storyloom.serve.errors import error_body, request_id, token_ok
from storyloom.serve.limits import RequestGuard
from storyloom.serve.refresh import Refresher
from storyloom.settings import Settings

HERE = Path(__file__).parent
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


SETTINGS_ENV = "STORYLOOM_SERVE_SETTINGS"


def settings_env(settings: Settings) -> str:
    """The settings as the environment value :func:`app_from_env` reads: ``storyloom serve --workers N`` runs N
    processes, and uvicorn hands each an import string, not an object."""
    return json.dumps(dataclasses.asdict(settings))


def app_from_env() -> FastAPI:
    """The app factory for a worker process (``uvicorn storyloom.serve.app:app_from_env --factory``)."""
    raw = os.environ.get(SETTINGS_ENV)
    if not raw:
        from storyloom.settings import load_settings

        return create_app(load_settings(), warm=True)
    from storyloom.settings import settings_from

    return create_app(settings_from(json.loads(raw)), warm=True)


def _warm() -> None:
    try:
        from storyloom.compare import warm

        warm()
    except Exception:  # a missing optional model only means the first comparison loads what exists
        pass


def create_app(settings: Settings, warm: bool = False) -> FastAPI:
    """The app over ``settings.db_path``; ``warm`` loads the comparison's models in the background at start
    (what `storyloom serve` wants; tests do not need to pay for it)."""
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if warm:
            threading.Thread(target=_warm, name="storyloom-warm", daemon=True).start()
        yield
        app.state.refresher.stop()
        app.state.reads.close()

    app = FastAPI(title="storyloom", version=__version__, lifespan=lifespan,
                  description="Stories from a heap of news: feed, claim matrix, timeline, provenance.")
    app.state.settings = settings
    app.state.write_lock = threading.Lock()  # one writer: ingests over HTTP queue behind each other
    app.state.reads = ReadPool(str(settings.db_path))
    app.state.refresher = Refresher(str(settings.db_path))  # out-of-date comparisons, behind the pages

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if settings.token_for_reads and not request.url.path.startswith("/static/") \
                and request.url.path != "/api/health" and not request.url.path.startswith("/feeds/") \
                and not token_ok(settings, request):  # a feed URL carries its own capability token
            resp: Response = JSONResponse(error_body("unauthorized", "a token is required", request_id(request)),
                                          status_code=401)
        else:
            resp = await call_next(request)
        resp.headers["Content-Security-Policy"] = CSP
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["X-Request-ID"] = request_id(request)
        return resp

    errors.install(app, web.error_page)
    app.include_router(api.router, prefix="/api")
    app.include_router(web.router)
    app.include_router(follow.router)  # /api/subscriptions, /api/alerts, /feeds/{token}.atom, /follow
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    # outermost: the request id, deadline and cancel flag exist before any other middleware or handler runs
    app.add_middleware(RequestGuard, timeout=settings.request_timeout)
    return app
