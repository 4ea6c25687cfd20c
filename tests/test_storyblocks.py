"""The distributed story stage's plan and reconciliation (storyloom.batch.storyblocks), without Java: the
same blocks the Spark stage runs, run one after another in this process, against the local online stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from blockdata import stream
from storyloom.batch.stages import batch_settings, run_story_block
from storyloom.batch.storyblocks import (
    BlockPlan,
    block_size,
    plan_blocks,
    reconcile,
    run_blocks_locally,
)
from storyloom.settings import Settings
from storyloom.stories import agreement
from storyloom.stories.online import story_id_for

INGESTED = "2026-01-01T00:00:00+00:00"


def test_a_block_replays_the_overlap_before_it_and_no_more() -> None:
    day = 86400.0
    times: list[float | None] = [i * day / 2 for i in range(40)]  # two articles a day
    plan = plan_blocks(times, size=10, overlap_days=3, cap=100)
    assert plan.blocks == 4 and plan.first_times[1] == 5 * day
    # block 1 starts at rank 10 (day 5): its warm-up is every article of days 2..5 before it, ranks 4..9
    warm = {r: plan.warm_blocks(r, times[r]) for r in range(40)}
    assert [r for r in range(40) if 1 in warm[r]] == [4, 5, 6, 7, 8, 9]
    assert all(b > plan.core(r) for r in range(40) for b in warm[r])
    capped = plan_blocks(times, size=10, overlap_days=3, cap=2)
    assert [r for r in range(40) if 1 in capped.warm_blocks(r, times[r])] == [8, 9]
    assert BlockPlan(10, 3 * day, 100, (0.0, None)).warm_blocks(9, 0.0) == []  # an undated block start: no warm-up


def test_block_size_keeps_eight_blocks_per_core_and_a_floor() -> None:
    assert block_size(100_000, 2) == 2000
    assert block_size(10_000, 2) == 625
    assert block_size(100, 2) == 50
    assert block_size(100_000, 2, requested=300) == 300


def test_reconcile_follows_the_warm_up_and_keeps_the_oldest_id() -> None:
    firsts = {(0, "sA"): "2024-01-01", (0, "sB"): "2024-01-02", (1, "sC"): "2024-01-09", (1, "sD"): "2024-01-09",
              (2, "sE"): "2024-01-15", (2, "sF"): "2024-01-16"}
    links = [
        (1, "sC", 0, "sA", 3, 7), (1, "sC", 0, "sB", 1, 9),  # most of C's warm-up is A's: C continues A only
        (2, "sE", 1, "sC", 2, 15),  # a chain over three blocks
        (2, "sF", 0, "sB", 1, 8), (2, "sF", 1, "sD", 1, 18),  # bridged by an own article: both homes
    ]
    final = reconcile(links, [(2, "sF")], firsts)
    assert final[(1, "sC")] == final[(2, "sE")] == final[(0, "sA")] == "sA"
    assert final[(2, "sF")] == final[(1, "sD")] == final[(0, "sB")] == "sB"  # B is older than D
    assert reconcile(list(reversed(links)), [(2, "sF")], dict(reversed(list(firsts.items())))) == final
    tie = reconcile([(1, "sC", 0, "sA", 1, 7), (1, "sC", 0, "sB", 1, 9)], [], firsts)
    assert tie[(1, "sC")] == "sB"  # a tie goes to the home story of the most recent warm-up article


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], Settings, dict[str, str]]:
    rows = stream()
    settings = batch_settings(Settings(db_path=str(Path(tmp_path_factory.mktemp("blocks")) / "unused.db")))
    one = [{**r, "rank": i, "seg": 0, "prior_df": None, "prior_docs": 0} for i, r in enumerate(rows)]
    local = {r["article_id"]: r["story_id"] for t, r in run_story_block(one, settings, INGESTED) if t == "story_members"}
    return rows, settings, local


def test_the_fixture_has_stories_that_cross_blocks(setup: tuple[list[dict[str, Any]], Settings, dict[str, str]]) -> None:
    rows, _, local = setup
    gold = {r["id"]: r["gold"] for r in rows}
    assert agreement(local, gold)["f1"] >= 0.9  # the local stage finds the stories: the comparison means something
    rank = {r["id"]: i for i, r in enumerate(rows)}
    spans = {}
    for aid, sid in local.items():
        lo, hi = spans.get(sid, (len(rows), -1))
        spans[sid] = (min(lo, rank[aid]), max(hi, rank[aid]))
    assert sum(1 for lo, hi in spans.values() if lo // 8 != hi // 8) >= 5


@pytest.mark.parametrize("size", [5, 8, 13])
def test_blocks_give_the_local_stories_with_the_local_ids(
        setup: tuple[list[dict[str, Any]], Settings, dict[str, str]], size: int) -> None:
    rows, settings, local = setup
    out = run_blocks_locally(rows, settings, INGESTED, size)
    got = {m["article_id"]: m["story_id"] for m in out["story_members"]}
    assert agreement(got, local)["f1"] >= 0.98
    assert got == local  # on this fixture: exactly, ids included
    members: dict[str, list[dict[str, Any]]] = {}
    for m in out["story_members"]:
        members.setdefault(m["story_id"], []).append(m)
    stories = {s["id"]: s for s in out["stories"]}
    assert set(stories) == set(members)
    for sid, ms in members.items():
        first = min(ms, key=lambda m: (m["time"], m["article_id"]))
        assert sid == story_id_for(first["article_id"])  # the local rule: the id of the article that opened it
        assert stories[sid]["n_articles"] == len(ms)
        assert (stories[sid]["first_seen"], stories[sid]["last_seen"]) == (first["time"], max(m["time"] for m in ms))


def test_a_truncated_warm_up_costs_agreement(setup: tuple[list[dict[str, Any]], Settings, dict[str, str]]) -> None:
    """The warm-up is what carries stories across a boundary: without it the blocks split them."""
    rows, settings, local = setup
    out = run_blocks_locally(rows, settings, INGESTED, 5, cap=0)
    got = {m["article_id"]: m["story_id"] for m in out["story_members"]}
    assert agreement(got, local)["recall"] < 0.95


def test_a_block_run_on_text_parts_equals_one_on_the_text(
        setup: tuple[list[dict[str, Any]], Settings, dict[str, str]]) -> None:
    """Block rows carry their text parts (computed once, in the pass counting document frequencies) instead of
    their text: the run's tables are the same, row for row, and the text is never stored."""
    from storyloom.batch.stages import packed_parts, row_parts, story_parts

    rows, settings, _ = setup
    one = [{**r, "rank": i, "seg": 0, "prior_df": None, "prior_docs": 0} for i, r in enumerate(rows)]
    parted = [{**{k: v for k, v in r.items() if k != "text"}, **story_parts(r["title"], r["text"])} for r in one]
    assert all(row_parts(r) is not None and "text" not in r for r in parted) and row_parts(one[0]) is None
    want = sorted(run_story_block(one, settings, INGESTED), key=repr)
    assert sorted(run_story_block(parted, settings, INGESTED), key=repr) == want
    packed = [{**{k: v for k, v in r.items() if k not in ("counts", "entities", "roundup", "terms")},
               "parts": packed_parts(r)} for r in parted]  # as the Spark stage ships them: one JSON string
    assert sorted(run_story_block(packed, settings, INGESTED), key=repr) == want


def test_a_story_no_block_boundary_touches_stands_as_its_block_wrote_it(
        setup: tuple[list[dict[str, Any]], Settings, dict[str, str]]) -> None:
    """Only stories the reconciliation links are combined (the rest pass through): that is right because a
    block's story combined alone with its own members is its own row, field for field; and the driver's stories
    equal every story combined from its block rows."""
    from storyloom.batch.storyblocks import combine_story

    rows, settings, _ = setup
    info = {r["id"]: (r["outlet"], r["language"]) for r in rows}
    one = [{**r, "rank": i, "seg": 0, "prior_df": None, "prior_docs": 0} for i, r in enumerate(rows)]
    out = list(run_story_block(one, settings, INGESTED))
    members: dict[str, list[tuple[str, str | None, str | None]]] = {}
    for t, m in out:
        if t == "story_members":
            members.setdefault(m["story_id"], []).append((m["time"], *info[m["article_id"]]))
    stories = [r for t, r in out if t == "stories"]
    assert len(stories) >= 20
    for s in stories:
        assert combine_story(s["id"], [s], members[s["id"]]) == s
    got = run_blocks_locally(rows, settings, INGESTED, 8)
    by_story: dict[str, list[tuple[str, str | None, str | None]]] = {}
    for m in got["story_members"]:
        by_story.setdefault(m["story_id"], []).append((m["time"], *info[m["article_id"]]))
    assert [s["id"] for s in got["stories"]] == sorted(by_story)
    assert all(s["n_articles"] == len(by_story[s["id"]]) for s in got["stories"])
