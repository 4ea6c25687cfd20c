"""The batch pipeline without Spark: the local pipeline into a scratch store, exported as the batch tables.

Stages, in the order a user would run them on one machine: ``ingest`` (copies and stories off), ``storyloom
clean`` (re-clean with the whole corpus's template counts), ``storyloom copies``, ``storyloom stories`` —
so this is also the reference the Spark engine is compared with (same settings, see
:func:`storyloom.batch.stages.batch_settings`).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from storyloom.batch import stages
from storyloom.batch.report import BatchReport, notes_for
from storyloom.batch.tables import MANIFEST, TABLES, arrow_schema, columns
from storyloom.bootstrap import refuse_while_bootstrapping
from storyloom.errors import Skipped
from storyloom.settings import Settings

ROWS_PER_GROUP = 2000


def iter_batch_inputs(inputs: Iterable[str], settings: Settings) -> Iterator[Any]:
    """:func:`storyloom.ingest.iter_inputs` for batch inputs: local paths only, plus Parquet files."""
    from storyloom.ingest import iter_inputs

    def parquet(path: str) -> Iterator[Any]:
        for _, item in stages.iter_parquet(path, path):
            yield item

    return iter_inputs(inputs, settings, urls=False, parquet=parquet)


def run_local(inputs: Iterable[str], out: str, settings: Settings, *, story_embeddings: bool = False,
              keep_db: str | None = None, on_stage: Callable[[str], None] | None = None) -> BatchReport:
    """Run the local pipeline over ``inputs`` into a scratch store and write the batch tables to ``out``."""
    refuse_while_bootstrapping("batch")
    from storyloom.copies import find_copies
    from storyloom.pipeline import ingest_items
    from storyloom.store import Store
    from storyloom.stories import build_stories

    bs = stages.batch_settings(settings, story_embeddings)
    report = BatchReport("local", notes=notes_for(bs), on_stage=on_stage)
    total = time.perf_counter()
    errors: list[dict[str, Any]] = []

    def watched(items: Iterator[Any]) -> Iterator[Any]:
        for item in items:
            if isinstance(item, Skipped):
                errors.append(stages.error_row(item.location, item.reason, "skipped"))
            yield item

    folder = tempfile.mkdtemp(prefix="storyloom-local-batch-")
    db = keep_db or str(Path(folder) / "batch.db")
    try:
        with Store(db) as store:
            with report.timed("ingest"):
                ing = ingest_items(watched(iter_batch_inputs(inputs, bs)), store, bs)
            errors += [stages.error_row(loc, why, "failed") for loc, why in ing.errors]
            # no template re-clean pass: ingest keeps templates as a from-scratch `storyloom clean` finds them, batch by
            # batch (retemplate.py; tests/test_ingest_pool.py), so a whole pass here changed nothing and cost a tenth
            # of the run (491 s of the 100k run)
            with report.timed("copies"):
                cr = find_copies(store, bs)
            with report.timed("stories"):
                sr = build_stories(store, bs)
            report.counts.update({k: int(v) for k, v in ing.counts.items()})
            report.counts.update({"articles": ing.stored, "copy_links": sum(cr.links.values()),
                                  "candidate_pairs": cr.candidates, "capped_buckets": cr.capped_buckets,
                                  "stories": sr.opened - sr.merges})
            with report.timed("write"):
                write_local_tables(store, errors, out, {"engine": "local", "counts": report.counts, "notes": report.notes,
                                                       "settings": {k: v for k, v in vars(bs).items() if k != "api_token"}})
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report.seconds["total"] = time.perf_counter() - total
    return report


def write_local_tables(store: Any, errors: list[dict[str, Any]], out: str, manifest: dict[str, Any]) -> None:
    """The batch tables of a store, written to a staging folder and swapped into ``out`` by rename."""
    from storyloom.copies import text_sketch
    from storyloom.store.load import export_rows

    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    for leftover in list(root.glob("_staging-*")) + list(root.glob("_old-*")):
        shutil.rmtree(leftover, ignore_errors=True)
    run_id = uuid.uuid4().hex[:12]
    staging, old = root / f"_staging-{run_id}", root / f"_old-{run_id}"
    for name in TABLES:
        rows = iter(errors) if name == "errors" else export_rows(store, name, sketch_of=text_sketch)
        write_parquet(rows, name, staging / name)
    old.mkdir()
    (root / MANIFEST).unlink(missing_ok=True)
    for name in TABLES:
        if (root / name).exists():
            (root / name).rename(old / name)
        (staging / name).rename(root / name)
    manifest = {**manifest, "run_id": run_id, "tables": sorted(TABLES)}
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(staging, ignore_errors=True)


def write_parquet(rows: Iterable[dict[str, Any]], table: str, folder: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    schema = arrow_schema(table)
    cols = columns(table)
    with pq.ParquetWriter(str(folder / "part-00000.parquet"), schema) as writer:
        chunk: list[dict[str, Any]] = []
        for r in rows:
            chunk.append({c: r.get(c) for c in cols})
            if len(chunk) >= ROWS_PER_GROUP:
                writer.write_table(pa.Table.from_pylist(chunk, schema=schema))
                chunk = []
        if chunk:
            writer.write_table(pa.Table.from_pylist(chunk, schema=schema))


def iter_table(out: str | Path, table: str, batch_size: int = 1000) -> Iterator[dict[str, Any]]:
    """The rows of one batch table (whichever engine wrote it), streamed a record batch at a time."""
    import pyarrow.parquet as pq

    folder = Path(out) / table
    files = sorted(p for p in folder.rglob("*.parquet") if not p.name.startswith((".", "_")))
    for f in files:
        for batch in pq.ParquetFile(str(f)).iter_batches(batch_size=batch_size):
            yield from batch.to_pylist()


def read_table(out: str | Path, table: str) -> list[dict[str, Any]]:
    return list(iter_table(out, table))
