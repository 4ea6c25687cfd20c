"""A stored article holding a line whose template verdict flipped is re-cleaned from its raw bytes only when its
template lines change (storyloom.retemplate._unchanged); the store still equals a from-scratch `storyloom clean`."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

import storyloom.retemplate as rt
from storyloom.models import TemplateSkip
from storyloom.pipeline import ingest, reclean
from storyloom.settings import Settings
from storyloom.store import Store
from storyloom.store import templates as sql
from storyloom.store.packing import pack_skip, unpack_skip

PROSE = [
    "The council met on {d} to hear residents of {p} on the plans for the new harbour road and its cost.",
    "Officials in {p} said the works on the old bridge would start in spring and last about two years.",
    "A spokesperson for the mayor of {p} said a decision would follow after the consultation closes.",
    "Residents who spoke at the meeting in {p} asked for a timetable of the works. We have waited long.",
    "Shops along the main street of {p} reported fewer customers since the road was closed in {d}.",
]
PLACES = ["Aldport", "Brenmoor", "Caster Hill", "Dunmere", "Eastwick", "Fallow Cross", "Greyhaven", "Hollins"]
# lines several articles share: short furniture, a sentence of prose (the article's only prose may be put back,
# see clean.text._keep_only_content), lines a rule takes first (copyright, read more), a short headline
SHARED = [
    "Ledger news desk",
    "Sign up for the morning briefing",
    "Photo: Ledger archive",
    "Share this story",
    "The Daily Ledger has covered the valley and its towns for more than one hundred years now.",
    "Copyright 2024 The Daily Ledger. All rights reserved.",
    "READ MORE: Harbour road plans explained in five charts for readers",
    "Weather warning for the coast",
]


def corpus(seed: int, n: int) -> list[dict[str, Any]]:
    """Short articles of one outlet (3-7 lines: near the "more than half are template lines" limit), drawing
    from a few shared lines, some twice in one article, and a few new versions of stored pages."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        place, day = rng.choice(PLACES), f"{rng.randrange(1, 28)} March"
        lines = [rng.choice(PROSE).format(p=place, d=day) + f" Item {i}." for _ in range(rng.randrange(1, 3))]
        lines += rng.sample(SHARED[: 3 + min(i // 4, 5)], rng.randrange(1, 4))
        if rng.random() < 0.15:
            lines.append(rng.choice(lines))  # the same line twice
        rng.shuffle(lines)
        page = i if i < 5 or rng.random() > 0.1 else rng.randrange(i)  # now and then a new text at a stored URL
        out.append({"id": f"a{i}", "url": f"https://ledger.example/{page}", "outlet": "Daily Ledger",
                    "title": f"Harbour road report {i}", "text": "\n\n".join(lines),
                    "published": f"2024-03-{i % 28 + 1:02d}T08:00:00Z"})
    return out


def text_at(store: Store, page: int) -> str:
    """The stored text of the newest version of a page."""
    return str(store.conn.execute("SELECT t.text FROM articles a JOIN article_texts t ON t.rowid = a.rowid WHERE a.url = ? "
                                  "ORDER BY a.rowid DESC LIMIT 1", (f"https://ledger.example/{page}",)).fetchone()[0])


def write(path: Path, items: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(x) + "\n" for x in items), encoding="utf-8")
    return path


@pytest.mark.parametrize(("seed", "batch"), [(1, 1), (2, 3), (3, 5), (4, 2)])
def test_articles_judged_unchanged_are_what_a_re_clean_makes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             seed: int, batch: int) -> None:
    """Every stored article the shortcut leaves alone comes out of a full re-clean from its raw bytes the same,
    checked right after its batch; and the store ends as a from-scratch `storyloom clean` makes it."""
    judged: list[str] = []
    real_unchanged, real_refresh = rt._unchanged, rt.refresh_stored

    def unchanged(h: rt._Holder, *a: Any, **k: Any) -> bool:
        same = real_unchanged(h, *a, **k)
        if same:
            judged.append(h.aid)
        return same

    totals = {"judged": 0, "checked": 0, "changed": 0}

    def refresh(store: Store, settings: Settings, *a: Any, **k: Any) -> rt.RefreshReport:
        judged.clear()
        rep = real_refresh(store, settings, *a, **k)
        for row in sql.rows_for_reclean(store, judged):
            assert rt.reclean_row(store, settings, row) is None, f"{row['id']} was left alone but changes"
        totals["judged"] += rep.judged
        totals["checked"] += rep.checked
        totals["changed"] += rep.changed
        return rep

    monkeypatch.setattr(rt, "_unchanged", unchanged)
    monkeypatch.setattr("storyloom.pipeline.refresh_stored", refresh)
    db = tmp_path / "s.db"
    settings = Settings(db_path=str(db), batch_size=batch, line_classifier=False, run_copies=False,
                        run_stories=False, translations=False, story_embeddings=False)
    with Store(str(db)) as store:
        rep = ingest([str(write(tmp_path / "in.jsonl", corpus(seed, 60)))], store, settings)
        assert rep.counts["version"] > 0
        # both ways were taken: articles left alone and articles re-cleaned that did change
        assert totals["judged"] > 0 and totals["changed"] > 0, totals
        again = reclean(store, settings)
        assert again.changed == 0 and not again.failed  # what a from-scratch `storyloom clean` makes


def test_a_line_that_tips_an_article_over_half_re_cleans_it(tmp_path: Path) -> None:
    """An article with 5 lines, 2 of them template lines: a third one crossing the bar makes them more than half,
    so the template layer takes none of them, though the line that flipped is only one of its candidates."""
    db = tmp_path / "s.db"
    settings = Settings(db_path=str(db), batch_size=100, line_classifier=False, run_copies=False, run_stories=False,
                        translations=False, story_embeddings=False)

    def art(i: int, lines: list[str]) -> dict[str, Any]:
        return {"id": f"a{i}", "url": f"https://ledger.example/{i}", "outlet": "Daily Ledger",
                "title": f"Report {i}", "text": "\n\n".join(lines)}

    prose = PROSE[0].format(p="Aldport", d="2 May")
    shared = ["Ledger news desk", "Morning edition", "Share this story"]  # the last one a rule takes (social)
    first = [art(i, [PROSE[1].format(p=PLACES[i % 8], d="x") + f" No {i}.", *shared]) for i in range(4)]
    own = [prose, PROSE[2].format(p="Dunmere", d="x"), *shared[:2], "Weather warning for the coast"]
    target = art(9, own)  # 5 lines the line rules see, all judged
    ruled = art(10, [*own, "Share this story"])  # 6 lines the line rules see, one taken by a rule: not judged
    with Store(str(db)) as store:
        ingest([str(write(tmp_path / "a.jsonl", [*first, target, ruled]))], store, settings)
        for page in (9, 10):
            kept = text_at(store, page)
            assert "Morning edition" not in kept and "Weather warning" in kept
        later = [art(20 + i, [PROSE[3].format(p=PLACES[i % 8], d="x") + f" No {i}.", "Weather warning for the coast"])
                 for i in range(3)]
        rep = ingest([str(write(tmp_path / "b.jsonl", later))], store, settings)
        assert rep.recleaned == 2
        kept = text_at(store, 9)
        assert "Morning edition" in kept and "Weather warning" in kept  # 3 of 5 lines: a copy, not furniture
        kept = text_at(store, 10)
        assert "Morning edition" not in kept and "Weather warning" not in kept  # 3 of 6: furniture
        assert reclean(store, settings).changed == 0


def test_a_later_version_holding_a_line_new_to_the_store(tmp_path: Path) -> None:
    """A new version of a page (its lines are not counted) holds a line no counted article held; a batch brings
    that line in enough articles to make it a template line: the version loses it too (the line's count before
    the batch, 0, is known, so it flips)."""
    db = tmp_path / "s.db"
    settings = Settings(db_path=str(db), batch_size=100, line_classifier=False, run_copies=False, run_stories=False,
                        translations=False, story_embeddings=False)

    def art(i: int, page: int, lines: list[str]) -> dict[str, Any]:
        return {"id": f"a{i}", "url": f"https://ledger.example/{page}", "outlet": "Daily Ledger",
                "title": f"Report {page}", "text": "\n\n".join(lines)}

    base = [art(i, i, [PROSE[i % 5].format(p=PLACES[i % 8], d="x") + f" No {i}.", PROSE[(i + 1) % 5].format(
        p=PLACES[(i + 3) % 8], d="y")]) for i in range(5)]
    version = art(50, 0, [*json.loads(json.dumps(base[0]))["text"].split("\n\n"), "Podcast: the week in the valley"])
    with Store(str(db)) as store:
        ingest([str(write(tmp_path / "a.jsonl", base))], store, settings)
        ingest([str(write(tmp_path / "b.jsonl", [version]))], store, settings)
        assert "Podcast" in text_at(store, 0)
        more = [art(60 + i, 60 + i, [PROSE[2].format(p=PLACES[i], d="z") + f" No {i}.", PROSE[4].format(p=PLACES[i + 1], d="w"),
                                     "Podcast: the week in the valley"]) for i in range(4)]
        ingest([str(write(tmp_path / "c.jsonl", more))], store, settings)
        assert "Podcast" not in text_at(store, 0)
        assert reclean(store, settings).changed == 0


def test_an_article_stored_before_template_skip_is_re_cleaned_and_gets_one(tmp_path: Path) -> None:
    """An older store's articles have no template_skip (NULL): they are re-cleaned from their raw bytes when they
    hold a flipped line, as before, and get one then; `storyloom clean` fills the others in without queueing the
    later stages again."""
    db = tmp_path / "s.db"
    settings = Settings(db_path=str(db), batch_size=7, line_classifier=False, run_copies=False, run_stories=False,
                        translations=False, story_embeddings=False)
    items = corpus(5, 40)
    with Store(str(db)) as store:
        ingest([str(write(tmp_path / "a.jsonl", items[:20]))], store, settings)
        want = dict(store.conn.execute("SELECT id, template_skip FROM articles").fetchall())
        assert all(v is not None for v in want.values()) and any(v for v in want.values())
        store.conn.execute("UPDATE articles SET template_skip = NULL")
        store.conn.execute("DELETE FROM stage_queue")
        store.conn.commit()
        ingest([str(write(tmp_path / "b.jsonl", items[20:]))], store, settings)
        got = dict(store.conn.execute("SELECT id, template_skip FROM articles").fetchall())
        filled = [k for k in want if got[k] is not None]
        assert filled and all(got[k] == want[k] for k in filled)  # those the batch re-cleaned
        queued = store.conn.execute("SELECT count(*) FROM stage_queue").fetchone()[0]
        again = reclean(store, settings)
        assert again.changed == 0
        got = dict(store.conn.execute("SELECT id, template_skip FROM articles").fetchall())
        assert all(got[k] == want[k] for k in want)
        assert store.conn.execute("SELECT count(*) FROM stage_queue").fetchone()[0] == queued


@pytest.mark.parametrize("skip", [((), ()), ((0, 3), ()), ((), (2,)), ((1,), (4, 5, 12))])
def test_template_skip_packs_and_unpacks(skip: TemplateSkip) -> None:
    assert unpack_skip(pack_skip(skip)) == skip
    assert pack_skip(None) is None and unpack_skip(None) is None


class Counts:
    """Template counts of one group, made up (storyloom.clean.text.TemplateCounts)."""

    def __init__(self, size: int, lines: dict[str, int]) -> None:
        self.size, self.lines = size, lines

    def group_size(self, group: str) -> int:
        return self.size

    def line_counts(self, group: str, keys: Any) -> dict[str, int]:
        return {k: self.lines[k] for k in keys if self.lines.get(k)}


def test_stored_hits_are_the_template_hits_of_a_clean_from_raw_bytes() -> None:
    """From an article's stored body (its non-empty lines) and its template_skip, the template lines found under
    any counts are those cleaning the raw page finds: HTML pages whose page rules took lines (the line rules
    never saw them: they are not among the lines "more than half" counts), rule-taken lines, repeated lines."""
    from storyloom.clean import prepare, text_options
    from storyloom.clean.text import line_key, template_hits, template_skip
    from storyloom.ingest import iter_inputs

    root = Path(__file__).resolve().parents[1] / "sample"
    settings = Settings(line_classifier=False)
    opts = text_options(settings)
    rng = random.Random(7)
    seen_inactive = seen_ruled = tried = 0
    for raw in iter_inputs([str(root / "aeb"), str(root / "seeds")], settings):
        try:
            prep = prepare(raw, settings).text
        except Exception:  # noqa: BLE001 - an item that is no article has nothing to judge
            continue
        skip = unpack_skip(pack_skip(template_skip(prep)))
        assert skip is not None
        seen_inactive += bool(skip[0])
        seen_ruled += bool(skip[1])
        keys = [line_key(line) for line in prep.body.split("\n") if line.strip()]
        assert keys == list(prep.keys)
        distinct = sorted(set(keys))
        for _ in range(12):
            size = rng.randrange(1, 80)
            share = rng.random()  # how many of its lines are common in the group: around half, now and then
            counts = Counts(size, {k: rng.randrange(0, size + 1) if rng.random() < share else 0 for k in distinct})
            want = [i for i, _ in template_hits(prep, counts, "g")]
            got = rt.stored_hits(keys, skip, size, counts.line_counts("g", distinct), opts)
            assert list(got) == want, raw.location
            tried += bool(want)
    assert seen_inactive > 5 and seen_ruled > 5 and tried > 50, (seen_inactive, seen_ruled, tried)
