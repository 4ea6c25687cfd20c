"""The ordered stages and the per-item error policy: ingest → clean → store, in batches.

A bad item (unreadable, malformed, no article in it) becomes one line in the report and the run goes on.
Items are written in transactions of ``settings.batch_size``: killing the process loses at most the batch
in flight, and a re-run skips everything already stored (checked by raw-bytes hash *before* cleaning, so a
resumed run is fast) and adds the rest in the same order, giving the same store as an uninterrupted run.

What depends on the item alone (decoding, extraction, rules, the line classifier, language, text metadata) runs
in ``settings.ingest_workers`` processes (:mod:`storyloom.clean.pool`); what depends on the articles before it
(template lines, copies, stories) runs here, in input order, so the store is the same whatever their number.
Template lines are judged against every other article of the group, so each batch also re-cleans the few stored
articles whose template lines it changed (:mod:`storyloom.retemplate`): the store stays what a from-scratch
``storyloom clean`` makes of it.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from storyloom import blas, lookahead
from storyloom.bootstrap import refuse_while_bootstrapping
from storyloom.clean import Prepared
from storyloom.clean.pool import CleanPool, Job, pool_size, prepare_outcome
from storyloom.copies import find_copies
from storyloom.errors import BadInput, Skipped
from storyloom.follow import after_stages as follow_after_stages
from storyloom.ingest import iter_inputs
from storyloom.models import Article, RawDoc
from storyloom.retemplate import RefreshReport, before_batch, reclean_row, refresh_stored, settle_batch
from storyloom.settings import Settings
from storyloom.store import Store
from storyloom.store.templates import set_template_skip
from storyloom.stories import build_stories

MAX_ERRORS_KEPT = 10_000
# ids of the stored articles the report lists, at most: a caller of a small ingest (the HTTP API) reads them, and
# a list of every id of a 1M-article ingest would be ~75 MB held to the end for nobody
MAX_IDS_KEPT = 100_000
log = logging.getLogger("storyloom.pipeline")


@dataclass
class IngestReport:
    counts: Counter[str] = field(default_factory=Counter)  # added, version, unchanged, duplicate, failed, skipped
    errors: list[tuple[str, str]] = field(default_factory=list)  # (location, reason)
    seconds: float = 0.0
    added_ids: list[str] = field(default_factory=list)  # the first MAX_IDS_KEPT (``stored`` counts them all)
    copies: dict[str, int] = field(default_factory=dict)  # copy links found, by kind
    stories: int = 0  # stories opened
    recleaned: int = 0  # stored articles re-cleaned because a later batch changed their template lines

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
            "copy_links": dict(self.copies),
            "stories_opened": self.stories,
        } | ({"recleaned": self.recleaned} if self.recleaned else {})


Event = Callable[[str, object], None]  # ("item", status) | ("error", BadInput) — for progress display


def ingest_items(
    items: Iterable[RawDoc | BadInput],
    store: Store,
    settings: Settings,
    on_event: Event | None = None,
    report: IngestReport | None = None,
) -> IngestReport:
    """Clean and store a stream of raw items (the library call under every ingest path).

    Another process may be writing to the same store (a second ingest, ``watch``, an HTTP ingest): each
    batch and stage chunk then waits for the write lock, up to ``settings.busy_wait_seconds``, rather than
    failing (see :meth:`Store.transaction`).  With cleaning workers, BLAS runs on one thread here
    (:mod:`storyloom.blas`: its spinning threads took the cores the workers and the models needed).
    """
    refuse_while_bootstrapping("ingest")
    with blas.one_thread_while(pool_size(settings) > 1):
        return _ingest_items(items, store, settings, on_event, report)


def _ingest_items(items: Iterable[RawDoc | BadInput], store: Store, settings: Settings, on_event: Event | None,
                  report: IngestReport | None) -> IngestReport:
    store.busy_wait_seconds = settings.busy_wait_seconds
    store.set_cache_mb(settings.store_cache_mb)
    report = report or IngestReport()
    emit = on_event or (lambda kind, payload: None)
    start = time.perf_counter()
    batch: list[tuple[RawDoc, Prepared | Article]] = []  # Article: a stand-in for bytes already stored
    pending_blobs: set[str] = set()

    stages_owed = False  # a batch was written whose copies and stories pass has not run yet
    story_parts: dict[str, Any] = {}  # the stories' text parts the workers made, by article id

    def refuse(bad: BadInput) -> None:
        report.counts["failed"] += 1
        if len(report.errors) < MAX_ERRORS_KEPT:
            report.errors.append((bad.location, bad.reason))
        emit("error", bad)

    def flush(final: bool = False) -> None:
        nonlocal stages_owed
        if batch:
            # templates: each article against the store plus this whole batch, and the stored articles whose
            # template lines the batch changes re-cleaned in the same transaction (see storyloom.retemplate)
            settled = iter(settle_batch(store, [(raw, x) for raw, x in batch if isinstance(x, Prepared)]))
            writes: list[tuple[RawDoc, Article]] = []
            new_ids: set[str] = set()
            for raw, x in batch:
                art = next(settled) if isinstance(x, Prepared) else x
                if isinstance(x, Prepared):
                    lookahead.offer(x.ahead)  # a worker's head start on the copies and stories stages
                    if isinstance(art, Article) and (parts := lookahead.story_parts(x.ahead, art.title, art.text)):
                        story_parts[art.id] = parts
                if isinstance(art, BadInput):
                    refuse(art)
                    continue
                if isinstance(x, Prepared):
                    new_ids.add(art.id)
                writes.append((raw, art))
            before = before_batch(store, settings, [a for _, a in writes])
            refreshed: list[RefreshReport] = []
            # raw inputs the workers compressed with the store's dictionary (CleanPool.share_blob_dict)
            packed = {x.ident["blob"]: x.packed for _, x in batch if isinstance(x, Prepared) and x.packed is not None}
            outcomes = store.write_batch(writes, then=lambda: refreshed.append(
                refresh_stored(store, settings, before, new_ids, on_event=emit)), packed=packed)
            if not final:
                share_blob_dict()
            for outcome in outcomes:
                report.counts[outcome.status] += 1
                if outcome.status in ("added", "version") and len(report.added_ids) < MAX_IDS_KEPT:
                    report.added_ids.append(outcome.article_id)
                emit("item", outcome.status)
            for r in refreshed:
                report.recleaned += r.changed
            batch.clear()
            pending_blobs.clear()
            stages_owed = settings.run_copies
        if not stages_owed:
            return
        try:
            with stages_turn(store, wait=final) as ours:
                if not ours:
                    return  # another writer's pass is running: it takes our queued articles too, or a later flush does
                copies = find_copies(store, settings)
                for kind, n in copies.links.items():
                    report.copies[kind] = report.copies.get(kind, 0) + n
                if settings.run_stories:  # stories need copy groups: a group enters a story as one unit
                    report.stories += build_stories(store, settings, parts=story_parts).opened
                stages_owed = False
                follow_after_stages(store, settings)  # subscriptions: the news these articles bring, alerts
        finally:
            lookahead.forget()
            story_parts.clear()

    def share_blob_dict() -> None:
        """Hand the workers the store's raw-input dictionary once it has one (from its first write on a new
        store, at once on a store that has one), so they compress the raw inputs, not this process."""
        if pool.parallel and pool.pack_with is None and (did := store.blobs.latest()) is not None:
            pool.share_blob_dict(did, store.blobs.dict_bytes(did))

    ahead = lookahead.wanted(settings)
    with CleanPool(settings, lookahead.compute if ahead else None,
                   (lambda: lookahead.warm(settings)) if ahead else None) as pool:
        share_blob_dict()
        for item, job in _ahead(items, store, pool, settings):
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
                if job is not None:
                    pool.forget(job)
                batch.append((item, _placeholder(item)))
            else:
                try:
                    prepared = pool.result(job) if job is not None else prepare_outcome(item, settings)
                except Exception as exc:  # noqa: BLE001 - one item's failure, whatever it is, is one line
                    prepared = BadInput.unexpected(item.location, exc)
                if isinstance(prepared, BadInput):
                    refuse(prepared)
                    continue
                batch.append((item, prepared))
                pending_blobs.add(key)
            if len(batch) >= settings.batch_size:
                flush()
    flush(final=True)
    report.seconds += time.perf_counter() - start
    return report


AHEAD_BYTES = 256 * 1024 * 1024  # raw bytes of the items handed to the workers and not yet written, at most


def _ahead(items: Iterable[RawDoc | BadInput], store: Store, pool: CleanPool,
           settings: Settings) -> Iterator[tuple[RawDoc | BadInput, Job | None]]:
    """The items in input order, each with its job in the clean pool, started up to a batch ahead (and at most
    ``AHEAD_BYTES`` of raw input) so the workers keep cleaning while this process writes a batch and runs the
    copies and stories stages.  An item whose bytes are stored already gets no job (it is only a sighting);
    the decision the caller makes in order is the one that counts, the job is a head start.  Without a pool
    (``ingest_workers = 1``): no jobs, the caller cleans each item itself."""
    if not pool.parallel:
        for item in items:
            yield item, None
        return
    queue: deque[_Waiting] = deque()
    held = waiting = 0
    limit = max(settings.batch_size, 4 * pool.size)
    source = iter(items)
    exhausted = started = False
    while True:
        while not exhausted and len(queue) < limit and held < AHEAD_BYTES:
            got = next(source, None)
            if got is None:
                exhausted = True
                break
            item = got
            raw = item if isinstance(item, RawDoc) and not store.has_blob(item.blob) else None
            entry = _Waiting(item, raw, None, len(raw.raw) if raw is not None else 0)
            queue.append(entry)
            held += entry.size
            waiting += raw is not None
            if not started and waiting >= POOL_FROM:
                started = True  # hand the items waiting so far to the pool, in order
                for e in queue:
                    if e.raw is not None:
                        e.job = pool.submit(e.raw)
            elif started and raw is not None:
                entry.job = pool.submit(raw)
        if not queue:
            return
        first = queue.popleft()
        held -= first.size
        yield first.item, first.job


@dataclass
class _Waiting:
    item: RawDoc | BadInput
    raw: RawDoc | None  # the item, when it is to be cleaned
    job: Job | None
    size: int  # its raw bytes, held until it is written


POOL_FROM = 24  # items to clean before the workers start: a small ingest (an API call, a feed poll) starts none


@contextmanager
def stages_turn(store: Store, wait: bool) -> Iterator[bool]:
    """Whether this process may run the copies and stories stages now (yields False if another does).

    Two writers each running the stages would both take the articles queued at that moment: copies are
    idempotent, but the story stage keeps its state in memory between reading the queue and committing,
    so both would add the same article to their stories and count its terms twice (measured: IDF counted
    105 times for 80 articles with two concurrent ingests).  So one pass at a time, process-wide and
    machine-wide, by an advisory lock file beside the store.  A writer that finds a pass running goes on
    ingesting (that pass re-reads the queue until it is empty); at its last batch it waits for its turn, so
    no article it queued is left for later.  Without ``fcntl`` (Windows) or a writable folder: no lock.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield True
        return
    if store.path in ("", ":memory:") or store.path.startswith("file:"):
        yield True
        return
    try:
        fh = open(store.path + ".stages-lock", "a+b")  # noqa: SIM115  (closed by the `with` below)
    except OSError:
        yield True
        return
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                yield False
                return
            log.warning("%s: another writer is finding copies and stories: waiting to run them after it", store.path)
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@dataclass
class ReCleanReport:
    checked: int = 0
    changed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0


def reclean(store: Store, settings: Settings, on_event: Event | None = None) -> ReCleanReport:
    """Re-run cleaning over every stored article from its raw bytes (after a rule or setting changed).

    Idempotent: an article whose result is unchanged is not written.  Template counts are first rebuilt
    from the stored texts, and each article is judged against every *other* article of its group.
    """
    refuse_while_bootstrapping("clean")
    from storyloom.clean.text import line_key

    emit = on_event or (lambda kind, payload: None)
    store.busy_wait_seconds = settings.busy_wait_seconds
    rep = ReCleanReport()
    start = time.perf_counter()
    store.rebuild_template_counts(
        (row["template_group"], [line_key(l) for l in (row["body"] or "").split("\n") if l.strip()])
        for rows in store.iter_for_reclean() for row in rows
        if row["template_group"] and row["previous_id"] is None
    )
    for rows in store.iter_for_reclean(settings.batch_size):
        changed: list[Article] = []
        skips: list[tuple[str, str | None]] = []  # unchanged articles' template_skip, new or not kept before
        for row in rows:
            rep.checked += 1
            try:
                art = reclean_row(store, settings, row, skips)
            except BadInput as exc:
                rep.failed.append((row["id"], exc.reason))
                emit("error", exc)
                continue
            if art is not None:
                changed.append(art)
            emit("item", "changed" if art is not None else "same")
        if changed:
            rep.changed += store.update_cleaned(changed)
        if skips:
            set_template_skip(store, skips)
    rep.seconds = time.perf_counter() - start
    return rep


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
