"""Stories: every article (copy group) belongs to one story — one real-world event or development.

:func:`build_stories` runs the online clustering of :mod:`storyloom.stories.online` over the articles queued
for this stage, in publication-time order, one transaction per chunk (results and the queue together, so a
crash re-does the chunk).  :func:`rebuild_stories` recomputes everything from scratch, and
:func:`agreement` says how far two assignments (online vs rebuilt) are from each other.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from storyloom.bootstrap import refuse_while_bootstrapping
from storyloom.settings import Settings
from storyloom.store import Store
from storyloom.store import stories as sql
from storyloom.stories.facts import FACT_MEMBERS, FactCheck
from storyloom.stories.online import (
    ENTITY_CAP,
    Decision,
    Story,
    StoryParams,
    decide,
    horizon,
    story_id_for,
    term_weights,
)
from storyloom.stories.prefetch import Prepared, prepared_chunks
from storyloom.stories.represent import PRIOR_DOCS, ArticleRep, TextParts, sparse_cos
from storyloom.timeparse import shift

Event = Callable[[str, object], None]
DENSE_TOP_K = 20
DF_IN_MEMORY = 2_000_000  # document frequencies kept in memory during a pass (~200 MB), then read afresh
ENTITY_DF_FLOOR = 5
# capitalised words that name no actor: days and months (name keys are 4-letter prefixes)
NOT_ACTORS = frozenset("mond tues wedn thur frid satu sund janu febr apri june july augu sept octo nove dece".split())


@dataclass
class StoryReport:
    processed: int = 0
    opened: int = 0
    joined: int = 0
    via_copy: int = 0
    merges: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    fact_checks: int = 0  # suspect joins/merges whose claims were compared
    fact_refusals: int = 0  # ... and shared no fact
    fact_cpu_seconds: float = 0.0  # CPU of those checks (their sentence embedding included)


class ActiveIndex:
    """The stories that can still receive articles (their span is near the time being processed), with a
    matrix of their centroids for vectorised nearest-neighbour look-up and an entity → stories index."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.stories: dict[str, Story] = {}
        self.rows: dict[str, int] = {}
        self.ids: list[str | None] = []
        self.matrix = np.zeros((0, dim), dtype=np.float32)
        self.entity_index: dict[str, set[str]] = {}
        self.indexed: dict[str, set[str]] = {}  # story → the entity keys it is filed under

    def put(self, s: Story) -> None:
        self.stories[s.id] = s
        c = s.centroid
        if s.id not in self.rows:
            self.rows[s.id] = len(self.ids)
            self.ids.append(s.id)
            if len(self.ids) > self.matrix.shape[0]:
                grown = np.zeros((max(64, 2 * self.matrix.shape[0]), self.dim), dtype=np.float32)
                grown[: self.matrix.shape[0]] = self.matrix
                self.matrix = grown
        self.matrix[self.rows[s.id]] = c if c is not None and c.shape[0] == self.dim else 0.0
        keys = self.indexed.setdefault(s.id, set())
        for e in list(s.entities)[:20]:
            self.entity_index.setdefault(e, set()).add(s.id)
            keys.add(e)

    def drop(self, sid: str) -> None:
        """Forget a story: only its own entity keys are visited (a scan of the whole entity index here made
        every eviction cost as much as the index is large)."""
        self.stories.pop(sid, None)
        row = self.rows.pop(sid, None)
        if row is not None:
            self.ids[row] = None
            self.matrix[row] = 0.0
        for e in self.indexed.pop(sid, ()):
            ids = self.entity_index.get(e)
            if ids is not None:
                ids.discard(sid)
                if not ids:
                    del self.entity_index[e]

    def evict_before(self, iso: str) -> None:
        for sid in [sid for sid, s in self.stories.items() if s.last_seen < iso]:
            self.drop(sid)
        if self.ids.count(None) > len(self.ids) // 2 and self.ids:
            keep = [self.stories[i] for i in self.ids if i is not None]
            self.__init__(self.dim)  # type: ignore[misc]
            for s in keep:
                self.put(s)

    def candidates(self, rep: ArticleRep, p: StoryParams, distinct: frozenset[str] = frozenset()) -> list[Story]:
        """Stories near the article in time and nearest by vector or sharing its entities.  Within
        ``window_days`` every such story is one; farther (up to the horizon) only a story whose own reach has
        grown past the window, or one naming a distinctive actor of the article (it may be continued): each
        story's reach is then judged exactly in :func:`~storyloom.stories.online.decide`."""
        h = horizon(p)
        lo, hi = shift(rep.time, -p.window_days), shift(rep.time, p.window_days)
        far_lo, far_hi = (shift(rep.time, -h), shift(rep.time, h)) if h > p.window_days else (lo, hi)

        def near(s: Story, named: bool) -> bool:
            if s.last_seen >= lo and s.first_seen <= hi:
                return True
            if s.last_seen < far_lo or s.first_seen > far_hi:
                return False
            if named and p.continuation:
                return True
            first, last = s.reach_bounds(p)
            return first <= rep.time <= last

        found: set[str] = set()
        if rep.vector is not None and rep.vector.shape[0] == self.dim and self.ids:
            sims = self.matrix[: len(self.ids)] @ rep.vector
            for j in top_order(sims, DENSE_TOP_K * 3):
                sid = self.ids[j]
                if sid is None:
                    continue
                s = self.stories[sid]
                if near(s, bool(distinct & s.top_entities())):
                    found.add(sid)
                if len(found) >= DENSE_TOP_K:
                    break
        for e in rep.entities[:10]:
            ids = self.entity_index.get(e, ())
            if len(ids) <= ENTITY_CAP:
                named = e in distinct
                found |= {sid for sid in ids if near(self.stories[sid], named)}
        return [self.stories[sid] for sid in sorted(found)]


def top_order(values: np.ndarray, k: int) -> np.ndarray:
    """``np.argsort(-values, kind="stable")[:k]`` (the k largest, largest first, ties by position) without sorting
    the whole array: every active story is scored for every article, and sorting them all grew with the number of
    active stories (O(S log S) per article).  The values at least as large as the k-th largest (all ties of it
    included) are the only ones that can be among the first k, and a stable sort of just those, in position
    order, ranks them as the full sort does."""
    n = values.shape[0]
    if n <= k or np.isnan(values).any():  # NaN: ranked last by the sort, largest by the partition
        return np.argsort(-values, kind="stable")[:k]
    kth = np.partition(values, n - k)[n - k]
    idx = np.flatnonzero(values >= kth)
    return idx[np.argsort(-values[idx], kind="stable")][:k]


class StoryBuilder:
    """Holds the online state across chunks of one run."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store, self.settings = store, settings
        self.params = StoryParams(threshold=settings.story_threshold, window_days=settings.story_window_days,
                                  merge_margin=settings.story_merge_margin, reach_growth=settings.story_reach_growth,
                                  reach_max_days=settings.story_reach_max_days,
                                  continuation=settings.story_continuation,
                                  entity_check=settings.story_entity_check, roundups=settings.story_roundups,
                                  fact_check=settings.story_fact_check)
        self.embedder: Any = None
        if settings.story_embeddings:
            try:
                from storyloom.embed import get_embedder

                self.embedder = get_embedder(settings.embedder_fast)
            except ImportError:
                self.embedder = None
        self.index = ActiveIndex(self.embedder.dim if self.embedder is not None else 0)
        # the fact check needs sentence vectors: it runs with the stage's embeddings (see stories/facts.py)
        self.facts: FactCheck | None = None
        if self.params.fact_check and self.embedder is not None:
            from storyloom.compare.align import sentence_vectors

            self.facts = FactCheck(store, sentence_vectors)
        # each story's latest ordinary members (time, article, language), for the fact check: read from the store
        # the first time a story is touched in this pass, kept up to date in memory after that
        self.recent: dict[str, list[tuple[str, str, str | None]]] = {}
        self.group_story: dict[str, str] = {}
        self.merged_into: dict[str, str] = {}  # story merged away → the story that absorbed it
        self.report = StoryReport()
        # document frequencies and the document count, as the store has them after the last committed chunk:
        # read once per pass, not once per chunk (see _doc_freqs)
        self.df: dict[str, int] = {}
        self.n_docs: int | None = None

    def _add_vectors(self, prepared: Prepared) -> None:
        if self.embedder is None:
            return
        from storyloom.embed import covers
        from storyloom.embed.cache import Vectors

        ids = [r.id for r in prepared.reps if covers(self.embedder, r.language)]
        started = time.perf_counter()
        got = Vectors(self.store, prepared.leads).get(self.embedder, ids)
        self.report.embed_seconds += time.perf_counter() - started
        for r in prepared.reps:
            r.vector = got.get(r.id)

    def _recent(self, sid: str) -> list[tuple[str, str, str | None]]:
        if sid not in self.recent:
            self.recent[sid] = sql.recent_members(self.store, sid, FACT_MEMBERS * 4)
        return self.recent[sid]

    def _remember(self, sid: str, extra: list[tuple[str, str, str | None]]) -> None:
        """Add members to a story's latest ones (kept sorted, bounded: the check reads the last few per language)."""
        self.recent[sid] = sorted({*self._recent(sid), *extra})[-FACT_MEMBERS * 4:]

    def _confirm(self, rep: ArticleRep) -> Callable[[Story], bool | None] | None:
        """The fact check of one article against a candidate story's latest members in its language."""
        facts = self.facts
        if facts is None:
            return None

        def confirm(story: Story) -> bool | None:
            same = [aid for _, aid, lang in self._recent(story.id) if lang == rep.language and aid != rep.id]
            return facts.shares_fact(rep.id, same[-FACT_MEMBERS:], rep.language)

        return confirm

    def _load_window(self, reps: list[ArticleRep]) -> None:
        lo = shift(min(r.time for r in reps), -horizon(self.params))
        hi = shift(max(r.time for r in reps), horizon(self.params))
        for rec in sql.stories_in_window(self.store, lo, hi):
            if rec["id"] not in self.index.stories:
                self.index.put(Story.from_record(rec))

    def _doc_freqs(self, reps: list[ArticleRep]) -> tuple[dict[str, int], int]:
        """The document frequencies of the chunk's terms and the document count, as committed so far.

        Kept in memory for the whole pass (one process runs the stage at a time: :func:`storyloom.pipeline.
        stages_turn`), so a chunk reads only the terms no earlier chunk of the pass asked for (absent ones are
        remembered as 0); the chunk's loop counts its articles into the same dict, which is what its commit
        adds to the store.  A chunk that did not commit leaves ``n_docs`` unset and the memory is dropped.
        Bounded: past ``DF_IN_MEMORY`` terms it starts again from the store."""
        if self.n_docs is None or len(self.df) > DF_IN_MEMORY:
            self.df, self.n_docs = {}, sql.counter(self.store, "docs")
        n_docs, self.n_docs = self.n_docs, None  # unset until this chunk commits
        missing = sorted({t for r in reps for t in rep_keys(r)} - self.df.keys())
        stored = sql.doc_freqs(self.store, missing)
        for t in missing:
            self.df[t] = stored.get(t, 0)
        return self.df, n_docs

    def run_chunk(self, ids: list[str], prepared: Prepared) -> None:
        """Cluster one chunk of queued articles (``prepared``: their representations, see
        :mod:`storyloom.stories.prefetch`) and commit its results with its queue rows."""
        self._add_vectors(prepared)
        reps = prepared.reps
        if not reps:
            with self.store.transaction():
                sql.done(self.store, ids)
            return
        self._load_window(reps)
        # IDF as of each article, itself included (so a brand-new name is rare, not unknown): counted one
        # article at a time, so the result does not depend on how the stream was cut into chunks
        # entities are counted too, under "@name" (no term starts with "@"): how rare a name is in the stream
        # so far tells a distinctive actor (a company, a minister) from one every story names
        df, n_docs = self._doc_freqs(reps)
        changed: dict[str, Story] = {}
        members: list[tuple[str, str, float, str, str, str | None]] = []
        merged_away: list[str] = []
        events: list[tuple[str, str, str | None, str | None, str]] = []
        for rep in reps:
            n_docs += 1
            for t in rep_keys(rep):
                df[t] = df.get(t, 0) + 1
            weights = term_weights(rep, df, n_docs)
            distinct = distinctive(rep, df, n_docs, self.params)
            sid = self.group_story.get(rep.group or "") or (sql.group_story(self.store, rep.group) if rep.group else None)
            while sid in self.merged_into:  # the group's story was merged into another since
                sid = self.merged_into[sid]
            if sid and sid not in self.index.stories:
                loaded = sql.stories_by_id(self.store, [sid])
                if loaded:
                    self.index.put(Story.from_record(loaded[0]))
            if sid and sid in self.index.stories:
                d = Decision(sid, 1.0, "copy")
                self.report.via_copy += 1
            else:
                d = decide(rep, weights, self.index.candidates(rep, self.params, distinct), self.params, distinct,
                           self._confirm(rep))
            weak = rep.roundup is not None and self.params.roundups != "off"
            if d.reason == "opened":
                story = Story(d.story_id, rep.time, rep.time, rep.title, rep.id)
                if self.facts is not None:
                    self.recent.setdefault(story.id, [])  # a new story: nothing to read from the store
                self.report.opened += 1
                events.append(("open", story.id, None, rep.id, f"best score {d.score:.3f}"
                               + (f"; round-up ({rep.roundup}), kept apart" if weak else "")))
            else:
                story = self.index.stories[d.story_id]
                self.report.joined += d.reason in ("joined", "roundup")
            for refused_id, other_id, why in d.refused:
                if refused_id != story.id or other_id is not None:
                    events.append(("refuse", refused_id, other_id, rep.id, why))
            if d.mention:  # the round-up kept apart is listed on the story it fits ("also mentioned in")
                events.append(("mention", d.mention, story.id, rep.id, f"round-up ({rep.roundup}) kept apart"))
            elif d.reason == "roundup":
                events.append(("mention", story.id, None, rep.id, f"round-up ({rep.roundup}) attached weakly"))
            if weak:
                story.add_weak(rep)
            else:
                story.add(rep, weights)
                if self.facts is not None:
                    self._remember(story.id, [(rep.time, rep.id, rep.language)])
                c = story.centroid
                fit = float(rep.vector @ c) if rep.vector is not None and c is not None else sparse_cos(weights, story.term_vector())
                if fit > story.label_score or story.label_article == rep.id:
                    story.label, story.label_article, story.label_score = rep.title, rep.id, fit
            for other_id in d.merged:
                other = self.index.stories.get(other_id)
                if other is None or other_id == story.id:
                    continue
                keep, gone = (story, other) if (story.first_seen, story.id) <= (other.first_seen, other.id) else (other, story)
                keep.absorb(gone)
                if self.facts is not None:
                    self._remember(keep.id, self._recent(gone.id))
                    self.recent.pop(gone.id, None)
                self.index.drop(gone.id)
                changed.pop(gone.id, None)
                merged_away.append(gone.id)
                events.append(("merge", keep.id, gone.id, rep.id, f"article fits both ({d.score:.3f})"))
                self.report.merges += 1
                self.merged_into[gone.id] = keep.id
                story = keep
            self.index.put(story)
            changed[story.id] = story
            if rep.group:
                self.group_story[rep.group] = story.id
            members.append((rep.id, story.id, round(d.score, 4), d.reason, rep.time, rep.time_flag))
            self.report.processed += 1
        with self.store.transaction():
            sql.save_members(self.store, members)
            for gone_id in merged_away:
                keep_id = next(e[1] for e in events if e[0] == "merge" and e[2] == gone_id)
                sql.move_members(self.store, gone_id, keep_id)
            sql.delete_stories(self.store, merged_away)
            sql.save_stories(self.store, [s.record() for s in changed.values() if s.id in self.index.stories])
            sql.add_doc_freqs(self.store, [rep_keys(r) for r in reps])
            for kind, s_id, other_id, art, detail in events:
                sql.log(self.store, kind, s_id, other_id, art, detail)
            sql.done(self.store, ids)
        self.n_docs = n_docs  # committed: the counts in memory (df, updated in place above) are the store's again
        self.index.evict_before(shift(min(r.time for r in reps), -2 * horizon(self.params)))
        for sid in [sid for sid in self.recent if sid not in self.index.stories]:
            del self.recent[sid]


def rep_keys(rep: ArticleRep) -> list[str]:
    """What one article adds to the document frequencies (as :func:`~storyloom.stories.represent.doc_keys`)."""
    return [*rep.counts, *("@" + e for e in set(rep.entities))]


def distinctive(rep: ArticleRep, df: dict[str, int], n_docs: int, p: StoryParams) -> frozenset[str]:
    """The article's named actors rare enough in the stream so far to tell its story from others (the
    article itself counted, as for the terms)."""
    n = n_docs + PRIOR_DOCS
    # idf >= entity_idf  <=>  df <= cut; in a small store every repeated name would fail that, so a name in
    # a handful of documents always counts as distinctive
    cut = max(math.exp(-p.entity_idf) * (1 + n) - 1, ENTITY_DF_FLOOR)
    return frozenset(e for e in rep.lead_entities if df.get("@" + e, 0) <= cut and e not in NOT_ACTORS)


def build_stories(store: Store, settings: Settings, on_event: Event | None = None, chunk: int = 500,
                  parts: Mapping[str, TextParts] | None = None) -> StoryReport:
    """Assign every queued article to a story (online, in publication-time order).  ``parts``: the text
    parts of some queued articles, computed already (the Spark story stage's block runs)."""
    refuse_while_bootstrapping("stories stage")
    emit = on_event or (lambda kind, payload: None)
    builder = StoryBuilder(store, settings)
    start = time.perf_counter()
    while True:  # a pass over what is queued now; articles queued meanwhile get the next pass
        queued = sql.pending(store)
        if not queued:
            break
        chunks = [queued[at : at + chunk] for at in range(0, len(queued), chunk)]
        for ids, prepared in prepared_chunks(store, chunks, builder.embedder is not None, settings.story_workers,
                                              parts):
            builder.run_chunk(ids, prepared)
            for _ in ids:
                emit("item", "story")
    builder.report.seconds = time.perf_counter() - start
    if builder.facts is not None:
        f = builder.facts.stats
        builder.report.fact_checks, builder.report.fact_refusals, builder.report.fact_cpu_seconds = (
            f.checks, f.no_fact, f.seconds)
    return builder.report


def rebuild_stories(store: Store, settings: Settings, on_event: Event | None = None) -> StoryReport:
    """Forget every story and cluster all articles again from scratch, in publication-time order."""
    sql.reset(store)
    return build_stories(store, settings, on_event)


def agreement(a: dict[str, str], b: dict[str, str]) -> dict[str, float]:
    """B-cubed precision/recall/F1 of assignment ``a`` against ``b`` (on the articles both assign)."""
    common = sorted(set(a) & set(b))
    if not common:
        return {"precision": 1.0, "recall": 1.0, "f1": 1.0, "articles": 0}
    by_a: dict[str, set[str]] = {}
    by_b: dict[str, set[str]] = {}
    for x in common:
        by_a.setdefault(a[x], set()).add(x)
        by_b.setdefault(b[x], set()).add(x)
    p = sum(len(by_a[a[x]] & by_b[b[x]]) / len(by_a[a[x]]) for x in common) / len(common)
    r = sum(len(by_a[a[x]] & by_b[b[x]]) / len(by_b[b[x]]) for x in common) / len(common)
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0, "articles": len(common)}


__all__ = ["build_stories", "rebuild_stories", "agreement", "StoryReport", "story_id_for"]
