"""``storyloom load``: the Parquet tables of a batch run → the SQLite store, so the API and UI serve them.

Everything goes through :mod:`storyloom.store` (the SQL lives in :mod:`storyloom.store.load` and the stage
modules' own writers), one transaction per chunk of rows; every write is an upsert by id, so loading the
same output twice gives the same store.  Template counts and document frequencies are rebuilt, so later
incremental ingests continue from the batch as if it had been ingested.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from storyloom.batch.local import iter_table
from storyloom.batch.tables import MANIFEST, TABLES
from storyloom.errors import StoryloomError
from storyloom.store import Store

CHUNK = 2000


def read_manifest(out: str | Path) -> dict[str, Any]:
    path = Path(out) / MANIFEST
    if not path.is_file():
        raise StoryloomError(f"{out}: not a finished batch output (no {MANIFEST}); run `storyloom batch` again")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    missing = [t for t in TABLES if not (Path(out) / t).is_dir()]
    if missing:
        raise StoryloomError(f"{out}: batch output lacks table(s) {', '.join(missing)}")
    return manifest


def _chunks(rows: Iterable[dict[str, Any]], n: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
    it = iter(rows)
    while chunk := list(islice(it, n)):
        yield chunk


def load_batch(out: str | Path, store: Store, on_table: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Load every table of a batch output into ``store``; returns rows loaded per table."""
    from storyloom.clean.text import line_key
    from storyloom.store import copies as copies_sql
    from storyloom.store import load as sql
    from storyloom.store import stories as stories_sql
    from storyloom.timeparse import utc_now as _now

    manifest = read_manifest(out)
    seen_at = manifest.get("ingested_at") or _now()
    counts: dict[str, int] = {}
    started = time.perf_counter()

    def each(table: str, write: Callable[[list[dict[str, Any]]], Any]) -> None:
        n = 0
        for chunk in _chunks(iter_table(out, table)):
            with store.transaction():
                write(chunk)
            n += len(chunk)
        counts[table] = n
        if on_table:
            on_table(table, n)

    each("blobs", lambda rows: sql.load_blobs(store, rows))
    def articles(rows: list[dict[str, Any]]) -> None:
        sql.load_articles(store, rows)
        sql.clear_batch_results(store, [r["id"] for r in rows])

    each("articles", articles)
    spans = sorted(iter_table(out, "removed_spans"), key=lambda r: (r["article_id"], r["start"]))
    with store.transaction():
        counts["removed_spans"] = sql.load_spans(store, spans)
    each("sightings", lambda rows: sql.load_sightings(store, rows, seen_at))
    each("copy_prints", lambda rows: copies_sql.save_prints(store, [
        # a store keeps no sketch (Settings.copy_sketches: only batch tables hold it)
        (r["article_id"], r["version"], r["exact"], r["n_words"], b"", r["bands"] or [], r["skeys"] or [])
        for r in rows]))
    each("copy_links", lambda rows: copies_sql.save_links(store, [
        {**r, "details": sql.json_field(r["details"]), "evidence": sql.json_field(r["evidence"])} for r in rows]))
    each("copy_groups", lambda rows: copies_sql.save_groups(store, {r["article_id"]: r["group_id"] for r in rows}))
    each("stories", lambda rows: stories_sql.save_stories(store, [
        {**r, **{k: sql.json_field(r[k]) for k in ("outlets", "languages", "terms", "entities")}} for r in rows]))
    each("story_members", lambda rows: stories_sql.save_members(store, [
        (r["article_id"], r["story_id"], r["score"], r["reason"], r["time"], r["time_flag"]) for r in rows]))
    each("story_events", lambda rows: sql.load_story_events(store, rows, seen_at))
    with store.transaction():
        sql.load_doc_freqs(store, iter_table(out, "term_df"), sql.article_count(store))
    counts["term_df"] = sum(1 for _ in iter_table(out, "term_df"))
    store.rebuild_template_counts(
        (group, [line_key(l) for l in body.split("\n") if l.strip()]) for group, body in list(sql.first_version_bodies(store)))
    counts["errors"] = sum(1 for _ in iter_table(out, "errors"))
    counts["seconds"] = round(time.perf_counter() - started, 3)  # type: ignore[assignment]
    return counts
