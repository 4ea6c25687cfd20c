"""Guarded HTTP fetching for URLs and feeds.

Fetching a URL a user (or a feed) handed us is a classic server-side request forgery hole: a link to
http://169.254.169.254/ or a redirect to http://127.0.0.1:8000/ must not be followed.  So every hop is
checked: the scheme, every address the host resolves to, and the address actually connected to (which also
catches DNS answers that change between our look-up and the connection).  Redirects are followed by hand
for that reason, at most ``max_redirects``.  Bodies are streamed with a byte cap and an overall deadline,
so a 50 MB or endlessly trickling response costs nothing but the cap.
"""

from __future__ import annotations

import ipaddress
import socket
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import httpcore
import httpx

from storyloom.errors import FetchError, FetchRefused
from storyloom.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # well-known NAT64 prefix: the low 32 bits are an IPv4 target
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # local-use NAT64 (RFC 8215): reaches the local network
_IPV4_COMPAT = ipaddress.ip_network("::/96")  # deprecated IPv4-compatible addresses (::a.b.c.d), and :: and ::1


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address leads to (IPv4-mapped, 6to4, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public_address(ip: IPAddress) -> bool:
    """True only for globally routable unicast addresses (not loopback, private, link-local, CGNAT…).

    An IPv6 address that carries an IPv4 one (``::ffff:127.0.0.1``, 6to4 ``2002:7f00:1::``, NAT64
    ``64:ff9b::a00:1``) is judged by the IPv4 address it leads to.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _IPV4_COMPAT or ip in _NAT64_LOCAL:
            return False
        v4 = _embedded_ipv4(ip)
        if v4 is not None:
            return v4.is_global and not v4.is_multicast
    return ip.is_global and not ip.is_multicast


def system_resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(host, f"cannot resolve host: {exc}") from exc
    return sorted({str(info[4][0]) for info in infos})


@dataclass
class FetchResult:
    url: str  # as asked
    final_url: str  # after redirects
    status: int
    headers: dict[str, str]
    content: bytes = b""
    redirects: list[str] = field(default_factory=list)

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


class _PeerRefused(Exception):
    """Raised inside the connection pool when a socket connects to a refused address (nothing sent yet)."""

    def __init__(self, ip: IPAddress) -> None:
        super().__init__(str(ip))
        self.ip = ip


class _GuardedBackend(httpcore.SyncBackend):
    """Connections that check the address they reached, and that keep the fetch's overall deadline.

    The address is checked before a single byte goes out on a new connection.  This closes the gap between
    our DNS look-up (``check_url``) and the connection's own: an answer that changes in between (DNS
    rebinding) ends in a refusal, not in a request to an internal service.  Every read and write is cut
    short at ``deadline`` (set by the fetcher for each request), so a server trickling its headers a byte
    at a time cannot hold a fetch for longer than ``fetch_total_timeout`` either.
    """

    def __init__(self, allowed: Callable[[IPAddress], bool]) -> None:
        self.allowed = allowed
        self.deadline: float | None = None

    def clip(self, timeout: float | None) -> float | None:
        if self.deadline is None:
            return timeout
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise httpcore.ReadTimeout("overall deadline passed")
        return left if timeout is None else min(timeout, left)

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        stream = super().connect_tcp(host, port, timeout=self.clip(timeout), local_address=local_address,
                                     socket_options=socket_options)
        try:
            peer = stream.get_extra_info("server_addr")
            ip = ipaddress.ip_address(str(peer[0]).split("%")[0])
        except Exception:  # pragma: no cover - a socket always has a peer once connected
            stream.close()
            raise
        if not self.allowed(ip):
            stream.close()
            raise _PeerRefused(ip)
        return _DeadlineStream(stream, self)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream, backend: _GuardedBackend) -> None:
        self.stream, self.backend = stream, backend

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.stream.read(max_bytes, self.backend.clip(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.stream.write(buffer, self.backend.clip(timeout))

    def close(self) -> None:
        self.stream.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        tls = self.stream.start_tls(ssl_context, server_hostname, self.backend.clip(timeout))
        return _DeadlineStream(tls, self.backend)

    def get_extra_info(self, info: str) -> Any:
        return self.stream.get_extra_info(info)


class _BodyDecoder:
    """Content-Encoding decoding (identity, gzip, deflate) that never inflates past the byte cap.

    httpx's own decoders inflate a whole network read at once: 64 KB of a gzip bomb is 64 MB in memory
    before any cap can look at it.  Here zlib is asked for at most the bytes still allowed, plus one.
    """

    def __init__(self, content_encoding: str) -> None:
        codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip() and c.strip().lower() != "identity"]
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise ValueError(f"unsupported content encoding {content_encoding!r}")
        self.coding = codings[0] if codings else None
        self.zlib: Any = None
        if self.coding in ("gzip", "x-gzip"):
            self.zlib = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif self.coding == "deflate":
            self.zlib = zlib.decompressobj()  # RFC 9110: a zlib stream; raw deflate is tried if that fails
        self.started = False

    def decode(self, data: bytes, limit: int) -> bytes:
        """The decoded bytes of ``data``: more than ``limit`` of them means the body is over the cap."""
        if self.zlib is None or not data:
            return data
        try:
            out = self.zlib.decompress(data, limit + 1)
        except zlib.error:
            if self.coding != "deflate" or self.started:
                raise
            self.zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self.zlib.decompress(data, limit + 1)
        self.started = True
        return out

    def flush(self) -> bytes:
        return self.zlib.flush() if self.zlib is not None else b""


class Fetcher:
    """A small, careful HTTP client.  One per thread; closes its connection pool on ``close()``."""

    def __init__(
        self,
        settings: Settings,
        *,
        address_allowed: Callable[[IPAddress], bool] | None = None,
        resolve: Resolver = system_resolve,
    ) -> None:
        self.settings = settings
        if address_allowed is None:
            address_allowed = (lambda ip: True) if settings.allow_private else is_public_address
        self.address_allowed = address_allowed
        self.resolve = resolve
        transport = httpx.HTTPTransport(trust_env=False)
        self._backend: _GuardedBackend | None = None
        pool = getattr(transport, "_pool", None)
        if pool is not None and hasattr(pool, "_network_backend"):
            # httpx has no public hook for this; without it _check_peer still refuses (only later), and the
            # overall deadline is checked between body chunks only
            self._backend = _GuardedBackend(lambda ip: self.address_allowed(ip))
            pool._network_backend = self._backend
        self.client = httpx.Client(
            transport=transport,
            follow_redirects=False,
            timeout=httpx.Timeout(settings.fetch_timeout),
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
            trust_env=False,  # no proxy from the environment: the address checks must see the real target
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def check_url(self, url: str) -> None:
        """Refuse a URL before any byte is sent: bad scheme, no host, or a host resolving to a refused address."""
        try:
            u = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise FetchRefused(url, f"not a valid URL: {exc}") from exc
        if u.scheme not in ("http", "https"):
            raise FetchRefused(url, f"scheme {u.scheme!r} refused (only http and https)")
        host = u.host
        if not host:
            raise FetchRefused(url, "URL has no host")
        port = u.port or (443 if u.scheme == "https" else 80)
        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            try:
                addresses = self.resolve(host, port)
            except FetchError as exc:
                raise FetchError(url, exc.reason) from exc
        if not addresses:
            raise FetchError(url, "host resolves to no address")
        for a in addresses:
            if not self.address_allowed(ipaddress.ip_address(a.split("%")[0])):
                raise FetchRefused(url, f"refused: {host} resolves to non-public address {a} (use --allow-private to allow)")

    def _check_peer(self, url: str, response: httpx.Response) -> None:
        stream = response.extensions.get("network_stream")
        if stream is None:
            return
        try:
            peer = stream.get_extra_info("server_addr")
        except Exception:  # transport without that info (tests' mock transports)
            return
        if peer:
            ip = ipaddress.ip_address(str(peer[0]).split("%")[0])
            if not self.address_allowed(ip):
                raise FetchRefused(url, f"refused: connected to non-public address {ip}")

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> FetchResult:
        """GET a URL with every guard on; returns 2xx and 304 responses, raises FetchError otherwise."""
        deadline = time.monotonic() + self.settings.fetch_total_timeout
        if self._backend is not None:
            self._backend.deadline = deadline
        try:
            return self._fetch(url, headers, deadline)
        finally:
            if self._backend is not None:
                self._backend.deadline = None

    def _fetch(self, url: str, headers: dict[str, str] | None, deadline: float) -> FetchResult:
        s = self.settings
        current = url
        redirects: list[str] = []
        for _hop in range(s.max_redirects + 1):
            self.check_url(current)
            try:
                with self.client.stream("GET", current, headers=headers) as r:
                    self._check_peer(current, r)
                    if r.is_redirect and r.headers.get("location", "").strip():
                        nxt = urljoin(current, r.headers["location"].strip())
                        redirects.append(nxt)
                        current = nxt
                        continue
                    if r.status_code == 304:
                        return FetchResult(url, current, 304, dict(r.headers), b"", redirects)
                    if not 200 <= r.status_code < 300:  # errors, and 3xx that lead nowhere
                        raise FetchError(
                            url, f"HTTP {r.status_code} {r.reason_phrase}".rstrip(), r.headers.get("retry-after")
                        )
                    declared = r.headers.get("content-length", "").strip()
                    if declared.isdigit() and int(declared) > s.max_fetch_bytes:
                        raise FetchError(url, f"response of {int(declared):,} bytes exceeds the cap of {s.max_fetch_bytes:,}")
                    content = self._read_body(url, r, deadline)
                    return FetchResult(url, current, r.status_code, dict(r.headers), content, redirects)
            except _PeerRefused as exc:
                raise FetchRefused(url, f"refused: {current} connected to non-public address {exc.ip}") from None
            except httpx.TimeoutException as exc:
                if time.monotonic() >= deadline:
                    raise FetchError(url, f"timed out: took longer than {s.fetch_total_timeout:g} s") from exc
                raise FetchError(url, f"timed out ({type(exc).__name__})") from exc
            except httpx.TooManyRedirects as exc:  # pragma: no cover - we follow by hand
                raise FetchError(url, "too many redirects") from exc
            except httpx.HTTPError as exc:
                raise FetchError(url, f"request failed: {type(exc).__name__}: {exc}") from exc
        raise FetchError(url, f"more than {s.max_redirects} redirects")

    def _read_body(self, url: str, r: httpx.Response, deadline: float) -> bytes:
        """The body, decoded, within the byte cap (on the wire and decoded) and the overall deadline."""
        cap = self.settings.max_fetch_bytes
        if r.is_stream_consumed:  # a response built in memory (mock transports): nothing left to stream
            if len(r.content) > cap:
                raise FetchError(url, f"response exceeds the cap of {cap:,} bytes")
            return r.content
        try:
            decoder = _BodyDecoder(r.headers.get("content-encoding", ""))
        except ValueError as exc:
            raise FetchError(url, str(exc)) from None
        chunks: list[bytes] = []
        raw_size = size = 0
        try:
            for raw in r.iter_raw():
                raw_size += len(raw)
                chunk = decoder.decode(raw, cap - size)
                size += len(chunk)
                if size > cap or raw_size > cap:
                    raise FetchError(url, f"response exceeds the cap of {cap:,} bytes")
                if time.monotonic() > deadline:
                    raise FetchError(url, f"timed out: took longer than {self.settings.fetch_total_timeout:g} s")
                chunks.append(chunk)
            tail = decoder.flush()
        except zlib.error as exc:
            raise FetchError(url, f"cannot decode {decoder.coding} body: {exc}") from None
        if size + len(tail) > cap:
            raise FetchError(url, f"response exceeds the cap of {cap:,} bytes")
        chunks.append(tail)
        return b"".join(chunks)
