"""A tiny scripted HTTP server on loopback for the network tests (web, feeds, watch).

Each server listens on 127.0.0.1 (or another 127/8 address) on an ephemeral port, serves from a background
thread, records every request it receives (path and headers) and is shut down by the ``http_server``
fixture.  Routes map a path to a :class:`Reply` or to a function of the request returning one.  Every
slow or endless reply is bounded and stops as soon as the fixture tears the server down.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering
    # Streamed body: ``chunks`` of ``chunk`` bytes, ``interval`` seconds apart; sent chunked (no length)
    # unless ``declare_length`` is given (then a Content-Length header says that many bytes).
    chunks: int = 0
    chunk: bytes = b"x" * 16384
    interval: float = 0.0
    declare_length: int | None = None
    close_delimited: bool = False  # no length, not chunked: the body ends when the connection closes
    # Slowloris: the status line, then ``trickle_headers`` bytes of one header, one byte every ``interval``.
    trickle_headers: int = 0


Route = Reply | Callable[[Request], Reply]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)  # a real bug in the test server: show it


class LocalServer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self.stopping = threading.Event()
        self.bytes_streamed = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                req = Request("GET", self.path, {k.lower(): v for k, v in self.headers.items()})
                with outer._lock:
                    outer.requests.append(req)
                route = outer.routes.get(self.path.split("?")[0])
                if route is None:
                    reply = Reply(404, b"not found", {"Content-Type": "text/plain"})
                else:
                    reply = route(req) if callable(route) else route
                if reply.delay and outer.stopping.wait(reply.delay):
                    return
                try:
                    self._send(reply)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client hung up, as a capped fetch should

            def _send(self, reply: Reply) -> None:
                if reply.trickle_headers:
                    self.close_connection = True
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                    for _ in range(reply.trickle_headers):
                        self.wfile.write(b"a")
                        self.wfile.flush()
                        with outer._lock:
                            outer.bytes_streamed += 1
                        if outer.stopping.wait(reply.interval):
                            return
                    return
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                if reply.chunks:
                    raw = reply.declare_length is not None or reply.close_delimited
                    if reply.declare_length is not None:
                        self.send_header("Content-Length", str(reply.declare_length))
                    elif not reply.close_delimited:
                        self.send_header("Transfer-Encoding", "chunked")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.close_connection = True
                    for _ in range(reply.chunks):
                        if outer.stopping.is_set():
                            return
                        if raw:
                            self.wfile.write(reply.chunk)
                        else:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(reply.chunk), reply.chunk))
                        self.wfile.flush()
                        with outer._lock:
                            outer.bytes_streamed += len(reply.chunk)
                        if reply.interval and outer.stopping.wait(reply.interval):
                            return
                    if not raw:
                        self.wfile.write(b"0\r\n\r\n")
                    return
                if "Content-Length" not in reply.headers:
                    self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if reply.body:
                    self.wfile.write(reply.body)

        self.httpd = _QuietServer((host, 0), Handler)
        self.host, self.port = self.httpd.server_address[:2]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self.thread.start()

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def route(self, path: str, reply: Route) -> str:
        self.routes[path] = reply
        return self.url(path)

    def hits(self, path: str | None = None) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    def close(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def http_server() -> Iterator[Callable[..., LocalServer]]:
    """A factory of loopback servers: ``http_server()`` on 127.0.0.1, ``http_server("127.0.0.2")``…"""
    servers: list[LocalServer] = []

    def make(host: str = "127.0.0.1") -> LocalServer:
        assert host.startswith("127."), "tests only ever listen on loopback"
        s = LocalServer(host)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()


@pytest.fixture
def server(http_server: Callable[..., LocalServer]) -> LocalServer:
    return http_server()


# -- small documents ----------------------------------------------------------------------------------

LOREM = (
    "The harbour authority said on Tuesday that the new breakwater would be finished before the winter "
    "storms, after two years of delays caused by a shortage of granite and a dispute with the contractor. "
    "Fishermen who have waited a decade for the project welcomed the news but warned that the cost had "
    "nearly doubled since the first estimate, and that the town council still had to explain how it would "
    "pay for the overrun without raising the mooring fees that keep the small boats in the harbour. "
)


def article_html(title: str, paragraphs: int = 4, seed: str = "") -> bytes:
    body = "".join(f"<p>{seed} {LOREM}</p>" for _ in range(paragraphs))
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body><article><h1>{title}</h1>{body}</article></body></html>"
    ).encode()


def rss(items: Iterable[dict[str, str]], title: str = "Harbour News", language: str = "en") -> bytes:
    """An RSS 2.0 document; each item may have title, link, guid, description, content, pubDate."""
    parts = []
    for it in items:
        x = "<item>"
        for tag in ("title", "link", "guid", "pubDate"):
            if tag in it:
                x += f"<{tag}>{it[tag]}</{tag}>"
        if "description" in it:
            x += f"<description><![CDATA[{it['description']}]]></description>"
        if "content" in it:
            x += f"<content:encoded><![CDATA[{it['content']}]]></content:encoded>"
        parts.append(x + "</item>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>{title}</title><link>http://example.org/</link><description>news</description>"
        f"<language>{language}</language>{''.join(parts)}</channel></rss>"
    ).encode()


def opml(urls: Iterable[str], nested: bool = False) -> bytes:
    outlines = "".join(f'<outline type="rss" text="f{i}" xmlUrl="{u}"/>' for i, u in enumerate(urls))
    if nested:
        outlines = f'<outline text="News">{outlines}</outline>'
    return (
        '<?xml version="1.0" encoding="UTF-8"?><opml version="2.0"><head><title>t</title></head>'
        f"<body>{outlines}</body></opml>"
    ).encode()


def wait_until(pred: Callable[[], bool], timeout: float = 2.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return pred()
