"""The stories stage's per-article cost does not grow with the store (issue 23: flat within 1.2x from 10k to 1M):
what a chunk reads of the stored stories depends on the stories near its time, not on every story ever opened."""

from __future__ import annotations

from pathlib import Path

from storyloom.store import Store
from storyloom.store import stories as sql
from storyloom.stories.online import Story


def _story(i: int, first: str, last: str) -> dict[str, object]:
    s = Story(f"s{i:06d}", first, last, f"Story {i}", f"a{i}", n_articles=1)
    s.terms = {"council": 1.0, f"item{i}": 0.5}
    return s.record()


def _steps(store: Store, since: str, until: str) -> tuple[int, list[str]]:
    """SQLite virtual-machine steps (in hundreds) the window query takes, and the ids it returns."""
    steps = [0]

    def tick() -> int:
        steps[0] += 1
        return 0

    store.conn.set_progress_handler(tick, 100)
    try:
        got = [r["id"] for r in sql.stories_in_window(store, since, until)]
    finally:
        store.conn.set_progress_handler(None, 0)
    return steps[0], got


def test_the_window_of_stories_is_read_without_visiting_older_stories(tmp_path: Path) -> None:
    costs = {}
    for n_old in (200, 4000):
        with Store(str(tmp_path / f"s{n_old}.db")) as store:
            store.migrate()
            old = [_story(i, f"2020-01-{i % 28 + 1:02d}T10:00:00Z", f"2020-02-{i % 28 + 1:02d}T10:00:00Z")
                   for i in range(n_old)]
            recent = [_story(900_000 + i, f"2024-03-0{1 + i % 5}T08:00:00Z", f"2024-03-0{5 + i % 4}T09:00:00Z")
                      for i in range(30)]
            with store.transaction():
                sql.save_stories(store, old + recent)
            costs[n_old], got = _steps(store, "2024-03-04T00:00:00Z", "2024-03-10T00:00:00Z")
            # the stories whose span meets the window, in first_seen order (ties by insertion), as before
            want = [str(r["id"]) for r in sorted(recent, key=lambda r: str(r["first_seen"]))
                    if str(r["last_seen"]) >= "2024-03-04T00:00:00Z"]
            assert got == want
    assert costs[4000] <= 2 * costs[200] + 5, costs  # planned on first_seen it visited all 4,000 (~20x)
