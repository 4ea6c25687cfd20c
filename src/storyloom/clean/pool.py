"""The article-only half of cleaning (:func:`storyloom.clean.prepare`) in worker processes.

Decoding, HTML extraction, the pattern rules, the line classifier, the language and the text's metadata
depend on the item alone, so they run side by side; the template layer (which needs the counts of every
article before this one) and the store writes stay in the ingesting process, in input order (see
:func:`storyloom.pipeline.ingest_items`).  So the store is the same whatever the number of workers.

A bad item is one line and the batch goes on: an exception in a worker comes back as that item's reason,
and a worker that dies (a crash in a parser, the OOM killer) breaks the pool, which is started again; the
items that were in flight are then re-run one at a time, so only the item that kills a worker on its own is
refused.  Workers ignore SIGINT (the ingesting process stops them) and leave when it dies: they read their
work from a pipe that it holds.

Once the store has its raw-input dictionary (:func:`storyloom.store.packing.train_blob_dict`), the workers also
compress each raw input they clean with it (:meth:`CleanPool.share_blob_dict`), so the ingesting process only
stores the bytes; the bytes are what it would have made itself, so the store stays the same.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import signal
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from typing import Any

from storyloom import blas
from storyloom.clean import Prepared, prepare
from storyloom.clean.html import warm_up
from storyloom.errors import BadInput
from storyloom.models import RawDoc
from storyloom.settings import Settings
from storyloom.store.packing import BLOB_DICT_SIZE, PackedBlob, RawPacker

log = logging.getLogger("storyloom.clean.pool")

Outcome = Prepared | BadInput  # what preparing one item gives: the prepared article, or why there is none

_settings: Settings | None = None  # a worker's settings, set once when it starts
After = Callable[[Prepared, Settings], Any]
_after: After | None = None  # a worker's extra work on each prepared article (see CleanPool)
_slot: Any = None  # a worker's view of the pool's dictionary slot (see CleanPool.share_blob_dict)
_packers: dict[PackWith, RawPacker | None] = {}  # a worker's raw-input packers, made from the slot once


@dataclass(frozen=True)
class PackWith:
    """What a job carries once the store has its raw-input dictionary: the dictionary's id, and a digest of its
    bytes, which the workers read from the pool's shared slot once (64 KB: not sent with every job)."""

    did: int
    digest: bytes


SLOT_HEAD = 4  # the slot starts with the dictionary's length (little-endian), then its bytes


def pool_size(settings: Settings) -> int:
    """Workers to start: ``ingest_workers``, 0 meaning one per CPU this process may use."""
    if settings.ingest_workers:
        return settings.ingest_workers
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def prepare_outcome(raw: RawDoc, settings: Settings) -> Outcome:
    """:func:`prepare`, with any failure turned into the item's one line."""
    try:
        return prepare(raw, settings)
    except Exception as exc:  # noqa: BLE001 - one item's failure, whatever it is, is one line
        return BadInput.unexpected(raw.location, exc)


def _start_method() -> str:
    """How the workers start: fork where there is one (see :meth:`CleanPool._start`), else spawn.  One answer for
    the workers and the shared slot they read, which must come from the same kind of context."""
    return "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"


def _digest(zdict: bytes) -> bytes:
    return hashlib.blake2b(zdict, digest_size=16).digest()


def _start_worker(settings: Settings, after: After | None = None, slot: Any = None) -> None:
    global _settings, _after, _slot
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _settings, _after, _slot = settings, after, slot
    _packers.clear()  # a forked worker must not trust what its parent had made
    blas.one_thread_per_worker()  # one worker per core already: BLAS threads would only fight them (storyloom.blas)
    threading.Thread(target=_leave_with_parent, args=(os.getppid(),), daemon=True).start()


def _leave_with_parent(parent: int) -> None:
    """A forked worker holds both ends of its work pipe, so it would wait for work forever after the ingesting
    process is killed (SIGKILL, the OOM killer): it leaves when its parent is gone."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def _work(raw: RawDoc, pack_with: PackWith | None = None) -> Outcome:
    assert _settings is not None
    got = prepare_outcome(raw, _settings)
    if _after is not None and isinstance(got, Prepared):
        try:
            got = replace(got, ahead=_after(got, _settings))
        except Exception:  # noqa: BLE001 - only a head start: the ingesting process computes it when asked
            log.debug("%s: the work ahead failed", raw.location, exc_info=True)
    if pack_with is not None and isinstance(got, Prepared):
        got = replace(got, packed=_pack(raw.raw, pack_with))
    return got


def _pack(data: bytes, pack_with: PackWith) -> PackedBlob | None:
    """A raw input compressed with the shared dictionary (in a clean job, or for a job submitted before the pool
    had it); None, and the store compresses it, if that fails here (a compressor's MemoryError must not make an
    item that cleaned well a failed one)."""
    packer = _packer(pack_with)
    if packer is None:
        return None
    try:
        return (pack_with.did, *packer.encode(data))
    except Exception:  # noqa: BLE001 - only a head start
        log.debug("a raw input was not compressed in the pool", exc_info=True)
        return None


def _packer(pack_with: PackWith) -> RawPacker | None:
    """The worker's packer for the dictionary a job names, read from the slot the first time; None (the
    ingesting process compresses) if the slot does not hold those very bytes, which it always should."""
    if pack_with not in _packers:
        made: RawPacker | None = None
        if _slot is not None:
            size = int.from_bytes(bytes(_slot[:SLOT_HEAD]), "little")
            zdict = bytes(_slot[SLOT_HEAD:SLOT_HEAD + size])
            if size and _digest(zdict) == pack_with.digest:
                try:
                    made = RawPacker(pack_with.did, zdict)
                except Exception:  # noqa: BLE001 - zstd refused it: remembered, not retried for every job
                    log.debug("the raw-input dictionary %d did not load", pack_with.did, exc_info=True)
        if made is None:
            log.warning("the raw-input dictionary %d is not in the workers' slot: the store compresses", pack_with.did)
        _packers[pack_with] = made
    return _packers[pack_with]


@dataclass
class Job:
    """One item on its way: its future in the pool (None: prepared when asked for, in this process or alone)."""

    raw: RawDoc
    future: Future[Outcome] | None
    generation: int
    # its raw input compressed in the pool, when the store's dictionary came after the job was submitted
    packing: Future[PackedBlob | None] | None = None


MAX_DEATHS = 3


class CleanPool:
    """Prepares items in ``pool_size(settings)`` worker processes (1: in this process, no pool).

    ``after``: more work on each prepared article that only its worker does (its result in ``Prepared.ahead``;
    an item prepared in this process has none): a head start for later stages, which must give the same result
    without it (:mod:`storyloom.lookahead`).  ``warm``: called here before the workers fork (a model they share)."""

    def __init__(self, settings: Settings, after: After | None = None, warm: Callable[[], None] | None = None) -> None:
        self.settings = settings
        self.after, self.warm = after, warm
        self.size = pool_size(settings)
        self.executor: ProcessPoolExecutor | None = None
        self.generation = 0
        self.outstanding: Counter[int] = Counter()  # jobs in the pool not yet asked for, by pool generation
        self.deferred = 0  # jobs held back while the items of a broken pool are re-run one at a time
        self.deaths = 0  # items in a row whose worker died alone: past MAX_DEATHS the pool is given up
        self.html_warmed = False  # whether this process has warmed the HTML extractor up before forking (warm_up)
        self.slot: Any = None  # shared memory the workers read the store's raw-input dictionary from
        self.pack_with: PackWith | None = None  # set once that dictionary is in the slot: jobs carry it
        # jobs in the pool without it, by id, while their caller holds them (one never asked for, an item found
        # stored meanwhile, is dropped with the caller's reference: no raw input is kept here for nothing)
        self.unpacked: weakref.WeakValueDictionary[int, Job] = weakref.WeakValueDictionary()

    def _slot(self) -> Any:
        # made before the first workers start (they inherit it; spawned ones get it through their start-up
        # arguments) and kept across restarts, so a dictionary shared at any time reaches every worker
        if self.slot is None:
            self.slot = multiprocessing.get_context(_start_method()).RawArray("B", SLOT_HEAD + BLOB_DICT_SIZE)
        return self.slot

    def share_blob_dict(self, did: int, zdict: bytes) -> bool:
        """Have the workers compress the raw inputs of the jobs submitted from now on with the store's dictionary
        ``did`` (its bytes ``zdict``).  Once per pool (a store makes one dictionary); nothing without workers,
        or for a dictionary larger than the slot: the store then compresses, as before.  Returns whether the
        workers will."""
        if not self.parallel or self.pack_with is not None or not zdict or len(zdict) > BLOB_DICT_SIZE:
            return False
        slot = self._slot()
        slot[SLOT_HEAD:SLOT_HEAD + len(zdict)] = zdict
        slot[:SLOT_HEAD] = len(zdict).to_bytes(SLOT_HEAD, "little")
        # only jobs submitted after this line carry it: the pipe that takes them to a worker orders the write
        self.pack_with = PackWith(did, _digest(zdict))
        # the jobs already in the pool (up to a batch ahead of the writes: half the raw inputs of a fresh
        # store's first 2,134 real texts) have their raw inputs compressed by a job of their own, queued
        # behind them: the writes want them a batch later
        for job in list(self.unpacked.values()):
            try:
                job.packing = self.executor.submit(_pack, job.raw.raw, self.pack_with) if self.executor else None
            except BrokenProcessPool:  # the store compresses them; the clean jobs see the pool broken
                break
        self.unpacked.clear()
        return True

    @property
    def parallel(self) -> bool:
        """Whether items go to workers (the workers start with the first job: a small ingest starts none)."""
        return self.size > 1

    def _start(self, first: RawDoc | None = None) -> None:
        # fork where there is one: the workers start at once with the modules and the line model loaded, and
        # a caller's script is not imported again in each of them (spawn and forkserver re-run an unguarded
        # ``__main__``).  The workers only clean: they never touch the store or a model's threads they copied.
        method = _start_method()
        if self.warm is not None:
            self.warm()
            self.warm = None
        if first is not None and first.html and not self.html_warmed and method == "fork":
            # an ingest of pages: the extractor's one-off start-up (~2 CPU s) paid here once, not in each worker
            # (forked workers inherit it; spawned ones would pay it again, so it is not paid here for them)
            self.html_warmed = True
            warm_up()
        self.executor = ProcessPoolExecutor(self.size, mp_context=multiprocessing.get_context(method),
                                            initializer=_start_worker,
                                            initargs=(self.settings, self.after, self._slot()))
        self.generation += 1

    def _restart(self) -> None:
        # Waited for: a broken pool's manager thread has already killed its workers, so this returns at once.
        # Not waiting leaves that thread behind until the interpreter's exit, which joins it after everything
        # else, where CPython has hung (gh-94777, gh-132969; a prefetch pool left so held a passed test run open).
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
        self._start()

    def _isolating(self) -> bool:
        return self.deferred > 0 or any(n for g, n in self.outstanding.items() if g < self.generation)

    def submit(self, raw: RawDoc) -> Job:
        """Start preparing ``raw`` in the pool (held back while a broken pool's items are re-run alone)."""
        if not self.parallel:
            return Job(raw, None, 0)
        if self.executor is None:
            self._start(raw)
        assert self.executor is not None
        if self._isolating():
            self.deferred += 1
            return Job(raw, None, self.generation)
        try:
            future = self.executor.submit(_work, raw, self.pack_with)
        except BrokenProcessPool:  # a worker died on an earlier item: its jobs are re-run alone when asked for
            log.warning("a cleaning worker died: the items it may have held are re-run one at a time")
            self._restart()
            return self.submit(raw)
        self.outstanding[self.generation] += 1
        job = Job(raw, future, self.generation)
        if self.pack_with is None:
            self.unpacked[id(job)] = job
        return job

    def result(self, job: Job) -> Outcome:
        """The outcome of a job; the caller asks in input order."""
        if self.executor is None:
            return prepare_outcome(job.raw, self.settings)
        self._uncount(job)
        if job.future is None:
            return self._alone(job)
        try:
            got = job.future.result()
        except BrokenProcessPool:
            if job.generation == self.generation:  # the first job to see its pool broken starts a new one
                log.warning("a cleaning worker died: the items it may have held are re-run one at a time")
                self._restart()
            return self._alone(job)
        if job.packing is not None and isinstance(got, Prepared) and got.packed is None:
            # only if done: the packing jobs queue behind every clean job submitted before them, and waiting here
            # would hold the first item after the dictionary came for the whole queue; else the store compresses
            if job.packing.done() and not job.packing.cancelled() and job.packing.exception() is None:
                got = replace(got, packed=job.packing.result())
            else:
                job.packing.cancel()
        return got

    def forget(self, job: Job) -> None:
        """A job its caller will never ask for (its item turned out to be stored already): no longer counted as
        outstanding, so that a later restart does not see it as an item of a broken pool still to re-run alone
        (which kept every later item cleaned one at a time)."""
        if self.executor is None:  # as result(): nothing was counted for a pool given up or never started
            return
        self._uncount(job)
        if job.future is not None:
            job.future.cancel()
        if job.packing is not None:
            job.packing.cancel()

    def _uncount(self, job: Job) -> None:
        """A job leaves the pool's books: asked for (result) or never to be (forget)."""
        if job.future is None:
            self.deferred -= 1
        else:
            self.outstanding[job.generation] -= 1
            self.unpacked.pop(id(job), None)

    def _alone(self, job: Job) -> Outcome:
        """Prepare one item with nothing else in the pool, so that a worker dying names its item."""
        if self.executor is None:  # given up: see below
            return prepare_outcome(job.raw, self.settings)
        try:
            got = self.executor.submit(_work, job.raw, self.pack_with).result()
        except BrokenProcessPool:
            self.deaths += 1
            if self.deaths >= MAX_DEATHS:  # not the items: workers cannot run here at all
                log.warning("cleaning workers keep dying: the rest of this ingest is cleaned in this process")
                self.close()
                self.size = 1
            else:
                self._restart()
            return BadInput(job.raw.location, "the process cleaning it died (a crash, or out of memory)")
        self.deaths = 0
        return got

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None

    def __enter__(self) -> CleanPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
