"""Polling a feed list politely: conditional GET, a per-host rate limit, and backoff on errors.

State (ETag, Last-Modified, failures, when each feed is next due) lives in the store, so a restarted
watcher neither hammers feeds it just polled nor forgets one that was failing.  Pages already in the store
are not fetched again.
"""

from __future__ import annotations

import email.utils
import itertools
import math
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from storyloom.errors import BadInput
from storyloom.ingest.feeds import FeedRef, UnreadableFeed, iter_feed
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
    """The fetcher the feed parser uses for linked pages, throttled per host like the feeds themselves.
    Links fetched successfully are added to ``fetched``."""

    def __init__(self, fetcher: Fetcher, throttle: HostThrottle, fetched: set[str] | None = None) -> None:
        self.fetcher, self.throttle = fetcher, throttle
        self.fetched = fetched if fetched is not None else set()

    def fetch(self, url: str, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        self.throttle.wait(url)
        res = self.fetcher.fetch(url, headers)
        self.fetched.add(url)
        return res


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """A Retry-After header (delta-seconds or an HTTP date) as seconds from now; None when absent or unreadable."""
    if not value or not value.strip():
        return None
    v = value.strip()
    if v.isdigit():
        return float(v)
    try:
        when = email.utils.parsedate_to_datetime(v)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:  # RFC 9110 dates are GMT; a zone-less one is not trusted
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff_delay(failures: int, settings: Settings, retry_after: str | None = None, now: float | None = None) -> float:
    """Seconds to wait after the ``failures``-th failure in a row: doubling from ``backoff_base`` up to
    ``backoff_max``, and never less than the server's Retry-After (itself capped at ``backoff_max``)."""
    exponent = min(max(failures - 1, 0), 64)  # 2**64 × any base is past any cap; never an OverflowError
    delay = min(settings.backoff_base * 2.0**exponent, settings.backoff_max)
    wait = retry_after_seconds(retry_after, now)
    if wait is not None:
        delay = max(delay, min(wait, settings.backoff_max))
    return delay


_fetched_links: weakref.WeakKeyDictionary[Store, set[str]] = weakref.WeakKeyDictionary()  # see poll_round


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
    # Pages this process fetched already: one stored under its final URL after a redirect is not found by
    # ``Store.has_url(link)``, and would otherwise be fetched again every round.
    fetched = _fetched_links.setdefault(store, set())
    pages = _ThrottledFetcher(fetcher, throttle, fetched)

    def known_url(url: str) -> bool:
        return url in fetched or store.has_url(url)

    def failed(ref: FeedRef, state: Any, exc: BadInput, retry_after: str | None = None) -> None:
        failures = (state["failures"] if state is not None else 0) + 1
        t = now()
        store.save_feed_state(
            ref.url, title=ref.title, last_checked=t, failures=failures,
            next_due=t + backoff_delay(failures, settings, retry_after, t), last_error=exc.reason,
        )
        rep.failed += 1
        emit("error", exc)

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
            failed(ref, state, exc, getattr(exc, "retry_after", None))
            continue
        fields = dict(title=ref.title, last_checked=now(), last_status=res.status, failures=0,
                      next_due=now() + every, last_error=None)
        if res.not_modified:
            rep.not_modified += 1
            # a 304 may carry fresher validators (RFC 9110 15.4.5); keep the old ones otherwise
            fresh = {k: res.headers[h] for k, h in (("etag", "etag"), ("last_modified", "last-modified")) if res.headers.get(h)}
            store.save_feed_state(ref.url, **fields, **fresh)
            continue
        items = iter_feed(res.content, ref.url, settings, pages if settings.fetch_links else None, known_url)
        first = next(items, None)
        if isinstance(first, UnreadableFeed):
            # not a feed at all (an HTML error page served with 200, broken XML): a failure like any other,
            # backed off, its validators not kept
            failed(ref, state, first)
            continue
        if not (isinstance(first, BadInput) and first.location == ref.url):  # else: a valid feed, empty now
            ingest_items(itertools.chain([first] if first is not None else [], items), store, settings, on_event, rep.ingest)
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
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"duration must be a positive number of seconds: {text!r}")
    return value
