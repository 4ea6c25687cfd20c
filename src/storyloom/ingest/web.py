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
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin

import httpx

from storyloom.errors import FetchError, FetchRefused
from storyloom.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


def is_public_address(ip: IPAddress) -> bool:
    """True only for globally routable unicast addresses (not loopback, private, link-local, CGNAT…)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
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
        self.client = httpx.Client(
            follow_redirects=False,
            timeout=httpx.Timeout(settings.fetch_timeout),
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
            trust_env=False,  # no proxy from the environment: the address checks must see the real target
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> "Fetcher":
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
        s = self.settings
        current = url
        redirects: list[str] = []
        deadline = time.monotonic() + s.fetch_total_timeout
        for _hop in range(s.max_redirects + 1):
            self.check_url(current)
            try:
                with self.client.stream("GET", current, headers=headers) as r:
                    self._check_peer(current, r)
                    if r.is_redirect and "location" in r.headers:
                        nxt = urljoin(current, r.headers["location"])
                        redirects.append(nxt)
                        current = nxt
                        continue
                    if r.status_code == 304:
                        return FetchResult(url, current, 304, dict(r.headers), b"", redirects)
                    if r.status_code >= 400:
                        raise FetchError(
                            url, f"HTTP {r.status_code} {r.reason_phrase}".rstrip(), r.headers.get("retry-after")
                        )
                    declared = r.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > s.max_fetch_bytes:
                        raise FetchError(url, f"response of {int(declared):,} bytes exceeds the cap of {s.max_fetch_bytes:,}")
                    chunks, size = [], 0
                    for chunk in r.iter_bytes():
                        size += len(chunk)
                        if size > s.max_fetch_bytes:
                            raise FetchError(url, f"response exceeds the cap of {s.max_fetch_bytes:,} bytes")
                        if time.monotonic() > deadline:
                            raise FetchError(url, f"download took longer than {s.fetch_total_timeout:g} s")
                        chunks.append(chunk)
                    return FetchResult(url, current, r.status_code, dict(r.headers), b"".join(chunks), redirects)
            except httpx.TimeoutException as exc:
                raise FetchError(url, f"timed out ({type(exc).__name__})") from exc
            except httpx.TooManyRedirects as exc:  # pragma: no cover - we follow by hand
                raise FetchError(url, "too many redirects") from exc
            except httpx.HTTPError as exc:
                raise FetchError(url, f"request failed: {type(exc).__name__}: {exc}") from exc
        raise FetchError(url, f"more than {s.max_redirects} redirects")
