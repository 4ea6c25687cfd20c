"""Several writers on one store: concurrent CLI ingests into a store that does not exist yet, a writer kept
waiting past SQLite's busy timeout, an ingest beside `watch --once` and beside an HTTP ingest.

Every writer is a real process (`python -m storyloom.cli`), as a user would start them: the races are between
processes, on the schema, on the WAL set-up and on the write lock.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest

from conftest import start_server, stop_server
from httpserver import LocalServer, Reply, http_server, opml, rss, server  # noqa: F401  (the fixtures)
from storyloom.errors import StoreError
from storyloom.store import Store
from storyloom.store import sqlite as store_sqlite
from storyloom.store.migrations import LATEST, MIGRATIONS
from storyloom.store.sqlite import sql_statements

TOKEN = "writers-token"
# Copies and stories run (their chunk transactions are the writers' longest); the embedding models and the
# learned line classifier would only add seconds of start-up to every process.
CONFIG = (
    "batch_size = 15\ntranslations = false\nstory_embeddings = false\nline_classifier = false\n"
    f'api_token = "{TOKEN}"\nallow_private = true\nper_host_delay = 0.0\n'
)
WORDS = [f"{a}{b}" for a in ("har", "gran", "port", "vel", "mar", "tol", "quen", "bris", "dor", "lum")
         for b in ("bour", "ite", "ment", "ado", "ista", "ona", "eth", "ular", "ance", "ivo")]


def article(tag: str, n: int) -> dict[str, str]:
    """A distinct article (its own words, so no two are copies of each other) with a findable title."""
    rng = random.Random(f"{tag}-{n}")
    sentences = [" ".join(rng.choice(WORDS) for _ in range(14)).capitalize() + "." for _ in range(8)]
    return {"title": f"{tag} report {n}", "text": "\n\n".join(sentences), "url": f"https://news.example/{tag}/{n}",
            "published": f"2025-06-{1 + n % 28:02d}T10:00:00Z", "outlet": f"Outlet {tag}"}


def write_jsonl(path: Path, tag: str, n: int) -> list[str]:
    docs = [article(tag, i) for i in range(n)]
    path.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    return [d["title"] for d in docs]


def env_for(cfg: Path) -> dict[str, str]:
    return {**os.environ, "STORYLOOM_CONFIG": str(cfg), "PYTHONUNBUFFERED": "1"}


def cli(db: Path, cfg: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "storyloom.cli", "--db", str(db), *args], env=env_for(cfg),
                            cwd=db.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(procs: Sequence[subprocess.Popen[str]], timeout: float = 120) -> list[tuple[int, str]]:
    """Exit code and stderr of every process (all of them waited for, even when one fails)."""
    results = []
    for p in procs:
        try:
            _, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
        results.append((p.returncode, err))
    return results


def titles(db: Path) -> list[str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        return [r[0] for r in c.execute("SELECT title FROM articles ORDER BY title")]


def check_stored_once(db: Path, expected: list[str]) -> None:
    """Every item stored exactly once, and both stages left nothing behind and counted nothing twice."""
    got = titles(db)
    assert sorted(got) == sorted(expected), (len(got), len(expected))
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        n = c.execute("SELECT count(*) FROM articles").fetchone()[0]
        assert c.execute("SELECT count(DISTINCT id) FROM articles").fetchone()[0] == n
        assert c.execute("SELECT count(*) FROM stage_queue").fetchone()[0] == 0
        assert c.execute("SELECT count(*) FROM copy_prints").fetchone()[0] == n
        assert c.execute("SELECT count(DISTINCT article_id) FROM story_members").fetchone()[0] == n
        assert c.execute("SELECT value FROM counters WHERE key = 'docs'").fetchone()[0] == n  # IDF counted once each
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_sql_statements_keep_triggers_whole_and_skip_comments() -> None:
    script = """
    CREATE TABLE t (a TEXT);  -- a comment; with a semicolon
    CREATE TRIGGER t_ai AFTER INSERT ON t BEGIN
        INSERT INTO t VALUES ('x;y'); INSERT INTO t VALUES ('z');
    END;
    -- the end
    """
    got = [" ".join(st.split()) for st in sql_statements(script)]
    assert len(got) == 2 and got[0] == "CREATE TABLE t (a TEXT);"
    assert got[1].endswith("INSERT INTO t VALUES ('x;y'); INSERT INTO t VALUES ('z'); END;")
    with pytest.raises(StoreError, match="incomplete"):
        list(sql_statements("CREATE TABLE t (a TEXT); CREATE TABLE u (b"))


def test_an_older_store_is_brought_up_to_date_one_migration_at_a_time(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    c = sqlite3.connect(db, isolation_level=None)
    for number, name, sql in MIGRATIONS[:5]:  # a store left by an older storyloom, at version 5
        c.executescript(f"BEGIN; {sql}; INSERT INTO schema_migrations VALUES ({number}, '{name}', 'then'); "
                        f"PRAGMA user_version = {number}; COMMIT;")
    c.close()
    with Store(db) as store:
        assert store.schema_version() == LATEST
        got = [r[0] for r in store.conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
        assert got == [m[0] for m in MIGRATIONS]
        assert store.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'story_events_other'").fetchone()


def test_transaction_waits_for_the_lock_and_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process: BEGIN outlasts a short busy timeout, reports while waiting, then writes; a longer hold than
    ``busy_wait_seconds`` ends in one StoreError and leaves the handle usable."""
    monkeypatch.setattr(store_sqlite, "REPORT_EVERY", 0.2)
    db = tmp_path / "s.db"
    with Store(db, busy_timeout_ms=100, busy_wait_seconds=5) as store:
        reports: list[float] = []
        store.on_busy = reports.append
        holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        threading.Timer(1.0, lambda: holder.execute("ROLLBACK")).start()
        started = time.monotonic()
        with store.transaction() as c:
            c.execute("INSERT INTO counters VALUES ('probe', 1)")
        assert time.monotonic() - started >= 0.9
        assert len(reports) >= 3 and reports == sorted(reports)
        assert store.conn.execute("PRAGMA busy_timeout").fetchone()[0] == 100  # restored after the shorter tries
        store.busy_wait_seconds = 0.5
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreError, match=r"store busy.*busy_wait_seconds = 0.5"), store.transaction() as c:
            c.execute("INSERT INTO counters VALUES ('never', 1)")
        holder.execute("ROLLBACK")
        holder.close()
        with store.transaction() as c:  # not left inside a transaction
            c.execute("INSERT INTO counters VALUES ('after', 1)")
        assert [r[0] for r in store.conn.execute("SELECT key FROM counters ORDER BY key")] == ["after", "probe"]


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "storyloom.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


@pytest.mark.parametrize("writers,rounds", [(2, 3), (3, 2)])
def test_concurrent_ingests_into_a_new_store(tmp_path: Path, cfg: Path, writers: int, rounds: int) -> None:
    files, expected = [], []
    for w in range(writers):
        files.append(tmp_path / f"h{w}.jsonl")
        expected += write_jsonl(files[-1], f"w{w}", 40)
    for r in range(rounds):  # the schema race is a matter of milliseconds: a few fresh stores to catch it
        db = tmp_path / f"round{r}" / "W.db"
        db.parent.mkdir()
        results = finish([cli(db, cfg, "ingest", str(f)) for f in files])
        for code, err in results:
            assert code == 0 and "Traceback" not in err, err
        check_stored_once(db, expected)


@pytest.mark.slow  # it holds the lock past SQLite's 10 s on purpose
def test_a_writer_waits_for_a_lock_held_past_the_busy_timeout(tmp_path: Path, cfg: Path) -> None:
    """SQLite alone gives up after its busy timeout (10 s) and the batch was lost with a traceback; now the
    ingest waits, says so, and stores everything once the lock is free."""
    db = tmp_path / "W.db"
    expected = write_jsonl(tmp_path / "h.jsonl", "held", 20)
    finish([cli(db, cfg, "ingest", str(tmp_path / "h.jsonl"))])  # the store exists: the ingest below writes at once
    more = write_jsonl(tmp_path / "more.jsonl", "later", 20)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer, in the middle of a very long transaction
    try:
        started = time.monotonic()
        proc = cli(db, cfg, "ingest", str(tmp_path / "more.jsonl"))
        time.sleep(11.5)  # past SQLite's 10 s busy timeout
        assert proc.poll() is None, proc.communicate()[1]  # still waiting, not failed
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    (code, err), = finish([proc])
    assert code == 0 and "Traceback" not in err, err
    assert "store busy (another writer): waiting… " in err
    assert time.monotonic() - started > 11
    check_stored_once(db, expected + more)


def test_a_writer_gives_up_after_busy_wait_seconds_with_one_line(tmp_path: Path, cfg: Path) -> None:
    db = tmp_path / "W.db"
    first = write_jsonl(tmp_path / "h.jsonl", "first", 5)
    finish([cli(db, cfg, "ingest", str(tmp_path / "h.jsonl"))])
    cfg.write_text(CONFIG + "busy_wait_seconds = 1.5\n", encoding="utf-8")
    write_jsonl(tmp_path / "more.jsonl", "later", 5)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        (code, err), = finish([cli(db, cfg, "ingest", str(tmp_path / "more.jsonl"))], timeout=60)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert code != 0 and "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "store busy" in lines[0] and "busy_wait_seconds = 1.5" in lines[0], err
    assert titles(db) == sorted(first)  # nothing half-written; a re-run adds the rest
    (code, err), = finish([cli(db, cfg, "ingest", str(tmp_path / "more.jsonl"))])
    assert code == 0, err
    assert len(titles(db)) == 10


def test_ingest_beside_watch_once(tmp_path: Path, cfg: Path, server: LocalServer) -> None:
    feed = [{"title": d["title"], "link": d["url"], "guid": d["url"], "content": "<p>" + d["text"].replace("\n\n", "</p><p>") + "</p>",
             "pubDate": "Tue, 03 Jun 2025 09:00:00 GMT"} for d in (article("feed", i) for i in range(30))]
    url = server.route("/feed.xml", Reply(200, rss(feed), {"Content-Type": "application/rss+xml"}))
    lst = tmp_path / "feeds.opml"
    lst.write_bytes(opml([url]))
    expected = write_jsonl(tmp_path / "h.jsonl", "file", 40) + [d["title"] for d in feed]
    db = tmp_path / "W.db"
    results = finish([cli(db, cfg, "watch", str(lst), "--once"), cli(db, cfg, "ingest", str(tmp_path / "h.jsonl"))])
    for code, err in results:
        assert code == 0 and "Traceback" not in err, err
    assert "failed 0, new articles 30" in results[0][1], results[0][1]
    check_stored_once(db, expected)


def test_cli_ingest_beside_http_ingest(tmp_path: Path, cfg: Path) -> None:
    db = tmp_path / "W.db"
    write_jsonl(tmp_path / "seed.jsonl", "seed", 1)
    finish([cli(db, cfg, "ingest", str(tmp_path / "seed.jsonl"))])  # the server opens an existing store
    proc, base = start_server(db)  # it reads the storyloom.toml in the store's folder (the token)
    try:
        expected = [article("seed", 0)["title"]] + write_jsonl(tmp_path / "h.jsonl", "file", 40)
        http_docs = [article("http", i) for i in range(30)]
        expected += [d["title"] for d in http_docs]
        answers: list[httpx.Response] = []

        def post() -> None:
            for at in range(0, len(http_docs), 10):  # three requests, each a batch of its own
                body = "".join(json.dumps(d) + "\n" for d in http_docs[at : at + 10])
                answers.append(httpx.post(base + "/api/ingest", content=body, timeout=120,
                                          headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"}))

        poster = threading.Thread(target=post)
        ingest = cli(db, cfg, "ingest", str(tmp_path / "h.jsonl"))
        poster.start()
        (code, err), = finish([ingest])
        poster.join(timeout=120)
        assert code == 0 and "Traceback" not in err, err
        assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
        assert sum(a.json()["counts"].get("added", 0) for a in answers) == 30
    finally:
        stop_server(proc)
    check_stored_once(db, expected)
