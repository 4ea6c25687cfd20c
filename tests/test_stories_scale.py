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


# -- the whole stage: SQLite work and stories scored per article at two store sizes ------------------------------

PER_DAY = 20  # articles a day: the stream's density is what the stage's work per article may depend on
WORDS = ("harbour council vote strike budget court ruling flood storm election minister pipeline merger "
         "tariff vaccine launch rocket festival drought wildfire bridge museum airline refinery treaty").split()
PLACES = "Varna Tallinn Porto Graz Lyon Bergen Split Kaunas Turku Gdansk Bilbao Brno".split()


def _stream(n: int) -> list[tuple[object, object]]:
    """``n`` articles at a fixed density, in small same-event groups (two to four outlets each), each event
    naming its own place and topic words: the same stream at every size, only longer."""
    import json

    from storyloom.ingest.records import record_to_raw
    from storyloom.models import Article

    items: list[tuple[object, object]] = []
    k = 0
    while len(items) < n:
        topic = [WORDS[(k * 7 + j) % len(WORDS)] for j in range(3)]
        place, day = PLACES[k % len(PLACES)], len(items) // PER_DAY
        word = ["".join("bdfgklmnprstvz"[(k * 31 + w * 97) // 14 ** i % 14] + "aeiou"[(k + w) // 5 ** i % 5]
                        for i in range(4)) for w in range(5)]  # the event's own words
        actor = word[0].title()
        for j in range(min(2 + k % 3, n - len(items))):
            hour = 6 + (k % 8) + j
            title = f"{actor} and the {place} {topic[0]}: {word[1]} {word[2]}"
            text = (f"{actor} spoke in {place} about the {topic[0]} and the {word[1]} {word[2]} on day {day}. "
                    f"Officials said the {topic[1]} and the {word[3]} {word[4]} would follow. "
                    f"Outlet {j} adds its own words on the {topic[2]}.")
            r = {"title": title, "text": text, "url": f"https://o{j}.example/{k}", "outlet": f"o{j}",
                 "published": f"2024-{1 + day // 28:02d}-{1 + day % 28:02d}T{hour:02d}:00:00Z", "language": "en"}
            raw = record_to_raw(r, json.dumps(r, sort_keys=True).encode(), "jsonl", f"scale:{k}:{j}")
            items.append((raw, Article(id=raw.id, blob=raw.blob, kind=raw.kind, location=raw.location,
                                       title=raw.title or "", text=raw.text or "", url=raw.url,
                                       published=raw.published, outlet=raw.outlet, language=raw.language)))
        k += 1
    return items


def _history(store: Store, n_stories: int) -> None:
    """A long past before the stream: ``n_stories`` closed stories of 2020 with three members each, their
    entity keys and words in the document frequencies (what a store of many articles holds)."""
    old = [_story(i, f"2020-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00Z", f"2020-{1 + i % 12:02d}-{1 + i % 28:02d}T18:00:00Z")
           for i in range(n_stories)]
    for r in old:
        r["entities"] = {f"Old{r['id']}": 2, "Council": 1}
    with store.transaction():
        sql.save_stories(store, old)
        sql.save_members(store, [(f"old{i:07d}m{j}", str(old[i]["id"]), 0.9, "joined", str(old[i]["first_seen"]), None)
                                 for i in range(n_stories) for j in range(3)])
        sql.add_doc_freqs(store, [[f"item{i}", "council", f"@Old{old[i]['id']}"] for i in range(n_stories)])


def _stage_work(db: Path, n: int, n_old: int) -> tuple[float, float, float]:
    """SQLite VM steps (in hundreds), rows read and stories scored per article, clustering the stream's first
    ``n`` articles after a past of ``n_old`` stories."""
    import sqlite3

    import storyloom.stories as stage
    from storyloom.settings import Settings
    from storyloom.stories import build_stories

    with Store(str(db)) as store:
        _history(store, n_old)
        items = _stream(n)
        for at in range(0, n, 300):
            store.write_batch(items[at:at + 300])  # type: ignore[arg-type]
        steps, rows, scored = [0], [0], [0]

        def tick() -> int:
            steps[0] += 1
            return 0

        def row(cursor: sqlite3.Cursor, values: tuple[object, ...]) -> sqlite3.Row:
            rows[0] += 1
            return sqlite3.Row(cursor, values)

        real = stage.ActiveIndex.candidates

        def counted(self, *a, **k):  # type: ignore[no-untyped-def]
            got = real(self, *a, **k)
            scored[0] += len(got)
            return got

        stage.ActiveIndex.candidates = counted  # type: ignore[method-assign]
        store.conn.set_progress_handler(tick, 100)
        store.conn.row_factory = row
        try:
            settings = Settings(db_path=str(db), run_copies=False, story_embeddings=False, story_workers=0)
            report = build_stories(store, settings, chunk=100)
        finally:
            stage.ActiveIndex.candidates = real  # type: ignore[method-assign]
            store.conn.set_progress_handler(None, 0)
            store.conn.row_factory = sqlite3.Row
        assert report.processed == n
        return steps[0] / n, rows[0] / n, scored[0] / n


def test_the_stage_s_work_per_article_does_not_grow_with_the_store(tmp_path: Path) -> None:
    """SQLite work, rows read and stories scored per article do not depend on how much the store holds: the same
    articles clustered in an empty store, in one with a past 40x as large, and as the first quarter of a stream
    4x as long.  A query visiting every story (or member, word, queued row) ever stored, a chunk reading more
    than the stories near its time, or a candidate set not bounded by time makes the cost per article grow with
    the store (issue 23: flat within 1.2x from 10k to 1M articles)."""
    n = 600
    fresh = _stage_work(tmp_path / "fresh.db", n, 0)
    past = _stage_work(tmp_path / "past.db", n, 40 * n // 3)  # ~40x the stream's own stories
    longer = _stage_work(tmp_path / "longer.db", 4 * n, 0)
    assert fresh[2] > 1  # the stream gives the stage candidates to score
    for other in (past, longer):
        for k in range(3):  # steps, rows, stories scored per article
            assert other[k] <= 1.2 * fresh[k], (fresh, past, longer)
