"""SQL for batch results: bringing the tables of a batch run (``storyloom batch``) into a store, reading a
store out as the same tables, and the scratch store the Spark story stage runs the online clustering in.

Writers here take rows as dicts (the columns of :mod:`storyloom.batch.tables`) and open no transaction of
their own unless they say so; the callers group them.  Every write is an upsert keyed by the row's id, so
loading the same batch twice leaves the store as loading it once did.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from itertools import groupby
from operator import itemgetter
from typing import Any

from storyloom.store.migrations import DECLARED_OF
from storyloom.store.packing import (
    decode_blob,
    encode_blob,
    json_text,
    key_of,
    pack_json_text,
    pack_spans,
    pack_text,
    read_centroid,
    stored_body,
    unpack_spans,
)
from storyloom.store.sqlite import Store

ARTICLE_COLUMNS = (
    "id", "blob", "kind", "location", "url", "canonical_url", "title", "text", "text_hash", "published",
    "date_flag", "outlet", "author", "language", "extra", "warnings", "previous_id", "ingested_at", "body", "meta",
    "declared", "template_group",
)
# template_skip (migration 21) is not among a batch run's columns: NULL, not known, so the template re-clean of a
# later ingest cleans such an article from its raw bytes (storyloom.retemplate), as it did before the column
_UPDATE = ", ".join(f"{c} = excluded.{c}" for c in (*ARTICLE_COLUMNS, "chars", "template_skip") if c != "id")


# -- loading batch tables into a store ------------------------------------------------------------


def load_blobs(store: Store, rows: Iterable[dict[str, Any]]) -> int:
    n = 0
    for r in rows:
        data = bytes(r["data"])
        codec, stored = encode_blob(data)
        store.conn.execute("INSERT OR IGNORE INTO blobs (sha256, size, codec, data) VALUES (?, ?, ?, ?)", (r["sha256"], len(data), codec, stored))
        n += 1
    return n


def load_articles(store: Store, rows: Iterable[dict[str, Any]]) -> int:
    """Insert or update articles by id (an update keeps the FTS index right through the store's trigger).

    A blob row must exist for each article (foreign key): load the blobs first.
    """
    n = 0
    cols = ", ".join((*ARTICLE_COLUMNS, "chars", "template_skip"))
    marks = ", ".join("?" * (len(ARTICLE_COLUMNS) + 2))
    for r in rows:
        text = r.get("text") or ""
        raw = store.raw_bytes(r["blob"])
        stored = {"body": stored_body(r.get("body"), text), "text": pack_text(text, raw),
                  "declared": None if r.get("declared") is None else pack_text(r["declared"], raw),
                  "meta": None if r.get("meta") is None else pack_json_text(r["meta"])}
        store.conn.execute(
            f"INSERT INTO articles ({cols}) VALUES ({marks}) ON CONFLICT(id) DO UPDATE SET {_UPDATE}",
            [*(stored[c] if c in stored else r.get(c) for c in ARTICLE_COLUMNS), len(text), None],
        )
        n += 1
    return n


def load_spans(store: Store, rows: Iterable[dict[str, Any]]) -> int:
    """Removed spans; an article's spans are replaced as a whole (rows must come grouped by article)."""
    n = 0
    for aid, group in groupby(rows, key=itemgetter("article_id")):
        spans = [(r["start"], r["end"], r["reason"], r["rule"]) for r in group]
        store.conn.execute("INSERT INTO article_spans (article_id, spans) VALUES (?, ?) "
                           "ON CONFLICT(article_id) DO UPDATE SET spans = excluded.spans", (aid, pack_spans(spans)))
        n += len(spans)
    return n


def load_sightings(store: Store, rows: Iterable[dict[str, Any]], seen_at: str) -> int:
    n = 0
    for r in rows:
        store.conn.execute("INSERT OR IGNORE INTO sightings VALUES (?, ?, ?, ?)",
                           (r["article_id"], r["location"], key_of(r["blob"]), seen_at))
        n += 1
    return n


def load_doc_freqs(store: Store, rows: Iterable[dict[str, Any]], docs: int) -> None:
    """Replace the story stage's document frequencies (what later online clustering continues from)."""
    store.conn.execute("DELETE FROM term_df")
    store.conn.executemany("INSERT INTO term_df VALUES (?, ?)", ((r["term"], r["df"]) for r in rows))
    store.conn.execute("INSERT OR REPLACE INTO counters VALUES ('docs', ?)", (docs,))


def load_story_events(store: Store, rows: Iterable[dict[str, Any]], at: str) -> int:
    n = 0
    for r in rows:
        store.conn.execute(
            "INSERT INTO story_events (at, kind, story_id, other_id, article_id, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (at, r["kind"], r["story_id"], r["other_id"], r["article_id"], r["detail"]))
        n += 1
    return n


def clear_batch_results(store: Store, article_ids: Iterable[str]) -> None:
    """Forget what a previous load of these articles said (stories, events), so a re-load does not pile up.
    Queued work for them is dropped too: their copies and stories come with the batch."""
    ids = list(article_ids)
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        q = ",".join("?" * len(chunk))
        store.conn.execute(f"DELETE FROM story_events WHERE article_id IN ({q})", chunk)
        store.conn.execute(f"DELETE FROM stage_queue WHERE article_id IN ({q})", chunk)


def article_count(store: Store) -> int:
    return int(store.conn.execute("SELECT count(*) FROM articles").fetchone()[0])


def first_version_bodies(store: Store) -> Iterator[tuple[str, str]]:
    """(template group, body) of every first version: what template counts are rebuilt from."""
    for r in store.conn.execute("SELECT a.template_group, t.body FROM articles a JOIN article_texts t ON t.rowid = a.rowid "
                                "WHERE a.template_group IS NOT NULL AND a.previous_id IS NULL ORDER BY a.rowid"):
        yield r[0], r[1] or ""


# -- reading a store out as batch tables ----------------------------------------------------------

def _exported(column: str) -> str:
    """How the articles export reads a column: text and body decoded by the view, declared fields decoded too."""
    if column in ("text", "body"):
        return f"t.{column}"
    if column == "meta":
        return "storyloom_json(a.meta) AS meta"
    return f"{DECLARED_OF.format(r='a')} AS declared" if column == "declared" else f"a.{column}"


EXPORTS: dict[str, str] = {
    "articles": f"SELECT {', '.join(_exported(c) for c in ARTICLE_COLUMNS)} "
                "FROM articles a JOIN article_texts t ON t.rowid = a.rowid ORDER BY a.rowid",
    "sightings": "SELECT article_id, location, storyloom_hex(blob) AS blob FROM sightings ORDER BY article_id, location, blob",
    "copy_links": "SELECT a, b, kind, score, direction, details, evidence FROM copy_links ORDER BY a, b",
    "copy_groups": "SELECT article_id, group_id FROM copy_groups ORDER BY article_id",
    "stories": "SELECT id, label, label_article, label_score, first_seen, last_seen, n_articles, outlets, languages, "
               "centroid, n_vectors, terms, entities FROM stories ORDER BY id",
    "story_members": "SELECT article_id, story_id, score, reason, time, time_flag FROM story_members ORDER BY article_id",
    "story_events": "SELECT kind, story_id, other_id, article_id, detail FROM story_events ORDER BY rowid",
    "term_df": "SELECT term, df FROM term_df ORDER BY term",
}


def export_rows(store: Store, table: str,
                sketch_of: Callable[[str], bytes] | None = None) -> Iterator[dict[str, Any]]:
    """The rows of one batch table, read from a store (``blobs`` and ``copy_prints`` are assembled).
    ``sketch_of``: a text's MinHash sketch (storyloom.copies.text_sketch), for the prints a store keeps without
    one (else exported empty)."""
    if table == "blobs":
        for r in store.conn.execute("SELECT sha256, codec, data FROM blobs ORDER BY sha256"):
            data = decode_blob(r["codec"], r["data"], store.blobs)
            yield {"sha256": r["sha256"], "size": len(data), "data": data}
        return
    if table == "copy_prints":
        bands = _keys_by_article(store, "SELECT article_id, band FROM copy_bands ORDER BY article_id, band")
        skeys = _keys_by_article(store, "SELECT article_id, skey FROM copy_sentences ORDER BY article_id, skey")
        # a store built without Settings.copy_sketches keeps none: the sketch is computed again from the text by
        # ``sketch_of`` (the batch engines keep it, so their export reads it)
        for r in store.conn.execute("SELECT p.article_id, p.version, p.exact, p.n_words, p.sketch, "
                                    "CASE WHEN length(p.sketch) = 0 THEN t.text END AS text FROM copy_prints p "
                                    "LEFT JOIN articles a ON a.id = p.article_id "
                                    "LEFT JOIN article_texts t ON t.rowid = a.rowid ORDER BY p.article_id"):
            aid = r["article_id"]
            sketch = bytes(r["sketch"]) or (sketch_of(r["text"] or "") if sketch_of is not None else b"")
            yield {"article_id": aid, "version": r["version"], "exact": r["exact"], "n_words": r["n_words"],
                   "sketch": sketch, "bands": bands.get(aid, []), "skeys": skeys.get(aid, [])}
        return
    if table == "removed_spans":
        for aid, packed in store.conn.execute("SELECT article_id, spans FROM article_spans ORDER BY article_id"):
            for start, end, reason, rule in unpack_spans(packed):
                yield {"article_id": aid, "start": start, "end": end, "reason": reason, "rule": rule}
        return
    if table not in EXPORTS:
        raise ValueError(f"not a batch table: {table}")
    for r in store.conn.execute(EXPORTS[table]):
        d = dict(r)
        if "centroid" in d and d["centroid"] is not None:
            d["centroid"] = read_centroid(bytes(d["centroid"]))
        if "terms" in d:
            d["terms"] = json_text(d["terms"])
        if "evidence" in d:
            d["evidence"] = json_text(d["evidence"])
        yield d


def _keys_by_article(store: Store, sql: str) -> dict[str, list[int]]:
    """An article's keys in one key table, by article id, each list sorted (the tables hold an article by its
    rowid, or the 8 bytes of its id: store.copies.held_of)."""
    from storyloom.store.copies import ids_of

    rows = store.conn.execute(sql).fetchall()
    ids = ids_of(store, [held for held, _ in rows])
    out: dict[str, list[int]] = {}
    for held, key in rows:
        if held in ids:
            out.setdefault(ids[held], []).append(key)
    return {aid: sorted(keys) for aid, keys in out.items()}


# -- the scratch store of one story block (Spark) -------------------------------------------------


def make_scratch(store: Store) -> None:
    """A store used only to run the online story clustering over one block: no full-text index upkeep."""
    for trigger in ("articles_ai", "articles_ad", "articles_au"):
        store.conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    store.conn.execute("PRAGMA synchronous = OFF")


def put_story_articles(store: Store, rows: Iterable[dict[str, Any]], ingested_at: str) -> list[str]:
    """Articles (with their copy group), queued for the story stage, in the order given by ``rank``:
    the rowid is the rank, so the stage's (time, rowid) order is the global one.  A row without its text
    (it carries the text's parts instead) is stored with an empty one."""
    ids = []
    for r in rows:
        store.conn.execute("INSERT OR IGNORE INTO blobs (sha256, size, codec, data) VALUES (?, 0, 'raw', x'')", (r["id"],))
        store.conn.execute(
            "INSERT INTO articles (rowid, id, blob, kind, location, title, text, text_hash, published, date_flag, "
            "outlet, language, ingested_at) VALUES (?, ?, ?, 'batch', '', ?, ?, '', ?, ?, ?, ?, ?)",
            (r["rank"] + 1, r["id"], r["id"], r["title"], r.get("text") or "", r["published"], r["date_flag"], r["outlet"],
             r["language"], ingested_at))
        store.conn.execute("INSERT OR REPLACE INTO copy_groups VALUES (?, ?)", (r["id"], r["group_id"]))
        store.conn.execute("INSERT OR IGNORE INTO stage_queue VALUES ('stories', ?)", (r["id"],))
        ids.append(r["id"])
    return ids


def set_doc_freqs(store: Store, df: dict[str, int], docs: int) -> None:
    """Document frequencies as they stood before a block's segment (the articles of earlier segments)."""
    store.conn.execute("DELETE FROM term_df")
    store.conn.executemany("INSERT INTO term_df VALUES (?, ?)", sorted((t, n) for t, n in df.items() if n > 0))
    store.conn.execute("INSERT OR REPLACE INTO counters VALUES ('docs', ?)", (docs,))


def json_field(value: Any) -> Any:
    """A JSON column of a batch table, decoded (the store's writers take Python values)."""
    return json.loads(value) if isinstance(value, str) else value
