"""Comparisons recomputed behind the page: stale-while-revalidate for story pages.

Comparing a large story costs seconds (sentence embeddings of up to 60 articles).  Computed inside the
request, every story an ingest had just grown made its next reader wait those seconds, and under load the
waits queued behind each other (p95 in seconds, 30 s timeouts).  A story page now answers at once with the
comparison it has — the one kept for an earlier version of the story, marked stale, or none yet, marked
pending — and asks this refresher to compute the current one in the background, one story at a time per
server process, so readers never pay for it and the refresh never takes more than one core's share.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict

log = logging.getLogger(__name__)


class Refresher:
    """A bounded, de-duplicated queue of story ids and one daemon thread that compares them and keeps the
    result.  Requests beyond ``max_pending`` are dropped: the story's next view asks again."""

    def __init__(self, db_path: str, max_pending: int = 256, write_wait_ms: int = 5_000, duty: float = 0.5) -> None:
        self.db_path = db_path
        self.max_pending = max_pending
        self.write_wait_ms = write_wait_ms
        # at most this share of the time comparing: after a comparison that took t seconds the thread rests
        # t * (1 - duty) / duty, so a burst of stale stories (an ingest grew hundreds) cannot take the
        # process's CPU -- and its GIL -- away from the readers for minutes on end
        self.duty = duty
        self._pending: OrderedDict[str, None] = OrderedDict()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._busy: str | None = None
        self._stopped = False
        self.done = 0
        self.failed = 0

    def request(self, story_id: str) -> bool:
        """Queue ``story_id`` (a no-op if it is queued or being compared); False when the queue is full."""
        with self._cond:
            if self._stopped:
                return False
            if story_id in self._pending or story_id == self._busy:
                return True
            if len(self._pending) >= self.max_pending:
                return False
            self._pending[story_id] = None
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="storyloom-refresh", daemon=True)
                self._thread.start()
            self._cond.notify_all()  # not notify(): a request waiting in wait_for() could take the worker's wake-up
            return True

    def pending(self) -> int:
        with self._cond:
            return len(self._pending) + (self._busy is not None)

    def wait_for(self, story_id: str, timeout: float) -> bool:
        """Queue ``story_id`` and block until it has been compared (or dropped); False on timeout or a full
        queue.  For ``?fresh=true``: the comparison still runs on the refresher's thread, so a request that gives
        up at its deadline leaves no work running on its own behalf."""
        with self._cond:
            if not self.request(story_id):
                return False
            return self._cond.wait_for(lambda: story_id not in self._pending and self._busy != story_id, timeout)

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is queued or being compared (tests, shutdown); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and self._busy is None, timeout)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._pending.clear()
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._stopped)
                if self._stopped:
                    return
                self._busy, _ = self._pending.popitem(last=False)
                story_id = self._busy
            started = time.monotonic()
            try:
                self._refresh(story_id)
                self.done += 1
            except Exception as exc:  # one story's failure is logged, never the end of the refresher
                self.failed += 1
                log.warning("comparison of story %s failed: %s: %s", story_id, type(exc).__name__, exc)
            finally:
                with self._cond:
                    self._busy = None
                    self._cond.notify_all()
            if self.duty < 1.0:
                rest = (time.monotonic() - started) * (1.0 - self.duty) / self.duty
                with self._cond:  # a stop ends the rest early
                    self._cond.wait_for(lambda: self._stopped, timeout=rest)

    def _refresh(self, story_id: str) -> None:
        from storyloom.compare import compare_kept
        from storyloom.store import Store

        with Store(self.db_path, readonly=True) as read, Store(self.db_path, busy_timeout_ms=self.write_wait_ms) as write:
            compare_kept(read, story_id, write=write)
