"""Raw inputs compressed with a zstd dictionary the store trains on its own first raw inputs (migration 17, issue
23's disk budget): every raw input comes back byte for byte, through every reader; the store's bytes do not depend
on how the input was cut into batches; a store written before the dictionary upgrades and reads the same."""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

import pytest
import zstandard

from storyloom.clean import clean
from storyloom.models import Article, RawDoc, content_id
from storyloom.pipeline import ingest_items
from storyloom.settings import Settings
from storyloom.store import Store
from storyloom.store import sqlite as store_sqlite
from storyloom.store.migrations import LATEST
from storyloom.store.packing import ZSTD_CODEC, RawPacker, decode_blob, register, train_blob_dict
from storyloom.store.queries import get_article, search

AFTER = 12  # the dictionary's threshold in these tests (BLOB_DICT_AFTER is 256)


def items(n: int, seed: int = 3) -> list[RawDoc]:
    """JSON records of one outlet: the field names and the furniture recur, the words do not."""
    rng = random.Random(seed)
    words = ("the council voted on the budget while protesters gathered outside the hall and the mayor said "
             "that the river flood defences would be paid for by a new tax on parking in the old town").split()
    out = []
    for i in range(n):
        text = "\n\n".join(" ".join(rng.choice(words) for _ in range(rng.randint(20, 50))) + "."
                           for _ in range(rng.randint(2, 6)))
        rec = {"id": f"item-{i}", "url": f"https://news.example.com/local/2026/12/{i:04d}-council-budget",
               "title": f"Council report {i}", "outlet": "Example News", "author": "Local desk",
               "published": f"2026-12-{1 + i % 28:02d}T08:00:00Z", "language": "en",
               "footer": "Subscribe to Example News for unlimited access. Follow us on social media. " * 3,
               "text": text}
        raw = json.dumps(rec).encode()
        out.append(RawDoc(kind="jsonl", location=f"news.jsonl:{i}", raw=raw, title=rec["title"], text=text,
                          url=rec["url"], outlet="Example News", language="en"))
    return out


def build(db: Path, docs: list[RawDoc], batch: int) -> None:
    with Store(db) as store:
        ingest_items(docs, store, Settings(db_path=str(db), batch_size=batch, run_copies=False, run_stories=False))


def blob_rows(db: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT rowid, sha256, size, codec, data FROM blobs ORDER BY rowid").fetchall()
    rows += conn.execute("SELECT id, samples, dict FROM blob_dicts ORDER BY id").fetchall()
    conn.close()
    return rows


@pytest.fixture
def small_after(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_sqlite, "BLOB_DICT_AFTER", AFTER)


def test_raw_inputs_take_the_dictionary_and_come_back_byte_for_byte(tmp_path: Path, small_after: None) -> None:
    docs = items(40)
    build(tmp_path / "d.db", docs, batch=7)
    with Store(tmp_path / "d.db") as store:
        codecs = [r[0] for r in store.conn.execute("SELECT codec FROM blobs ORDER BY rowid")]
        # the first ones too: recompressed with the dictionary they trained
        assert codecs == [f"{ZSTD_CODEC}1"] * len(docs)
        assert [tuple(r) for r in store.conn.execute("SELECT samples, length(dict) > 0 FROM blob_dicts")] == [(AFTER, 1)]
        for doc in docs:
            art = get_article(store, content_id(doc.raw), raw=True)
            assert art is not None and store.raw_bytes(art.blob) == doc.raw
            assert art.raw is not None and art.raw.data.encode() == doc.raw
            assert art.text == doc.text  # a text packed against its raw input reads it through the SQL function
        assert [h.id for h in search(store, '"flood defences"')]
    # a reader of its own, and a bare connection with the store's functions, read them too
    with Store(tmp_path / "d.db", readonly=True) as reader:
        assert all(reader.raw_bytes(r[0]) == d.raw for r, d in
                   zip(reader.conn.execute("SELECT sha256 FROM blobs ORDER BY rowid"), docs, strict=True))
    conn = sqlite3.connect(tmp_path / "d.db")
    dicts = register(conn)
    got = [decode_blob(c, d, dicts) for c, d in conn.execute("SELECT codec, data FROM blobs ORDER BY rowid")]
    assert got == [d.raw for d in docs]
    assert [r[0] for r in conn.execute("SELECT text FROM article_texts ORDER BY rowid")] == [d.text for d in docs]
    conn.close()


def test_the_dictionary_makes_raw_inputs_smaller_than_zlib(tmp_path: Path, small_after: None,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    docs = items(60)
    build(tmp_path / "d.db", docs, batch=500)
    monkeypatch.setattr(store_sqlite, "BLOB_DICT_AFTER", 10**9)  # never: zlib alone, as before migration 17
    build(tmp_path / "z.db", docs, batch=500)
    size = {name: sqlite3.connect(tmp_path / f"{name}.db").execute("SELECT sum(length(data)) FROM blobs").fetchone()[0]
            for name in ("d", "z")}
    assert size["d"] < 0.8 * size["z"]


def test_the_store_is_the_same_whatever_the_batches(tmp_path: Path, small_after: None) -> None:
    docs = items(40)
    for batch in (1, 5, 12, 500):
        build(tmp_path / f"b{batch}.db", docs, batch=batch)
    one = blob_rows(tmp_path / "b1.db")
    assert all(blob_rows(tmp_path / f"b{batch}.db") == one for batch in (5, 12, 500))
    assert train_blob_dict([d.raw for d in docs[:AFTER]]) == one[-1][2]  # deterministic: trained again, the same


def test_too_little_to_train_on_is_tried_once_and_stays_zlib(tmp_path: Path, small_after: None,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def nothing(samples: list[bytes]) -> bytes:
        calls.append(len(samples))
        return b""

    monkeypatch.setattr(store_sqlite, "train_blob_dict", nothing)
    docs = items(40)
    build(tmp_path / "n.db", docs, batch=5)
    assert calls == [AFTER]
    with Store(tmp_path / "n.db") as store:
        assert {r[0] for r in store.conn.execute("SELECT codec FROM blobs")} == {"zlib"}
        assert all(store.raw_bytes(r[0]) for r in store.conn.execute("SELECT sha256 FROM blobs"))


def test_a_store_from_before_the_dictionary_upgrades_and_reads_the_same(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "old.db"
    first, later = items(30), items(10, seed=4)
    monkeypatch.setattr(store_sqlite, "BLOB_DICT_AFTER", 10**9)
    build(db, first, batch=500)
    conn = sqlite3.connect(db, isolation_level=None)  # back to what the code before migration 17 left
    register(conn)  # dropping migration 21's column checks the schema, whose triggers call the store's functions
    conn.execute("ALTER TABLE articles DROP COLUMN template_skip")
    conn.execute("DROP TABLE blob_dicts")
    conn.execute("DELETE FROM schema_migrations WHERE version >= 17")
    conn.execute("PRAGMA user_version = 16")
    before = conn.execute("SELECT sha256, codec, data FROM blobs ORDER BY rowid").fetchall()
    conn.close()
    with Store(db) as store:
        texts = dict(store.conn.execute("SELECT id, text FROM article_texts").fetchall())
        assert store.schema_version() == LATEST and {c for _, c, _ in before} == {"zlib"}
    monkeypatch.setattr(store_sqlite, "BLOB_DICT_AFTER", AFTER)
    build(db, later, batch=500)  # the next write trains on the store's own first raw inputs
    with Store(db) as store:
        codecs = [r[0] for r in store.conn.execute("SELECT codec FROM blobs ORDER BY rowid")]
        assert codecs == [f"{ZSTD_CODEC}1"] * AFTER + ["zlib"] * (len(first) - AFTER) + [f"{ZSTD_CODEC}1"] * len(later)
        for doc in first + later:
            art = get_article(store, content_id(doc.raw), raw=True)
            assert art is not None and store.raw_bytes(art.blob) == doc.raw and art.text == doc.text
        assert {k: v for k, v in store.conn.execute("SELECT id, text FROM article_texts") if k in texts} == texts
        store.conn.execute("INSERT INTO articles_fts(articles_fts, rank) VALUES ('integrity-check', 1)")


def test_a_gzipped_raw_input_is_deflated_as_before(tmp_path: Path, small_after: None) -> None:
    import gzip

    docs = items(20)
    noise = random.Random(1).randbytes(3000)  # gzipped, still over COMPRESS_OVER
    page = RawDoc(kind="jsonl", location="page.jsonl:0", raw=gzip.compress(docs[0].raw + noise, mtime=0),
                  title="A gzipped input", text=docs[0].text)
    build(tmp_path / "g.db", [*docs, page], batch=500)
    with Store(tmp_path / "g.db") as store:
        codecs = dict(store.conn.execute("SELECT sha256, codec FROM blobs").fetchall())
        assert codecs.pop(page.blob) == "zlib" and set(codecs.values()) == {f"{ZSTD_CODEC}1"}
        assert store.raw_bytes(page.blob) == page.raw


def _articles(docs: list[RawDoc]) -> list[tuple[RawDoc, Article]]:
    settings = Settings(run_copies=False, run_stories=False)
    return [(d, a) for d in docs if isinstance(a := clean(d, settings), Article)]


def test_raw_inputs_compressed_ahead_are_stored_as_handed_when_made_with_the_batchs_dictionary(
        tmp_path: Path, small_after: None) -> None:
    """``write_batch(packed=...)``: what the cleaning workers compressed is stored as it is, but only when made
    with the dictionary the batch writes with; any other is compressed again here."""
    db = tmp_path / "p.db"
    docs = items(24)
    build(db, docs[:20], batch=500)
    (a, art_a), (b, art_b) = _articles(docs[20:22])
    with Store(db) as store:
        assert store.blobs.latest() == 1
        # valid with the store's dictionary but not its level: bytes the store would not make itself
        other = zstandard.ZstdCompressor(level=1, dict_data=zstandard.ZstdCompressionDict(store.blobs.dict_bytes(1)),
                                         write_checksum=False, write_dict_id=False)
        handed = other.compress(a.raw)
        assert handed != store.blobs.packer(1).encode(a.raw)[1]
        store.write_batch([(a, art_a), (b, art_b)],
                          packed={a.blob: (1, f"{ZSTD_CODEC}1", handed), b.blob: (2, f"{ZSTD_CODEC}2", b"stale")})
        rows = dict(store.conn.execute("SELECT sha256, data FROM blobs WHERE sha256 IN (?, ?)", (a.blob, b.blob)))
        assert rows[a.blob] == handed and store.raw_bytes(a.blob) == a.raw  # not compressed here
        assert store.raw_bytes(b.blob) == b.raw and rows[b.blob] == store.blobs.packer(1).encode(b.raw)[1]


def test_a_raw_input_is_compressed_only_through_the_batchs_packer(tmp_path: Path, small_after: None,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """``Store._write_one`` compresses no raw input the store holds already (a blob stored without a sighting:
    ``INSERT OR IGNORE`` threw that work away), and one it must store and was not handed it compresses with the
    batch's packer, the one every other raw input of the batch went through."""
    db = tmp_path / "w.db"
    docs = items(24)
    build(db, docs[:20], batch=500)
    (a, art_a), (b, art_b) = _articles(docs[20:22])
    encoded: list[bytes] = []
    real_encode = RawPacker.encode

    def encode(self: RawPacker, data: bytes) -> tuple[str, bytes]:
        encoded.append(data)
        return real_encode(self, data)

    monkeypatch.setattr(RawPacker, "encode", encode)
    with Store(db) as store:
        packer = store.blobs.packer(store.blobs.latest())
        kept = packer.encode(a.raw)
        store.conn.execute("INSERT INTO blobs (sha256, size, codec, data) VALUES (?, ?, ?, ?)",
                           (a.blob, len(a.raw), *kept))  # stored, never sighted
        encoded.clear()
        assert [o.status for o in store.write_batch([(a, art_a)])] == ["added"]
        assert encoded == []  # nothing compressed: the raw input was there
        assert store.raw_bytes(a.blob) == a.raw
        with store.transaction() as c:  # as if another writer had the blob when the batch looked, gone since
            assert store._write_one(c, b, art_b, "2026-12-07T00:00:00Z", packer).status == "added"
        assert encoded == [b.raw]
        row = store.conn.execute("SELECT codec, data FROM blobs WHERE sha256 = ?", (b.blob,)).fetchone()
        assert tuple(row) == real_encode(packer, b.raw) and row[0] == f"{ZSTD_CODEC}1"
        assert store.raw_bytes(b.blob) == b.raw


def test_a_large_raw_input_takes_the_cheaper_level_and_comes_back(tmp_path: Path, small_after: None) -> None:
    import zstandard

    from storyloom.store import packing

    docs = items(20)
    big = docs[-1].raw[:-1] + b', "page": "' + b"".join(
        f"<p>paragraph {i} of a long page about the council budget</p>".encode() for i in range(2000)) + b'"}'
    assert len(big) > packing.ZSTD_LARGE
    docs[-1] = RawDoc(kind="jsonl", location="news.jsonl:big", raw=big, text=docs[-1].text, url=docs[-1].url)
    build(tmp_path / "d.db", docs, batch=500)
    conn = sqlite3.connect(tmp_path / "d.db")
    dicts = register(conn)
    codec, data = conn.execute("SELECT codec, data FROM blobs WHERE size = ?", (len(big),)).fetchone()
    assert codec == f"{ZSTD_CODEC}1" and decode_blob(codec, data, dicts) == big
    d = zstandard.ZstdCompressionDict(conn.execute("SELECT dict FROM blob_dicts WHERE id = 1").fetchone()[0])
    at = {lvl: zstandard.ZstdCompressor(level=lvl, dict_data=d, write_checksum=False, write_dict_id=False).compress(big)
          for lvl in (packing.ZSTD_LEVEL_LARGE, packing.ZSTD_LEVEL)}
    assert at[packing.ZSTD_LEVEL_LARGE] != at[packing.ZSTD_LEVEL]  # so the assertion below tells the levels apart
    assert bytes(data) == at[packing.ZSTD_LEVEL_LARGE]
    small = conn.execute("SELECT codec, data FROM blobs WHERE size = ?", (len(docs[0].raw),)).fetchone()
    assert bytes(small[1]) == zstandard.ZstdCompressor(level=packing.ZSTD_LEVEL, dict_data=d, write_checksum=False,
                                                       write_dict_id=False).compress(docs[0].raw)
    conn.close()


@pytest.mark.parametrize("first", [AFTER, AFTER + 8, AFTER - 4])
def test_the_batch_that_trains_the_dictionary_compresses_its_raw_inputs_once(
        tmp_path: Path, small_after: None, monkeypatch: pytest.MonkeyPatch, first: int) -> None:
    """The batch that brings a store to its dictionary compresses its new raw inputs with that dictionary alone:
    deflating them before the lock, to throw that away once the dictionary is trained under it, was ~3 s of CPU
    for a first batch of 500 web pages.  A batch short of the threshold still deflates before the lock."""
    docs = items(first + 10)
    encoded: list[tuple[str, bytes]] = []
    real_encode = RawPacker.encode

    def encode(self: RawPacker, data: bytes) -> tuple[str, bytes]:
        got = real_encode(self, data)
        encoded.append((got[0], data))
        return got

    monkeypatch.setattr(RawPacker, "encode", encode)
    db = tmp_path / "t.db"
    build(db, docs[:first], batch=500)
    raws = [d.raw for d in docs[:first]]
    if first >= AFTER:
        assert sorted(data for _, data in encoded) == sorted(raws)  # each once
        assert {codec for codec, _ in encoded} == {f"{ZSTD_CODEC}1"}
    else:
        assert {codec for codec, _ in encoded} == {"zlib"}
    encoded.clear()
    build(db, docs[first:], batch=500)  # the next batch: trains (the short case) or writes with the dictionary
    assert sorted(data for _, data in encoded) == sorted([*([] if first >= AFTER else raws), *(d.raw for d in docs[first:])])
    assert {codec for codec, _ in encoded} == {f"{ZSTD_CODEC}1"}
    with Store(db) as store:
        assert all(store.raw_bytes(d.blob) == d.raw for d in docs)
    build(tmp_path / "b1.db", docs, batch=1)
    assert blob_rows(db) == blob_rows(tmp_path / "b1.db")  # the same bytes whatever the batches
