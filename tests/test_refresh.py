"""The background refresher behind story pages: de-duplicated, bounded, failure-tolerant, and rate-limited."""

from __future__ import annotations

import threading
import time

from storyloom.serve.refresh import Refresher


class Fake(Refresher):
    def __init__(self, work: float, fail: set[str] | None = None, **kw: float) -> None:
        super().__init__("unused.db", **kw)  # type: ignore[arg-type]
        self.work, self.fail, self.seen = work, fail or set(), []  # type: ignore[var-annotated]
        self.gate = threading.Event()
        self.taken = threading.Event()  # set once the thread has taken a story off the queue

    def _refresh(self, story_id: str) -> None:
        self.taken.set()
        self.gate.wait(10)
        self.seen.append(story_id)
        time.sleep(self.work)
        if story_id in self.fail:
            raise RuntimeError("bad story")


def test_queue_dedupes_bounds_and_survives_failures() -> None:
    r = Fake(0.0, fail={"s-bad"}, max_pending=3, duty=1.0)
    assert r.request("s-1") and r.request("s-1")  # asked twice: queued once
    assert r.taken.wait(10)  # the thread took s-1 and waits at the gate: s-1 is busy, not pending
    assert r.request("s-1") and r.pending() == 1
    assert r.request("s-bad") and r.request("s-2") and r.request("s-3")
    assert not r.request("s-4")  # full: dropped, the story's next view asks again
    r.gate.set()
    assert r.wait_idle(10)
    assert r.seen == ["s-1", "s-bad", "s-2", "s-3"] and r.done == 3 and r.failed == 1
    r.stop()
    assert not r.request("s-5")


def test_refresher_rests_so_readers_keep_most_of_the_cpu() -> None:
    r = Fake(0.2, duty=0.5)
    r.gate.set()
    started = time.monotonic()
    for sid in ("a", "b", "c"):
        r.request(sid)
    assert r.wait_idle(10)
    # three 0.2 s comparisons with a 0.2 s rest after each of the first two before the next could start
    assert time.monotonic() - started >= 0.95
    r.stop()
