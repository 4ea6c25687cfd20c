"""The FastAPI application factory: JSON API under /api, web pages elsewhere, one store, one error shape.

Every request opens its own read-only connection (WAL lets it read while an ingest writes); writes
(POST /api/ingest) take the store's single writer.  Article text, titles and URLs are untrusted data:
templates autoescape, JSON embedded in pages is escaped for HTML, links are http(s) only, and a strict
Content-Security-Policy forbids inline scripts, so even a missed escape could not run code.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hmac
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from storyloom import __version__
from storyloom.settings import Settings

HERE = Path(__file__).parent
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def token_ok(settings: Settings, request: Request) -> bool:
    """Bearer token (or X-Storyloom-Token) compared in constant time; no token configured → never ok."""
    if not settings.api_token:
        return False
    given = request.headers.get("authorization", "")
    given = given[7:] if given.lower().startswith("bearer ") else request.headers.get("x-storyloom-token", "")
    return hmac.compare_digest(given.encode(), settings.api_token.encode())


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


@contextlib.contextmanager
def writer_lock(state: Any) -> Iterator[None]:
    """One HTTP ingest at a time (``state`` is the app's), across this process's threads and across worker
    processes (a lock file beside the store): two writers would otherwise wait on SQLite's lock and time out."""
    import fcntl

    with state.write_lock, open(str(state.settings.db_path) + ".write-lock", "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def create_app(settings: Settings, warm: bool = False) -> FastAPI:
    """The app over ``settings.db_path``; ``warm`` loads the comparison's models in the background at start
    (what `storyloom serve` wants; tests do not need to pay for it)."""
    from storyloom.serve import api, web
    from storyloom.serve.deps import ReadPool
    from storyloom.serve.refresh import Refresher

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
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
    async def guard(request: Request, call_next):  # type: ignore[no-untyped-def]
        if settings.token_for_reads and not request.url.path.startswith("/static/") \
                and request.url.path != "/api/health" and not token_ok(settings, request):
            resp: Any = JSONResponse(error_body("unauthorized", "a token is required"), status_code=401)
        else:
            resp = await call_next(request)
        resp.headers["Content-Security-Policy"] = CSP
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers["X-Frame-Options"] = "DENY"
        return resp

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Any:
        if request.url.path.startswith("/api/"):
            return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status)
        return web.error_page(request, exc.status, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Any:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(exc.status_code, "http_error")
        if request.url.path.startswith("/api/") or request.url.path.startswith("/static/"):
            return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code)
        return web.error_page(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Any:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return JSONResponse(error_body("invalid_request", f"{where}: {first.get('msg', 'invalid')}"), status_code=422)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> Any:  # never leak a traceback to a client
        return JSONResponse(error_body("internal_error", f"{type(exc).__name__}"), status_code=500)

    app.include_router(api.router, prefix="/api")
    app.include_router(web.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    return app
