"""The ordered stages and the per-item error policy: ingest → clean → store, in batches.

A bad item (unreadable, malformed, no article in it) becomes one line in the report and the run goes on.
Items are written in transactions of ``settings.batch_size``: killing the process loses at most the batch
in flight, and a re-run skips everything already stored (checked by raw-bytes hash *before* cleaning, so a
resumed run is fast) and adds the rest in the same order, giving the same store as an uninterrupted run.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from storyloom.clean import clean
from storyloom.errors import BadInput, Skipped
from storyloom.ingest import iter_inputs
from storyloom.models import Article, RawDoc
from storyloom.settings import Settings
from storyloom.store import Store

MAX_ERRORS_KEPT = 10_000


@dataclass
class IngestReport:
    counts: Counter[str] = field(default_factory=Counter)  # added, version, unchanged, duplicate, failed, skipped
    errors: list[tuple[str, str]] = field(default_factory=list)  # (location, reason)
    seconds: float = 0.0
    added_ids: list[str] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return self.counts["added"] + self.counts["version"]

    @property
    def failed(self) -> int:
        return self.counts["failed"]

    def as_dict(self) -> dict[str, object]:
        return {
            "counts": dict(self.counts),
            "errors": [{"location": loc, "reason": why} for loc, why in self.errors],
            "seconds": round(self.seconds, 3),
        }


Event = Callable[[str, object], None]  # ("item", status) | ("error", BadInput) — for progress display


def ingest_items(
    items: Iterable[RawDoc | BadInput],
    store: Store,
    settings: Settings,
    on_event: Event | None = None,
    report: IngestReport | None = None,
) -> IngestReport:
    """Clean and store a stream of raw items (the library call under every ingest path)."""
    report = report or IngestReport()
    emit = on_event or (lambda kind, payload: None)
    start = time.perf_counter()
    batch: list[tuple[RawDoc, Article]] = []
    pending_blobs: set[str] = set()

    def flush() -> None:
        if not batch:
            return
        for outcome in store.write_batch(batch):
            report.counts[outcome.status] += 1
            if outcome.status in ("added", "version"):
                report.added_ids.append(outcome.article_id)
            emit("item", outcome.status)
        batch.clear()
        pending_blobs.clear()

    for item in items:
        if isinstance(item, BadInput):
            status = "skipped" if isinstance(item, Skipped) else "failed"
            report.counts[status] += 1
            if status == "failed" and len(report.errors) < MAX_ERRORS_KEPT:
                report.errors.append((item.location, item.reason))
            emit("error" if status == "failed" else "skip", item)
            continue
        key = item.blob
        if key not in pending_blobs and store.has_blob(key):
            # Already stored: only remember this new place it was seen (cheap, no cleaning).
            batch.append((item, _placeholder(item)))
        else:
            try:
                batch.append((item, clean(item, settings)))
            except BadInput as exc:
                report.counts["failed"] += 1
                if len(report.errors) < MAX_ERRORS_KEPT:
                    report.errors.append((exc.location, exc.reason))
                emit("error", exc)
                continue
            pending_blobs.add(key)
        if len(batch) >= settings.batch_size:
            flush()
    flush()
    report.seconds += time.perf_counter() - start
    return report


def _placeholder(raw: RawDoc) -> Article:
    """A stand-in for an item whose bytes are stored already; the store only records the sighting."""
    return Article(id=raw.id, blob=raw.blob, kind=raw.kind, location=raw.location, title="", text="")


def ingest(
    inputs: Iterable[str],
    store: Store,
    settings: Settings,
    on_event: Event | None = None,
) -> IngestReport:
    """Ingest paths and URLs into the store; see :func:`ingest_items`."""
    from storyloom.ingest.web import Fetcher

    with Fetcher(settings) as fetcher:
        return ingest_items(iter_inputs(inputs, settings, fetcher), store, settings, on_event)
