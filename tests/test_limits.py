"""Hostile requests: bounded parameters, strict cursors, short error quotes, a time limit per request that
stops the work, cancellation when the client leaves, and a logged 500 with a request id."""

from __future__ import annotations

import asyncio
import base64
import logging
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from storyloom.serve import create_app
from storyloom.serve.limits import MAX_TARGET_CHARS, RequestGuard, deadline_check, decode_cursor, encode_cursor
from storyloom.settings import Settings
from storyloom.store import Store

INFINITE = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    db = tmp_path / "l.db"
    Store(db).close()
    return TestClient(create_app(Settings(db_path=str(db))), raise_server_exceptions=False)


def _cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_a_long_query_is_refused_at_once(client: TestClient) -> None:
    started = time.monotonic()
    for q in ("the " * 200, "the OR " * 120):
        r = client.get("/api/stories", params={"q": q})
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
        assert len(r.text) < 1_000  # the error does not echo what it was sent
    assert time.monotonic() - started < 5


@pytest.mark.slow
def test_the_112_kb_query_of_the_report_gets_an_answer_from_a_real_server(tmp_path: Path) -> None:
    """`GET /api/stories?q=the+the+…` (112 KB) kept a worker busy for minutes: now a JSON 414 at once."""
    import socket
    from urllib.parse import urlsplit

    from conftest import start_server, stop_server

    db = tmp_path / "s.db"
    Store(db).close()
    proc, base = start_server(db)
    try:
        host = urlsplit(base)
        for q in ("the+" * 28_000, "the+OR+" * 16_000, "x" * 300_000):  # the last: past uvicorn's own ~128 KB
            started = time.monotonic()
            with socket.create_connection((host.hostname, host.port), timeout=20) as sock:
                sock.sendall(f"GET /api/stories?q={q} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                reply = b""
                while chunk := sock.recv(65536):
                    reply += chunk
            assert time.monotonic() - started < 10
            head, _, body = reply.partition(b"\r\n\r\n")
            assert head.split()[1] == b"414" and b'"uri_too_long"' in body, head[:80]
    finally:
        stop_server(proc)


@pytest.mark.parametrize("raw", [b'{"o": 99999999999999999999999}', b"[" * 5000 + b"]" * 5000, b'{"o": true}',
                                 b'{"o": -1}', b'{"o": 1.5}', b'{"o": 1, "x": 2}', b"\xff\xfe"])
def test_crafted_cursors_are_a_400(client: TestClient, raw: bytes) -> None:
    for url in ("/api/stories", "/api/search?q=x"):
        r = client.get(url, params={"cursor": _cursor(raw)})
        assert r.status_code in (400, 414, 422), (raw[:20], r.status_code)
        assert r.json()["error"]["code"] in ("bad_cursor", "invalid_request", "uri_too_long")


def test_cursors_round_trip_and_nothing_else_decodes() -> None:
    for n in (0, 20, 12345):
        assert decode_cursor(encode_cursor(n)) == n
    for bad in ("!!", "a" * 100, _cursor(b'{"o":5}'), _cursor(b'{"o": 05}')):
        with pytest.raises(ValueError):
            decode_cursor(bad)


def test_errors_quote_a_short_prefix(client: TestClient) -> None:
    long_id = "a" * 10_000
    for url in (f"/api/stories/{long_id[:60]}zz", f"/api/articles/{long_id[:60]}", f"/stories/{long_id[:3000]}"):
        r = client.get(url)
        assert r.status_code in (404, 422)
        assert len(r.text) < 4_000 and long_id[:3000] not in r.text


def test_an_overlong_request_target_is_json_414(client: TestClient) -> None:
    r = client.get("/api/stories", params={"outlet": "x" * (MAX_TARGET_CHARS + 10)})
    assert r.status_code == 414 and r.json()["error"]["code"] == "uri_too_long"


def test_bounded_parameters(client: TestClient) -> None:
    for params in ({"limit": 10_000}, {"min_articles": 0}, {"since": "yesterday"}, {"language": "x" * 40},
                   {"sort": "random"}, {"outlet": "o" * 300}):
        r = client.get("/api/stories", params=params)
        assert r.status_code == 422, params
    assert client.get("/api/stories", params={"since": "2024-01-01", "language": "en"}).status_code == 200


def test_a_store_statement_stops_when_told(tmp_path: Path) -> None:
    """The mechanism under the request time limit: an endless statement is interrupted at once."""
    with Store(tmp_path / "i.db") as store:
        state = {"deadline": time.monotonic() + 0.2, "cancel": threading.Event()}
        store.set_interrupt(deadline_check(state))
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="interrupted"):
            store.conn.execute(INFINITE).fetchone()
        assert time.monotonic() - started < 5
        state = {"deadline": time.monotonic() + 60, "cancel": threading.Event()}
        store.set_interrupt(deadline_check(state))
        threading.Timer(0.2, state["cancel"].set).start()  # the client leaves
        with pytest.raises(sqlite3.OperationalError, match="interrupted"):
            store.conn.execute(INFINITE).fetchone()
        store.set_interrupt(None)
        assert store.conn.execute("SELECT 1").fetchone()[0] == 1


def test_a_request_past_its_deadline_is_a_503_and_its_work_stops(tmp_path: Path) -> None:
    from fastapi import Depends

    from storyloom.serve.deps import read_store

    db = tmp_path / "t.db"
    Store(db).close()
    app = create_app(Settings(db_path=str(db), request_timeout=0.3))

    @app.get("/api/slow")
    def slow(store: Store = Depends(read_store)) -> dict[str, int]:
        return {"n": store.conn.execute(INFINITE).fetchone()[0]}

    started = time.monotonic()
    r = TestClient(app, raise_server_exceptions=False).get("/api/slow")
    assert r.status_code == 503 and r.json()["error"]["code"] == "timeout"
    assert time.monotonic() - started < 10


def test_a_client_leaving_sets_the_cancel_flag() -> None:
    seen: dict[str, bool] = {}

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        await receive()  # the request body
        cancel: threading.Event = scope["state"]["cancel"]
        for _ in range(200):  # the handler works; the guard notices the disconnect meanwhile
            if cancel.is_set():
                break
            await asyncio.sleep(0.01)
        seen["cancelled"] = cancel.is_set()

    messages = [{"type": "http.request", "body": b"", "more_body": False}, {"type": "http.disconnect"}]

    async def receive():  # type: ignore[no-untyped-def]
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)

    async def send(message):  # type: ignore[no-untyped-def]
        pass

    scope = {"type": "http", "path": "/x", "raw_path": b"/x", "query_string": b""}
    asyncio.run(RequestGuard(app, timeout=30)(scope, receive, send))
    assert seen == {"cancelled": True}


def test_a_crash_is_logged_with_the_request_id_the_client_gets(tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    db = tmp_path / "c.db"
    Store(db).close()
    app = create_app(Settings(db_path=str(db)))

    @app.get("/api/boom")
    def boom() -> None:
        raise RuntimeError("secret detail")

    with caplog.at_level(logging.ERROR, logger="storyloom.serve"):
        r = TestClient(app, raise_server_exceptions=False).get("/api/boom")
    assert r.status_code == 500
    err = r.json()["error"]
    assert err["code"] == "internal_error" and "secret detail" not in r.text and err["request_id"]
    logged = [rec for rec in caplog.records if err["request_id"] in rec.getMessage()]
    assert logged and logged[0].exc_info is not None
