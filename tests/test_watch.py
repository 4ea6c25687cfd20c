"""Polling feeds: conditional GET, not-due feeds, backoff and Retry-After, the per-host throttle, the CLI."""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from httpserver import LOREM, LocalServer, Reply, Request, article_html, http_server, opml, rss, server  # noqa: F401
from storyloom.ingest.feeds import FeedRef
from storyloom.ingest.web import Fetcher
from storyloom.settings import Settings
from storyloom.store import Store
from storyloom.watch import HostThrottle, backoff_delay, parse_duration, poll_round, retry_after_seconds

S = Settings(fetch_timeout=0.5, fetch_total_timeout=3.0, max_fetch_bytes=100_000, allow_private=True,
             per_host_delay=0.0, backoff_base=10.0, backoff_max=1000.0)
EVERY = 600.0
FULL = "<p>" + LOREM * 4 + "</p>"
ETAG = '"feed-v1"'
LAST_MODIFIED = "Tue, 03 Jun 2025 09:00:00 GMT"


class Clock:
    """A fake wall clock for ``now=``, and a fake monotonic clock + sleep for HostThrottle."""

    def __init__(self, t: float = 1_750_000_000.0) -> None:
        self.t = t
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.t += seconds


def conditional(body: bytes) -> Callable[[Request], Reply]:
    """A feed route honouring If-None-Match / If-Modified-Since."""

    def route(req: Request) -> Reply:
        if req.headers.get("if-none-match") == ETAG or req.headers.get("if-modified-since") == LAST_MODIFIED:
            return Reply(304, headers={"ETag": ETAG})
        return Reply(200, body, {"ETag": ETAG, "Last-Modified": LAST_MODIFIED, "Content-Type": "application/rss+xml"})

    return route


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    with Store(tmp_path / "s.db") as s:
        yield s


@pytest.fixture
def fetcher():  # type: ignore[no-untyped-def]
    with Fetcher(S) as f:
        yield f


def entries(*names: str) -> bytes:
    return rss([{"title": n, "link": f"http://example.org/{n}", "guid": n, "content": FULL.replace("harbour", n)}
                for n in names])


def test_conditional_get_first_200_then_304(server: LocalServer, store: Store, fetcher: Fetcher) -> None:
    url = server.route("/feed", conditional(entries("one", "two")))
    clock = Clock()
    feeds = [FeedRef(url, "Harbour")]
    r1 = poll_round(feeds, store, S, fetcher, HostThrottle(0), EVERY, now=clock)
    assert (r1.polled, r1.failed, r1.not_modified) == (1, 0, 0)
    assert r1.ingest.counts["added"] == 2, r1.ingest.errors
    state = store.feed_state(url)
    assert state["etag"] == ETAG and state["last_modified"] == LAST_MODIFIED
    assert state["next_due"] == clock.t + EVERY and state["last_status"] == 200 and state["failures"] == 0
    assert "if-none-match" not in server.hits("/feed")[0].headers

    clock.t += EVERY + 1
    r2 = poll_round(feeds, store, S, fetcher, HostThrottle(0), EVERY, now=clock)
    assert (r2.polled, r2.not_modified, r2.ingest.stored) == (1, 1, 0)
    second = server.hits("/feed")[1]
    assert second.headers["if-none-match"] == ETAG and second.headers["if-modified-since"] == LAST_MODIFIED
    state = store.feed_state(url)
    assert state["etag"] == ETAG and state["last_status"] == 304 and state["next_due"] == clock.t + EVERY
    assert store.conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 2


def test_changed_feed_adds_only_the_new_entries(server: LocalServer, store: Store, fetcher: Fetcher) -> None:
    url = server.route("/feed", Reply(200, entries("one")))
    clock = Clock()
    poll_round([FeedRef(url)], store, S, fetcher, HostThrottle(0), EVERY, now=clock)
    server.route("/feed", Reply(200, entries("two", "one")))
    clock.t += EVERY
    rep = poll_round([FeedRef(url)], store, S, fetcher, HostThrottle(0), EVERY, now=clock)
    assert rep.ingest.counts["added"] == 1 and rep.ingest.counts["duplicate"] == 1


def test_feeds_not_yet_due_are_not_requested(server: LocalServer, store: Store, fetcher: Fetcher) -> None:
    a = server.route("/a", Reply(200, entries("a")))
    b = server.route("/b", Reply(200, entries("b")))
    clock = Clock()
    poll_round([FeedRef(a)], store, S, fetcher, HostThrottle(0), EVERY, now=clock)
    clock.t += EVERY / 2
    rep = poll_round([FeedRef(a), FeedRef(b)], store, S, fetcher, HostThrottle(0), EVERY, now=clock)
    assert (rep.not_due, rep.polled) == (1, 1)
    assert len(server.hits("/a")) == 1 and len(server.hits("/b")) == 1


def test_failing_feed_backs_off_exponentially_then_recovers(server: LocalServer, store: Store, fetcher: Fetcher) -> None:
    url = server.route("/feed", Reply(500, b"oops"))
    clock = Clock()
    errors: list[object] = []
    delays = []
    for expected_failures in (1, 2, 3, 4):
        rep = poll_round([FeedRef(url)], store, S, fetcher, HostThrottle(0), EVERY, now=clock,
                         on_event=lambda kind, p: errors.append(p) if kind == "error" else None)
        assert rep.failed == 1 and rep.polled == 1
        state = store.feed_state(url)
        assert state["failures"] == expected_failures and "500" in state["last_error"]
        delays.append(state["next_due"] - clock.t)
        # not due before the delay is over: no request
        clock.t = state["next_due"] - 1
        assert poll_round([FeedRef(url)], store, S, fetcher, HostThrottle(0), EVERY, now=clock).not_due == 1
        clock.t = state["next_due"]
    assert delays == [10.0, 20.0, 40.0, 80.0]
    assert len(server.hits("/feed")) == 4 and len(errors) == 4
    server.route("/feed", Reply(200, entries("back")))
    rep = poll_round([FeedRef(url)], store, S, fetcher, HostThrottle(0), EVERY, now=clock)
    state = store.feed_state(url)
    assert rep.failed == 0 and state["failures"] == 0 and state["last_error"] is None
    assert state["next_due"] == clock.t + EVERY


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_seconds_is_honoured(server: LocalServer, store: Store, fetcher: Fetcher, status: int) -> None:
    url = server.route("/feed", Reply(status, b"slow down", {"Retry-After": "300"}))
    clock = Clock()
    poll_round([FeedRef(url)], store, S, fetcher, HostThrottle(0), EVERY, now=clock)
    assert store.feed_state(url)["next_due"] == clock.t + 300


def test_retry_after_date_is_honoured_and_capped(server: LocalServer, store: Store, fetcher: Fetcher) -> None:
    clock = Clock()
    when = email.utils.formatdate(clock.t + 420, usegmt=True)
    a = server.route("/a", Reply(503, b"", {"Retry-After": when}))
    b = server.route("/b", Reply(429, b"", {"Retry-After": "99999999"}))
    poll_round([FeedRef(a), FeedRef(b)], store, S, fetcher, HostThrottle(0), EVERY, now=clock)
    assert store.feed_state(a)["next_due"] == pytest.approx(clock.t + 420, abs=1)
    assert store.feed_state(b)["next_due"] == clock.t + S.backoff_max


def test_unreadable_feed_counts_as_a_failure(server: LocalServer, store: Store, fetcher: Fetcher) -> None:
    url = server.route("/feed", Reply(200, b"<html><body>We moved! Try our app.</body></html>",
                                      {"Content-Type": "text/html", "ETag": '"html"'}))
    clock = Clock()
    rep = poll_round([FeedRef(url)], store, S, fetcher, HostThrottle(0), EVERY, now=clock)
    state = store.feed_state(url)
    assert rep.failed == 1 and state["failures"] == 1 and state["etag"] is None
    assert state["next_due"] == clock.t + S.backoff_base


def test_empty_feed_is_not_a_failure(server: LocalServer, store: Store, fetcher: Fetcher) -> None:
    url = server.route("/feed", Reply(200, rss([])))
    rep = poll_round([FeedRef(url)], store, S, fetcher, HostThrottle(0), EVERY, now=Clock())
    assert rep.failed == 0 and rep.ingest.failed == 0 and store.feed_state(url)["failures"] == 0


def test_linked_pages_are_fetched_once_even_behind_a_redirect(server: LocalServer, store: Store, fetcher: Fetcher) -> None:
    server.route("/p/direct", Reply(200, article_html("Direct", seed="d")))
    server.route("/r/1", Reply(302, headers={"Location": "/p/moved"}))
    server.route("/p/moved", Reply(200, article_html("Moved", seed="m")))
    items = [{"title": "Direct", "link": server.url("/p/direct"), "guid": "d", "description": "teaser d"},
             {"title": "Moved", "link": server.url("/r/1"), "guid": "m", "description": "teaser m"}]
    url = server.route("/feed", Reply(200, rss(items)))
    clock = Clock()
    for _ in range(3):
        rep = poll_round([FeedRef(url)], store, S, fetcher, HostThrottle(0), EVERY, now=clock)
        clock.t += EVERY
    assert len(server.hits("/feed")) == 3
    assert len(server.hits("/p/direct")) == 1 and len(server.hits("/r/1")) == 1
    assert store.conn.execute("SELECT count(*) FROM articles WHERE kind = 'url'").fetchone()[0] == 2
    assert rep.ingest.stored == 0


def test_pages_are_throttled_per_host(server: LocalServer, store: Store, fetcher: Fetcher) -> None:
    server.route("/p1", Reply(200, article_html("P1", seed="1")))
    server.route("/p2", Reply(200, article_html("P2", seed="2")))
    url = server.route("/feed", Reply(200, rss([
        {"title": "P1", "link": server.url("/p1"), "guid": "1", "description": "t"},
        {"title": "P2", "link": server.url("/p2"), "guid": "2", "description": "t"},
    ])))
    fake = Clock(100.0)
    throttle = HostThrottle(1.5, clock=fake, sleep=fake.sleep)
    poll_round([FeedRef(url)], store, S, fetcher, throttle, EVERY, now=Clock())
    assert fake.slept == [1.5, 1.5]  # feed, then each page: one request per 1.5 s to 127.0.0.1


def test_host_throttle_spaces_requests_per_host_only() -> None:
    fake = Clock(100.0)
    th = HostThrottle(2.0, clock=fake, sleep=fake.sleep)
    th.wait("http://a.example/1")
    th.wait("http://b.example/1")  # another host: no wait
    assert fake.slept == []
    th.wait("http://A.example:8080/2")  # same host (case, port do not matter)
    assert fake.slept == [2.0]
    fake.t += 0.5
    th.wait("http://b.example/2")  # b was last asked 2.5 s ago
    assert fake.slept == [2.0]
    th.wait("http://a.example/3")  # a was last asked 0.5 s ago
    assert fake.slept == [2.0, 1.5]
    fake.t += 10
    th.wait("http://a.example/4")
    assert fake.slept == [2.0, 1.5]


def test_backoff_delay() -> None:
    assert [backoff_delay(n, S) for n in (0, 1, 2, 3, 7, 8)] == [10, 10, 20, 40, 640, 1000]
    assert backoff_delay(5000, S) == 1000  # months of failures: capped, no OverflowError
    assert backoff_delay(1, S, "600") == 600 and backoff_delay(1, S, "5") == 10
    assert backoff_delay(1, S, "soon") == 10


def test_retry_after_parsing() -> None:
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds(email.utils.formatdate(1000.0 + 90, usegmt=True), now=1000.0) == pytest.approx(90)
    assert retry_after_seconds(email.utils.formatdate(1000.0 - 90, usegmt=True), now=1000.0) == 0
    for bad in (None, "", "  ", "-5", "1.5", "tomorrow"):
        assert retry_after_seconds(bad) is None


@pytest.mark.parametrize("text,seconds", [("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86400), ("90", 90),
                                          (" 1.5H ", 5400)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "x", "-5m", "0", "m", "10y", "nan", "inf", "1e999s"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_cli_watch_once(server: LocalServer, tmp_path: Path) -> None:
    from storyloom.cli import cli

    server.route("/page", Reply(200, article_html("Linked page", seed="cli")))
    a = server.route("/a.xml", conditional(entries("alpha", "beta")))
    b = server.route("/b.xml", Reply(200, rss([{"title": "Linked page", "link": server.url("/page"), "guid": "p",
                                                "description": "teaser"}])))
    broken = server.url("/broken.xml")
    lst = tmp_path / "feeds.opml"
    lst.write_bytes(opml([a, b, broken], nested=True))
    cfg = tmp_path / "storyloom.toml"
    cfg.write_text("per_host_delay = 0.0\nfetch_timeout = 0.5\n")
    db = tmp_path / "w.db"
    runner = CliRunner()
    r = runner.invoke(cli, ["--db", str(db), "--config", str(cfg), "watch", str(lst), "--once", "--allow-private"],
                      catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "polled 3" in r.stderr and "failed 1" in r.stderr and "404" in r.stderr
    with Store(db) as store:
        rows = store.conn.execute("SELECT kind, title FROM articles ORDER BY title").fetchall()
        assert [tuple(x) for x in rows] == [("url", "Linked page"), ("feed", "alpha"), ("feed", "beta")]
        assert store.feed_state(a)["etag"] == ETAG and store.feed_state(broken)["failures"] == 1
    # without --allow-private nothing on loopback is fetched, and the watcher still exits cleanly
    before = len(server.hits())
    r = runner.invoke(cli, ["--db", str(tmp_path / "x.db"), "--config", str(cfg), "watch", str(lst), "--once"],
                      catch_exceptions=False)
    assert r.exit_code == 0 and "refused" in r.stderr and len(server.hits()) == before


def test_cli_watch_rejects_a_bad_period_and_a_bad_list(tmp_path: Path) -> None:
    from storyloom.cli import cli

    bad = tmp_path / "bad.opml"
    bad.write_text("<opml><body>")
    r = CliRunner().invoke(cli, ["--db", str(tmp_path / "x.db"), "watch", str(bad), "--once"])
    assert r.exit_code != 0 and "malformed OPML" in r.output + r.stderr
    r = CliRunner().invoke(cli, ["--db", str(tmp_path / "x.db"), "watch", str(bad), "--every", "-5m"])
    assert r.exit_code == 2 and "--every" in r.output + r.stderr
