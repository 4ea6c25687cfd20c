"""Upgrading a store written by the first release (schema version 1, with data) to the latest schema: nothing
is lost, and the stages that came later (cleaning again, copies, stories) run on the old articles.

The fixture is built as version-1 code built it: only ``MIGRATIONS[:1]`` applied to a fresh SQLite file, then
rows written with that version's columns (no ``body``, ``meta`` or ``template_group``: those came with 2)."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conftest import SAMPLE
from storyloom.copies import find_copies
from storyloom.models import blob_key, content_id
from storyloom.pipeline import reclean
from storyloom.settings import Settings
from storyloom.store import Store
from storyloom.store import stories as stories_sql
from storyloom.store.load import export_rows
from storyloom.store.migrations import LATEST, MIGRATIONS
from storyloom.store.packing import read_body
from storyloom.store.queries import get_article, search
from storyloom.store.sqlite import text_hash
from storyloom.stories import build_stories

FLOOD = ("Floods hit the Danube valley", "Heavy rain flooded villages along the Danube on Tuesday morning. Rescue "
         "teams evacuated hundreds of residents from Vukovar and Novi Sad as the river rose above its banks. "
         "Officials in Serbia and Croatia declared emergencies in eleven districts along the river. Forecasters "
         "expect the water to peak on Thursday before falling slowly through the weekend.")


def v1_store(path: Path) -> list[dict[str, str]]:
    """A schema-1 store holding the two seed articles (text files) and a wire item with a reprint (JSON
    records), each with its blob and sighting, and one removed span.  Returns the rows written."""
    conn = sqlite3.connect(path)
    version, name, sql = MIGRATIONS[0]
    assert version == 1
    now = datetime(2023, 6, 1, tzinfo=UTC).isoformat(timespec="seconds")
    conn.executescript(f"BEGIN;\n{sql}\nINSERT INTO schema_migrations VALUES (1, {json.dumps(name)}, '{now}');\n"
                       "PRAGMA user_version = 1;\nCOMMIT;")
    rows: list[dict[str, str]] = []
    inputs: list[tuple[str, bytes, str, str, str | None, str | None, str | None]] = []
    for p in sorted((SAMPLE / "seeds").glob("*.txt")):
        data = p.read_bytes()
        head, _, body = data.decode("utf-8").partition("\n")
        inputs.append(("txt", data, str(p), head.strip(), body.strip(), None, None))
    for outlet, url in (("Sample Wire", "https://wire.example/flood"), ("Daily Example", "https://daily.example/flood")):
        rec = {"title": FLOOD[0], "text": FLOOD[1], "url": url, "outlet": outlet, "published": "2024-03-05T08:00:00Z"}
        inputs.append(("jsonl", json.dumps(rec).encode(), f"wire.jsonl:{len(inputs)}", FLOOD[0], FLOOD[1], url, outlet))
    with conn:
        for kind, data, location, title, text, url, outlet in inputs:
            aid, key = content_id(data), blob_key(data)
            conn.execute("INSERT INTO blobs VALUES (?, ?, 'raw', ?)", (key, len(data), data))
            conn.execute("INSERT INTO articles (id, blob, kind, location, url, title, text, text_hash, published, "
                         "outlet, language, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'en', ?)",
                         (aid, key, kind, location, url, title, text, text_hash(title, text),
                          "2024-03-05T08:00:00+00:00" if url else None, outlet, now))
            conn.execute("INSERT INTO sightings VALUES (?, ?, ?, ?)", (aid, location, key, now))
            rows.append({"id": aid, "blob": key, "title": title, "text": text, "location": location})
        conn.execute("INSERT INTO removed_spans VALUES (?, 0, 5, 'a test span', 'test')", (rows[0]["id"],))
    conn.close()
    return rows


@pytest.fixture
def upgraded(tmp_path: Path) -> tuple[Path, list[dict[str, str]]]:
    db = tmp_path / "v1.db"
    rows = v1_store(db)
    with Store(db) as store:  # opening migrates
        assert store.schema_version() == LATEST
        applied = [r[0] for r in store.conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
        assert applied == list(range(1, LATEST + 1))
    return db, rows


def test_data_survives_the_upgrade(upgraded: tuple[Path, list[dict[str, str]]]) -> None:
    db, rows = upgraded
    with Store(db) as store:
        assert store.conn.execute("SELECT count(*) FROM articles").fetchone()[0] == len(rows) == 4
        for r in rows:
            got = store.conn.execute("SELECT a.title, t.text, a.blob FROM articles a JOIN article_texts t ON t.rowid = a.rowid WHERE a.id = ?", (r["id"],)).fetchone()
            assert tuple(got) == (r["title"], r["text"], r["blob"])
            seen = store.conn.execute("SELECT location FROM sightings WHERE article_id = ?", (r["id"],)).fetchall()
            assert [x[0] for x in seen] == [r["location"]]
            raw = store.raw_bytes(r["blob"])
            assert raw is not None and r["title"].encode() in raw
            assert get_article(store, r["id"]) is not None  # the article page's read works on old rows
        spans = list(export_rows(store, "removed_spans"))  # packed a row per article by migration 16
        assert spans == [{"article_id": rows[0]["id"], "start": 0, "end": 5, "reason": "a test span", "rule": "test"}]
        assert [s.reason for s in get_article(store, rows[0]["id"]).removed] == ["a test span"]  # type: ignore[union-attr]
        # the version-1 FTS index still answers, through the search the pages use and directly
        assert len(search(store, "Danube")) == 2
        fts = store.conn.execute("SELECT rowid FROM articles_fts WHERE articles_fts MATCH 'Vukovar'").fetchall()
        assert len(fts) == 2
        # the migrations queued every old article for the stages that did not exist then
        queued = store.conn.execute("SELECT stage, count(*) FROM stage_queue GROUP BY stage").fetchall()
        assert dict(queued) == {"copies": 4, "stories": 4}
        store.conn.execute("INSERT INTO articles_fts(articles_fts, rank) VALUES ('integrity-check', 1)")
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert store.conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_stages_run_on_the_upgraded_store(upgraded: tuple[Path, list[dict[str, str]]], tmp_path: Path) -> None:
    db, rows = upgraded
    settings = Settings(db_path=str(db), line_classifier=False)
    with Store(db) as store:
        cleaned = reclean(store, settings)  # fills the columns version 2 added, from the kept raw bytes
        assert cleaned.checked == 4 and not cleaned.failed, cleaned
        # the body: stored where it differs from the text, NULL (read as the text) where it is the text itself
        for r in store.conn.execute("SELECT a.id, a.body, t.text FROM articles a JOIN article_texts t ON t.rowid = a.rowid").fetchall():
            assert r["body"] is None or r["body"] != r["text"]
            detail = get_article(store, r["id"])
            assert detail is not None and detail.body == read_body(r["body"], r["text"])
        assert find_copies(store, settings).processed == 4
        wire, reprint = rows[2]["id"], rows[3]["id"]
        link = store.conn.execute("SELECT kind FROM copy_links WHERE (a, b) IN ((?, ?), (?, ?))",
                                  (wire, reprint, reprint, wire)).fetchone()
        assert link is not None and link[0] in ("exact", "near_duplicate")
        assert build_stories(store, settings).processed == 4
        story = stories_sql.assignments(store)
        assert set(story) == {r["id"] for r in rows}
        assert story[rows[0]["id"]] == story[rows[1]["id"]]  # the two seed articles: one event
        assert story[wire] == story[reprint] != story[rows[0]["id"]]
        assert store.conn.execute("SELECT count(*) FROM stage_queue").fetchone()[0] == 0
