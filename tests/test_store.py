"""The store: idempotent writes, page versions, FTS in step with articles, migrations, search."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from conftest import SAMPLE
from storyloom.errors import StoreError
from storyloom.ingest.records import record_to_raw
from storyloom.models import RawDoc
from storyloom.pipeline import ingest, ingest_items
from storyloom.settings import Settings
from storyloom.store import Store
from storyloom.store.migrations import LATEST
from storyloom.store.packing import read_body
from storyloom.store.queries import ArticleFilter, get_article, list_articles, resolve_id, search, stats


def page(url: str, body: str, extra: str = "") -> RawDoc:
    raw = f"{url}|{body}|{extra}".encode()
    return record_to_raw({"url": url, "title": "Headline", "text": body}, raw, "jsonl", f"test:{url}:{extra}")


def check_fts(store: Store) -> None:
    """FTS5's own check of the index against the articles table: raises (sqlite3.DatabaseError) when not in step."""
    store.conn.execute("INSERT INTO articles_fts(articles_fts, rank) VALUES ('integrity-check', 1)")


def test_reingest_adds_nothing(tmp_path: Path, settings: Settings, store: Store) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for i in range(5):
        (src / f"{i}.txt").write_text(f"Title {i}\n\nBody of article {i} about the flood.", encoding="utf-8")
    first = ingest([str(src)], store, settings)
    second = ingest([str(src)], store, settings)
    assert first.counts["added"] == 5
    assert second.counts == {"duplicate": 5}
    assert store.conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 5
    assert store.conn.execute("SELECT count(*) FROM sightings").fetchone()[0] == 5
    # the same bytes found at a new place: one article, one more sighting
    (tmp_path / "copy.txt").write_bytes((src / "0.txt").read_bytes())
    third = ingest([str(tmp_path / "copy.txt")], store, settings)
    assert third.counts == {"duplicate": 1}
    art = get_article(store, first.added_ids[0])
    assert art is not None and len(art.sightings) == 2
    check_fts(store)
    assert len(search(store, "flood")) == 5  # each article indexed once


def test_changed_page_becomes_linked_version(settings: Settings, store: Store) -> None:
    r1 = ingest_items([page("https://ex.com/a", "first text")], store, settings)
    r2 = ingest_items([page("https://ex.com/a", "first text", extra="ads changed")], store, settings)
    r3 = ingest_items([page("https://ex.com/a", "corrected text")], store, settings)
    assert r1.counts == {"added": 1} and r2.counts == {"unchanged": 1} and r3.counts == {"version": 1}
    new = get_article(store, r3.added_ids[0])
    assert new is not None and new.previous_id == r1.added_ids[0]
    old = get_article(store, r1.added_ids[0])
    assert old is not None and old.next_id == new.id
    assert len(old.sightings) == 2  # the re-fetch with unchanged text is recorded, its raw bytes kept
    assert store.conn.execute("SELECT count(*) FROM blobs").fetchone()[0] == 3


def test_raw_bytes_kept_exactly(tmp_path: Path, settings: Settings, store: Store) -> None:
    data = ("Título\n\n" + "Texto del artículo. " * 200).encode("utf-8")  # compressed in the store
    (tmp_path / "a.txt").write_bytes(data)
    rep = ingest([str(tmp_path / "a.txt")], store, settings)
    art = get_article(store, rep.added_ids[0])
    assert art is not None and store.raw_bytes(art.blob) == data


def test_migrations_are_numbered_and_recorded(store: Store) -> None:
    assert store.schema_version() == LATEST
    rows = store.conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    assert [r[0] for r in rows] == list(range(1, LATEST + 1))
    assert store.migrate() == []  # nothing left to apply
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# The statements the stages run once per article or story, and the pages once per request, as a pattern over the
# statement the store really sends (whitespace collapsed).  A table scan there makes ingest quadratic (it did,
# for the copy key tables, until migration 6) and pages slow with the store's size (the article page, until
# migration 7).
PER_ROW_STATEMENTS = {
    "an article's copy keys": r"^SELECT bands, skeys, akeys FROM copy_keys WHERE article_id = ",
    # (an article's keys are deleted by primary key: tests/test_copies.py plans those statements)
    "an article's text through the view": r"JOIN article_texts t ON t.rowid = a.rowid WHERE a.id = ",
    "entities of a story": r"^DELETE FROM story_entities WHERE story_id = ",
    "members moved between stories": r"^UPDATE story_members SET .* WHERE story_id = ",
    "a stage's queue entry": r"^DELETE FROM stage_queue WHERE stage = .* AND article_id = ",
    "the next version of an article": r"^SELECT id FROM articles WHERE previous_id = ",
    "removed spans of an article": r"^SELECT spans FROM article_spans WHERE article_id = ",
    "sightings of an article": r"^SELECT .* FROM sightings WHERE article_id = ",
    "events of a story": r"^SELECT .* FROM story_events WHERE story_id = .* OR other_id = ",
    "where a merged story went": r"^SELECT story_id FROM story_events WHERE kind = 'merge' AND other_id = ",
}


@pytest.fixture
def real_statements(settings: Settings, store: Store) -> list[str]:
    """Every statement the store sent while the real code ran: an ingest with copies, translations and stories
    (the seeds), a changed page (a version), the article and story pages' reads, and a story merge's moves."""
    from storyloom.store import stories as stories_sql

    seen: list[str] = []
    store.conn.set_trace_callback(seen.append)
    try:
        rep = ingest([str(SAMPLE / "seeds")], store, settings)
        ingest_items([page("https://ex.com/v", "first text")], store, settings)
        ingest_items([page("https://ex.com/v", "corrected text")], store, settings)
        for aid in rep.added_ids:
            assert get_article(store, aid) is not None
        sid = next(iter(stories_sql.assignments(store).values()))
        assert stories_sql.story_detail(store, sid) is not None
        stories_sql.merged_into(store, sid)
        with store.transaction():
            stories_sql.move_members(store, sid, "s-elsewhere")
            stories_sql.delete_stories(store, [sid])
    finally:
        store.conn.set_trace_callback(None)
    return [" ".join(q.split()) for q in seen]


def test_per_row_statements_use_an_index(store: Store, real_statements: list[str]) -> None:
    """Each per-row statement, as the store sent it (captured, parameters bound), is planned on an index."""
    import re

    for name, pattern in PER_ROW_STATEMENTS.items():
        sent = sorted({q for q in real_statements if re.search(pattern, q)})
        assert sent, f"{name}: no statement matching {pattern!r} was sent (renamed? update the pattern)"
        for sql in sent:
            plan = " | ".join(r[-1] for r in store.conn.execute("EXPLAIN QUERY PLAN " + sql))
            assert "SCAN" not in plan and ("INDEX" in plan or "PRIMARY KEY" in plan), (name, sql, plan)


def test_newer_schema_refused(tmp_path: Path) -> None:
    p = tmp_path / "future.db"
    c = sqlite3.connect(p)
    c.execute(f"PRAGMA user_version = {LATEST + 1}")
    c.close()
    with pytest.raises(StoreError, match="newer"):
        Store(p)


def test_readonly_store_missing(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such store"):
        Store(tmp_path / "absent.db", readonly=True)


def test_queries(settings: Settings, store: Store) -> None:
    recs = [
        {"url": "https://a.com/1", "title": "Flood in the valley", "text": "The river burst its banks.", "published": "2024-03-01T10:00:00Z", "outlet": "A", "language": "en"},
        {"url": "https://b.com/1", "title": "Élection présidentielle", "text": "Les électeurs ont voté dimanche.", "published": "2024-03-02", "outlet": "B", "language": "fr"},
        {"url": "https://c.com/1", "title": "No date here", "text": "Flood waters receded slowly.", "outlet": "A"},
    ]
    items = [record_to_raw(r, str(r).encode(), "jsonl", f"t:{i}") for i, r in enumerate(recs)]
    ingest_items(items, store, settings)
    rows = list_articles(store, ArticleFilter())
    assert [r.title for r in rows] == ["Élection présidentielle", "Flood in the valley", "No date here"]
    assert [r.title for r in list_articles(store, ArticleFilter(outlet="a"))] == ["Flood in the valley", "No date here"]
    assert [r.title for r in list_articles(store, ArticleFilter(language="fr"))] == ["Élection présidentielle"]
    assert [r.title for r in list_articles(store, ArticleFilter(since="2024-03-02"))] == ["Élection présidentielle"]
    assert [r.title for r in list_articles(store, ArticleFilter(until="2024-03-01"))] == ["Flood in the valley"]
    hits = search(store, "flood")
    assert {h.title for h in hits} == {"Flood in the valley", "No date here"}
    assert hits[0].title == "Flood in the valley"  # headline matches weigh more
    assert search(store, "electeurs")[0].outlet == "B"  # diacritics folded
    # broken FTS5 syntax falls back to the plain words instead of raising
    assert [h.title for h in search(store, 'river (burst')] == ["Flood in the valley"]
    assert search(store, '"river burst"')[0].title == "Flood in the valley"  # FTS5 phrase syntax works
    assert search(store, "") == []
    art_id = rows[0].id
    assert resolve_id(store, art_id[:6]) == art_id and resolve_id(store, "zz") is None
    s = stats(store)
    assert s.articles == 3 and s.undated == 1 and s.by_language["fr"] == 1


@pytest.mark.parametrize("sort", ["recent", "size"])
def test_feed_pages_read_an_index_in_order(store: Store, sort: str) -> None:
    """The feed's first page must not sort every story (it did by size: 60-120 ms a page at 100k articles)."""
    from storyloom.store.stories import feed

    seen: list[str] = []
    store.conn.set_trace_callback(seen.append)
    feed(store, sort=sort, limit=30)
    store.conn.set_trace_callback(None)
    query = next(q for q in seen if q.lstrip().upper().startswith("SELECT") and "FROM stories" in q)
    plan = " | ".join(r[-1] for r in store.conn.execute("EXPLAIN QUERY PLAN " + query))
    assert "TEMP B-TREE" not in plan and "INDEX" in plan, plan


def test_a_body_equal_to_its_text_is_stored_once_and_read_back_whole(tmp_path: Path) -> None:
    """``body`` is NULL in the column when nothing was removed (the text's second copy was a sixth of the store);
    every reader still gets the body, and re-cleaning from the raw bytes finds nothing changed."""
    from storyloom.pipeline import reclean
    from storyloom.store.load import export_rows

    settings = Settings(db_path=str(tmp_path / "s.db"), run_copies=False)
    plain = tmp_path / "plain"
    plain.mkdir()
    for i in range(3):
        (plain / f"{i}.txt").write_text(f"Title {i}\n\nBody of article {i} about the flood in the valley.", encoding="utf-8")
    pages = tmp_path / "pages"
    pages.mkdir()
    for p in sorted((SAMPLE / "aeb").glob("*.html.gz"))[:12]:
        (pages / p.name).write_bytes(p.read_bytes())
    with Store(settings.db_path) as store:
        ingest([str(plain), str(pages)], store, settings)
        cols = [(r[0], r[1], read_body(r[2], r[3]), r[3], r[2]) for r in
                store.conn.execute("SELECT a.id, a.body IS NULL, a.body, t.text FROM articles a JOIN article_texts t ON t.rowid = a.rowid").fetchall()]
        assert sum(1 for r in cols if r[1]) >= 3  # the plain texts: nothing removed
        assert any(not r[1] and r[2] != r[3] for r in cols)  # pages with furniture keep their body
        # a body is kept as the lines cleaning removed, deflated against the text: a fraction of its size
        packed = [(len(r[2].encode()), len(r[4])) for r in cols if not r[1]]
        assert sum(p for _, p in packed) < 0.5 * sum(b for b, _ in packed)
        cols = [r[:4] for r in cols]
        for aid, null, body, text in cols:
            art = get_article(store, aid)
            assert art is not None and art.body == (text if null else body)
        exported = {r["id"]: r["body"] for r in export_rows(store, "articles")}
        assert all(exported[aid] == (text if null else body) for aid, null, body, text in cols)
        assert reclean(store, settings).changed == 0
