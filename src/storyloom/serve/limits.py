"""Bounds on what one request may ask and how long it may run.

A server that reads a store for anyone who asks must not let one request take it down: the issue that led
here was one GET (``/api/stories?q=`` with "the" 28,000 times) that kept a worker at 130 % CPU and 3 GB for
eight minutes after its client had gone.  So:

* every parameter is bounded (length, pattern, numeric range): see the ``Query`` declarations of the routes,
  which use the constants here;
* every request carries a deadline and a cancel flag (:class:`RequestGuard`, a plain ASGI middleware): the
  flag is set when the client disconnects, and the read connection the request uses runs an SQLite progress
  handler that interrupts its statement once the deadline passes or the flag is set
  (:func:`deadline_check`), which the error handlers turn into a 503;
* page cursors are strictly validated (:func:`decode_cursor`): a cursor is only ever ``{"o": N}`` as this
  server wrote it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from storyloom.serve.errors import error_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_QUERY_CHARS = 500  # a search or filter query (FTS5): longer ones are refused, not cut
MAX_NAME_CHARS = 200  # an outlet or other free-text filter
MAX_ID_CHARS = 64  # story and article ids (and their prefixes) are far shorter
MAX_CURSOR_CHARS = 40
MAX_TARGET_CHARS = 8192  # path + query string; longer requests get a JSON 414
MAX_OFFSET = 10_000_000
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?$"
LANGUAGE_PATTERN = r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})?$"
ID_PATTERN = r"^[0-9A-Za-z_-]{1,64}$"
PROGRESS_OPS = 20_000  # SQLite virtual-machine steps between two deadline checks (~ a millisecond)


class RequestGuard:
    """ASGI middleware: a request id, a deadline and a cancel flag per HTTP request, kept in ``scope["state"]``.

    The flag is set when the server reports ``http.disconnect`` before the response is complete: the request's
    own reads are forwarded to the app as they come, and a task keeps listening after the body so that a
    client leaving is noticed while the handler still works."""

    def __init__(self, app: ASGIApp, timeout: float) -> None:
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        cancel = threading.Event()
        state.update(request_id=secrets.token_hex(6), cancel=cancel, deadline=time.monotonic() + self.timeout)
        target = len(scope.get("raw_path") or scope.get("path", "")) + len(scope.get("query_string") or b"")
        if target > MAX_TARGET_CHARS:
            await _too_long(send, state["request_id"])
            return
        inbox: asyncio.Queue[Message] = asyncio.Queue()

        async def pump() -> None:
            while True:
                message = await receive()
                await inbox.put(message)
                if message["type"] == "http.disconnect":
                    cancel.set()
                    return

        listener = asyncio.ensure_future(pump())

        async def forwarded() -> Message:
            return await inbox.get()

        try:
            await self.app(scope, forwarded, send)
        finally:
            listener.cancel()


async def _too_long(send: Send, rid: str) -> None:
    body = json.dumps(error_body("uri_too_long", f"the request target is longer than {MAX_TARGET_CHARS:,} characters",
                                 rid)).encode()
    await send({"type": "http.response.start", "status": 414,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def deadline_check(state: MutableMapping[str, Any] | None) -> Callable[[], bool] | None:
    """True once the request's deadline has passed or its client has left (``state`` from
    :class:`RequestGuard`): what a request's store interrupts its statements on (``Store.set_interrupt``)."""
    if not state or "deadline" not in state:
        return None
    deadline: float = state["deadline"]
    cancel: threading.Event = state["cancel"]

    def stop() -> bool:
        return cancel.is_set() or time.monotonic() > deadline

    return stop


def remaining(state: MutableMapping[str, Any] | None, default: float = 30.0) -> float:
    """Seconds left before the request's deadline (``default`` outside a guarded request)."""
    if not state or "deadline" not in state:
        return default
    return max(0.0, float(state["deadline"]) - time.monotonic())


# -- cursors ----------------------------------------------------------------------------------------

_CURSOR_JSON = re.compile(rb'\{"o": (0|[1-9]\d{0,7})\}')


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(b'{"o": %d}' % offset).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The offset a cursor of ours carries; ValueError for anything else (too long, not base64, another shape,
    a number out of range, a boolean…).  Matched as bytes, never parsed as JSON: nothing in it can recurse."""
    if not cursor:
        return 0
    if len(cursor) > MAX_CURSOR_CHARS or not re.fullmatch(r"[A-Za-z0-9_-]+", cursor):
        raise ValueError("bad cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError("bad cursor") from exc
    m = _CURSOR_JSON.fullmatch(raw)
    if m is None:
        raise ValueError("bad cursor")
    value = int(m.group(1))
    if value > MAX_OFFSET:
        raise ValueError("bad cursor")
    return value
