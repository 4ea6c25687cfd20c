"""The articles of a chunk as the clustering sees them, prepared ahead in a worker process.

Reading a chunk's articles and building their representations (terms, entities, the text an embedder sees)
depends on the articles alone, never on the stories, so it can run while the previous chunk is being
clustered: on this project's 2-core machines that put the second core to work on what was a third of the
stage.  The worker only reads the store; the results are the same objects the stage would build itself, so
the stories do not depend on whether a worker ran (a test compares both).  If the worker cannot start or
dies, the stage prepares the chunk itself and goes on.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from storyloom.store import Store
from storyloom.store import stories as sql
from storyloom.stories.online import new_rep
from storyloom.stories.represent import ArticleRep, TextParts

log = logging.getLogger(__name__)
AHEAD = 2  # chunks prepared ahead of the one being clustered


@dataclass
class Prepared:
    reps: list[ArticleRep]  # in queue order; articles no longer in the store are left out
    leads: dict[str, str]  # article id → what the embedder sees (only when embeddings are on)


def prepare(store: Store, ids: list[str], leads: bool, given: Mapping[str, TextParts] | None = None) -> Prepared:
    """Read and represent a chunk's articles (vectors are added by the stage: the embedder lives there).
    ``given``: text parts already computed for some of them (their text is then not read again)."""
    from storyloom.embed import lead

    given = given or {}
    rows = sql.articles(store, ids)
    reps = [new_rep(rows[i], None, given.get(i)) for i in ids if i in rows]
    return Prepared(reps, {i: lead(rows[i]["title"], rows[i]["text"]) for i in ids if i in rows} if leads else {})


_worker_store: Store | None = None


def _prepare_in_worker(db_path: str, ids: list[str], leads: bool, given: dict[str, TextParts]) -> Prepared:
    global _worker_store
    if _worker_store is None:
        _worker_store = Store(db_path, readonly=True)
    return prepare(_worker_store, ids, leads, given)


def prepared_chunks(store: Store, chunks: list[list[str]], leads: bool, workers: int,
                    given: Mapping[str, TextParts] | None = None) -> Iterator[tuple[list[str], Prepared]]:
    """Each chunk with its prepared articles, in order; prepared ``AHEAD`` chunks in advance by a worker
    process when ``workers`` > 0 and there is more than one chunk (a single chunk gains nothing and would pay
    the worker's start)."""
    given = given or {}
    pool = None
    if workers > 0 and len(chunks) > 1 and Path(store.path).is_file():
        try:  # spawn, not fork: the stage may run inside a threaded server or next to a loaded model
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        except (OSError, ValueError) as exc:
            log.warning("stories: no worker process (%s); preparing chunks in this process", exc)
    pending: deque[Future[Prepared]] = deque()
    try:
        for k, ids in enumerate(chunks):
            got = None
            if pool is not None:
                while len(pending) < AHEAD + 1 and k + len(pending) < len(chunks):
                    ahead = chunks[k + len(pending)]
                    pending.append(pool.submit(_prepare_in_worker, store.path, ahead, leads,
                                               {i: given[i] for i in ahead if i in given}))
                try:
                    got = pending.popleft().result()
                except Exception as exc:  # a dead worker: this chunk and the rest are prepared here
                    log.warning("stories: worker failed (%s: %s); preparing chunks in this process",
                                type(exc).__name__, exc)
                    pool.shutdown(wait=True, cancel_futures=True)
                    pool, pending = None, deque()
            yield ids, got if got is not None else prepare(store, ids, leads, given)
    finally:  # waited for (at most the chunk a worker is on): a pool left running is joined at the
        # interpreter's exit, after everything else, where nothing says what it waits for
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
