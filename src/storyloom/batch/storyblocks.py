"""The distributed story stage's plan and reconciliation: pure Python, shared by Spark and the local driver.

A continuous news stream has no gap to cut at, so the exact stage is one task.  Here the stream, in global
(time, input order) rank, is cut into **blocks** of ``size`` articles; each block is clustered on its own by
the local online stage (:func:`storyloom.batch.stages.run_story_block`: the same scoring, the same code),
after a **warm-up**: the articles of the ``overlap`` before the block's first one (at most ``cap`` of them),
replayed first so that the stories still open at the block's start exist when its own articles arrive.  The
overlap is the stage's horizon (``max(story_window_days, story_reach_max_days)``): no story can take an
article more than that after its last one, so every story a block's article could join has members in the
warm-up.  Document frequencies are exact: a block starts from the frequencies of everything ranked before
its first warm-up article.

**Reconciliation**: a block's story that took warm-up articles continues the story those articles have in
their own block (their *home* story): it is joined to the home story most of them belong to (ties: the most
recent).  When a block's own article merged stories (a bridge the local stage would also see), the block's
story is joined to every home story its warm-up articles belong to.  Joined stories form components
(union-find); a component's id is that of its oldest story, by (first core article time, id) — the local
stage's merge rule — and every story id is, as in the local stage, derived from the article that opened it.
Only the (block, story) → home story links travel to the driver: one row per story crossing a boundary.

Approximations (measured in ``bench/spark_stories.py``): a story longer than the overlap is seen by a block
through its recent members only (its older words and names are missing from its centroid), and a copy whose
group's first member is outside the block's rows is judged on its words rather than joined by its group.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from storyloom.canonical import canonical_json
from storyloom.settings import Settings

Node = tuple[int, str]  # (block, the story's id in that block's run)
DEFAULT_BLOCK_ARTICLES = 2000
WARMUP_CAP = 4  # a block replays at most this many times its own size (a dense stream: see bench/README.md)


@dataclass(frozen=True)
class BlockPlan:
    """Where blocks start and which earlier articles each replays first (see the module docstring)."""

    size: int  # articles of a block's own (its core)
    overlap: float  # seconds of warm-up before a block's first article
    cap: int  # at most this many warm-up articles per block
    first_times: tuple[float | None, ...]  # the time of each block's first article

    @property
    def blocks(self) -> int:
        return len(self.first_times)

    def core(self, rank: int) -> int:
        return rank // self.size

    def warm_blocks(self, rank: int, t: float | None) -> list[int]:
        """The later blocks whose warm-up the article at ``rank`` (time ``t``) belongs to.  Times do not
        decrease with rank, so a block's warm-up is a contiguous run of ranks just before it."""
        out: list[int] = []
        if t is None:
            return out
        for b in range(self.core(rank) + 1, self.blocks):
            ft = self.first_times[b]
            if rank < b * self.size - self.cap or ft is None or t < ft - self.overlap:
                break
            out.append(b)
        return out


def overlap_days(settings: Settings) -> float:
    """The warm-up a block replays: the stage's horizon, the farthest a story can reach."""
    return max(settings.story_window_days, settings.story_reach_max_days)


def block_size(n: int, parallelism: int, requested: int | None = None) -> int:
    """Articles per block: as asked, else DEFAULT_BLOCK_ARTICLES, but small enough that there are at least
    eight blocks per core (so the largest task stays a small share of the stage) and never below 50."""
    if requested:
        return max(1, requested)
    return max(50, min(DEFAULT_BLOCK_ARTICLES, -(-n // max(1, 8 * parallelism))))


def plan_blocks(times: list[float | None], size: int, overlap_days: float, cap: int | None = None) -> BlockPlan:
    """The plan for articles whose times, in rank order, are ``times`` (the driver needs only every
    ``size``-th; see :func:`plan_from_firsts`)."""
    return plan_from_firsts([times[i] for i in range(0, len(times), size)], size, overlap_days, cap)


def plan_from_firsts(firsts: list[float | None], size: int, overlap_days: float, cap: int | None = None) -> BlockPlan:
    return BlockPlan(size, overlap_days * 86400.0, WARMUP_CAP * size if cap is None else cap, tuple(firsts))


# -- running blocks -----------------------------------------------------------------------------------


@dataclass
class BlockResult:
    """What one block's run says, as the reconciliation needs it."""

    block: int
    members: list[dict[str, Any]]  # story_members rows of the block's own articles (block-local story ids)
    stories: list[dict[str, Any]]  # the run's story rows (block-local)
    events: list[dict[str, Any]]  # the run's events about its own articles
    warm: list[tuple[str, str]] = field(default_factory=list)  # (warm-up article, block-local story)
    bridged: set[str] = field(default_factory=set)  # block-local stories an own article merged others into


def split_block_output(block: int, out: Iterable[tuple[str, dict[str, Any]]], own: set[str]) -> BlockResult:
    """Sort a block run's rows (:func:`~storyloom.batch.stages.run_story_block`) into its own articles' and
    the warm-up's."""
    res = BlockResult(block, [], [], [])
    for table, row in out:
        if table == "story_members":
            if row["article_id"] in own:
                res.members.append(row)
            else:
                res.warm.append((row["article_id"], row["story_id"]))
        elif table == "stories":
            res.stories.append(row)
        elif row.get("article_id") in own:
            res.events.append(row)
    # a story of the warm-up alone (no own article joined it) is a replay of one its home block keeps: it
    # neither continues anything nor is kept, so it sends no link (most warm-up stories: only the stories
    # continuing across the boundary travel to the reconciliation)
    kept = {m["story_id"] for m in res.members}
    res.stories = [s for s in res.stories if s["id"] in kept]
    res.warm = [(aid, sid) for aid, sid in res.warm if sid in kept]
    # a merge's surviving story: its id after the run (a later merge may have moved it on)
    moved = {e["other_id"]: e["story_id"] for e in res.events if e["kind"] == "merge"}
    for e in res.events:
        if e["kind"] == "merge":
            sid = e["story_id"]
            while sid in moved and moved[sid] != sid:
                sid = moved[sid]
            res.bridged.add(sid)
    return res


# -- reconciliation -----------------------------------------------------------------------------------

Link = tuple[int, str, int, str, int, int]  # block, story, home block, home story, warm articles, latest rank


def links_of(res: BlockResult, home: dict[str, tuple[int, str, int]]) -> list[Link]:
    """The block's stories' links to the home stories of their warm-up articles (``home``: article →
    (its block, its block-local story, its rank))."""
    count: Counter[tuple[str, int, str]] = Counter()
    latest: dict[tuple[str, int, str], int] = {}
    for aid, sid in res.warm:
        if aid not in home:
            continue
        hb, hs, rank = home[aid]
        key = (sid, hb, hs)
        count[key] += 1
        latest[key] = max(latest.get(key, -1), rank)
    return [(res.block, sid, hb, hs, k, latest[(sid, hb, hs)]) for (sid, hb, hs), k in sorted(count.items())]


def reconcile(links: Iterable[Link], bridged: Iterable[Node], firsts: dict[Node, str]) -> dict[Node, str]:
    """Final story id of every block story with articles of its own (``firsts``: its first own article's time).

    A story follows the home story most of its warm-up articles belong to (ties: the most recent, then the
    smallest key); a story an own article bridged follows all of them.  Components take the id of their oldest
    story, by (first time, id): the local stage's rule for which id survives a merge."""
    parent: dict[Node, Node] = {}

    def find(x: Node) -> Node:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    def key(x: Node) -> tuple[str, str, int]:
        return firsts.get(x, "\uffff"), x[1], x[0]

    def union(a: Node, b: Node) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            keep, gone = (ra, rb) if key(ra) <= key(rb) else (rb, ra)
            parent[gone] = keep

    bridges = set(bridged)
    by_story: dict[Node, list[Link]] = {}
    for link in links:
        by_story.setdefault((link[0], link[1]), []).append(link)
    for node in sorted(by_story):
        homes = by_story[node]
        chosen = homes if node in bridges else [max(homes, key=lambda h: (h[4], h[5], (-h[2], h[3])))]
        for h in chosen:
            union(node, (h[2], h[3]))
    return {node: find(node)[1] for node in firsts}


# -- the final tables -----------------------------------------------------------------------------------


def final_members(res: BlockResult, final: dict[Node, str]) -> Iterator[dict[str, Any]]:
    for m in res.members:
        yield {**m, "story_id": final.get((res.block, m["story_id"]), m["story_id"])}


def final_events(res: BlockResult, final: dict[Node, str]) -> Iterator[dict[str, Any]]:
    """The block's events about its own articles, with story ids made final.  A merge whose two stories
    were already one (reconciled) is left out."""
    def fid(sid: str | None) -> str | None:
        return None if sid is None else final.get((res.block, sid), sid)

    for e in res.events:
        row = {**e, "story_id": fid(e["story_id"]), "other_id": fid(e["other_id"])}
        if row["kind"] == "merge" and row["story_id"] == row["other_id"]:
            continue
        yield row


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, **{k: json.loads(row[k]) if isinstance(row[k], str) else row[k]
                      for k in ("outlets", "languages", "terms", "entities")}}


def combine_story(story_id: str, parts: list[dict[str, Any]], members: list[tuple[str, str | None, str | None]]
                  ) -> dict[str, Any]:
    """One final story row out of its blocks' story rows (``parts``) and its final members ((time, outlet,
    language) each).  Counts, span, outlets and languages come from the members; words, names and the label
    from the parts, oldest first, as the local stage absorbs a merged story (a warm-up article's words count in
    each block that replayed it)."""
    from storyloom.stories.online import Story

    ordered = sorted(parts, key=lambda r: (r["first_seen"], r["id"]))
    story = Story.from_record(_decoded(ordered[0]))
    for part in ordered[1:]:
        story.absorb(Story.from_record(_decoded(part)))
    story.id = story_id
    story.n_articles = len(members)
    times = sorted(t for t, _, _ in members)
    if times:
        story.first_seen, story.last_seen = times[0], times[-1]
    story.outlets = Counter(o or "?" for _, o, _ in members)
    story.languages = Counter(lang or "?" for _, _, lang in members)
    rec = story.record()
    for k in ("outlets", "languages", "terms", "entities"):
        rec[k] = canonical_json(rec[k])
    return rec


# -- the same plan, run in one process (tests, and the benchmark's check of the Spark run) --------------


def run_blocks_locally(rows: list[dict[str, Any]], settings: Settings, ingested_at: str, size: int,
                       cap: int | None = None) -> dict[str, list[dict[str, Any]]]:
    """The distributed stage's result, computed block after block in this process.

    ``rows``: every article (id, title, text, published, date_flag, outlet, language, group_id), in rank
    order.  Returns the story tables (story_members, stories, story_events)."""
    from storyloom.batch.stages import parse_time, run_story_block, story_parts

    times = [parse_time(r["published"] or ingested_at) for r in rows]
    plan = plan_blocks(times, size, overlap_days(settings), cap)
    warm: dict[int, list[int]] = {}
    for rank, t in enumerate(times):
        for b in plan.warm_blocks(rank, t):
            warm.setdefault(b, []).append(rank)
    parts = [story_parts(r["title"], r["text"]) for r in rows]  # once per article, however many blocks replay it
    keys = [p.pop("terms") for p in parts]
    # the text itself travels only for the embedder (the parts stand in for it everywhere else)
    shipped = [{**{k: v for k, v in r.items() if k != "text" or settings.story_embeddings}, **p}
               for r, p in zip(rows, parts, strict=True)]
    results: list[BlockResult] = []
    home: dict[str, tuple[int, str, int]] = {}
    df: Counter[str] = Counter()  # document frequencies of the ranks before ``counted``
    counted = 0
    for b in range(plan.blocks):
        ranks = warm.get(b, []) + list(range(b * size, min(len(rows), (b + 1) * size)))
        start = ranks[0]
        if start < counted:  # warm-ups start at ranks that never decrease; recount if one ever did
            df, counted = Counter(), 0
        for r in range(counted, start):  # each article counted once, not once per later block
            df.update(keys[r])
        counted = start
        block_rows = [{**shipped[r], "rank": r, "seg": b, "prior_df": dict(df) if i == 0 else None,
                       "prior_docs": start} for i, r in enumerate(ranks)]
        own = {rows[r]["id"] for r in range(b * size, min(len(rows), (b + 1) * size))}
        res = split_block_output(b, run_story_block(block_rows, settings, ingested_at), own)
        results.append(res)
        rank_of = {rows[r]["id"]: r for r in ranks}
        for m in res.members:
            home[m["article_id"]] = (b, m["story_id"], rank_of[m["article_id"]])
    return assemble(results, home, rows)


def assemble(results: list[BlockResult], home: dict[str, tuple[int, str, int]], rows: list[dict[str, Any]]
             ) -> dict[str, list[dict[str, Any]]]:
    links = [link for res in results for link in links_of(res, home)]
    bridged = [(res.block, s) for res in results for s in res.bridged]
    nodes = {(b, s) for b, s, *_ in links} | {(hb, hs) for _, _, hb, hs, _, _ in links}
    firsts: dict[Node, str] = {}  # of the stories linked (the only ones the reconciliation can rename)
    for res in results:
        for m in res.members:
            node = (res.block, m["story_id"])
            if node in nodes:
                firsts[node] = min(firsts.get(node, m["time"]), m["time"])
    final = reconcile(links, bridged, firsts)
    members = [m for res in results for m in final_members(res, final)]
    events = [e for res in results for e in final_events(res, final)]
    info = {r["id"]: (r.get("outlet"), r.get("language")) for r in rows}
    # only the stories the reconciliation touched are combined.  The rest (no warm-up article, no later block
    # continuing them: all their members are their block's own) stand as their block's run wrote them, which
    # is what combine_story makes of them alone (a test)
    linked = set(final.values())  # the final ids of the stories linked
    by_story: dict[str, list[tuple[str, str | None, str | None]]] = {}
    for m in members:
        if m["story_id"] in linked:
            by_story.setdefault(m["story_id"], []).append((m["time"], *info.get(m["article_id"], (None, None))))
    parts: dict[str, list[dict[str, Any]]] = {}
    plain: dict[str, dict[str, Any]] = {}
    for res in results:
        for s in res.stories:
            node = (res.block, s["id"])
            if node in final:
                parts.setdefault(final[node], []).append(s)
            else:
                plain[s["id"]] = s
    combined = {sid: combine_story(sid, parts[sid], by_story[sid]) for sid in by_story if sid in parts}
    stories = [combined.get(sid) or plain[sid] for sid in sorted(combined.keys() | plain.keys())]
    return {"story_members": sorted(members, key=lambda m: m["article_id"]), "stories": stories,
            "story_events": events}

