"""The ingest's worker pool (issue 23): the store is the same, table by table and byte by byte, whatever the
number of workers; a bad item or a dying worker is one line and the batch goes on."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

import storyloom.clean.pool as pool_mod
from storyloom.clean import prepare
from storyloom.models import RawDoc
from storyloom.pipeline import ingest
from storyloom.settings import Settings
from storyloom.store import Store
from storyloom.store.packing import unpack_spans

ROOT = Path(__file__).resolve().parent.parent
# wall-clock columns: when a row was written, not what it says
VOLATILE = {("schema_migrations", "applied_at"), ("articles", "ingested_at"), ("sightings", "first_seen"),
            ("events", "at"), ("story_events", "at"), ("stories", "updated_at"), ("compare_cache", "computed_at"),
            ("follow_news", "at"), ("follow_alerts", "created_at"), ("follow_subs", "created_at"),
            ("follow_deliveries", "done_at"), ("follow_deliveries", "next_try"), ("feeds", "last_checked"),
            ("feeds", "next_due")}
OUTLETS = ["Valley Courier", "Harbour Post", "Ridge Times"]
NAMES = ["Ana Kovač", "Piet de Vries", "Maria Lopez", "Jonas Berg", "Ines Duarte", "Tomas Novak", "Lea Fischer",
         "Omar Haddad", "Sara Lind", "Paul Meyer", "Nina Petrova"]
PLACES = ["Norfield", "Eastbrook", "Millport", "Ashdale", "Kingsbridge", "Westmoor", "Oakham", "Redcliff", "Lowgate",
          "Brightwater", "Stonehaven", "Fairhill", "Elmstead"]
TOPICS = ["flood", "election", "harbour strike", "bridge repair", "school budget", "storm damage", "rail line"]


def dump(db: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every table of the store (its FTS shadow tables included), rows in order, wall-clock columns left out."""
    c = sqlite3.connect(db)
    try:
        out = {}
        for (table,) in c.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall():
            cols = [r[1] for r in c.execute(f"PRAGMA table_info('{table}')") if (table, r[1]) not in VOLATILE]
            if table == "articles_fts":
                continue  # a view of its shadow tables, which are dumped
            keep = ", ".join(f'"{col}"' for col in cols)
            if table == "article_spans":  # an article's spans packed in one row: dumped a span a row
                out["removed_spans"] = [(aid, *span) for aid, packed in c.execute(
                    "SELECT article_id, spans FROM article_spans ORDER BY 1") for span in unpack_spans(packed)]
            out[table] = c.execute(f'SELECT {keep} FROM "{table}" ORDER BY {", ".join(map(str, range(1, len(cols) + 1)))}').fetchall()
        return out
    finally:
        c.close()


needs_fork = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")


def jsonl_item(i: int, repeat: int = 1) -> RawDoc:
    """Article ``i`` of the first outlet as one JSONL record's item (its raw bytes ``repeat`` times over)."""
    rec = article(i, OUTLETS[0])
    return RawDoc(kind="jsonl", location=f"x.jsonl:{i}", raw=json.dumps(rec).encode() * repeat, title=f"t{i}",
                  text=str(rec["text"]))


def article(i: int, outlet: str) -> dict[str, object]:
    topic = TOPICS[i % len(TOPICS)]
    who = NAMES[i % len(NAMES)], NAMES[(i * 7 + 3) % len(NAMES)], PLACES[(i * 5 + 1) % len(PLACES)]
    paras = [
        f"The {topic} in {PLACES[i % len(PLACES)]} drew residents to the town hall, where the council heard "
        f"from {who[0]} and from the mayor, {who[1]}, about what comes next.",
        f"{outlet} brings you the news of the whole valley every morning.",  # a template line of the outlet
        f"Officials in {who[2]} said the cost of the {topic} work would reach {i * 37 % 900 + 50} thousand euros, "
        f"according to {who[1]}, and that a decision would follow after the consultation closes.",
        f"Residents from {PLACES[(i * 3 + 2) % len(PLACES)]} who spoke at the meeting asked {who[0]} for a "
        f"timetable of the {topic} works. “We have waited since spring,” said one.",
        f"Read the rest of the {outlet} morning edition in the app.",
    ]
    return {"id": f"a{i:03d}", "url": f"https://{outlet.lower().replace(' ', '')}.example/{i}", "outlet": outlet,
            "title": f"{topic.title()} meeting number {i} in {PLACES[i % len(PLACES)]}", "text": "\n\n".join(paras),
            "published": f"2024-03-{i % 28 + 1:02d}T0{i % 9}:00:00Z"}


def make_corpus(root: Path) -> Path:
    """JSONL articles of three outlets (with their template lines), duplicates, a new version of a page, bad
    lines, and real HTML pages from the bundled sample."""
    root.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(article(i, OUTLETS[i % 3])) for i in range(70)]
    lines.insert(10, "{ not json")
    lines.insert(20, json.dumps({"id": "empty", "title": "Nothing", "text": "   "}))
    lines.insert(30, lines[5])  # the same bytes again: a sighting
    changed = article(7, OUTLETS[1])
    changed["text"] = str(changed["text"]) + "\n\nAn update: the meeting was moved to the school hall."
    changed["id"] = "a007-v2"
    lines.append(json.dumps(changed))  # same URL, other text: a version
    (root / "news.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    pages = root / "pages"
    pages.mkdir()
    for p in sorted((ROOT / "sample" / "aeb").glob("*.html.gz"))[:30]:
        shutil.copyfile(p, pages / p.name)
    return root


def run(corpus: Path, db: Path, workers: int, **extra: object) -> tuple[dict[str, int], list[tuple[str, str]]]:
    options: dict[str, object] = {"batch_size": 25, "translations": False, "story_embeddings": False, **extra}
    settings = Settings(db_path=str(db), ingest_workers=workers, **options)  # type: ignore[arg-type]
    with Store(str(db)) as store:
        store.migrate()
        rep = ingest([str(corpus / "news.jsonl"), str(corpus / "pages")], store, settings)
    return dict(rep.counts) | {"recleaned": rep.recleaned}, sorted(rep.errors)


def test_the_store_is_byte_identical_whatever_the_pool_size(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "in")
    results = {w: run(corpus, tmp_path / f"w{w}.db", w) for w in (1, 2, 3)}
    counts, errors = results[1]
    assert counts["added"] >= 95 and counts["version"] == 1 and counts["duplicate"] == 1
    assert counts["failed"] == 2 and len(errors) == 2  # the bad JSON line and the item without text
    removed = sum(1 for span in dump(tmp_path / "w1.db")["removed_spans"] if span[4] == "template")
    assert removed > 50  # the outlets' template lines are found, so the order-dependent layer is exercised
    assert results[2] == results[1] and results[3] == results[1]
    one = dump(tmp_path / "w1.db")
    assert one["articles"] and one["copy_prints"] and one["story_members"]
    for w in (2, 3):
        other = dump(tmp_path / f"w{w}.db")
        assert other.keys() == one.keys()
        for table in one:
            assert other[table] == one[table], f"{table} differs with {w} workers"


def _failing_prepare(raw: RawDoc, settings: Settings) -> object:
    if "a033" in raw.raw.decode("utf-8", "replace"):
        raise RuntimeError("a parser fell over")
    if "a044" in raw.raw.decode("utf-8", "replace"):
        os._exit(9)  # the worker dies, as on a segfault or the OOM killer
    return prepare(raw, settings)


@needs_fork
def test_a_bad_item_and_a_dying_worker_are_one_line_each(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = make_corpus(tmp_path / "in")
    clean_counts, _ = run(corpus, tmp_path / "clean.db", 2)
    monkeypatch.setattr(pool_mod, "prepare", _failing_prepare)  # forked workers inherit it
    counts, errors = run(corpus, tmp_path / "bad.db", 2)
    reasons = dict(errors)
    assert counts["failed"] == clean_counts["failed"] + 2
    assert counts["added"] == clean_counts["added"] - 2
    assert any("a parser fell over" in why for why in reasons.values())
    assert any("died" in why for why in reasons.values())
    stored = {r[0] for r in sqlite3.connect(tmp_path / "bad.db").execute("SELECT id FROM articles")}
    everything = {r[0] for r in sqlite3.connect(tmp_path / "clean.db").execute("SELECT id FROM articles")}
    assert len(everything - stored) == 2  # only the two bad items are missing; the batch went on


CLEANING = ("articles", "removed_spans", "template_lines", "template_groups", "blobs", "sightings")


def test_templates_kept_as_a_from_scratch_clean_finds_them_whatever_the_batch_size(tmp_path: Path) -> None:
    """Each batch re-cleans only the stored articles whose template lines it changed, and the store equals what
    ``storyloom clean`` makes of it from scratch, for small batches and large, with and without workers."""
    from storyloom.pipeline import reclean

    corpus = make_corpus(tmp_path / "in")
    dumps = {}
    for batch, workers in ((4, 1), (9, 2), (500, 1)):
        db = tmp_path / f"b{batch}.db"
        counts, _ = run(corpus, db, workers, batch_size=batch, run_copies=False)
        if batch == 4:
            assert counts["recleaned"] > 0  # stored articles were revisited when their lines became templates
        before = dump(db)
        settings = Settings(db_path=str(db), translations=False, story_embeddings=False, run_copies=False)
        with Store(str(db)) as store:
            rep = reclean(store, settings)
        assert rep.changed == 0 and rep.checked == len(before["articles"])
        after = dump(db)
        assert after == before
        dumps[batch] = {t: before[t] for t in CLEANING}
        # a template span's reason says how many articles held the line when it was judged ("in 7 of 7"), which
        # `storyloom clean` does not rewrite either when only the counts moved: compared without them
        dumps[batch]["removed_spans"] = [r[:3] + (re.sub(r"\(in \d+ of \d+ ", "(", str(r[3])),) + r[4:]
                                         for r in before["removed_spans"]]
    assert dumps[4] == dumps[9] == dumps[500]


def test_a_batch_reads_template_counts_per_group_not_per_article(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Settling a batch's template lines asks the store once per template group, whatever the batch's size."""
    from storyloom.store import Store as StoreClass

    root = tmp_path / "in"
    root.mkdir()
    (root / "news.jsonl").write_text("\n".join(json.dumps(article(i, OUTLETS[i % 3])) for i in range(90)) + "\n",
                                     encoding="utf-8")
    reads: list[str] = []
    real_init = StoreClass.__init__

    def traced(self: StoreClass, *a: object, **k: object) -> None:
        real_init(self, *a, **k)  # type: ignore[arg-type]
        self.conn.set_trace_callback(lambda q: reads.append(q) if "FROM template_" in q else None)

    monkeypatch.setattr(StoreClass, "__init__", traced)
    settings = Settings(db_path=str(tmp_path / "s.db"), batch_size=500, ingest_workers=1, run_copies=False)
    with StoreClass(settings.db_path) as store:
        rep = ingest([str(root / "news.jsonl")], store, settings)
    assert rep.counts["added"] == 90
    assert 0 < len(reads) <= 2 + 7 * len(OUTLETS)  # per group: its size, its lines, before and after the write, and
    # the counts of the lines of its stored articles that hold a flipped line (110 when each article asked for its own lines)


def test_the_work_ahead_in_the_workers_changes_no_byte(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With translations and story embeddings on, the workers also fingerprint each article for the copies,
    embed its title + lead and split it for the translation search (storyloom.lookahead): the ingesting process
    then does less of that itself, and the store is still the same, byte for byte, as with no worker at all."""
    import storyloom.copies as copies_pkg
    from batchdata import multilingual_corpus
    from standin_embedders import AnchorVectors

    printed: list[str] = []
    real_fingerprint = copies_pkg.fingerprint

    def fingerprint(aid: str, text: str) -> object:
        printed.append(aid)  # in this process only: a forked worker appends to its own copy
        return real_fingerprint(aid, text)

    monkeypatch.setattr(copies_pkg, "fingerprint", fingerprint)

    corpus = make_corpus(tmp_path / "in")
    ml = multilingual_corpus(tmp_path / "ml")
    for f in ml.glob("*.jsonl"):  # an undated article's story is dated by the wall clock: not comparable
        f.write_text("".join(ln + "\n" for ln in f.read_text(encoding="utf-8").splitlines() if '"published"' in ln),
                     encoding="utf-8")
    options = {"batch_size": 25, "translations": True, "story_embeddings": True,
               "embedder_fast": "standin_embedders:AnchorVectors", "embedder_wide": "standin_embedders:AnchorVectorsWide"}
    here: dict[int, int] = {}
    fingerprinted: dict[int, int] = {}
    for w in (1, 2):
        AnchorVectors.seen.clear()
        printed.clear()
        settings = Settings(db_path=str(tmp_path / f"w{w}.db"), ingest_workers=w, **options)  # type: ignore[arg-type]
        with Store(str(tmp_path / f"w{w}.db")) as store:
            store.migrate()
            ingest([str(corpus / "news.jsonl"), str(corpus / "pages"), str(ml)], store, settings)
        here[w] = len(AnchorVectors.seen)  # texts the fast model embedded in this process
        fingerprinted[w] = len(printed)
    one, two = dump(tmp_path / "w1.db"), dump(tmp_path / "w2.db")
    assert sum(kind == "translation" for _, _, kind, *_ in one["copy_links"]) >= 6
    assert len(one["embeddings"]) > 80
    assert one.keys() == two.keys()
    for table in one:
        assert two[table] == one[table], f"{table} differs with the work done ahead"
    # the workers' vectors were taken where the text they embedded is the article's final one (the synthetic
    # articles above lose a template line from their lead, the HTML pages and the translations do not)
    assert here[2] <= here[1] - 25, here
    assert fingerprinted[1] > 80 and fingerprinted[2] <= fingerprinted[1] - 25, fingerprinted


@needs_fork
def test_the_workers_compress_raw_inputs_once_the_store_has_its_dictionary(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """From the batch after the store trains its raw-input dictionary, the cleaning workers compress the raw
    inputs and the ingesting process only stores them (issue 23): the store is still the same, byte for byte,
    with 1, 2 or 3 workers and any batch size, and a second ingest into a store with a dictionary has the workers
    compress from its first item."""
    from storyloom.store import sqlite as store_sqlite
    from storyloom.store.packing import ZSTD_CODEC, RawPacker

    monkeypatch.setattr(store_sqlite, "BLOB_DICT_AFTER", 12)  # trained in the second batch, not after the 256th
    here = os.getpid()
    zstd_here: list[int] = []
    real_encode = RawPacker.encode

    def encode(self: RawPacker, data: bytes) -> tuple[str, bytes]:
        got = real_encode(self, data)
        if os.getpid() == here and got[0].startswith(ZSTD_CODEC):
            zstd_here.append(len(data))  # in this process only: a forked worker appends to its own copy
        return got

    monkeypatch.setattr(RawPacker, "encode", encode)
    corpus = make_corpus(tmp_path / "in")
    more = tmp_path / "more"
    more.mkdir()
    (more / "later.jsonl").write_text("\n".join(json.dumps(article(i, OUTLETS[i % 3])) for i in range(100, 140)) + "\n",
                                      encoding="utf-8")
    packed_here: dict[tuple[int, int], tuple[int, int]] = {}  # zstd raw inputs compressed here: 1st, 2nd ingest
    for w, batch in ((1, 10), (2, 10), (3, 10), (3, 7), (2, 30), (2, 500)):
        db = tmp_path / f"w{w}b{batch}.db"
        zstd_here.clear()
        run(corpus, db, w, batch_size=batch)
        first = len(zstd_here)
        zstd_here.clear()
        settings = Settings(db_path=str(db), ingest_workers=w, batch_size=batch, translations=False,
                            story_embeddings=False)
        with Store(str(db)) as store:
            ingest([str(more / "later.jsonl")], store, settings)
        packed_here[w, batch] = first, len(zstd_here)
    one = dump(tmp_path / "w1b10.db")
    stored = [codec for _, _, codec, _ in one["blobs"]]
    assert one["blob_dicts"] and stored.count(f"{ZSTD_CODEC}1") >= 100
    for w, batch in ((2, 10), (3, 10), (3, 7), (2, 30), (2, 500)):
        other = dump(tmp_path / f"w{w}b{batch}.db")
        assert other.keys() == one.keys()
        # other batches change only the template spans' wording ("in 13 of 13 articles"): the raw inputs not
        for table in one if batch == 10 else ("blobs", "blob_dicts"):
            assert other[table] == one[table], f"{table} differs with {w} workers, batches of {batch}"
    first_zstd = stored.count(f"{ZSTD_CODEC}1") - 40
    # without workers this process compresses every raw input (the ones stored before the dictionary twice)
    assert packed_here[1, 10][0] >= first_zstd and packed_here[1, 10][1] == 40, packed_here
    # with workers: those, and the ones cleaned here or handed to the workers before the dictionary was (the
    # pool starts at the 24th item to clean, a batch ahead); the second ingest's items that went to the workers
    # came compressed (batches of 10: the ones before the 24th were cleaned here; of 500: all went)
    assert packed_here[2, 10][0] <= 24 + 2 * 10 < first_zstd and packed_here[2, 10][1] < 24, packed_here
    assert packed_here[3, 10][1] < 24 and packed_here[2, 500][1] == 0, packed_here
    # batches of 30: trained in the first; the next batch's items, in the pool already, were compressed there by
    # jobs of their own (this process compressed only the first batch's)
    assert packed_here[2, 30][0] <= 30 and packed_here[2, 30][1] == 0, packed_here


@needs_fork
def test_a_job_never_asked_for_is_not_kept_for_the_dictionary(tmp_path: Path) -> None:
    """The pool remembers the jobs submitted before the store's dictionary (to compress their raw inputs when
    it comes) only while its caller holds them: an item found stored meanwhile is never asked for, and its raw
    input must not stay in memory for the rest of an ingest that may never train a dictionary."""
    import gc

    from storyloom.clean.pool import CleanPool

    raws = [jsonl_item(i, repeat=3) for i in range(3)]
    with CleanPool(Settings(ingest_workers=2, translations=False, story_embeddings=False)) as pool:
        jobs = [pool.submit(r) for r in raws]
        assert len(pool.unpacked) == 3
        pool.result(jobs[0])  # asked for: forgotten
        del jobs[1]  # dropped by the caller, never asked for
        gc.collect()
        assert list(pool.unpacked.values()) == [jobs[1]]
        assert pool.share_blob_dict(1, b"not a real dictionary, never used") and len(pool.unpacked) == 0
        assert jobs[1].packing is not None


@needs_fork
def test_a_job_never_asked_for_does_not_keep_a_restarted_pool_cleaning_one_item_at_a_time() -> None:
    """An item found stored after its job was submitted is never asked for; forgotten (``forget``), it is not
    counted as an item of the old pool still to re-run alone after a restart.  Counted, it kept ``_isolating``
    true, and every later item of the ingest was cleaned one at a time."""
    from storyloom.clean.pool import CleanPool

    raws = [jsonl_item(i) for i in range(3)]
    with CleanPool(Settings(ingest_workers=2, translations=False, story_embeddings=False)) as pool:
        jobs = [pool.submit(r) for r in raws]
        pool.result(jobs[0])
        pool.result(jobs[1])
        pool.forget(jobs[2])
        pool._restart()  # what a worker's death does
        assert not pool._isolating()
        assert pool.submit(raws[0]).future is not None  # in the pool again, not held back to run alone


def test_a_compression_that_fails_in_a_worker_leaves_the_item_to_the_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compressing is a head start: a compressor's error in a worker gives no packed form (the store compresses
    the raw input), never a failed item."""
    class Broken:
        def encode(self, data: bytes) -> tuple[str, bytes]:
            raise MemoryError("zstd")

    key = pool_mod.PackWith(1, b"d")
    monkeypatch.setattr(pool_mod, "_packers", {key: Broken()})
    monkeypatch.setattr(pool_mod, "_settings", Settings(translations=False, story_embeddings=False))
    raw = jsonl_item(0)
    assert pool_mod._pack(raw.raw, key) is None
    got = pool_mod._work(raw, key)
    assert not isinstance(got, pool_mod.BadInput) and got.packed is None


@needs_fork
@pytest.mark.parametrize(("kind", "warmed"), [("html", 1), ("text", 0)])
def test_the_html_extractor_is_warmed_up_once_before_the_fork_when_the_first_item_is_a_page(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, warmed: int) -> None:
    calls: list[int] = []
    monkeypatch.setattr(pool_mod, "warm_up", lambda: calls.append(os.getpid()))
    page = (ROOT / "sample" / "aeb").glob("*.html.gz").__next__()
    import gzip

    html = gzip.decompress(page.read_bytes()).decode("utf-8", "replace")
    items = [RawDoc(raw=html.encode(), kind="html", location=f"p{i}", html=html) if kind == "html" else
             RawDoc(raw=b"t", kind="txt", location=f"t{i}", text=str(article(i, OUTLETS[0])["text"]))
             for i in range(3)]
    settings = Settings(db_path=str(tmp_path / "x.db"), ingest_workers=2, translations=False, story_embeddings=False)
    with pool_mod.CleanPool(settings) as pool:
        outcomes = [pool.result(pool.submit(raw)) for raw in items]
        pool._restart()  # a new pool (after a dying worker) does not warm up again
        outcomes.append(pool.result(pool.submit(items[0])))
    assert calls == [os.getpid()] * warmed  # here, in the process that forks, once
    assert all(not isinstance(o, BaseException) for o in outcomes)


def test_warm_up_leaves_the_extractor_ready_and_answers_unchanged() -> None:
    from htmldate.extractors import get_external_parser

    from storyloom.clean.html import _WARM_PAGE, extract_html, warm_up

    before = extract_html(_WARM_PAGE, "w", "https://example.org/news/warm-up", timeout=None)
    warm_up()
    assert get_external_parser.cache_info().currsize == 1  # dateparser's parser made, its locales' patterns built
    assert extract_html(_WARM_PAGE, "w", "https://example.org/news/warm-up", timeout=None) == before
