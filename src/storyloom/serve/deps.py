"""Per-request store handles, from a small pool of read-only connections.

A connection opened per request starts with an empty page cache and parses the schema again before its
first query; under load that was a measurable share of a story page.  Pooled connections keep both.  A
pooled connection in autocommit mode still sees every commit: each statement starts a fresh WAL read.
"""

from __future__ import annotations

import contextlib
import fcntl
import queue
from collections.abc import Iterator
from typing import Any

from fastapi import Request

from storyloom.errors import StoreError
from storyloom.serve.errors import ApiError
from storyloom.serve.limits import PROGRESS_OPS, deadline_check
from storyloom.store import Store


class ReadPool:
    """Read-only :class:`Store` handles shared by the request threads of one server process; at most ``keep``
    idle ones are kept (a burst beyond that opens extra handles and closes them afterwards)."""

    def __init__(self, path: str, keep: int = 16) -> None:
        self.path = path
        self._idle: queue.LifoQueue[Store] = queue.LifoQueue(maxsize=keep)

    def take(self) -> Store:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            return Store(self.path, readonly=True)

    def give(self, store: Store) -> None:
        store.set_interrupt(None)
        if store.in_transaction:  # a handler left a transaction open: do not hand its snapshot on
            store.close()
            return
        try:
            self._idle.put_nowait(store)
        except queue.Full:
            store.close()

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


def read_store(request: Request) -> Iterator[Store]:
    """A pooled read-only store for one request, its statements bound to the request's deadline and cancel
    flag (see :mod:`storyloom.serve.limits`)."""
    pool: ReadPool = request.app.state.reads
    try:
        store = pool.take()
    except StoreError as exc:
        raise ApiError(503, "store_unavailable", str(exc)) from exc
    store.set_interrupt(deadline_check(request.scope.get("state")), PROGRESS_OPS)
    ok = False
    try:
        yield store
        ok = True
    finally:
        if ok:
            pool.give(store)
        else:  # a failed request may have left the handle in any state
            store.close()


@contextlib.contextmanager
def writer_lock(state: Any) -> Iterator[None]:
    """One HTTP ingest at a time (``state`` is the app's), across this process's threads and across worker
    processes (a lock file beside the store): two writers would otherwise wait on SQLite's lock and time out."""
    with state.write_lock, open(str(state.settings.db_path) + ".write-lock", "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
