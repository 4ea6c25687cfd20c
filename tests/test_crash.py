"""Crash safety: SIGKILL an ingest of 5,000 files part-way, run it again, get the uninterrupted store."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

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


def count(db: Path) -> int:
    try:
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return c.execute("SELECT count(*) FROM articles").fetchone()[0]
        finally:
            c.close()
    except sqlite3.OperationalError:
        return 0


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
