"""Crash safety: SIGKILL an ingest of 5,000 files part-way, run it again, get the uninterrupted store."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from storyloom.store.packing import register

N_FILES = 5000


def make_corpus(root: Path) -> None:
    words = "flood river dam village rain rescue minister council storm bridge harbour election".split()
    for i in range(N_FILES):
        sub = root / f"d{i % 17:02d}"
        sub.mkdir(exist_ok=True)
        body = " ".join(words[(i * k) % len(words)] for k in range(1, 60))
        (sub / f"{i:05d}.txt").write_text(f"Story number {i}\n\n{body}. Item {i} ends here.", encoding="utf-8")


def run_ingest(db: Path, corpus: Path, cfg: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "STORYLOOM_CONFIG": str(cfg)}
    return subprocess.Popen([sys.executable, "-m", "storyloom.cli", "--db", str(db), "ingest", str(corpus)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def snapshot(db: Path) -> dict[str, object]:
    c = sqlite3.connect(db)
    register(c)  # the FTS index reads its texts through the store's decoding functions
    try:
        c.execute("INSERT INTO articles_fts(articles_fts, rank) VALUES ('integrity-check', 1)")  # raises if out of step
        return {
            "integrity": c.execute("PRAGMA integrity_check").fetchone()[0],
            "articles": c.execute(
                "SELECT rowid, id, blob, kind, location, title, text, published, language, previous_id FROM articles ORDER BY rowid"
            ).fetchall(),
            "sightings": c.execute("SELECT article_id, location, blob FROM sightings ORDER BY 1, 2, 3").fetchall(),
            "blobs": c.execute("SELECT sha256, size FROM blobs ORDER BY 1").fetchall(),
            "fts_hits": c.execute("SELECT rowid FROM articles_fts WHERE articles_fts MATCH 'harbour' ORDER BY rowid").fetchall(),
            "fts_rows": c.execute("SELECT count(*) FROM articles_fts").fetchone()[0],
            "queued": c.execute("SELECT stage, article_id FROM stage_queue ORDER BY 1, 2").fetchall(),
        }
    finally:
        c.close()


def rows_of(db: Path, table: str) -> int:
    """Rows of a table of a store another process is writing (0 while it cannot be read yet)."""
    try:
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return int(c.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        finally:
            c.close()
    except sqlite3.OperationalError:
        return 0


def count(db: Path) -> int:
    return rows_of(db, "articles")


@pytest.mark.slow
def test_sigkill_midway_then_rerun_equals_uninterrupted(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    make_corpus(corpus)
    cfg = tmp_path / "storyloom.toml"
    # the ingest stage alone: copies and stories keep their own queues (resumable the same way) and would make
    # 5,000 articles take minutes on CI's two cores
    cfg.write_text("batch_size = 100\nrun_copies = false\n")

    clean_db = tmp_path / "clean.db"
    assert run_ingest(clean_db, corpus, cfg).wait(timeout=600) == 0
    expected = snapshot(clean_db)
    assert len(expected["articles"]) == N_FILES  # type: ignore[arg-type]

    crashed_db = tmp_path / "crashed.db"
    proc = run_ingest(crashed_db, corpus, cfg)
    deadline = time.monotonic() + 120
    while count(crashed_db) < N_FILES // 4 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "ingest finished before it could be killed; make the corpus larger"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = count(crashed_db)
    assert 0 < partial < N_FILES

    assert run_ingest(crashed_db, corpus, cfg).wait(timeout=600) == 0
    got = snapshot(crashed_db)
    assert got["integrity"] == "ok"
    assert len(got["queued"]) == 2 * N_FILES  # every article waits for copies and stories, exactly once
    for key in ("articles", "sightings", "blobs", "fts_hits", "fts_rows", "queued"):
        assert got[key] == expected[key], key


# -- the copies and stories stages: SIGKILL part-way through `storyloom copies` / `stories`, re-run, compare ----

STAGE_FILES = 1500
TOPICS = ["flood river dam village rain rescue", "election vote council minister ballot", "harbour ship storm port",
          "bridge road traffic closure", "festival music stage crowd", "court judge trial verdict"]


def make_stage_corpus(root: Path) -> None:
    """Articles on a few topics, a third of them near-copies of the one before (so both stages have work)."""
    import random

    rnd = random.Random(7)
    prev = ""
    for i in range(STAGE_FILES):
        topic = TOPICS[i % len(TOPICS)].split()
        if i % 3 == 2 and prev:
            body = prev.replace(" ends here.", f" ends here, reported item {i}.")
        else:
            body = " ".join(rnd.choice(topic) for _ in range(80)) + f". Town{i % 40} said so. Item {i} ends here."
        prev = body
        day = 1 + (i // 60) % 28
        rec = {"title": f"{topic[0].title()} {i}", "text": body, "outlet": f"O{i % 9}",
               "published": f"2024-03-{day:02d}T{i % 24:02d}:00:00Z"}
        (root / f"{i:05d}.json").write_text(json.dumps(rec), encoding="utf-8")


def stage_snapshot(db: Path) -> dict[str, object]:
    c = sqlite3.connect(db)
    try:
        return {
            "integrity": c.execute("PRAGMA integrity_check").fetchone()[0],
            "prints": c.execute("SELECT article_id, exact, sketch FROM copy_prints ORDER BY 1").fetchall(),
            "links": c.execute("SELECT a, b, kind, direction FROM copy_links ORDER BY 1, 2").fetchall(),
            "groups": c.execute("SELECT article_id, group_id FROM copy_groups ORDER BY 1").fetchall(),
            "members": c.execute("SELECT article_id, story_id, reason FROM story_members ORDER BY 1").fetchall(),
            "stories": c.execute("SELECT id, n_articles, first_seen, last_seen FROM stories ORDER BY 1").fetchall(),
            "term_df": c.execute("SELECT term, df FROM term_df ORDER BY 1").fetchall(),
            "counters": c.execute("SELECT key, value FROM counters ORDER BY 1").fetchall(),
            "queued": c.execute("SELECT stage, article_id FROM stage_queue ORDER BY 1, 2").fetchall(),
        }
    finally:
        c.close()


def run_stage(db: Path, cfg: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "STORYLOOM_CONFIG": str(cfg)}
    return subprocess.Popen([sys.executable, "-m", "storyloom.cli", "--db", str(db), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)


@pytest.mark.slow
@pytest.mark.parametrize(("stage", "progress_table"), [("copies", "copy_prints"), ("stories", "story_members")])
def test_sigkill_in_a_stage_then_rerun_equals_uninterrupted(tmp_path: Path, stage: str, progress_table: str) -> None:
    import shutil

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    make_stage_corpus(corpus)
    cfg = tmp_path / "storyloom.toml"
    cfg.write_text("run_copies = false\nline_classifier = false\ntranslations = false\nstory_embeddings = false\n")
    base = tmp_path / "base.db"
    assert run_ingest(base, corpus, cfg).wait(timeout=600) == 0
    if stage == "stories":  # the stories stage needs the copy groups first
        assert run_stage(base, cfg, "copies", "--json").wait(timeout=600) == 0
    clean_db, crashed_db = tmp_path / "clean.db", tmp_path / "crashed.db"
    for db in (clean_db, crashed_db):
        shutil.copy(base, db)
    args = ("copies", "--json") if stage == "copies" else ("stories", "--json")
    assert run_stage(clean_db, cfg, *args).wait(timeout=600) == 0
    expected = stage_snapshot(clean_db)
    assert expected["links"] and (stage == "copies" or expected["members"])

    proc = run_stage(crashed_db, cfg, *args)
    before = rows_of(base, progress_table)
    deadline = time.monotonic() + 300
    while rows_of(crashed_db, progress_table) < before + STAGE_FILES // 4 and time.monotonic() < deadline \
            and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, f"{stage} finished before it could be killed; make the corpus larger"
    os.killpg(proc.pid, signal.SIGKILL)  # the stage and any worker process it started
    proc.wait()
    assert run_stage(crashed_db, cfg, *args).wait(timeout=600) == 0
    got = stage_snapshot(crashed_db)
    assert got["integrity"] == "ok"
    for key in expected:
        assert got[key] == expected[key], key
