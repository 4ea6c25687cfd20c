"""One error shape for the API and the pages, and the handlers that produce it.

Every error a client sees is ``{"error": {"code", "message", "request_id"}}`` (or the error page with the same
words): a message never quotes more than a short prefix of what the client sent (an id of 10 KB echoed whole
is a reflection amplifier), and an unexpected exception is logged with its traceback under the request id the
client is given, so a user's report can be matched to the log line.
"""

from __future__ import annotations

import hmac
import logging
import sqlite3
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from storyloom.settings import Settings

log = logging.getLogger("storyloom.serve")

QUOTE_CHARS = 60


class ApiError(Exception):
    """An error meant for the client: an HTTP status, a stable machine-readable code and a sentence."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def quoted(value: object, limit: int = QUOTE_CHARS) -> str:
    """``value`` as a message quotes it: repr-quoted, cut to ``limit`` characters with the length said."""
    text = str(value)
    if len(text) <= limit:
        return repr(text)
    return repr(text[:limit]) + f"… ({len(text):,} characters)"


def request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", "-"))


def is_interrupt(exc: BaseException) -> bool:
    """A statement stopped by the request's deadline or its client leaving (``Store.set_interrupt``)."""
    return isinstance(exc, sqlite3.OperationalError) and "interrupted" in str(exc)


def error_body(code: str, message: str, rid: str | None = None) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    if rid:
        err["request_id"] = rid
    return {"error": err}


def token_ok(settings: Settings, request: Request) -> bool:
    """Bearer token (or X-Storyloom-Token) compared in constant time; no token configured → never ok."""
    if not settings.api_token:
        return False
    given = request.headers.get("authorization", "")
    given = given[7:] if given.lower().startswith("bearer ") else request.headers.get("x-storyloom-token", "")
    return hmac.compare_digest(given.encode(), settings.api_token.encode())


def is_api(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or path.startswith("/static/") or path.startswith("/openapi")


ErrorPage = Callable[[Request, int, str], Response]


def install(app: FastAPI, error_page: ErrorPage) -> None:
    """Register the handlers: API paths answer JSON, page paths the error page (``error_page``)."""

    def answer(request: Request, status: int, code: str, message: str) -> Response:
        if is_api(request):
            return JSONResponse(error_body(code, message, request_id(request)), status_code=status)
        return error_page(request, status, message)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return answer(request, exc.status, exc.code, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(exc.status_code, "http_error")
        return answer(request, exc.status_code, code, str(exc.detail)[:200])

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        msg = str(first.get("msg", "invalid"))[:200]
        return answer(request, 422, "invalid_request", f"{where[:80]}: {msg}")

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> Response:
        rid = request_id(request)
        if is_interrupt(exc):  # the request's deadline passed or its client left: its statement was stopped
            return answer(request, 503, "timeout", "the request took too long and was stopped; narrow it down "
                          "(fewer or rarer words, a smaller page)")
        log.error("request %s %s %s failed", rid, request.method, request.url.path[:200], exc_info=exc)
        return answer(request, 500, "internal_error", f"internal error {type(exc).__name__}; request id {rid} "
                      "(the server log has the details)")
