"""The per-record and per-block work of a batch run, in plain Python (no Spark here).

Each function wraps the local pipeline's own stage functions — :func:`storyloom.clean.clean`,
:mod:`storyloom.copies.fingerprint`, :func:`storyloom.copies.verify.verify`,
:func:`storyloom.stories.build_stories` — so the Spark job (:mod:`storyloom.batch.spark`) only moves data
between them.  Keeping them here also lets them be tested without a JVM.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from storyloom.canonical import canonical_json as _json
from storyloom.errors import BadInput, Skipped
from storyloom.models import Article, RawDoc
from storyloom.settings import Settings
from storyloom.timeparse import maybe_time

BATCH_FILE_CAP = 1 << 60  # the per-file cap is lifted: batch inputs are large files by design (items stay capped)
REBUILT_KINDS = ("warc", "feed")  # kinds whose re-clean starts from a RawDoc rebuilt differently than at ingest

Hook = Callable[[str, int], None]  # (stage, partition id): fault injection in tests, per-partition setup


def batch_settings(settings: Settings, story_embeddings: bool = False) -> Settings:
    """The settings both engines run a batch with: story embeddings only when asked, no per-file size cap, and
    the incremental stages off during ingest (the batch runs them once, over everything).  Translated copies
    as the settings say (on by default: both engines run the same cascade, see
    :mod:`storyloom.batch.spark.translations`)."""
    # copy_sketches: the batch tables hold each text's sketch; a scratch store keeps it rather than computing it
    # again for the export
    return settings.with_overrides(story_embeddings=story_embeddings, copy_sketches=True,
                                   max_file_bytes=BATCH_FILE_CAP, run_copies=False, run_stories=False)


# -- parse ----------------------------------------------------------------------------------------


def jsonl_line_item(line: bytes, where: str, settings: Settings) -> RawDoc | BadInput | None:
    """One JSONL line, read by the same function as :func:`storyloom.ingest.files.iter_jsonl` (None: blank)."""
    from storyloom.ingest.records import jsonl_item

    return jsonl_item(line, where, settings.max_item_bytes)


def jsonable(value: Any) -> Any:
    """A Parquet value as JSON can hold it (timestamps as ISO text, bytes as UTF-8 text)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _page_text(value: Any) -> Any:
    """A binary ``html`` cell holds a page's bytes: decoded by the one decoder every path uses (BOM, meta
    charset, UTF-8 with stray bytes, detection), not as plain UTF-8 with replacement characters."""
    if isinstance(value, (bytes, bytearray)):
        from storyloom.decoding import decode_page

        return decode_page(bytes(value))
    return jsonable(value)


def record_item(record: dict[str, Any], where: str) -> RawDoc | BadInput:
    """One Parquet row → a RawDoc of kind ``json`` whose raw bytes are the row as canonical JSON."""
    from storyloom.ingest.records import FIELDS, record_to_raw

    obj = {k: _page_text(v) if k in FIELDS["html"] else jsonable(v) for k, v in record.items() if v is not None}
    raw = json.dumps(obj, ensure_ascii=False, sort_keys=True).encode("utf-8")
    try:
        return record_to_raw(obj, raw, "json", where)
    except BadInput as exc:
        return exc


def iter_parquet(path: str, display: str) -> Iterator[tuple[int, RawDoc | BadInput]]:
    """(row index, item) of a local Parquet file, with pyarrow (the local engine's reader)."""
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        i = 0
        for batch in pf.iter_batches(batch_size=1024):
            for rec in batch.to_pylist():
                yield i, record_item(rec, f"{display}#{i}")
                i += 1
    except (OSError, ValueError) as exc:
        yield -1, BadInput(display, f"unreadable Parquet file: {exc}")


def relocate(item: RawDoc | BadInput, src: str, dst: str) -> RawDoc | BadInput:
    """The same item with locations under ``src`` (a spooled local copy) given back under ``dst``."""
    if src == dst or not item.location.startswith(src):
        return item
    loc = dst + item.location[len(src):]
    if isinstance(item, BadInput):
        return type(item)(loc, item.reason)
    return replace(item, location=loc)


def file_items(local: str, display: str, settings: Settings) -> Iterator[RawDoc | BadInput]:
    """Every item of one whole file (HTML, text, JSON, WARC, feed, JSONL.gz) through the local reader."""
    from storyloom.ingest.files import iter_file

    for item in iter_file(Path(local), settings):
        yield relocate(item, local, display)


# -- clean ----------------------------------------------------------------------------------------


class FixedTemplateCounts:
    """The corpus-wide template counts one article needs (its group, without itself), as
    :class:`storyloom.clean.text.TemplateCounts`: only lines common enough to matter are carried."""

    def __init__(self, group: str, size: int, counts: dict[str, int]) -> None:
        self.group, self.size, self.counts = group, size, counts

    def group_size(self, group: str) -> int:
        return self.size if group == self.group else 0

    def line_counts(self, group: str, keys: Sequence[str]) -> dict[str, int]:
        if group != self.group:
            return {}
        return {k: self.counts[k] for k in keys if k in self.counts}


def _roundtrip(value: object) -> Any:
    return json.loads(_json(value))


def for_cleaning(raw: RawDoc) -> RawDoc:
    """The RawDoc a re-clean (``storyloom clean``) starts from: for most kinds the ingest's own; WARC records
    and feed entries are rebuilt from their bytes and declared fields, as the store's re-clean does."""
    if raw.kind not in REBUILT_KINDS:
        return raw
    from storyloom.ingest.rebuild import rebuild_raw
    from storyloom.store.sqlite import declared_fields

    try:
        return rebuild_raw(raw.kind, raw.location, raw.raw, _roundtrip(declared_fields(raw)), _roundtrip(raw.extra))
    except BadInput:
        return raw


def error_row(location: str, reason: str, status: str) -> dict[str, Any]:
    return {"status": status, "location": location, "reason": reason}


def article_fields(art: Article) -> dict[str, Any]:
    """What cleaning decided, as the store keeps it (and re-cleaning may replace)."""
    from storyloom.store.sqlite import text_hash

    return {
        "title": art.title, "text": art.text, "text_hash": text_hash(art.title, art.text), "url": art.url,
        "canonical_url": art.canonical_url, "published": art.published, "date_flag": art.date_flag,
        "outlet": art.outlet, "author": art.author, "language": art.language, "body": art.body,
        "meta": _json(art.meta), "template_group": art.template_group, "warnings": _json(list(art.warnings)),
        "line_keys": list(art.line_keys),
        "removed": [{"start": s.start, "end": s.end, "reason": s.reason, "rule": s.rule} for s in art.removed],
    }


def portable(item: RawDoc | BadInput) -> RawDoc | dict[str, Any]:
    """An item that can cross a process boundary (exceptions do not pickle back): a BadInput as its row."""
    if isinstance(item, BadInput):
        return error_row(item.location, item.reason, "skipped" if isinstance(item, Skipped) else "failed")
    return item


def clean_item(item: RawDoc | BadInput | dict[str, Any], settings: Settings) -> dict[str, Any]:
    """One item → a row: the article (first pass, no template counts yet) or the reason there is none.

    A programming error on one record is reported as that record's failure rather than ending the batch.
    """
    from storyloom.clean import clean
    from storyloom.store.sqlite import declared_fields

    if isinstance(item, dict):  # an error row already (see :func:`portable`)
        return dict(item)
    if isinstance(item, BadInput):
        return error_row(item.location, item.reason, "skipped" if isinstance(item, Skipped) else "failed")
    try:
        art = clean(for_cleaning(item), settings, templates=None)
    except BadInput as exc:
        return error_row(exc.location, exc.reason, "failed")
    except Exception as exc:
        return error_row(item.location, f"internal error while cleaning: {type(exc).__name__}: {exc}", "failed")
    return {
        "status": "ok", "location": item.location, "reason": None, "id": item.id, "blob": item.blob,
        "kind": item.kind, "raw": item.raw, "declared": _json(declared_fields(item)), "extra": _json(art.extra),
        **article_fields(art),
    }


def reclean_row(row: dict[str, Any], size: int, counts: dict[str, int], settings: Settings) -> dict[str, Any]:
    """Clean an article again from its raw bytes with the corpus's template counts (its own left out), as
    ``storyloom clean`` does; the fields a re-clean rewrites are replaced, a failure keeps the row."""
    from storyloom.clean import clean
    from storyloom.ingest.rebuild import rebuild_raw

    try:
        raw = rebuild_raw(row["kind"], row["location"], bytes(row["raw"]), json.loads(row["declared"]),
                          json.loads(row["extra"]))
        art = clean(raw, settings, templates=FixedTemplateCounts(row["template_group"], size, counts))
    except BadInput:
        return row
    fields = article_fields(art)
    fields.pop("line_keys")
    return {**row, **fields}


# -- copies ---------------------------------------------------------------------------------------


def fingerprint(aid: str, text: str) -> dict[str, Any]:
    """Exact key, MinHash sketch, LSH band keys and sentence keys of one text (as the copies stage stores)."""
    from storyloom.copies import fingerprint as local_fingerprint

    tp, fp = local_fingerprint(aid, text)
    return {**fp._asdict(), "has_shingles": bool(tp.shingles)}


class PrintCache:
    """TextPrints of the texts a partition of pairs meets, the most recent few thousand kept."""

    def __init__(self, size: int = 4096) -> None:
        self.size, self.prints = size, {}  # type: ignore[var-annotated]

    def get(self, aid: str, text: str) -> Any:
        from storyloom.copies.verify import TextPrint

        tp = self.prints.pop(aid, None) or TextPrint.of(text)
        self.prints[aid] = tp
        if len(self.prints) > self.size:
            self.prints.pop(next(iter(self.prints)))
        return tp


def verify_pair(cache: PrintCache, a: str, text_a: str, b: str, text_b: str) -> dict[str, Any] | None:
    """The copy link between two articles (a < b), decided on the real texts, or None."""
    from storyloom.copies import link_record
    from storyloom.copies.verify import verify

    v = verify(cache.get(a, text_a), cache.get(b, text_b))
    if v is None:
        return None
    link = link_record(a, b, v)
    return {**link, "details": _json(link["details"]), "evidence": _json(link["evidence"])}


# -- stories --------------------------------------------------------------------------------------


def parse_time(iso: str | None) -> float | None:
    """Seconds since the epoch of a story time, or None (the same rule as every stage: :mod:`storyloom.timeparse`)."""
    dt = maybe_time(iso)
    return dt.timestamp() if dt else None


def story_terms(title: str, text: str) -> list[str]:
    """The keys an article adds to the document frequencies (its terms and entities, as the story stage counts)."""
    from storyloom.stories.represent import doc_keys

    return sorted(doc_keys(title, text))


def story_parts(title: str, text: str) -> dict[str, Any]:
    """What the story stage makes of an article's text, as row fields (``counts``, ``entities``, ``roundup``)
    and the document-frequency keys they give (``terms``): computed once, in the pass that counts document
    frequencies, and carried to the block runs instead of the text (see :func:`run_story_block`)."""
    from storyloom.stories.represent import TextParts

    p = TextParts.of(title or "", text or "")
    return {"counts": dict(p.counts), "entities": p.entities, "roundup": p.roundup, "terms": sorted(p.keys())}


def packed_parts(parts: dict[str, Any]) -> str:
    """The text parts of :func:`story_parts` as one JSON string (a block row's ``parts`` field)."""
    return json.dumps([parts["counts"], parts["entities"], parts["roundup"]], ensure_ascii=False)


def row_parts(row: dict[str, Any]) -> Any:
    """The :class:`~storyloom.stories.represent.TextParts` a block row carries (``counts``, ``entities``,
    ``roundup`` as :func:`story_parts` gives them, or ``parts`` packed by :func:`packed_parts`), or None when
    it carries its text instead."""
    from collections import Counter

    from storyloom.stories.represent import TextParts

    if row.get("parts") is not None:
        counts, ents, roundup = json.loads(row["parts"])
        return TextParts(Counter(counts), list(ents), roundup)
    if row.get("counts") is None:
        return None
    return TextParts(Counter(row["counts"]), list(row["entities"] or []), row.get("roundup"))


def run_story_block(rows: Iterable[dict[str, Any]], settings: Settings, ingested_at: str,
                    workdir: str | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    """Run the local online story clustering over one block of articles, segment by segment.

    ``rows`` come sorted by global rank; the first row of each segment carries ``prior_df`` (the document
    frequencies of its terms over every earlier segment) and ``prior_docs`` (how many articles came before),
    so IDF is exactly what the local run computes.  A row may carry its text parts (``counts``, ``entities``,
    ``roundup``: :func:`story_parts`) instead of its text, which is then neither stored nor read again.
    Yields ("story_members" | "stories" | "story_events", row).
    """
    from storyloom.store import Store
    from storyloom.store.load import export_rows, make_scratch, put_story_articles, set_doc_freqs
    from storyloom.stories import build_stories

    settings = settings.with_overrides(story_workers=0)  # inside a Spark task the executor's cores are the parallelism
    folder = tempfile.mkdtemp(prefix="storyloom-block-", dir=workdir)
    path = os.path.join(folder, "block.db")
    store = Store(path)
    try:
        make_scratch(store)
        seg: object = None
        batch: list[dict[str, Any]] = []
        queued = 0
        parts: dict[str, Any] = {}

        def put() -> None:
            nonlocal queued
            if batch:
                with store.transaction():
                    put_story_articles(store, batch, ingested_at)
                queued += len(batch)
                batch.clear()

        for r in rows:
            if r["seg"] != seg:
                put()
                if queued:
                    build_stories(store, settings, parts=parts)
                    queued, parts = 0, {}
                seg = r["seg"]
                with store.transaction():
                    set_doc_freqs(store, dict(r["prior_df"] or {}), int(r["prior_docs"]))
            batch.append(r)
            got = row_parts(r)
            if got is not None:
                parts[r["id"]] = got
            if len(batch) >= 1000:
                put()
        put()
        if queued:
            build_stories(store, settings, parts=parts)
        for table in ("story_members", "stories", "story_events"):
            for row in export_rows(store, table):
                yield table, row
    finally:
        store.close()
        for name in os.listdir(folder):
            os.remove(os.path.join(folder, name))
        os.rmdir(folder)


def walk_key(parts: Sequence[str]) -> tuple[tuple[int, str], ...]:
    """Sort key giving the order :func:`storyloom.ingest.files.walk` visits files in: a folder's files
    (sorted) before its sub-folders (sorted, each visited whole)."""
    return tuple((1, p) for p in parts[:-1]) + ((0, parts[-1]),)
