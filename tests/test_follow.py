"""Following: each kind from the CLI and the API, alerts explained and never repeated, coalescing, the Atom feed
read by feedparser, webhooks against a local server (signed; a 500, a hang, a redirect, a private target), the
maildir parsed with the stdlib, a bad FTS5 query refused at subscribe time, a deleted story, saved searches
matched through the key index, and a SIGKILLed ingest re-run with no duplicate and no lost alert."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import mailbox
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import feedparser
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from storydata import ARTICLES, SHARED  # noqa: F401
from storyloom.cli import cli
from storyloom.follow import FollowError, after_stages, deliver, match, subscribe, unfollow
from storyloom.follow import alerts as coalescing
from storyloom.ingest.records import record_to_raw
from storyloom.pipeline import ingest_items
from storyloom.serve import create_app
from storyloom.settings import Settings
from storyloom.store import Store
from storyloom.store import follow as fsql
from storyloom.store import stories as ssql

OTHER = ("Gamma Post", "2024-05-06T12:00:00Z", "Chess olympiad opens in Chennai",
         "The chess olympiad opened in Chennai on Monday with teams from 180 countries taking part in the event.")


def rec(outlet: str, published: str, title: str, text: str) -> Any:
    r = {"title": title, "text": text, "outlet": outlet, "published": published, "language": "en",
         "url": f"https://{outlet.lower().replace(' ', '')}.example/{hashlib.md5(title.encode()).hexdigest()[:8]}"}
    return record_to_raw(r, json.dumps(r).encode(), "jsonl", outlet)


@pytest.fixture
def fs(tmp_path: Path) -> Settings:
    return Settings(db_path=str(tmp_path / "f.db"), line_classifier=False, translations=False,
                    follow_interval_seconds=0, allow_private=True, webhook_timeout=1.0, webhook_backoff_base=0.0)


def first_story(fs: Settings) -> str:
    with Store(fs.db_path) as store:
        ingest_items([rec(*ARTICLES[0])], store, fs)
        return ssql.feed(store)[0].id


def whys(fs: Settings) -> dict[str, list[str]]:
    """subscription "kind target" → its alerts' one-line reasons, oldest first."""
    with Store(fs.db_path) as store:
        names = {s.id: f"{s.kind} {s.target}" for s in fsql.list_subs(store)}
        out: dict[str, list[str]] = {}
        for a in reversed(fsql.alerts(store, limit=1000)):
            out.setdefault(names[a.sub_id], []).append(a.why)
        return out


# -- each kind, from the CLI and the API -------------------------------------------------------------


def test_each_kind_from_the_cli_gives_explained_alerts_once(fs: Settings, tmp_path: Path) -> None:
    sid = first_story(fs)
    cfg = tmp_path / "storyloom.toml"
    cfg.write_text("line_classifier = false\ntranslations = false\nfollow_interval_seconds = 0\n")
    run = CliRunner()
    base = ["--db", fs.db_path, "--config", str(cfg)]
    made = {}
    for args in (["story", sid[:8]], ["search", "danube", "--min-outlets", "2"], ["outlet", "Reuters"],
                 ["entity", "Serbia"], ["search", "chess"]):
        r = run.invoke(cli, [*base, "follow", *args, "--json"])
        assert r.exit_code == 0, r.output
        made[args[1]] = json.loads(r.output)
        assert made[args[1]]["feed"].endswith(f"/feeds/{made[args[1]]['token']}.atom")
    assert made[sid[:8]]["target"] == sid  # a prefix is resolved to the story
    with Store(fs.db_path) as store:
        ingest_items([rec(*a) for a in ARTICLES[1:]], store, fs)
    got = whys(fs)
    story_why = got[f"story {sid}"]
    assert len(story_why) == 1
    assert "Beta News joined" in story_why[0] and "Reuters joined" in story_why[0]
    assert "figures now conflict (people): 12 people vs 15 people" in story_why[0]
    assert "Alpha Wire joined" not in story_why[0]  # it was there when the story was followed
    assert got["search danube"] == ['now matches "danube": Danube floods kill 12 in Serbia']
    assert got["outlet Reuters"] == ["Reuters reports on: Danube floods kill 12 in Serbia"]
    assert got["entity Serbia"] == ["Serbia now in: Danube floods kill 12 in Serbia"]
    assert "search chess" not in got  # nothing about chess yet
    # the same items again, and a new unrelated story: only the chess search hears of it
    with Store(fs.db_path) as store:
        ingest_items([rec(*a) for a in ARTICLES] + [rec(*OTHER)], store, fs)
    again = whys(fs)
    assert again["search chess"] == ['new story matching "chess": Chess olympiad opens in Chennai']
    assert {k: v for k, v in again.items() if k != "search chess"} == got
    r = run.invoke(cli, [*base, "alerts", "--json"])
    assert r.exit_code == 0 and len(json.loads(r.output)) == 5
    listed = json.loads(run.invoke(cli, [*base, "alerts", "--json", "--sub", made["chess"]["id"]]).output)
    assert [a["why"] for a in listed] == again["search chess"]
    assert listed[0]["stories"][0]["story_id"]
    r = run.invoke(cli, [*base, "unfollow", made["chess"]["id"]])
    assert r.exit_code == 0
    r = run.invoke(cli, [*base, "follow", "list", "--json"])
    assert len(json.loads(r.output)) == 4
    assert run.invoke(cli, [*base, "unfollow", "ffffffffffff"]).exit_code != 0


def test_bad_targets_are_refused_at_subscribe_time(fs: Settings, tmp_path: Path) -> None:
    first_story(fs)
    run = CliRunner()
    r = run.invoke(cli, ["--db", fs.db_path, "follow", "search", "storm-surge"])
    assert r.exit_code != 0 and "not a valid search query" in r.output
    r = run.invoke(cli, ["--db", fs.db_path, "follow", "search", 'danube AND ("'])
    assert r.exit_code != 0 and "not a valid search query" in r.output
    with Store(fs.db_path) as store:
        for kind, target, why in (("story", "s_no_such", "no story"), ("entity", "Al", "no name"),
                                  ("search", "danube", None), ("planet", "Mars", "cannot follow")):
            if why is None:
                continue
            with pytest.raises(FollowError, match=why):
                subscribe(store, fs, kind, target)
        with pytest.raises(FollowError, match="non-public"):
            subscribe(store, Settings(db_path=fs.db_path), "outlet", "Reuters", webhook="http://127.0.0.1:9/hook")
        with pytest.raises(FollowError, match="min_outlets"):
            subscribe(store, fs, "search", "danube", filters={"min_outlets": "many"})
        with pytest.raises(FollowError, match="e-mail"):
            subscribe(store, fs, "outlet", "Reuters", email="a@b\r\nBcc: x@y")
        assert fsql.list_subs(store) == []


def test_each_kind_from_the_api_with_token_protected_writes(fs: Settings) -> None:
    sid = first_story(fs)
    settings = fs.with_overrides(api_token="s3cret")
    auth = {"Authorization": "Bearer s3cret"}
    with TestClient(create_app(settings)) as c:
        assert c.post("/api/subscriptions", json={"kind": "outlet", "target": "Reuters"}).status_code == 401
        bad = c.post("/api/subscriptions", json={"kind": "search", "target": "danube AND ("}, headers=auth)
        assert bad.status_code == 422 and "not a valid search query" in bad.json()["error"]["message"]
        assert c.post("/api/subscriptions", json={"kind": "x", "target": "y"}, headers=auth).status_code == 422
        ids = {}
        for kind, target in (("story", sid), ("search", "floods"), ("outlet", "Beta News"), ("entity", "Danube")):
            r = c.post("/api/subscriptions", json={"kind": kind, "target": target, "owner": "ana"}, headers=auth)
            assert r.status_code == 200, r.text
            ids[kind] = r.json()["subscription"]["id"]
        assert all(s["token"] is None for s in c.get("/api/subscriptions").json())  # no token: no capabilities
        assert all(s["token"] for s in c.get("/api/subscriptions", headers=auth).json())
        with Store(settings.db_path) as store:
            ingest_items([rec(*ARTICLES[1])], store, settings)
        alerts = c.get(f"/api/subscriptions/{ids['outlet']}/alerts").json()
        assert [a["why"] for a in alerts] == ["Beta News reports on: Danube floods kill 12 in Serbia"]
        assert len(c.get("/api/alerts").json()) == 4
        story_alert = c.get(f"/api/subscriptions/{ids['story']}/alerts").json()[0]
        assert story_alert["why"].startswith("Beta News joined") and story_alert["since"]
        digest_url = coalescing.links(settings, sid, story_alert["since"])["digest"]
        d = c.get(digest_url.removeprefix(settings.follow_base_url))
        assert d.status_code == 200 and d.json()["new_since"].endswith("Z"), d.text
        page = c.get("/follow")
        assert page.status_code == 200 and "Beta News reports on" in page.text and "token needed" in page.text
        assert c.delete(f"/api/subscriptions/{ids['outlet']}").status_code == 401
        assert c.delete(f"/api/subscriptions/{ids['outlet']}", headers=auth).json() == {"deleted": ids["outlet"]}
        assert c.delete(f"/api/subscriptions/{ids['outlet']}", headers=auth).status_code == 404
        assert c.get(f"/api/subscriptions/{ids['outlet']}/alerts").status_code == 404
    with TestClient(create_app(fs)) as c:  # no api_token configured: no writes over HTTP
        assert c.post("/api/subscriptions", json={"kind": "outlet", "target": "Reuters"}).status_code == 403
        assert c.post("/follow", data={"kind": "outlet", "target": "Reuters", "token": ""}).status_code == 422


def test_the_follow_form_needs_the_token_and_explains_a_refusal(fs: Settings) -> None:
    sid = first_story(fs)
    settings = fs.with_overrides(api_token="s3cret")
    with TestClient(create_app(settings)) as c:
        assert f'value="{sid}"' in c.get("/follow", params={"kind": "story", "target": sid}).text
        assert f'/follow?kind=story&amp;target={sid}' in c.get(f"/stories/{sid}").text  # the story page's link
        assert '/follow?kind=search&amp;target=danube%20floods' in c.get("/search", params={"q": "danube floods"}).text
        assert 'value="danube floods"' in c.get("/follow", params={"kind": "search", "target": "danube floods"}).text
        r = c.post("/follow", data={"kind": "story", "target": sid, "token": "wrong"})
        assert r.status_code == 422 and "not the server&#39;s API token" in r.text
        r = c.post("/follow", data={"kind": "search", "target": "x AND (", "token": "s3cret"})
        assert r.status_code == 422 and "not a valid search query" in r.text
        r = c.post("/follow", data={"kind": "story", "target": sid, "owner": "ana", "token": "s3cret"},
                   follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/follow?made=")
        assert "Following: subscription" in c.get(r.headers["location"]).text
    with Store(settings.db_path) as store:
        assert [(s.kind, s.target, s.owner) for s in fsql.list_subs(store)] == [("story", sid, "ana")]


# -- coalescing --------------------------------------------------------------------------------------


def test_a_burst_is_one_alert_per_interval(fs: Settings) -> None:
    sid = first_story(fs)
    slow = fs.with_overrides(follow_interval_seconds=3600, follow_digest=False)
    with Store(fs.db_path) as store:
        sub = subscribe(store, slow, "story", sid)
        ingest_items([rec(*ARTICLES[1])], store, slow)
        ingest_items([rec(*ARTICLES[2])], store, slow)
        got = fsql.alerts(store, sub.id)
        assert [a.why for a in got] == ["Beta News joined"]  # Reuters waits for the interval to pass
        assert [n["line"] for n in fsql.pending_news(store, [sub.id])[sub.id]] == ["Reuters joined", "first report from GB"]
        assert coalescing.coalesce(store, slow) == []  # still inside the interval
        later = datetime.now(UTC) + timedelta(seconds=3601)
        assert len(coalescing.coalesce(store, slow, now=later)) == 1
        assert [a.why for a in fsql.alerts(store, sub.id)][0] == "Reuters joined; first report from GB"
        assert coalescing.coalesce(store, slow, now=later) == []


# -- Atom --------------------------------------------------------------------------------------------


def test_atom_feed_read_by_feedparser_with_stable_ids_and_no_token_oracle(fs: Settings) -> None:
    sid = first_story(fs)
    with Store(fs.db_path) as store:
        sub = subscribe(store, fs, "story", sid, owner="ana")
        empty = subscribe(store, fs, "outlet", "Nobody Times")
        gone = subscribe(store, fs, "outlet", "Reuters")
        ingest_items([rec(*a) for a in ARTICLES[1:]], store, fs)
        unfollow(store, gone.id)
    with TestClient(create_app(fs)) as c:
        r = c.get(f"/feeds/{sub.token}.atom")
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
        f = feedparser.parse(r.content)
        assert not f.bozo, f.bozo_exception
        assert f.version == "atom10"
        assert f.feed.id == f"urn:storyloom:subscription:{sub.id}" and f.feed.updated and f.feed.title
        assert f.feed.author == "ana"
        assert len(f.entries) == 1
        e = f.entries[0]
        assert e.id.startswith("urn:storyloom:alert:") and e.updated and "Reuters joined" in e.title
        assert e.link == f"{fs.follow_base_url}/stories/{sid}"
        assert any(link.rel == "related" and "/digest?since=" in link.href for link in e.links)
        assert "Beta News joined" in e.content[0].value
        assert feedparser.parse(c.get(f"/feeds/{sub.token}.atom").content).entries[0].id == e.id  # stable
        f2 = feedparser.parse(c.get(f"/feeds/{empty.token}.atom").content)
        assert not f2.bozo and f2.entries == [] and f2.feed.updated
        misses = [c.get(p) for p in (f"/feeds/{gone.token}.atom", "/feeds/" + "A" * 32 + ".atom",
                                     "/feeds/<script>.atom", "/feeds/x.atom")]
        assert {m.status_code for m in misses} == {404}
        assert len({m.text.replace(m.headers["x-request-id"], "") for m in misses}) == 1  # indistinguishable


# -- webhooks ----------------------------------------------------------------------------------------


class Hook:
    """A loopback receiver of POSTs answering from a script: each POST takes the next reply."""

    def __init__(self, replies: list[tuple[int, float, dict[str, str]]]) -> None:
        self.replies = list(replies)
        self.got: list[tuple[dict[str, str], bytes]] = []
        self.stop = threading.Event()
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status, delay, headers = outer.replies.pop(0) if outer.replies else (200, 0.0, {})
                headers = dict(headers)
                if delay and outer.stop.wait(delay):
                    return
                big = int(headers.pop("X-Body-Bytes", "2"))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(big))
                self.end_headers()
                try:
                    for _ in range(0, big, 65536):
                        self.wfile.write(b"x" * min(65536, big))
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender hung up after the status line, as it should

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def close(self) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def hook() -> Iterator[Any]:
    made: list[Hook] = []

    def make(replies: list[tuple[int, float, dict[str, str]]]) -> Hook:
        made.append(Hook(replies))
        return made[-1]

    yield make
    for h in made:
        h.close()


def test_webhook_signed_retried_after_a_500_and_a_hang_then_sent_once(fs: Settings, hook: Any) -> None:
    sid = first_story(fs)
    h = hook([(500, 0.0, {}), (200, 5.0, {}), (200, 0.0, {})])  # a 500, then a hang past the 1 s timeout
    with Store(fs.db_path) as store:
        sub = subscribe(store, fs, "story", sid, webhook=h.url, secret="k3y")
        ingest_items([rec(*ARTICLES[1])], store, fs)  # delivered inline: the 500
        [d] = fsql.deliveries(store)
        assert (d.status, d.attempts) == ("pending", 1) and "HTTP 500" in (d.last_error or "")
        started = time.monotonic()
        assert deliver.deliver_due(store, fs) == {"sent": 0, "retry": 1, "dead": 0}  # the hang
        assert time.monotonic() - started < 4
        assert "timed out" in (fsql.deliveries(store)[0].last_error or "")
        assert deliver.deliver_due(store, fs) == {"sent": 1, "retry": 0, "dead": 0}
        assert deliver.deliver_due(store, fs) == {"sent": 0, "retry": 0, "dead": 0}  # nothing twice
        after_stages(store, fs)
        [d] = fsql.deliveries(store)
        assert (d.status, d.attempts) == ("sent", 3)
    assert len(h.got) == 3
    headers, body = h.got[-1]
    assert headers["x-storyloom-signature"] == "sha256=" + hmac.new(b"k3y", body, hashlib.sha256).hexdigest()
    data = json.loads(body)
    assert headers["x-storyloom-delivery"] == data["id"]
    assert data["subscription"]["id"] == sub.id and data["why"].startswith("Beta News joined")
    assert data["stories"][0]["page"].endswith(f"/stories/{sid}") and "/digest?since=" in data["stories"][0]["digest"]


def test_webhook_answering_10_mb_is_not_read(fs: Settings, hook: Any) -> None:
    sid = first_story(fs)
    h = hook([(200, 0.0, {"X-Body-Bytes": str(10 * 1024 * 1024)})])
    with Store(fs.db_path) as store:
        subscribe(store, fs, "story", sid, webhook=h.url)
        started = time.monotonic()
        ingest_items([rec(*ARTICLES[1])], store, fs)
        assert [d.status for d in fsql.deliveries(store)] == ["sent"]
    assert len(h.got) == 1 and time.monotonic() - started < 30


def test_webhook_redirect_private_target_and_dead_letter(fs: Settings, hook: Any) -> None:
    sid = first_story(fs)
    h = hook([(302, 0.0, {"Location": "http://10.0.0.1/steal"})] * 3)
    quick_death = fs.with_overrides(webhook_retry_hours=0.0)
    with Store(fs.db_path) as store:
        subscribe(store, fs, "story", sid, webhook=h.url)
        ingest_items([rec(*ARTICLES[1])], store, quick_death)
        [d] = fsql.deliveries(store)
        assert d.status == "dead" and "redirects are not followed" in (d.last_error or "")
        assert fsql.deliveries(store, "dead")[0].alert_id == d.alert_id
        r = CliRunner().invoke(cli, ["--db", fs.db_path, "alerts", "--dead", "--json"])
        assert r.exit_code == 0 and "redirects are not followed" in json.loads(r.output)[0]["last_error"]
        # a target that became private after subscribing (DNS, settings) is refused at delivery too
        strict = Settings(db_path=fs.db_path, line_classifier=False, translations=False, follow_interval_seconds=0)
        with store.transaction() as c:  # test-only: re-queue the delivery
            c.execute("UPDATE follow_deliveries SET status = 'pending', attempts = 0")
        deliver.deliver_due(store, strict)
        assert "non-public" in (fsql.deliveries(store)[0].last_error or "")
    assert len(h.got) == 1  # the redirect was not followed, the private target never contacted


def test_a_due_delivery_is_claimed_by_one_sender_and_retried_by_the_cli(fs: Settings, hook: Any) -> None:
    sid = first_story(fs)
    h = hook([(503, 0.0, {}), (200, 0.0, {})])
    with Store(fs.db_path) as store:
        subscribe(store, fs, "story", sid, webhook=h.url)
        ingest_items([rec(*ARTICLES[1])], store, fs)  # the 503: due again at once (backoff base 0 here)
        [d] = fsql.deliveries(store)
        assert fsql.claim(store, d.alert_id, d.channel, d.next_try, time.time() + 60)
        assert not fsql.claim(store, d.alert_id, d.channel, d.next_try, time.time() + 60)  # a second sender
        assert deliver.deliver_due(store, fs) == {"sent": 0, "retry": 0, "dead": 0}  # leased: not due
        with store.transaction() as c:  # test-only: the lease ran out (its sender died)
            c.execute("UPDATE follow_deliveries SET next_try = 0")
    cfg = Path(fs.db_path).with_suffix(".toml")
    cfg.write_text("allow_private = true\nline_classifier = false\ntranslations = false\n")
    r = CliRunner().invoke(cli, ["--db", fs.db_path, "--config", str(cfg), "alerts", "--deliver"])
    assert r.exit_code == 0 and "'sent': 1" in r.output, r.output
    assert len(h.got) == 2


# -- e-mail ------------------------------------------------------------------------------------------


def test_maildir_messages_parse_with_the_stdlib_and_are_written_once(fs: Settings) -> None:
    sid = first_story(fs)
    with Store(fs.db_path) as store:
        subscribe(store, fs, "story", sid, email="ana@example.org")
        ingest_items([rec(*a) for a in ARTICLES[1:]], store, fs)
        [d] = fsql.deliveries(store)
        assert d.status == "sent"
        with store.transaction() as c:  # test-only: as if the process died before logging the delivery
            c.execute("UPDATE follow_deliveries SET status = 'pending'")
        deliver.deliver_due(store, fs)
    box = mailbox.Maildir(deliver.maildir_path(fs), create=False)
    assert len(box) == 1
    raw = next(iter(box.iterkeys()))
    msg = email.message_from_bytes(box.get_bytes(raw), policy=email.policy.default)
    assert msg["To"] == "ana@example.org" and msg["Message-ID"] and msg["Date"]
    assert "Beta News joined" in msg["Subject"]
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(preferencelist=("plain",)).get_content()
    html_part = msg.get_body(preferencelist=("html",)).get_content()
    assert "Reuters joined" in plain and f"/stories/{sid}" in plain and "Key facts:" in plain
    assert "Novi Sad" in plain.split("Key facts:")[1]
    assert "<li>Reuters joined</li>" in html_part and "Key facts" in html_part


# -- deleted story, index, crash ---------------------------------------------------------------------


def test_a_deleted_story_leaves_its_subscription_quiet_not_broken(fs: Settings) -> None:
    sid = first_story(fs)
    with Store(fs.db_path) as store:
        sub = subscribe(store, fs, "story", sid)
        with store.transaction() as c:  # test-only: the story vanishes (a rebuild that no longer makes it)
            c.execute("DELETE FROM stories WHERE id = ?", (sid,))
            c.execute("DELETE FROM story_members WHERE story_id = ?", (sid,))
        ingest_items([rec(*OTHER)], store, fs)
        [listed] = fsql.list_subs(store)
        assert listed.story_status == "gone"
        assert fsql.alerts(store, sub.id) == []
    with TestClient(create_app(fs)) as c:
        assert feedparser.parse(c.get(f"/feeds/{sub.token}.atom").content).entries == []
        assert "gone" in c.get("/follow").text


def test_a_followed_story_is_followed_into_the_story_it_merged_into(fs: Settings) -> None:
    sid = first_story(fs)
    with Store(fs.db_path) as store:
        sub = subscribe(store, fs, "story", sid)
        with store.transaction() as c:  # test-only: the story merges into another (as the stories stage logs it)
            c.execute("UPDATE stories SET id = 'smerged00001' WHERE id = ?", (sid,))
            c.execute("UPDATE story_members SET story_id = 'smerged00001' WHERE story_id = ?", (sid,))
            c.execute("INSERT INTO story_events (at, kind, story_id, other_id, article_id, detail) "
                      "VALUES ('2024-05-06T08:30:00Z', 'merge', 'smerged00001', ?, NULL, 'test')", (sid,))
        assert fsql.list_subs(store)[0].story_status == "merged into smerged00001"
        ingest_items([rec(*ARTICLES[1])], store, fs)
        [a] = fsql.alerts(store, sub.id)
        assert a.why.startswith("Beta News joined") and a.stories[0].story_id == "smerged00001"


def test_saved_searches_are_matched_through_the_key_index(fs: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    first_story(fs)
    calls: list[str] = []
    real = fsql.fts_hits
    monkeypatch.setattr(fsql, "fts_hits", lambda store, q, lo, hi: calls.append(q) or real(store, q, lo, hi))
    with Store(fs.db_path) as store:
        for i in range(300):  # words no article has: never confirmed
            subscribe(store, fs, "search", f"zyx{i}qw OR wqz{i}")
        subscribe(store, fs, "search", "helicop*")
        subscribe(store, fs, "search", '"Danube valley" NOT chess')
        subscribe(store, fs, "search", "danube", filters={"language": "fr"})
        ingest_items([rec(*ARTICLES[1])], store, fs)
        got = {s.target: s.n_alerts for s in fsql.list_subs(store)}
    assert sorted(calls) == sorted(['"Danube valley" NOT chess', "danube", "helicop*"])
    assert got["helicop*"] == 1 and got['"Danube valley" NOT chess'] == 1 and got["danube"] == 0


N_FILES = 400


def _corpus(root: Path) -> None:
    words = "flood river dam village rain rescue minister council storm bridge election market".split()
    for i in range(N_FILES):
        body = " ".join(words[(i * k) % len(words)] for k in range(1, 50))
        extra = " The harbour was closed." if i % 3 == 0 else ""
        (root / f"{i:04d}.txt").write_text(f"Report {i} on topic {i % 40}\n\n{body}.{extra} Item {i} ends.",
                                           encoding="utf-8")


def _articles(db: Path) -> int:
    try:
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return int(c.execute("SELECT count(*) FROM articles").fetchone()[0])
        finally:
            c.close()
    except sqlite3.OperationalError:
        return 0


def _check_exactly_once(db: Path) -> set[str]:
    """Every news line in exactly one alert, each alert's mail written once, nothing waiting; the stories the
    search heard of are exactly the stories holding a matching article.  Returns those stories."""
    with Store(db) as store:
        c = store.conn
        assert c.execute("SELECT count(*) FROM follow_news WHERE alert_id IS NULL").fetchone()[0] == 0
        assert c.execute("SELECT value FROM follow_state").fetchone()[0] == c.execute(
            "SELECT max(rowid) FROM articles").fetchone()[0]
        alerts = [r[0] for r in c.execute("SELECT id FROM follow_alerts")]
        assert len(alerts) == len(set(alerts)) > 0
        told = c.execute("SELECT alert_id FROM follow_news WHERE alert_id != 'baseline'").fetchall()
        assert {r[0] for r in told} == set(alerts)
        assert {r[0] for r in c.execute("SELECT status FROM follow_deliveries")} == {"sent"}
        assert c.execute("SELECT count(*) FROM follow_deliveries").fetchone()[0] == len(alerts)
        heard = {ssql.merged_into(store, s) or s for (s,) in c.execute("SELECT story_id FROM follow_news")}
        matching = {r[0] for r in c.execute(
            "SELECT DISTINCT m.story_id FROM articles_fts f JOIN articles a ON a.rowid = f.rowid JOIN story_members m "
            "ON m.article_id = a.id WHERE articles_fts MATCH 'harbour'")}
    files = sorted(p.name for p in (Path(str(db) + ".maildir") / "new").iterdir())
    assert files == sorted(f"{a}.storyloom" for a in alerts)
    assert heard == matching
    print(f"{db.name}: {len(alerts)} alerts, {len(matching)} stories")
    return matching


@pytest.mark.slow
def test_sigkill_during_an_ingest_with_subscriptions_then_rerun(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _corpus(corpus)
    cfg = tmp_path / "storyloom.toml"
    cfg.write_text("batch_size = 10\nline_classifier = false\ntranslations = false\nstory_embeddings = false\n"
                   "follow_interval_seconds = 0\n")
    settings = Settings(line_classifier=False, translations=False, story_embeddings=False, follow_interval_seconds=0)

    def prepared(name: str) -> Path:
        db = tmp_path / name
        with Store(db) as store:
            subscribe(store, settings.with_overrides(db_path=str(db)), "search", "harbour", email="ana@example.org")
        return db

    def run(db: Path) -> subprocess.Popen[bytes]:
        env = {**os.environ, "STORYLOOM_CONFIG": str(cfg)}
        return subprocess.Popen([sys.executable, "-m", "storyloom.cli", "--db", str(db), "ingest", str(corpus)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)

    clean = prepared("clean.db")
    assert run(clean).wait(timeout=600) == 0
    expected = _check_exactly_once(clean)
    crashed = prepared("crashed.db")
    proc = run(crashed)
    deadline = time.monotonic() + 300
    while _articles(crashed) < N_FILES // 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    assert proc.poll() is None, "the ingest finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 0 < _articles(crashed) < N_FILES
    print(f"killed at {_articles(crashed)} articles")
    assert run(crashed).wait(timeout=600) == 0
    assert _check_exactly_once(crashed) == expected


def test_match_reports_nothing_without_subscriptions_and_keeps_its_cursor(fs: Settings) -> None:
    with Store(fs.db_path) as store:
        ingest_items([rec(*a) for a in ARTICLES], store, fs)
        assert fsql.cursor(store) == 3
        assert match.match_new(store, fs).articles == 0
        queued = fs.with_overrides(run_copies=False)  # articles no stage has seen yet are not matched
        ingest_items([rec(*OTHER)], store, queued)
        assert fsql.cursor(store) == 3
        assert match.match_new(store, queued).articles == 1 and fsql.cursor(store) == 4


@pytest.mark.slow
def test_follow_page_in_a_browser_passes_axe(fs: Settings) -> None:
    """The /follow page (subscriptions, feed links, alerts) in chromium: WCAG 2 A/AA by axe-core, no script."""
    from conftest import start_server, stop_server

    browser_test = pytest.importorskip("test_browser")
    if not Path(browser_test.CHROMIUM).exists():
        pytest.skip("Debian chromium not installed")
    sid = first_story(fs)
    with Store(fs.db_path) as store:
        subscribe(store, fs, "story", sid, owner="ana")
        subscribe(store, fs, "search", "danube", filters={"language": "en"})
        ingest_items([rec(*a) for a in ARTICLES[1:]], store, fs)
    proc, base = start_server(Path(fs.db_path), "--token", "tok3n")
    try:
        with browser_test.sync_playwright() as p:
            b = p.chromium.launch(executable_path=browser_test.CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
            page = b.new_page(bypass_csp=True)
            events = browser_test.watch(page)
            page.goto(base + "/follow")
            assert page.locator("table.subs tbody tr").count() == 2
            assert page.locator("ol.alerts > li").count() == 2
            assert "Reuters joined" in page.inner_text("ol.alerts")
            browser_test.accessible(page)
            page.goto(base + f"/stories/{sid}")
            page.get_by_role("link", name="Follow this story").click()
            page.wait_for_url("**/follow?*")
            assert page.get_by_label("Story id, search query, outlet or name").input_value() == sid
            page.get_by_label("Kind").select_option("entity")
            page.get_by_label("Story id, search query, outlet or name").fill("Milan Djuric")
            page.get_by_label("API token").fill("tok3n")
            page.get_by_role("button", name="Follow").click()
            page.wait_for_url("**/follow?made=*")
            assert page.locator("table.subs tbody tr").count() == 3
            accessible_after = page.locator("[role=status]").inner_text()
            assert "Following: subscription" in accessible_after
            browser_test.accessible(page)
            assert events == {"dialogs": [], "errors": []}
            b.close()
    finally:
        stop_server(proc)
