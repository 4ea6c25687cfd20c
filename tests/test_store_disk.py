"""The store's compact forms (issue 23's disk budget): raw inputs, bodies and vectors come back as they went in
(byte for byte, or within the int8 rounding the stages are measured with), and migration 12 upgrades a store
written by the code before it without losing a row."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from storyloom.embed.cache import DIGEST, Vectors, digest, pack, unpack
from storyloom.errors import StoreError
from storyloom.models import RawDoc, blob_key, content_id
from storyloom.pipeline import ingest_items
from storyloom.settings import Settings
from storyloom.store import Store
from storyloom.store import copies as copies_sql
from storyloom.store import stories as stories_sql
from storyloom.store.migrations import LATEST, MIGRATIONS
from storyloom.store.packing import (
    COMPRESS_OVER,
    RAW_DICT_MAX,
    article_of,
    decode_blob,
    key_of,
    needs_raw,
    pack_text,
    read_body,
    read_text,
    register,
    stored_body,
)
from storyloom.store.queries import get_article, search
from storyloom.store.sqlite import sql_statements, text_hash


def told_it_is_at(conn: sqlite3.Connection, version: int) -> None:
    """Make a store say it is at schema ``version`` (the migrations after it are run again at its next open)."""
    if version < 21:
        undo_21(conn)
    conn.execute("DELETE FROM schema_migrations WHERE version > ?", (version,))
    conn.execute(f"PRAGMA user_version = {int(version)}")


@pytest.mark.parametrize("data", [
    b"short",  # kept as it is
    ("Título\r\n\r\n" + "Texto del artículo, línea larga. " * 300).encode("utf-8"),  # deflated
    bytes(range(256)) * 40,  # not text at all
    "Заголовок\n\nТекст статьи. ".encode("cp1251") * 50,  # a legacy encoding
], ids=["short", "utf8", "binary", "cp1251"])

def test_raw_input_comes_back_byte_for_byte(data: bytes, tmp_path: Path) -> None:
    settings = Settings(db_path=str(tmp_path / "s.db"), run_copies=False, run_stories=False)
    with Store(settings.db_path) as store:
        (tmp_path / "a.txt").write_bytes(data)
        from storyloom.pipeline import ingest

        rep = ingest([str(tmp_path / "a.txt")], store, settings)
        if not rep.added_ids:  # a binary file may be refused as an article; its raw bytes are then not kept
            assert rep.errors
            return
        art = get_article(store, rep.added_ids[0], raw=True)
        assert art is not None and store.raw_bytes(art.blob) == data
        codec = store.conn.execute("SELECT codec FROM blobs WHERE sha256 = ?", (art.blob,)).fetchone()[0]
        assert codec == ("raw" if len(data) <= COMPRESS_OVER else "zlib")


@pytest.mark.parametrize("body,text", [
    ("Menu\n\nHeadline text.\n\nShare this", "Headline text."),
    ("Ünïcödé — 中文 \ud83d text\n\nmore", "more"),  # a lone surrogate, as a broken page can carry
    ("only furniture", ""),
    ("same", "same"),
])
def test_a_body_is_kept_against_its_text_and_read_back_whole(body: str, text: str) -> None:
    kept = stored_body(body, text)
    if body == text:
        assert kept is None
    else:
        assert isinstance(kept, bytes)
    assert read_body(kept, text) == body
    assert read_body("a plain body of an older store", text) == "a plain body of an older store"


def test_a_packed_body_costs_the_removed_lines_not_the_text() -> None:
    text = "\n\n".join(f"Paragraph {i} of the story, with enough words to matter for the size." for i in range(60))
    body = "Subscribe now\n\n" + text + "\n\nShare on social media\n\nRead more"
    kept = stored_body(body, text)
    assert kept is not None and len(kept) < 120 < len(body)


def test_int8_vectors_keep_cosines_and_fresh_equals_kept() -> None:
    rng = np.random.default_rng(3)
    m = rng.normal(size=(40, 512)).astype(np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    head, back = unpack(pack("the text", m), 512)
    assert head == digest("the text") and back.shape == m.shape
    exact, rounded = m @ m.T, back @ back.T
    assert np.abs(exact - rounded).max() < 0.005
    assert len(pack("the text", m)) == DIGEST + 40 * (512 + 4)  # half of float16's bytes
    zero = unpack(pack("t", np.zeros((1, 8), np.float32)), 8)[1]
    assert not zero.any()


class Stub:
    name, dim = "stub", 8

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += len(texts)
        return np.stack([np.arange(1, 9, dtype=np.float32) / (i + 1) for i in range(len(texts))])


def test_the_cache_gives_fresh_and_kept_vectors_alike(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        model = Stub()
        fresh = Vectors(store, {"a": "title a", "b": "title b"}).get(model, ["a", "b"])
        kept = Vectors(store, {"a": "title a", "b": "title b"}).get(model, ["a", "b"])
        assert model.calls == 2  # the second read embedded nothing
        assert all(np.array_equal(fresh[k], kept[k]) for k in "ab")
        assert {r[0] for r in store.conn.execute("SELECT codec FROM embeddings")} == {"i8"}


# -- migration 12 on a store the code before it wrote --------------------------------------------------


LINES = {"00ff10ab3c4d5e6f": 2, "ff00aa0000000001": 3}  # a line key whose integer is negative too


def v11_store(path: Path) -> dict[str, object]:
    """A schema-11 store written as that code wrote: raw inputs in a WITHOUT ROWID table, a plain-text body,
    float16 vectors with their digest, the compare stage's int8 sentence vectors, a copy link and two stories."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys = ON")
    with conn:
        for number, name, sql in MIGRATIONS[:11]:
            conn.executescript(f"SAVEPOINT m;\n{sql}\nRELEASE m;")
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?, '2026-01-01')", (number, name))
        conn.execute("PRAGMA user_version = 11")
    arts = []
    with conn:
        for i in range(3):
            data = (f"Headline {i}\n\n" + f"Body {i} of the story about the flood. " * (5 + 40 * i)).encode()
            aid, key = content_id(data), blob_key(data)
            import zlib

            stored, codec = (zlib.compress(data, 1), "zlib") if len(data) > COMPRESS_OVER else (data, "raw")
            conn.execute("INSERT INTO blobs VALUES (?, ?, ?, ?)", (key, len(data), codec, stored))
            text = data.decode().split("\n\n", 1)[1]
            body = "Menu\n\n" + text if i == 1 else None
            conn.execute("INSERT INTO articles (id, blob, kind, location, title, text, text_hash, published, outlet, "
                         "language, ingested_at, body) VALUES (?, ?, 'txt', ?, ?, ?, ?, ?, 'Wire', 'en', '2026-01-01', ?)",
                         (aid, key, f"f{i}.txt", f"Headline {i}", text, text_hash(f"Headline {i}", text),
                          f"2026-01-0{i + 1}T08:00:00Z", body))
            conn.execute("INSERT INTO sightings VALUES (?, ?, ?, '2026-01-01')", (aid, f"f{i}.txt", key))
            arts.append({"id": aid, "blob": key, "data": data, "text": text, "body": body or text})
        vec = (np.arange(8, dtype=np.float32) + 1) / 10
        f16 = digest("lead 0") + vec.astype(np.float16).tobytes()
        conn.execute("INSERT INTO embeddings VALUES (?, 'stub', ?)", (arts[0]["id"], f16))
        conn.execute("INSERT INTO embeddings VALUES ('s:abc', 'use-m3/sentence-int8', ?)", (b"\x01" * 516,))
        conn.execute("INSERT INTO copy_links VALUES (?, ?, 'near_duplicate', 0.9, 'same', '{}', ?)",
                     (min(arts[0]["id"], arts[1]["id"]), max(arts[0]["id"], arts[1]["id"]), json.dumps(["x" * 2000])))
        for i, a in enumerate(arts):  # the copy key tables as the code before migration 13 wrote them
            conn.execute("INSERT INTO copy_bands VALUES (?, ?)", (100 + i, a["id"]))
            conn.execute("INSERT INTO copy_sentences VALUES (7, ?)", (a["id"],))
            conn.execute("INSERT INTO copy_anchors VALUES (-5, ?)", (a["id"],))
        conn.execute("INSERT INTO copy_anchors VALUES (-5, 'not-a-hex-id')")
        conn.execute("INSERT INTO template_groups VALUES ('outlet:wire', 3)")
        conn.executemany("INSERT INTO template_lines VALUES ('outlet:wire', ?, ?)", [(k, n) for k, n in LINES.items()])
        for k, sid in enumerate(("s1", "s2")):
            conn.execute("INSERT INTO stories VALUES (?, ?, ?, 0.5, ?, ?, ?, '{}', '{\"en\": 1}', ?, 1, '{}', '{}', "
                         "'2026-01-03')", (sid, f"Label {k}", arts[k]["id"], f"2026-01-0{k + 1}T08:00:00Z",
                                           f"2026-01-0{k + 2}T08:00:00Z", 1 + k, vec.tobytes()))
            conn.execute("INSERT INTO story_members VALUES (?, ?, 1.0, 'opened', ?, NULL)",
                         (arts[k]["id"], sid, f"2026-01-0{k + 1}T08:00:00Z"))
    conn.close()
    return {"arts": arts, "vec": vec}


def table_rows(path: Path, table: str, cols: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return [tuple(r) for r in conn.execute(f"SELECT {cols} FROM {table} ORDER BY 1, 2")]
    finally:
        conn.close()


def test_migration_12_keeps_every_row_and_every_reader_works(tmp_path: Path) -> None:
    db = tmp_path / "v11.db"
    made = v11_store(db)
    before = {t: table_rows(db, t, c) for t, c in (
        ("blobs", "sha256, size, codec, data"), ("embeddings", "article_id, model, vec"),
        ("copy_links", "a, b, kind, score, direction, details, evidence"),
        ("stories", "id, label, label_article, label_score, first_seen, last_seen, n_articles, outlets, languages, "
                    "centroid, n_vectors, terms, entities, updated_at"))}
    with Store(db) as store:
        assert store.schema_version() == LATEST >= 12
        assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1  # enforced again after migrating
        assert store.conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    after = {t: table_rows(db, t, c) for t, c in (
        ("blobs", "sha256, size, codec, data"), ("embeddings", "article_id, model, vec"),
        ("copy_links", "a, b, kind, score, direction, details, evidence"),
        ("stories", "id, label, label_article, label_score, first_seen, last_seen, n_articles, outlets, languages, "
                    "centroid, n_vectors, terms, entities, updated_at"))}
    assert after == before
    assert dict(table_rows(db, "embeddings", "model, codec")) == {"stub": "f16", "use-m3/sentence-int8": "i8"}
    arts = made["arts"]
    assert isinstance(arts, list)
    with Store(db) as store:
        for a in arts:
            assert store.raw_bytes(a["blob"]) == a["data"]
            detail = get_article(store, a["id"], raw=True)
            assert detail is not None and detail.body == a["body"] and detail.text == a["text"]
        assert len(search(store, "flood")) == 3
        # an old float16 vector is read, not embedded again
        model = Stub()
        got = Vectors(store, {arts[0]["id"]: "lead 0"}).get(model, [arts[0]["id"]])
        assert model.calls == 0 and np.allclose(got[arts[0]["id"]], made["vec"], atol=1e-3)
        # the rebuilt tables take writes through the same statements
        new = RawDoc(kind="txt", location="new.txt", raw=b"Headline new\n\nA new body about the flood.",
                     title="Headline new", text="A new body about the flood.")
        rep = ingest_items([new], store, Settings(db_path=str(db), run_copies=False, run_stories=False))
        assert rep.counts.get("added") == 1
        assert "stories_last_seen" not in {r[0] for r in store.conn.execute("SELECT name FROM sqlite_schema")}
        assert [c.id for c in stories_sql.feed(store, sort="size")] == ["s2", "s1"]
        group = copies_sql.linked(store, [arts[0]["id"]])
        assert len(group) == 1
        # template counts by group number and integer key, read and counted as before
        assert store.group_size("outlet:wire") == 3
        assert store.line_counts("outlet:wire", [*LINES, "abababababababab"]) == LINES
        from storyloom.store import templates as templates_sql

        assert templates_sql.keys_counted_between(store, "outlet:wire", 3, 9) == {"ff00aa0000000001": 3}
        with store.transaction() as c:
            store._count_template_lines(c, "outlet:wire", ["ff00aa0000000001", "1234567890abcdef"])
        assert store.line_counts("outlet:wire", [*LINES, "1234567890abcdef"]) == {
            "00ff10ab3c4d5e6f": 2, "ff00aa0000000001": 4, "1234567890abcdef": 1}
        assert store.group_size("outlet:wire") == 4
        # the key tables hold the stored articles by rowid now (migrations 12 and 18), an id no article has as
        # itself ("not-a-hex-id"), and every reader gives the ids back
        assert {r[0] for r in store.conn.execute("SELECT typeof(article_id) FROM copy_bands")} == {"integer"}
        assert {r[0] for r in store.conn.execute("SELECT typeof(article_id) FROM copy_anchors")} == {"integer", "text"}
        assert copies_sql.keys_of(store, arts[1]["id"]) == ([101], [7])
        hits, _ = copies_sql.keyed_candidates(store, "copy_anchors", "akey", [-5], arts[0]["id"], 10)
        assert hits == {arts[1]["id"]: 1, arts[2]["id"]: 1, "not-a-hex-id": 1}
        with store.transaction():
            copies_sql.drop_keys(store, [arts[2]["id"]])
        assert store.conn.execute("SELECT count(*) FROM copy_bands").fetchone()[0] == 2


@pytest.mark.parametrize("aid", ["00ff10ab3c4d5e6f", "a1", "ABCDEF12", "ab cd", "", "x" * 16, "abc"])
def test_a_key_table_id_round_trips(aid: str) -> None:
    held = key_of(aid)
    assert article_of(held) == aid
    assert isinstance(held, bytes) == (aid in ("00ff10ab3c4d5e6f", "a1"))


def test_story_terms_are_kept_deflated_and_read_back_exactly(tmp_path: Path) -> None:
    from storyloom.store.load import export_rows

    terms = {f"term{i}": 1 / (i + 3) for i in range(300)}  # full float digits, as the stories stage keeps them
    story = {"id": "s1", "label": "L", "label_article": "a", "label_score": 0.5, "first_seen": "2026-01-01",
             "last_seen": "2026-01-02", "n_articles": 1, "outlets": {"Wire": 1}, "languages": {"en": 1},
             "centroid": None, "n_vectors": 0, "terms": terms, "entities": {"Danube": 1}}
    with Store(tmp_path / "s.db") as store:
        with store.transaction():
            stories_sql.save_stories(store, [story])
        got = stories_sql.stories_by_id(store, ["s1"])[0]
        assert got["terms"] == terms
        kept = store.conn.execute("SELECT terms FROM stories").fetchone()[0]
        assert isinstance(kept, bytes) and len(kept) < len(json.dumps(terms)) / 2
        exported = next(export_rows(store, "stories"))
        assert json.loads(exported["terms"]) == terms
        # a row an older store wrote (plain JSON) reads the same
        store.conn.execute("UPDATE stories SET terms = ? WHERE id = 's1'", (json.dumps(terms),))
        assert stories_sql.stories_by_id(store, ["s1"])[0]["terms"] == terms


def test_a_link_evidence_is_kept_deflated_and_read_back_exactly(tmp_path: Path) -> None:
    from storyloom.store.load import export_rows

    passages = [{"a": i, "a_text": f"Sentence {i} of the wire story about the flood in the valley.", "b": i,
                 "b_text": f"Satz {i} der Meldung über das Hochwasser im Tal.", "score": 0.87} for i in range(12)]
    docs = [RawDoc(kind="txt", location=f"{k}.txt", raw=f"Headline {k}\n\nBody {k} about the flood.".encode(),
                   title=f"Headline {k}", text=f"Body {k} about the flood.") for k in range(4)]
    with Store(tmp_path / "s.db") as store:
        ingest_items(docs, store, Settings(db_path=str(tmp_path / "s.db"), run_copies=False, run_stories=False))
        a1, b1, a2, b2 = sorted(r[0] for r in store.conn.execute("SELECT id FROM articles"))
        links = [{"a": a1, "b": b1, "kind": "translation", "score": 0.9, "direction": "unknown",
                  "details": {"cosine": 0.8}, "evidence": passages},
                 {"a": a2, "b": b2, "kind": "exact", "score": 1.0, "direction": "same", "details": {}, "evidence": []}]
        with store.transaction():
            copies_sql.save_links(store, links)
            copies_sql.save_groups(store, {a1: "g1", b1: "g1", a2: "g2", b2: "g2"})
        kept = dict(store.conn.execute("SELECT a, evidence FROM copy_links").fetchall())
        assert isinstance(kept[a1], bytes) and len(kept[a1]) < len(json.dumps(passages)) / 2
        assert kept[a2] == "[]"  # too small to deflate: kept as text
        group = copies_sql.group_detail(store, "g1")
        assert group is not None and group.links[0].evidence == passages
        exported = {r["a"]: r for r in export_rows(store, "copy_links")}
        assert json.loads(exported[a1]["evidence"]) == passages and exported[a2]["evidence"] == "[]"
        # a row an older store wrote (plain JSON) reads the same
        store.conn.execute("UPDATE copy_links SET evidence = ? WHERE a = ?", (json.dumps(passages), a1))
        group = copies_sql.group_detail(store, "g1")
        assert group is not None and group.links[0].evidence == passages


# -- texts packed against their raw input (migration 13) ------------------------------------------------


@pytest.mark.parametrize("text,raw", [
    ("", b""),
    ("short", b"short"),
    ("Ünïcödé — 中文 \ud83d text " * 40, "Ünïcödé — 中文 text ".encode() * 40),  # a lone surrogate kept
    ("Paragraph one of the story.\n\n" * 80, json.dumps({"text": "Paragraph one of the story.\n\n" * 80}).encode()),
    ("A text its raw input does not hold, long enough to deflate. " * 30, bytes(range(256)) * 10),
    ("A text of a large page. " * 50, b"<p>A text of a large page. </p>" * 4000),  # raw over RAW_DICT_MAX
])
def test_a_text_is_packed_smallest_and_read_back_exactly(text: str, raw: bytes) -> None:
    kept = pack_text(text, raw)
    assert read_text(kept, raw if needs_raw(kept) else None) == text
    size = len(kept) if isinstance(kept, bytes) else len(text.encode("utf-8", "surrogatepass"))
    assert size <= len(text.encode("utf-8", "surrogatepass"))
    if len(raw) > RAW_DICT_MAX:
        assert not needs_raw(kept)
    assert read_text("a plain text of an older store") == "a plain text of an older store"


def test_a_text_against_its_raw_input_costs_little() -> None:
    text = "\n\n".join(f"Paragraph {i} of the story, with words enough to matter for the size." for i in range(60))
    raw = json.dumps({"title": "T", "text": text, "url": "https://example.com/a"}).encode()
    kept = pack_text(text, raw)
    assert needs_raw(kept) and len(kept) < 0.05 * len(text)
    with pytest.raises(StoreError):
        read_text(kept, None)


PHRASES = ["flood", '"the river"', "river NOT bridge", "brid*", "Danube", "town", '"rescue teams"', "water levels"]


def flood_items() -> list[RawDoc]:
    import random

    rng = random.Random(5)
    words = ("the river rose over the bridge as rescue teams moved people from the town while water levels "
             "kept rising along the Danube and the mayor asked for help").split()
    items = []
    for i in range(14):
        paras = ["\n".join(" ".join(rng.choice(words) for _ in range(rng.randint(12, 30))) + "." for _ in range(3))
                 for _ in range(rng.randint(2, 6))]
        text = "\n\n".join(paras)
        raw = json.dumps({"title": f"Flood report {i}", "text": text}).encode()
        items.append(RawDoc(kind="jsonl", location=f"f.jsonl:{i}", raw=raw, title=f"Flood report {i}", text=text))
    return items


def searches(store: Store) -> list[list[tuple[str, float, str]]]:
    return [[(h.id, round(h.score, 9), h.snippet) for h in search(store, q)] for q in PHRASES]


def undo_16(conn: sqlite3.Connection) -> None:
    """Removed spans back to a row per span, as migrations 1-15 kept them (inside the caller's transaction)."""
    from storyloom.store.packing import unpack_spans

    rows = [(aid, *span) for aid, packed in conn.execute("SELECT article_id, spans FROM article_spans")
            for span in unpack_spans(packed)]
    v1 = MIGRATIONS[0][2]
    conn.execute(v1[v1.index("CREATE TABLE removed_spans"):v1.index("WITHOUT ROWID", v1.index("CREATE TABLE removed_spans"))]
                 + "WITHOUT ROWID")
    conn.executemany("INSERT INTO removed_spans VALUES (?, ?, ?, ?, ?)", rows)
    conn.execute("DROP TABLE article_spans")


def undo_21(conn: sqlite3.Connection) -> None:
    """Take away what migration 21 added (its ADD COLUMN cannot run twice)."""
    if any(r[1] == "template_skip" for r in conn.execute("PRAGMA table_info(articles)")):
        try:  # dropping a column checks the schema, whose triggers call the store's functions
            register(conn)
        except sqlite3.OperationalError:  # a statement of the caller's still open: registered before, or the drop says
            pass
        conn.execute("ALTER TABLE articles DROP COLUMN template_skip")


def back_to(db: Path, version: int) -> None:
    """A store this code wrote, told it is at ``version`` again (the data-only migrations 14 and 15 run again)."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN")
    if version < 16:
        undo_16(conn)
    if version < 21:
        undo_21(conn)
    conn.execute("DELETE FROM schema_migrations WHERE version > ?", (version,))
    conn.execute(f"PRAGMA user_version = {int(version)}")
    conn.execute("COMMIT")
    conn.close()


def as_v12(db: Path) -> None:
    """Turn a store this code wrote back into what migration 12 left: plain texts, no ``chars``, no view, the
    FTS index over ``articles`` itself (migration 1's table and triggers), the key tables indexed by article."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.create_function("storyloom_text", 2, read_text)
    conn.create_function("storyloom_raw", 2, decode_blob)
    conn.create_function("storyloom_body", 2, read_body)
    texts = conn.execute("SELECT rowid, text FROM article_texts").fetchall()
    conn.execute("BEGIN")
    for stmt in ("DROP TRIGGER articles_ai", "DROP TRIGGER articles_ad", "DROP TRIGGER articles_au",
                 "DROP TABLE articles_fts", "DROP VIEW article_texts"):
        conn.execute(stmt)
    conn.executemany("UPDATE articles SET text = ? WHERE rowid = ?", [(t, r) for r, t in texts])
    conn.execute("ALTER TABLE articles DROP COLUMN chars")
    undo_21(conn)
    v1 = MIGRATIONS[0][2]
    for stmt in sql_statements(v1[v1.index("CREATE VIRTUAL TABLE articles_fts"):v1.index("-- Polling state")]):
        conn.execute(stmt)
    conn.execute("INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')")
    conn.execute("DROP TABLE copy_keys")
    for stmt in sql_statements(MIGRATIONS[5][2]):  # the key tables' indexes by article
        conn.execute(stmt)
    conn.execute("DELETE FROM counters WHERE key LIKE 'texts_%'")
    undo_16(conn)
    conn.execute("DELETE FROM schema_migrations WHERE version > 12")
    conn.execute("PRAGMA user_version = 12")
    conn.execute("COMMIT")
    conn.close()


def test_migration_13_packs_a_v12_store_in_batches_and_search_answers_the_same(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from storyloom.store import sqlite as store_sqlite

    db = tmp_path / "s.db"
    items = flood_items()
    with Store(db) as store:
        ingest_items(items, store, Settings(db_path=str(db), run_copies=False, run_stories=False))
        fresh = searches(store)
        assert sum(map(len, fresh)) > 20 and all(fresh[:2])
        texts = dict(store.conn.execute("SELECT id, text FROM article_texts").fetchall())
    as_v12(db)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 12 and not isinstance(
        conn.execute("SELECT text FROM articles").fetchone()[0], bytes)
    conn.close()
    # upgrade, but let packing fail in its second batch: the first stays, the second is rolled back
    real_pack, calls = store_sqlite.pack_text, []

    def failing(text: str, raw: bytes | None) -> str | bytes:
        calls.append(text)
        if len(calls) == 5:
            raise RuntimeError("killed")
        return real_pack(text, raw)

    monkeypatch.setattr(store_sqlite, "pack_text", failing)
    monkeypatch.setattr(Store, "pack_old_texts", lambda self, batch=500: 0)
    with Store(db) as store:
        assert store.schema_version() == LATEST
        monkeypatch.undo()
        monkeypatch.setattr(store_sqlite, "pack_text", failing)
        with pytest.raises(RuntimeError):
            store.pack_old_texts(batch=3)
        kinds = [r[0] for r in store.conn.execute("SELECT typeof(text) FROM articles ORDER BY rowid")]
        assert kinds == ["blob"] * 3 + ["text"] * (len(items) - 3)
        assert searches(store) == fresh  # half packed, half plain: the same answers
        monkeypatch.undo()
        assert store.pack_old_texts(batch=3) == len(items) - 3  # resumes after the first batch
        assert store.conn.execute("SELECT count(*) FROM counters WHERE key LIKE 'texts_%'").fetchone()[0] == 0
        assert {r[0] for r in store.conn.execute("SELECT typeof(text) FROM articles")} == {"blob"}
        assert searches(store) == fresh
        store.conn.execute("INSERT INTO articles_fts(articles_fts, rank) VALUES ('integrity-check', 1)")
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        for it in items:
            art = get_article(store, content_id(it.raw), raw=True)
            assert art is not None and art.text == texts[art.id] and store.raw_bytes(art.blob) == it.raw
            assert art.raw is not None and art.raw.data.encode() == it.raw
        assert store.pack_old_texts() == 0
        # a re-run stores nothing twice; a re-clean rewrites a text (the index follows it)
        rep = ingest_items(items, store, Settings(db_path=str(db), run_copies=False, run_stories=False))
        assert rep.counts.get("duplicate") == len(items)
        aid = content_id(items[0].raw)
        with store.transaction() as c:
            c.execute("UPDATE articles SET text = ? WHERE id = ?", (pack_text("moonlight sonata", items[0].raw), aid))
        assert [h.id for h in search(store, "moonlight")] == [aid]
        assert all(aid not in [h.id for h in search(store, q)] for q in ('"rescue teams"', "Danube"))
        store.conn.execute("INSERT INTO articles_fts(articles_fts, rank) VALUES ('integrity-check', 1)")
        with store.transaction() as c:
            c.execute("DELETE FROM article_spans WHERE article_id = ?", (aid,))
            c.execute("DELETE FROM stage_queue WHERE article_id = ?", (aid,))
            c.execute("DELETE FROM sightings WHERE article_id = ?", (aid,))
            c.execute("DELETE FROM articles WHERE id = ?", (aid,))
        assert search(store, "moonlight") == []
        store.conn.execute("INSERT INTO articles_fts(articles_fts, rank) VALUES ('integrity-check', 1)")


def test_a_packed_store_lists_lengths_and_exports_texts(tmp_path: Path) -> None:
    from storyloom.store.load import export_rows
    from storyloom.store.queries import ArticleFilter, list_articles

    db = tmp_path / "s.db"
    items = flood_items()
    with Store(db) as store:
        ingest_items(items, store, Settings(db_path=str(db), run_copies=False, run_stories=False))
        assert {r[0] for r in store.conn.execute("SELECT typeof(text) FROM articles")} == {"blob"}
        texts = {k: get_article(store, k).text for k in (content_id(it.raw) for it in items)}  # type: ignore[union-attr]
        assert len(texts) == len(items) and all(texts.values())
        assert {r.id: r.chars for r in list_articles(store, ArticleFilter(limit=100))} == {
            k: len(t) for k, t in texts.items()}
        assert {r["id"]: r["text"] for r in export_rows(store, "articles")} == texts


def test_a_centroid_is_kept_as_int8_only_when_that_gives_every_bit_back() -> None:
    from storyloom.embed.cache import quantize
    from storyloom.store.packing import pack_centroid, read_centroid

    rng = np.random.default_rng(7)
    for _ in range(50):
        v = rng.normal(size=512).astype(np.float32)
        scale, q = quantize(v)
        one = (q[0].astype(np.float32) * scale[0]).astype(np.float32)  # a one-article story: its member's vector
        two = one + (q[0][::-1].astype(np.float32) * scale[0])  # a sum of two: no int8 form in general
        for vec in (one, two, v):
            kept = pack_centroid(vec.tobytes())
            assert kept is not None and read_centroid(kept) == vec.tobytes()
        assert len(pack_centroid(one.tobytes()) or b"") < len(one.tobytes()) / 3
    assert pack_centroid(None) is None and read_centroid(None) is None
    zero = np.zeros(8, np.float32).tobytes()
    assert read_centroid(pack_centroid(zero)) == zero
    nan = np.array([np.nan, 1.0], np.float32).tobytes()
    assert pack_centroid(nan) == nan


def test_copy_keys_mirror_the_key_tables_through_the_stage(tmp_path: Path) -> None:
    """``copy_keys`` holds, per article, exactly what the three key tables hold (the stage deletes by key
    through it): after a run with copies of one text, a re-clean that changes a text, and a full rebuild."""
    from storyloom.copies import find_copies
    from storyloom.store.packing import unpack_keys

    db = tmp_path / "s.db"
    items = flood_items()
    twin = items[3]
    items.append(RawDoc(kind="jsonl", location="g.jsonl:1", raw=twin.raw.replace(b"Flood report 3", b"Copy of 3"),
                        title="Copy of 3", text=twin.text))
    settings = Settings(db_path=str(db), run_stories=False, translations=False)

    def check(store: Store) -> int:
        tables: dict[object, list[list[int]]] = {}
        for i, (table, col) in enumerate((("copy_bands", "band"), ("copy_sentences", "skey"), ("copy_anchors", "akey"))):
            for aid, key in store.conn.execute(f"SELECT article_id, {col} FROM {table} ORDER BY article_id, {col}"):
                tables.setdefault(aid, [[], [], []])[i].append(key)
        lists = {r[0]: [unpack_keys(r[1]), unpack_keys(r[2]), unpack_keys(r[3])]
                 for r in store.conn.execute("SELECT article_id, bands, skeys, akeys FROM copy_keys")}
        assert lists == tables
        return len(lists)

    with Store(db) as store:
        ingest_items(items, store, settings)
        assert check(store) >= len(items) - 1
        aid = content_id(items[0].raw)
        with store.transaction() as c:
            c.execute("UPDATE articles SET text = ? WHERE id = ?", (pack_text("a new text about the moon", items[0].raw), aid))
            c.execute("INSERT OR IGNORE INTO stage_queue VALUES ('copies', ?)", (aid,))
        find_copies(store, settings)
        check(store)
        copies_sql.reset(store)
        find_copies(store, settings)
        assert check(store) >= len(items) - 1


def test_a_reader_opening_an_older_store_upgrades_it_first(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    items = flood_items()
    with Store(db) as store:
        ingest_items(items, store, Settings(db_path=str(db), run_copies=False, run_stories=False))
        fresh = searches(store)
        aid = content_id(items[0].raw)
        text = get_article(store, aid).text  # type: ignore[union-attr]
    as_v12(db)
    with Store(db, readonly=True) as reader:  # as the web UI and `storyloom article` open it
        assert reader.schema_version() == LATEST and searches(reader) == fresh
        art = get_article(reader, aid, raw=True)
        assert art is not None and art.text == text and art.raw is not None and art.raw.data.encode() == items[0].raw


# -- no MinHash sketch in the store (migration 14) ------------------------------------------------------------


def test_no_sketch_is_kept_and_keys_and_exports_are_those_a_kept_sketch_gives(tmp_path: Path) -> None:
    """The store keeps no sketch (Settings.copy_sketches off): its links, keys and batch export equal those of
    a store that keeps them (what this code wrote before), also after an exact class loses its representative
    (whose successor's band keys came from the stored sketch), and a store with sketches upgraded by migration
    14 drops them and exports the same sketches."""
    from storyloom.copies import find_copies, text_sketch
    from storyloom.copies.fingerprint import band_keys
    from storyloom.store.load import export_rows
    from storyloom.store.packing import unpack_keys

    items = flood_items()
    twin = items[3]
    items.append(RawDoc(kind="jsonl", location="g.jsonl:1", raw=twin.raw.replace(b"Flood report 3", b"Copy of 3"),
                        title="Copy of 3", text=twin.text))  # an exact class of two
    pair = sorted(content_id(d.raw) for d in (twin, items[-1]))

    def build(name: str, keep: bool) -> tuple[Path, dict[str, object]]:
        db = tmp_path / f"{name}.db"
        settings = Settings(db_path=str(db), run_stories=False, translations=False, copy_sketches=keep)
        with Store(db) as store:
            ingest_items(items, store, settings)
            with store.transaction() as c:  # the class's representative changes its text: the other one is promoted
                c.execute("UPDATE articles SET text = ? WHERE id = ?", (pack_text("a new text about the moon", None), pair[0]))
                c.execute("INSERT OR IGNORE INTO stage_queue VALUES ('copies', ?)", (pair[0],))
            find_copies(store, settings)
            state = {
                "links": store.conn.execute("SELECT a, b, kind, score FROM copy_links ORDER BY a, b").fetchall(),
                "keys": store.conn.execute("SELECT article_id, bands, skeys, akeys FROM copy_keys ORDER BY 1").fetchall(),
                "export": list(export_rows(store, "copy_prints", sketch_of=text_sketch)),
                "sketches": dict(store.conn.execute("SELECT article_id, sketch FROM copy_prints").fetchall()),
                "promoted": copies_sql.held_of(store, pair[1]),  # as the key tables hold it
            }
        return db, state

    kept_db, kept = build("kept", True)
    _, bare = build("bare", False)
    assert set(map(len, bare["sketches"].values())) == {0}  # type: ignore[attr-defined]
    assert set(map(len, kept["sketches"].values())) == {512}  # type: ignore[attr-defined]
    for k in ("links", "keys", "export"):
        assert bare[k] == kept[k], k
    assert bare["promoted"] == kept["promoted"]
    assert any(r[0] == bare["promoted"] for r in bare["keys"])  # type: ignore[attr-defined]  # promoted: in the buckets
    promoted = next(unpack_keys(r[1]) for r in bare["keys"] if r[0] == bare["promoted"])  # type: ignore[attr-defined]
    assert promoted == sorted(band_keys(np.frombuffer(kept["sketches"][pair[1]], dtype="<u4")))  # type: ignore[index]
    assert {r["article_id"]: r["sketch"] for r in kept["export"]} == kept["sketches"]  # type: ignore[attr-defined]

    back_to(kept_db, 13)  # what the code before migration 14 left
    with Store(kept_db) as store:
        assert store.schema_version() == LATEST >= 14
        assert {len(r[0]) for r in store.conn.execute("SELECT sketch FROM copy_prints")} == {0}
        assert list(export_rows(store, "copy_prints", sketch_of=text_sketch)) == kept["export"]


# -- the fast model's sentence matrices: remembered in the process, not kept (migration 15) ---------------------


def test_sentence_matrices_are_remembered_not_kept_and_migration_15_drops_old_ones(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from storyloom.copies.transsearch import _Head
    from storyloom.embed import cache

    monkeypatch.setattr(cache, "RECENT_MAX", 3)
    monkeypatch.setattr(cache, "RECENT", cache.OrderedDict())
    db = tmp_path / "s.db"
    sents = {"a": ["One sentence.", "Two words here."], "b": ["Another one."]}
    with Store(db) as store:
        model = Stub()
        first = cache.SentenceVectors(store, sents).get(model, ["a", "b"])
        assert model.calls == 3
        assert store.conn.execute("SELECT count(*) FROM embeddings").fetchone()[0] == 0  # nothing kept
        again = cache.SentenceVectors(store, sents).get(model, ["a", "b"])  # a later chunk: remembered
        assert model.calls == 3 and all(np.array_equal(first[k], again[k]) for k in "ab")
        cache.RECENT.clear()  # a new process: computed again, the very same rows
        anew = cache.SentenceVectors(store, sents).get(model, ["a", "b"])
        assert model.calls == 6 and all(np.array_equal(first[k], anew[k]) for k in "ab")
        changed = cache.SentenceVectors(store, {**sents, "a": ["One sentence, cleaned again."]}).get(model, ["a"])
        assert model.calls == 7 and changed["a"].shape == (1, 8)
        cache.SentenceVectors(store, {f"x{i}": [f"Sentence {i}."] for i in range(5)}).get(model, [f"x{i}" for i in range(5)])
        assert len(cache.RECENT) == 3  # bounded
        _Head(store, sents).get(model, ["a"])  # the slow model's cascade matrices are kept
        assert [r[0] for r in store.conn.execute("SELECT model FROM embeddings")] == ["stub#head"]
        with store.transaction() as c:  # what the code before migration 15 kept
            c.execute("INSERT INTO embeddings (article_id, model, codec, vec) VALUES ('a', 'use-m3#sents', 'i8', ?)",
                      (cache.pack("x", np.ones((1, 8), np.float32)),))
    back_to(db, 14)
    with Store(db) as store:
        assert store.schema_version() == LATEST >= 15
        assert [r[0] for r in store.conn.execute("SELECT model FROM embeddings")] == ["stub#head"]


def test_declared_fields_are_packed_against_the_raw_input_and_read_back(tmp_path: Path) -> None:
    """What the source said of an item (``articles.declared``) is in its raw input: it is packed against it, and
    the article page, the batch export and a re-clean read the same JSON as before; a plain row reads as it is."""
    from storyloom.ingest.records import record_to_raw
    from storyloom.pipeline import reclean
    from storyloom.store.load import export_rows
    from storyloom.store.sqlite import declared_fields

    records = [{"title": f"Floods hit town {i}", "text": " ".join(["The river rose over the bridge."] * 20),
                "url": f"https://wire.example/flood-{i}", "outlet": "Wire Example", "author": "A. Writer",
                "published": "2024-03-05T08:00:00Z"} for i in range(3)]
    items = [record_to_raw(r, json.dumps(r).encode(), "jsonl", f"w.jsonl:{i}") for i, r in enumerate(records)]
    want = {content_id(d.raw): json.loads(json.dumps(declared_fields(d))) for d in items}
    db = tmp_path / "s.db"
    settings = Settings(db_path=str(db), run_copies=False, run_stories=False)
    with Store(db) as store:
        ingest_items(items, store, settings)
        kept = dict(store.conn.execute("SELECT id, declared FROM articles").fetchall())
        assert all(isinstance(v, bytes) and len(v) < len(json.dumps(want[k])) / 3 for k, v in kept.items())
        for aid, fields in want.items():
            art = get_article(store, aid)
            assert art is not None and art.declared == fields and fields["url"].startswith("https://wire")
        assert {r["id"]: json.loads(r["declared"]) for r in export_rows(store, "articles")} == want
        aid = next(iter(want))
        store.conn.execute("UPDATE articles SET declared = ? WHERE id = ?", (json.dumps(want[aid]), aid))  # an older row
        assert get_article(store, aid).declared == want[aid]  # type: ignore[union-attr]
        rep = reclean(store, settings)
        assert rep.checked == 3 and rep.changed == 0 and rep.failed == []  # cleaned again from the raw input and the declared fields


def test_an_article_s_removed_spans_are_one_packed_row() -> None:
    from storyloom.store.packing import pack_spans, unpack_spans

    furniture = "learned line classifier: looks like page furniture (p=1.00)"
    spans = [(300, 340, furniture, "classifier"), (0, 12, "a byline", "byline"), (120, 160, furniture, "classifier")]
    packed = pack_spans(spans)
    assert isinstance(packed, bytes) and len(packed) < len(json.dumps(spans))
    assert unpack_spans(packed) == sorted(spans)
    assert unpack_spans(pack_spans([*spans, (0, 15, "a longer byline", "byline")]))[0] == (0, 15, "a longer byline", "byline")
    assert pack_spans([]) is None and unpack_spans(None) == []


# -- the key tables hold an article by its rowid (migration 18) -------------------------------------------------


def test_key_tables_hold_rowids_and_migration_18_converts_the_8_byte_ids(tmp_path: Path) -> None:
    """The key tables and ``copy_keys`` hold a stored article by its rowid (an integer of 2-3 bytes, not the 8
    bytes of its id); a store that held the ids (what migrations 12-17 left) is converted by migration 18 to the
    very rows a fresh store holds, a row of an article that is not stored keeps its bytes, and the candidates
    and the batch export read the same before and after."""
    from storyloom.copies import find_copies
    from storyloom.store.load import export_rows

    db = tmp_path / "s.db"
    items = flood_items()
    settings = Settings(db_path=str(db), run_stories=False)

    def state(store: Store) -> dict[str, object]:
        aid = content_id(items[1].raw)
        bands, skeys = copies_sql.keys_of(store, aid)
        return {t: store.conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
                for t in ("copy_bands", "copy_sentences", "copy_anchors", "copy_keys")} | {
            "export": list(export_rows(store, "copy_prints")),
            "candidates": copies_sql.keyed_candidates(store, "copy_sentences", "skey", skeys, aid, 100),
            "bands": copies_sql.keyed_candidates(store, "copy_bands", "band", bands, aid, 100)}

    with Store(db) as store:
        ingest_items(items, store, settings)
        find_copies(store, settings)
        with store.transaction() as c:  # an article no longer stored, as its 8 bytes (kept as they are)
            c.execute("INSERT INTO copy_anchors VALUES (-5, ?)", (key_of("00000000000000aa"),))
        fresh = state(store)
        assert sum(len(fresh[t]) for t in ("copy_bands", "copy_sentences")) > 50  # type: ignore[arg-type]
        assert {r[0] for r in store.conn.execute("SELECT typeof(article_id) FROM copy_sentences")} == {"integer"}
        assert store.conn.execute("SELECT max(length(CAST(article_id AS BLOB))) FROM copy_keys").fetchone()[0] <= 2
    conn = sqlite3.connect(db, isolation_level=None)  # back to what migrations 12-17 left: the ids' 8 bytes
    conn.create_function("storyloom_id_key", 1, key_of)
    conn.execute("BEGIN")
    for table in ("copy_bands", "copy_sentences", "copy_anchors", "copy_keys"):
        conn.execute(f"UPDATE {table} SET article_id = (SELECT storyloom_id_key(a.id) FROM articles a "
                     f"WHERE a.rowid = {table}.article_id) WHERE typeof(article_id) = 'integer'")
    told_it_is_at(conn, 17)
    conn.execute("COMMIT")
    assert {r[0] for r in conn.execute("SELECT typeof(article_id) FROM copy_sentences")} == {"blob"}
    conn.close()
    with Store(db) as store:
        assert store.schema_version() == LATEST
        assert state(store) == fresh
        assert store.conn.execute("SELECT count(*) FROM copy_anchors WHERE article_id = ?",
                                  (key_of("00000000000000aa"),)).fetchone()[0] == 1
    with Store(db) as store:  # run again (a store told it is at 17 once more): nothing changes
        told_it_is_at(store.conn, 17)
        store.migrate()
        assert state(store) == fresh


# -- the FTS index's columns as (text, title) (migration 19) ---------------------------------------------------


def test_fts_text_first_answers_the_same_and_migration_19_converts_an_old_index(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The FTS index holds the text as its first column (FTS5 marks a later column's positions with two bytes a
    term and article); searches give the same hits, scores and snippets as the (title, text) index older stores
    hold, which a reader that cannot upgrade still searches right, and migration 19 rebuilds it."""
    db = tmp_path / "s.db"
    with Store(db) as store:
        ingest_items(flood_items(), store, Settings(db_path=str(db), run_copies=False, run_stories=False))
        fresh = searches(store)
        assert [r[1] for r in store.conn.execute("PRAGMA table_info(articles_fts)")] == ["text", "title"]
    assert sum(map(len, fresh)) > 20
    conn = sqlite3.connect(db, isolation_level=None)  # the index as migrations 13-18 left it
    register_all(conn)
    conn.execute("BEGIN")
    conn.execute("DROP TABLE articles_fts")
    conn.execute("CREATE VIRTUAL TABLE articles_fts USING fts5(title, text, content='article_texts', "
                 "content_rowid='rowid', tokenize='unicode61 remove_diacritics 2')")
    conn.execute("INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')")
    told_it_is_at(conn, 18)
    conn.execute("COMMIT")
    old_size = conn.execute("SELECT sum(length(block)) FROM articles_fts_data").fetchone()[0]
    conn.close()
    with monkeypatch.context() as m:  # a reader that cannot upgrade the store (a read-only file) searches the old index
        m.setattr(Store, "_upgrade_for_reading", lambda self: None)
        with Store(db, readonly=True) as reader:
            assert reader.schema_version() == 18 and searches(reader) == fresh
    with Store(db) as store:
        assert store.schema_version() == LATEST
        assert [r[1] for r in store.conn.execute("PRAGMA table_info(articles_fts)")] == ["text", "title"]
        assert searches(store) == fresh
        # both rebuilt in one segment: the same terms and positions, less the column marks
        assert store.conn.execute("SELECT sum(length(block)) FROM articles_fts_data").fetchone()[0] < 0.9 * old_size
        store.conn.execute("INSERT INTO articles_fts(articles_fts, rank) VALUES ('integrity-check', 1)")
        aid = content_id(flood_items()[0].raw)  # the triggers still keep the index: a re-clean, a delete
        with store.transaction() as c:
            c.execute("UPDATE articles SET text = ? WHERE id = ?", (pack_text("moonlight sonata", None), aid))
        assert [h.id for h in search(store, "moonlight")] == [aid]
        store.conn.execute("INSERT INTO articles_fts(articles_fts, rank) VALUES ('integrity-check', 1)")


def register_all(conn: sqlite3.Connection) -> None:
    from storyloom.store.packing import register

    register(conn)


# -- an article's meta and a story's term weights, packed (no migration: older rows are read as they are) --------


@pytest.mark.parametrize("value", [
    {"flood": 0.2402239099548189, "river": 0.08326751748639137, "Ünïcödé": 1e-300, "中文": 3.0},
    {"one": 1, "two": 0.5},  # an integer weight: kept as JSON text (a float64 would write 1.0)
    {"": 0.5, "a": 0.25},  # an empty term: kept as JSON text
    {"nan": float("nan")},
    {},
])
def test_term_weights_are_packed_as_floats_and_read_back_as_the_same_json_text(value: dict[str, float]) -> None:
    from storyloom.canonical import canonical_json
    from storyloom.store.packing import WEIGHTS_MAGIC, json_text, pack_json, pack_weights

    packed = pack_weights(value)
    assert json_text(packed) == canonical_json(value) == json_text(pack_json(value))
    binary = bool(value) and all(k and type(v) is float and v == v for k, v in value.items())
    assert packed.startswith(WEIGHTS_MAGIC) == binary


def test_weights_of_real_size_are_smaller_than_their_deflated_json() -> None:
    import math
    import random

    from storyloom.store.packing import pack_json, pack_weights

    rng = random.Random(2)  # as a story's are: ~64 terms, each tf times idf over a norm (17 digits in JSON)
    words = "river flood council budget mayor protest storm court police market election minister".split()
    terms = {w + str(i): math.log(2134 / rng.randint(1, 50)) * rng.randint(1, 3) / 97.0
             for i, w in enumerate(rng.choices(words, k=64))}
    assert len(pack_weights(terms)) < 0.9 * len(pack_json(terms))


def test_an_article_meta_is_kept_deflated_when_smaller_and_every_reader_reads_it(tmp_path: Path) -> None:
    from storyloom.store.load import export_rows
    from storyloom.store.packing import JSON_MAGIC, json_text, pack_json_text

    assert pack_json_text("{}") == "{}"
    long = json.dumps({"attributions": [{"sentence": i, "source": "Keatley", "verb": "says"} for i in range(9)]})
    assert isinstance(pack_json_text(long), bytes) and json_text(pack_json_text(long)) == long
    db = tmp_path / "s.db"
    with Store(db) as store:
        ingest_items(flood_items(), store, Settings(db_path=str(db), run_copies=False, run_stories=False))
        raw = dict(store.conn.execute("SELECT id, meta FROM articles").fetchall())
        assert any(isinstance(v, bytes) and v.startswith(JSON_MAGIC) for v in raw.values()) or all(
            isinstance(v, str) for v in raw.values())
        for aid, v in raw.items():
            art = get_article(store, aid)
            assert art is not None and art.meta == json.loads(json_text(v))
        exported = {r["id"]: r["meta"] for r in export_rows(store, "articles")}
        assert exported == {aid: json_text(v) for aid, v in raw.items()}
        with store.transaction() as c:  # a plain row (an older store's) reads the same
            aid = next(iter(raw))
            c.execute("UPDATE articles SET meta = ? WHERE id = ?", (json_text(raw[aid]), aid))
        assert get_article(store, aid).meta == json.loads(json_text(raw[aid]))  # type: ignore[union-attr]


# -- a sighting's blob key as its 32 bytes (migration 20) -------------------------------------------------------


def test_sightings_hold_blob_keys_as_bytes_and_migration_20_converts_hex(tmp_path: Path) -> None:
    """A sighting holds its raw input's SHA-256 as 32 bytes; the article page and the export give the hex back;
    a store whose sightings hold hex (migrations 1-19) is converted to the very rows a fresh store holds, and
    finds a raw input it has seen as before (a duplicate)."""
    from storyloom.store.load import export_rows

    db = tmp_path / "s.db"
    items = flood_items()
    settings = Settings(db_path=str(db), run_copies=False, run_stories=False)

    def state(store: Store) -> dict[str, object]:
        aid = content_id(items[2].raw)
        return {"rows": store.conn.execute("SELECT * FROM sightings ORDER BY 1, 2, 3").fetchall(),
                "export": list(export_rows(store, "sightings")),
                "page": get_article(store, aid).sightings}  # type: ignore[union-attr]

    with Store(db) as store:
        ingest_items(items, store, settings)
        fresh = state(store)
        assert {r[0] for r in store.conn.execute("SELECT length(blob) FROM sightings")} == {32}
        assert fresh["page"][0].blob == blob_key(items[2].raw)  # type: ignore[index]
        assert {r["blob"] for r in fresh["export"]} == {blob_key(it.raw) for it in items}  # type: ignore[attr-defined]
    conn = sqlite3.connect(db, isolation_level=None)  # back to what migrations 1-19 left: hex text
    conn.execute("BEGIN")
    rows = conn.execute("SELECT article_id, location, blob, first_seen FROM sightings").fetchall()
    conn.execute("DELETE FROM sightings")
    conn.executemany("INSERT INTO sightings VALUES (?, ?, ?, ?)", [(a, loc, bytes(b).hex(), t) for a, loc, b, t in rows])
    told_it_is_at(conn, 19)
    conn.execute("COMMIT")
    assert {r[0] for r in conn.execute("SELECT typeof(blob) FROM sightings")} == {"text"}
    conn.close()
    with Store(db) as store:
        assert store.schema_version() == LATEST and state(store) == fresh
        rep = ingest_items(items[:3], store, settings)
        assert rep.counts.get("duplicate") == 3
