"""Per-request store handles, from a small pool of read-only connections.

A connection opened per request starts with an empty page cache and parses the schema again before its
first query; under load that was a measurable share of a story page.  Pooled connections keep both.  A
pooled connection in autocommit mode still sees every commit: each statement starts a fresh WAL read.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator

from fastapi import Request

from storyloom.errors import StoreError
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
        if store.conn.in_transaction:  # a handler left a transaction open: do not hand its snapshot on
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
    from storyloom.serve.app import ApiError

    pool: ReadPool = request.app.state.reads
    try:
        store = pool.take()
    except StoreError as exc:
        raise ApiError(503, "store_unavailable", str(exc)) from exc
    ok = False
    try:
        yield store
        ok = True
    finally:
        if ok:
            pool.give(store)
        else:  # a failed request may have left the handle in any state
            store.close()
