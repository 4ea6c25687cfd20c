"""Polling a feed list politely: conditional GET, a per-host rate limit, and backoff on errors.

State (ETag, Last-Modified, failures, when each feed is next due) lives in the store, so a restarted
watcher neither hammers feeds it just polled nor forgets one that was failing.  Pages already in the store
are not fetched again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from storyloom.errors import BadInput
from storyloom.ingest.feeds import FeedRef, iter_feed
from storyloom.ingest.web import Fetcher
from storyloom.pipeline import Event, IngestReport, ingest_items
from storyloom.settings import Settings
from storyloom.store import Store


@dataclass
class RoundReport:
    polled: int = 0
    not_modified: int = 0
    failed: int = 0
    not_due: int = 0
    ingest: IngestReport = field(default_factory=IngestReport)


class HostThrottle:
    """At most one request per host every ``delay`` seconds."""

    def __init__(self, delay: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.delay, self.clock, self.sleep = delay, clock, sleep
        self.last: dict[str, float] = {}

    def wait(self, url: str) -> None:
        host = urlsplit(url).hostname or ""
        prev = self.last.get(host)
        if prev is not None:
            gap = prev + self.delay - self.clock()
            if gap > 0:
                self.sleep(gap)
        self.last[host] = self.clock()


class _ThrottledFetcher:
    """The fetcher the feed parser uses for linked pages, throttled per host like the feeds themselves."""

    def __init__(self, fetcher: Fetcher, throttle: HostThrottle) -> None:
        self.fetcher, self.throttle = fetcher, throttle

    def fetch(self, url: str, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        self.throttle.wait(url)
        return self.fetcher.fetch(url, headers)


def backoff_delay(failures: int, settings: Settings, retry_after: str | None = None) -> float:
    delay = min(settings.backoff_base * 2 ** max(failures - 1, 0), settings.backoff_max)
    if retry_after and retry_after.strip().isdigit():
        delay = max(delay, min(float(retry_after), settings.backoff_max))
    return delay


def poll_round(
    feeds: list[FeedRef],
    store: Store,
    settings: Settings,
    fetcher: Fetcher,
    throttle: HostThrottle,
    every: float,
    now: Callable[[], float] = time.time,
    on_event: Event | None = None,
) -> RoundReport:
    """Poll every feed that is due once; ingest what is new."""
    rep = RoundReport()
    emit = on_event or (lambda kind, payload: None)
    pages = _ThrottledFetcher(fetcher, throttle)

    def known_url(url: str) -> bool:
        return store.has_url(url)

    for ref in feeds:
        state = store.feed_state(ref.url)
        if state is not None and state["next_due"] > now():
            rep.not_due += 1
            continue
        headers = {}
        if state is not None and state["etag"]:
            headers["If-None-Match"] = state["etag"]
        if state is not None and state["last_modified"]:
            headers["If-Modified-Since"] = state["last_modified"]
        throttle.wait(ref.url)
        rep.polled += 1
        try:
            res = fetcher.fetch(ref.url, headers=headers)
        except BadInput as exc:
            failures = (state["failures"] if state is not None else 0) + 1
            retry_after = getattr(exc, "retry_after", None)
            store.save_feed_state(
                ref.url, title=ref.title, last_checked=now(), failures=failures,
                next_due=now() + backoff_delay(failures, settings, retry_after), last_error=exc.reason,
            )
            rep.failed += 1
            emit("error", exc)
            continue
        fields = dict(title=ref.title, last_checked=now(), last_status=res.status, failures=0,
                      next_due=now() + every, last_error=None)
        if res.not_modified:
            rep.not_modified += 1
            store.save_feed_state(ref.url, **fields)
            continue
        items = iter_feed(res.content, ref.url, settings, pages if settings.fetch_links else None, known_url)
        ingest_items(items, store, settings, on_event, rep.ingest)
        # Validators are saved only after the entries are stored: a crash before this re-polls in full.
        store.save_feed_state(ref.url, etag=res.headers.get("etag"), last_modified=res.headers.get("last-modified"), **fields)
    return rep


def parse_duration(text: str) -> float:
    """'90', '30s', '10m', '2h', '1d' → seconds."""
    t = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if t and t[-1] in units:
            value = float(t[:-1]) * units[t[-1]]
        else:
            value = float(t)
    except ValueError as exc:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 10m, 2h)") from exc
    if value <= 0:
        raise ValueError(f"duration must be positive: {text!r}")
    return value
