"""The guarded fetcher against real loopback servers: caps, timeouts, redirects and the SSRF guards."""

from __future__ import annotations

import gzip
import ipaddress
import time
import tracemalloc
import zlib
from pathlib import Path

import httpx
import pytest

from conftest import SAMPLE
from httpserver import LocalServer, Reply, http_server, server  # noqa: F401  (fixtures)
from storyloom.errors import FetchError, FetchRefused
from storyloom.ingest.web import Fetcher, is_public_address
from storyloom.settings import Settings

FAST = Settings(fetch_timeout=0.5, fetch_total_timeout=3.0, max_fetch_bytes=100_000, allow_private=True)
GUARDED = Settings(fetch_timeout=0.5, fetch_total_timeout=3.0, max_fetch_bytes=100_000, allow_private=False)


def no_traffic_fetcher(settings: Settings = GUARDED, **kw: object) -> tuple[Fetcher, list[httpx.Request]]:
    """A fetcher whose transport records (and fails) every request it is asked to send."""
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, text="should never be sent")

    f = Fetcher(settings, **kw)  # type: ignore[arg-type]
    f.client.close()
    f.client = httpx.Client(transport=httpx.MockTransport(handler), follow_redirects=False)
    return f, sent


# -- ordinary fetches -----------------------------------------------------------------------------------


def test_ok_fetch_returns_body_headers_and_sends_user_agent(server: LocalServer) -> None:
    url = server.route("/a", Reply(200, b"<html>hello</html>", {"Content-Type": "text/html; charset=utf-8", "ETag": '"v1"'}))
    with Fetcher(FAST) as f:
        res = f.fetch(url)
    assert res.status == 200 and res.content == b"<html>hello</html>"
    assert res.content_type == "text/html" and res.headers["etag"] == '"v1"'
    assert res.url == res.final_url == url and res.redirects == [] and not res.not_modified
    [req] = server.hits("/a")
    assert req.headers["user-agent"].startswith("storyloom/")


def test_extra_headers_are_sent_and_304_is_returned(server: LocalServer) -> None:
    url = server.route("/c", lambda r: Reply(304) if r.headers.get("if-none-match") == '"v1"' else Reply(200, b"x"))
    with Fetcher(FAST) as f:
        res = f.fetch(url, headers={"If-None-Match": '"v1"'})
    assert res.not_modified and res.content == b""


def test_404_is_a_fetch_error_naming_the_status(server: LocalServer) -> None:
    with Fetcher(FAST) as f, pytest.raises(FetchError) as ei:
        f.fetch(server.url("/missing"))
    assert "404" in ei.value.reason and not isinstance(ei.value, FetchRefused)


def test_retry_after_is_kept_on_the_error(server: LocalServer) -> None:
    url = server.route("/busy", Reply(503, b"busy", {"Retry-After": "120"}))
    with Fetcher(FAST) as f, pytest.raises(FetchError) as ei:
        f.fetch(url)
    assert "503" in ei.value.reason and ei.value.retry_after == "120"


def test_redirect_without_location_is_an_error(server: LocalServer) -> None:
    url = server.route("/odd", Reply(302, b"<html>moved, somewhere</html>"))
    with Fetcher(FAST) as f, pytest.raises(FetchError) as ei:
        f.fetch(url)
    assert "302" in ei.value.reason


def test_slow_server_times_out(server: LocalServer) -> None:
    url = server.route("/slow", Reply(200, b"late", delay=3.0))
    t0 = time.monotonic()
    with Fetcher(FAST.with_overrides(fetch_timeout=0.25)) as f, pytest.raises(FetchError) as ei:
        f.fetch(url)
    assert "timed out" in ei.value.reason
    assert time.monotonic() - t0 < 2.0


def test_trickling_server_hits_the_total_deadline(server: LocalServer) -> None:
    # each chunk arrives well within the per-read timeout, but the whole download never ends
    url = server.route("/trickle", Reply(200, chunks=200, chunk=b"y" * 10, interval=0.05))
    s = Settings(fetch_timeout=0.5, fetch_total_timeout=0.3, max_fetch_bytes=100_000, allow_private=True)
    t0 = time.monotonic()
    with Fetcher(s) as f, pytest.raises(FetchError) as ei:
        f.fetch(url)
    assert "timed out" in ei.value.reason and "longer than 0.3 s" in ei.value.reason
    assert time.monotonic() - t0 < 2.0


def test_trickling_headers_hit_the_total_deadline(server: LocalServer) -> None:
    # a byte of header every 0.1 s never trips the 0.5 s read timeout; only the overall deadline ends it
    url = server.route("/slowloris", Reply(200, trickle_headers=100, interval=0.1))
    s = Settings(fetch_timeout=0.5, fetch_total_timeout=0.4, max_fetch_bytes=100_000, allow_private=True)
    t0 = time.monotonic()
    with Fetcher(s) as f, pytest.raises(FetchError) as ei:
        f.fetch(url)
    assert "timed out" in ei.value.reason
    assert time.monotonic() - t0 < 1.5
    assert server.bytes_streamed < 30


# -- size caps ------------------------------------------------------------------------------------------


def test_declared_length_over_the_cap_is_refused_without_reading(server: LocalServer) -> None:
    # 50 MB announced, sent slowly: reading it would take ~30 s
    url = server.route("/big", Reply(200, chunks=3200, chunk=b"z" * 16384, interval=0.01, declare_length=3200 * 16384))
    t0 = time.monotonic()
    with Fetcher(FAST) as f, pytest.raises(FetchError) as ei:
        f.fetch(url)
    assert "cap" in ei.value.reason and "100,000" in ei.value.reason
    assert time.monotonic() - t0 < 1.5


@pytest.mark.parametrize("close_delimited", [False, True], ids=["chunked", "until-close"])
def test_unannounced_stream_over_the_cap_stops_at_the_cap(server: LocalServer, close_delimited: bool) -> None:
    # no length: 50 MB in 16 KiB chunks every 10 ms; the cap is reached after ~7 chunks
    url = server.route("/stream", Reply(200, chunks=3200, chunk=b"z" * 16384, interval=0.01,
                                        close_delimited=close_delimited))
    t0 = time.monotonic()
    with Fetcher(FAST) as f, pytest.raises(FetchError) as ei:
        f.fetch(url)
    assert "cap" in ei.value.reason and "100,000" in ei.value.reason
    assert time.monotonic() - t0 < 1.5
    assert server.bytes_streamed < 3200 * 16384


@pytest.mark.parametrize("close_delimited", [False, True], ids=["chunked", "until-close"])
def test_unannounced_stream_under_the_cap_is_read_whole(server: LocalServer, close_delimited: bool) -> None:
    url = server.route("/small", Reply(200, chunks=5, chunk=b"abc" * 1000, close_delimited=close_delimited))
    with Fetcher(FAST) as f:
        assert f.fetch(url).content == b"abc" * 5000


def test_body_exactly_at_the_cap_is_accepted(server: LocalServer) -> None:
    url = server.route("/exact", Reply(200, b"q" * 100_000))
    with Fetcher(FAST) as f:
        assert len(f.fetch(url).content) == 100_000


def test_compression_bomb_is_capped_on_decoded_bytes_without_inflating_it(server: LocalServer) -> None:
    bomb = gzip.compress(b"\0" * 20_000_000, 9)  # ~20 KB on the wire, 20 MB decoded
    assert len(bomb) < 100_000
    url = server.route("/bomb", Reply(200, bomb, {"Content-Encoding": "gzip", "Content-Type": "text/html"}))
    tracemalloc.start()
    try:
        with Fetcher(FAST) as f, pytest.raises(FetchError) as ei:
            f.fetch(url)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "cap" in ei.value.reason
    assert peak < 10_000_000, f"inflated {peak:,} bytes to enforce a cap of 100,000"


def test_gzip_response_is_decoded(server: LocalServer) -> None:
    url = server.route("/gz", Reply(200, gzip.compress(b"<p>squeezed</p>" * 50), {"Content-Encoding": "gzip"}))
    with Fetcher(FAST) as f:
        res = f.fetch(url)
    assert res.content == b"<p>squeezed</p>" * 50
    assert "gzip" in server.hits("/gz")[0].headers["accept-encoding"]


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw-deflate"])
def test_deflate_response_is_decoded_whether_zlib_wrapped_or_raw(server: LocalServer, wbits: int) -> None:
    c = zlib.compressobj(6, zlib.DEFLATED, wbits)
    url = server.route("/d", Reply(200, c.compress(b"deflated text " * 100) + c.flush(), {"Content-Encoding": "deflate"}))
    with Fetcher(FAST) as f:
        assert f.fetch(url).content == b"deflated text " * 100


def test_corrupt_or_unknown_encoding_is_a_fetch_error(server: LocalServer) -> None:
    bad = server.route("/bad", Reply(200, b"\x1f\x8b\x08\x00garbage-not-gzip", {"Content-Encoding": "gzip"}))
    odd = server.route("/odd", Reply(200, b"whatever", {"Content-Encoding": "x-squash"}))
    with Fetcher(FAST) as f:
        with pytest.raises(FetchError, match="decode"):
            f.fetch(bad)
        with pytest.raises(FetchError, match="encoding"):
            f.fetch(odd)


# -- redirects ------------------------------------------------------------------------------------------


def test_redirects_are_followed_and_recorded(server: LocalServer) -> None:
    server.route("/old", Reply(301, headers={"Location": "/mid"}))
    server.route("/mid", Reply(302, headers={"Location": server.url("/new")}))
    server.route("/new", Reply(200, b"arrived"))
    with Fetcher(FAST) as f:
        res = f.fetch(server.url("/old"))
    assert res.content == b"arrived" and res.final_url == server.url("/new")
    assert res.redirects == [server.url("/mid"), server.url("/new")]


def test_too_many_redirects(server: LocalServer) -> None:
    url = server.route("/loop", Reply(302, headers={"Location": "/loop"}))
    s = Settings(fetch_timeout=0.5, max_redirects=3, allow_private=True)
    with Fetcher(s) as f, pytest.raises(FetchError) as ei:
        f.fetch(url)
    assert "redirects" in ei.value.reason
    assert len(server.hits("/loop")) == 4  # the first request and three redirects: bounded


def test_redirect_to_loopback_is_refused_before_connecting(http_server) -> None:  # type: ignore[no-untyped-def]
    origin, target = http_server("127.0.0.2"), http_server("127.0.0.1")
    target.route("/secret", Reply(200, b"internal"))
    url = origin.route("/go", Reply(302, headers={"Location": target.url("/secret")}))
    with Fetcher(GUARDED, address_allowed=lambda ip: str(ip) == "127.0.0.2") as f, pytest.raises(FetchRefused):
        f.fetch(url)
    assert len(origin.hits("/go")) == 1
    assert target.hits() == []


def test_redirect_to_a_non_http_scheme_is_refused(server: LocalServer) -> None:
    url = server.route("/f", Reply(302, headers={"Location": "file:///etc/passwd"}))
    with Fetcher(FAST) as f, pytest.raises(FetchRefused):
        f.fetch(url)


# -- refusals before any traffic --------------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://[::1]/", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/",
    "http://192.168.1.1/", "http://100.64.0.1/", "http://0.0.0.0/", "http://[::ffff:127.0.0.1]/",
    "http://[fe80::1]/", "https://127.0.0.1:8443/",
])
def test_private_addresses_are_refused_before_any_request(url: str) -> None:
    f, sent = no_traffic_fetcher()
    with f, pytest.raises(FetchRefused) as ei:
        f.fetch(url)
    assert "refused" in ei.value.reason
    assert sent == []


def test_hostname_resolving_to_loopback_is_refused() -> None:
    asked: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return ["93.184.216.34", "127.0.0.1"]  # one bad address is enough to refuse

    f, sent = no_traffic_fetcher(resolve=resolve)
    with f, pytest.raises(FetchRefused):
        f.fetch("http://news.example.com:8080/a")
    assert asked == [("news.example.com", 8080)] and sent == []


def test_localhost_is_refused_and_the_server_never_hears_of_it(server: LocalServer) -> None:
    server.route("/", Reply(200, b"internal"))
    with Fetcher(GUARDED) as f:
        for url in (server.url("/"), f"http://localhost:{server.port}/"):
            with pytest.raises(FetchRefused):
                f.fetch(url)
    assert server.hits() == []


def test_dns_answer_changing_before_connect_is_refused_before_the_request(server: LocalServer) -> None:
    """Our look-up says 127.0.0.2 (allowed), the connection lands on 127.0.0.1: nothing may be sent."""
    server.route("/", Reply(200, b"internal"))
    with Fetcher(GUARDED, address_allowed=lambda ip: str(ip) == "127.0.0.2",
                 resolve=lambda host, port: ["127.0.0.2"]) as f:
        with pytest.raises(FetchRefused):
            f.fetch(f"http://localhost:{server.port}/")
    time.sleep(0.1)
    assert server.hits() == []


def test_public_address_goes_through_the_guard() -> None:
    f, sent = no_traffic_fetcher(resolve=lambda host, port: ["93.184.216.34"])
    with f:
        res = f.fetch("http://news.example.com/a")
    assert res.status == 200 and len(sent) == 1


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "gopher://example.com/", "/relative/path",
                                 "http:///nohost", "not a url"])
def test_non_http_urls_are_refused(url: str) -> None:
    f, sent = no_traffic_fetcher(FAST)  # even with private addresses allowed
    with f, pytest.raises(FetchRefused):
        f.fetch(url)
    assert sent == []


def test_unresolvable_host_is_a_fetch_error() -> None:
    def resolve(host: str, port: int) -> list[str]:
        raise FetchError(host, "cannot resolve host: no such name")

    f, sent = no_traffic_fetcher(resolve=resolve)
    with f, pytest.raises(FetchError) as ei:
        f.fetch("http://nowhere.invalid/")
    assert "resolve" in ei.value.reason and ei.value.location == "http://nowhere.invalid/" and sent == []


@pytest.mark.parametrize("addr,public", [
    ("93.184.216.34", True), ("2606:2800:220:1:248:1893:25c8:1946", True),
    ("127.0.0.1", False), ("::1", False), ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.0.1", False),
    ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("224.0.0.1", False),
    ("255.255.255.255", False), ("fe80::1", False), ("fc00::1", False), ("ff02::1", False),
    ("::ffff:127.0.0.1", False), ("::ffff:10.0.0.1", False), ("::ffff:169.254.169.254", False),
    ("::ffff:93.184.216.34", True), ("::127.0.0.1", False), ("64:ff9b::7f00:1", False), ("2002:7f00:1::", False),
])
def test_is_public_address(addr: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(addr)) is public


def test_the_feed_marks_stories_changed_since_the_last_visit(tmp_path: Path) -> None:
    """Two cookies remember the reader's visits (no account): a story changed after the previous visit is marked,
    a reload within the same visit keeps the marks, and bad cookie values are ignored."""
    from fastapi.testclient import TestClient

    from storyloom.pipeline import ingest
    from storyloom.serve import create_app
    from storyloom.settings import Settings
    from storyloom.store import Store

    db = tmp_path / "v.db"
    settings = Settings(db_path=str(db), line_classifier=False, translations=False)
    with Store(db) as store:
        ingest([str(SAMPLE / "seeds")], store, settings)
    client = TestClient(create_app(settings))
    first = client.get("/")
    assert "new since your last visit" not in first.text  # a first visit: nothing to compare with
    assert "storyloom_visit" in first.cookies
    client.cookies.clear()
    client.cookies.set("storyloom_visit", "2000-01-01T00:00:00+00:00")  # the last visit was long ago
    again = client.get("/")
    assert "new since your last visit" in again.text
    assert "new since your last visit" in client.get("/").text  # a reload is the same visit
    client.cookies.clear()
    client.cookies.set("storyloom_prev_visit", "<script>")
    client.cookies.set("storyloom_visit", "not a time")
    assert client.get("/").status_code == 200
