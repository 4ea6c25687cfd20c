"""Online story clustering: each article joins the best story or opens one, as it arrives.

In the spirit of Miranda et al. 2018 (online multilingual news clustering): per-story TF-IDF centroids plus
a multilingual dense centroid, entity overlap and a time gap, combined into one score; above the threshold
the article joins, below it opens a new story.  Candidates come from an index — the stories active in a
time window around the article and the stories sharing its entities — never from a scan of every story.
When an article fits two stories about equally well, and those stories resemble each other, they merge
(the older id survives) and the merge is logged.

Time: a story's *reach* follows the story.  A one-day event reaches ``window_days`` around its span; each day
a story keeps developing adds ``reach_growth`` days (up to ``reach_max_days``), so a story that keeps going
keeps taking its next development while a one-day event does not absorb next week's look-alike.  Past its
reach (up to ``reach_max_days`` after its last article) an article continues a story only when it names the
story's distinctive actors (``continuation_entities`` of them, or one and a continuation cue in its title);
the time penalty then stops at the story's reach: that evidence stands in for closeness in time.

Round-ups, live blogs, explainers and lists (:func:`~storyloom.stories.represent.roundup_reason`) join as weak
members (reason ``roundup``: counted and listed, never shaping the story's words, names, vector, label or
reach, never merging stories) or stay apart; either way a ``mention`` event names the story they fit, for an
"also mentioned in" list.

The merge check: a join (below ``strong``) or a merge is refused when the article shares no distinctive named
actor with the story; and, with ``fact_check``, a join or merge below ``fact_strong`` sharing fewer than
``fact_actors`` of them is *suspect* and is refused unless it states a fact the story's latest members state
(claims aligned by the compare stage's model: :mod:`storyloom.stories.facts`).  Named actors alone cannot tell an event from its topic — NASA and
Jupiter name a map of Titan and the plumes of Europa alike — and in a young or small stream every name looks
rare.  Each refusal is a ``refuse`` event saying why.

Deterministic: the same articles in the same order give the same stories with the same ids (a story's id
is derived from the article that opened it).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from storyloom.stories.represent import ArticleRep, TextParts, hours_between, sparse_cos, tfidf
from storyloom.timeparse import shift

TOP_STORY_TERMS = 150
TOP_STORY_ENTITIES = 30
ENTITY_CAP = 200  # an entity shared by more active stories than this does not propose candidates


@dataclass(frozen=True)
class StoryParams:
    """The decision's weights and thresholds (chosen on the dev sets of bench/stories.py: the weights by the full
    run, the reach, merge-check and round-up parameters by `--reach`)."""

    w_dense: float = 0.55
    w_lex: float = 0.30
    w_entity: float = 0.15
    w_time: float = 0.05  # per day outside the story's span (after a grace day)
    threshold: float = 0.42
    merge_margin: float = 0.05  # second story within this of the best, and similar to it: merge
    window_days: float = 3.0  # a story's reach in time when it has not developed (a one-day event)
    # A story's reach follows the story: each day it has kept developing (its span) adds reach_growth days, up to
    # reach_max_days; past its reach, up to reach_max_days after its last article, only an article continuing it
    # (continuation_entities distinctive named actors in common, or one and a continuation cue) is a candidate,
    # when `continuation` is on.  reach_growth = 0 and continuation off is the fixed window.
    reach_growth: float = 0.0
    reach_max_days: float = 0.0
    continuation: bool = False
    continuation_entities: int = 2
    # The merge check: a join (below `strong`) or a merge whose stories share no distinctive named actor is
    # refused.  An entity is distinctive when its IDF, log((1 + docs) / (1 + df)), is at least entity_idf.
    entity_check: bool = False
    entity_idf: float = 2.0
    strong: float = 0.75
    # The fact check (stories/facts.py): a join or merge below `strong` that shares fewer than fact_actors
    # distinctive named actors with the story is suspect, and is refused unless the article states a fact the
    # story's latest members state too (claims aligned by the compare stage's model).  The dev sets chose 99:
    # every middling join is checked (shared actors rescue none: a topic's names are its look-alikes' names too).
    fact_check: bool = False
    fact_actors: int = 99
    fact_strong: float = 0.55  # joins at least this good are not suspect (dev: 0.9529 combined; 0.9525 at 0.75)
    roundups: str = "off"  # off | weak (joins as a weak member, never merges) | apart (its own story)


def horizon(p: StoryParams) -> float:
    """The farthest (days) a story can reach: how long the stage keeps a quiet story at hand."""
    return max(p.window_days, p.reach_max_days)


def story_id_for(article_id: str) -> str:
    return "s" + hashlib.blake2b(article_id.encode(), digest_size=6).hexdigest()


@dataclass
class Story:
    id: str
    first_seen: str
    last_seen: str
    label: str
    label_article: str
    label_score: float = 0.0
    n_articles: int = 0
    outlets: Counter[str] = field(default_factory=Counter)
    languages: Counter[str] = field(default_factory=Counter)
    vec_sum: np.ndarray | None = None
    n_vectors: int = 0
    terms: dict[str, float] = field(default_factory=dict)
    entities: Counter[str] = field(default_factory=Counter)
    # the normalised term vector, kept until the terms change: a story is scored against every article of its
    # window, and renormalising it for each was the stage's largest cost
    _term_vector: dict[str, float] | None = field(default=None, repr=False, compare=False)
    _top_entities: frozenset[str] | None = field(default=None, repr=False, compare=False)
    _reach: tuple[float, float, float] | None = field(default=None, repr=False, compare=False)
    _bounds: tuple[float, str, str] | None = field(default=None, repr=False, compare=False)

    def reach_bounds(self, p: StoryParams) -> tuple[str, str]:
        """The first and last times (the store's ISO form) the story's reach covers: a cheap test of many
        stories against one article before the exact one."""
        reach = self.reach(p)[0]
        if self._bounds is None or self._bounds[0] != reach:
            self._bounds = (reach, shift(self.first_seen, -reach), shift(self.last_seen, reach))
        return self._bounds[1], self._bounds[2]

    def reach(self, p: StoryParams) -> tuple[float, float]:
        """(reach, grace) in days: how far from its span the story takes ordinary candidates, and how far the
        time penalty waits.  Both grow with the days the story has kept developing (its span)."""
        if self._reach is None or self._reach[0] != p.reach_growth:
            span = hours_between(self.first_seen, self.last_seen) / 24
            cap = max(p.window_days, p.reach_max_days)
            reach = min(p.window_days + p.reach_growth * span, cap)
            self._reach = (p.reach_growth, reach, min(1.0 + p.reach_growth * span, max(cap, 1.0)))
        return self._reach[1], self._reach[2]

    def top_entities(self) -> frozenset[str]:
        if self._top_entities is None:
            self._top_entities = frozenset(e for e, _ in self.entities.most_common(TOP_STORY_ENTITIES))
        return self._top_entities

    @property
    def centroid(self) -> np.ndarray | None:
        if self.vec_sum is None or self.n_vectors == 0:
            return None
        n = float(np.linalg.norm(self.vec_sum))
        return self.vec_sum / n if n else None

    def term_vector(self) -> dict[str, float]:
        if self._term_vector is None:
            norm = sum(w * w for w in self.terms.values()) ** 0.5 or 1.0
            self._term_vector = {t: w / norm for t, w in self.terms.items()}
        return self._term_vector

    def add(self, rep: ArticleRep, weights: dict[str, float]) -> None:
        self.n_articles += 1
        self.first_seen = min(self.first_seen, rep.time)
        self.last_seen = max(self.last_seen, rep.time)
        self._reach = None
        self.outlets[rep.outlet or "?"] += 1
        self.languages[rep.language or "?"] += 1
        if rep.vector is not None:
            self.vec_sum = rep.vector.astype(np.float32) if self.vec_sum is None else self.vec_sum + rep.vector
            self.n_vectors += 1
        self._term_vector = None
        for t, w in weights.items():
            self.terms[t] = self.terms.get(t, 0.0) + w
        if len(self.terms) > 2 * TOP_STORY_TERMS:
            self.terms = dict(sorted(self.terms.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_STORY_TERMS])
        self._top_entities = None
        self.entities.update(rep.entities)
        if len(self.entities) > 2 * TOP_STORY_ENTITIES:
            self.entities = Counter(dict(sorted(self.entities.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_STORY_ENTITIES]))

    def add_weak(self, rep: ArticleRep) -> None:
        """A weak member (a round-up): counted and shown, but its words, names, vector and time do not become
        the story's, so it can neither pull unrelated articles in nor stretch the story's reach."""
        self.n_articles += 1
        self.outlets[rep.outlet or "?"] += 1
        self.languages[rep.language or "?"] += 1

    def absorb(self, other: Story) -> None:
        self.n_articles += other.n_articles
        self.first_seen = min(self.first_seen, other.first_seen)
        self.last_seen = max(self.last_seen, other.last_seen)
        self._reach = None
        self.outlets.update(other.outlets)
        self.languages.update(other.languages)
        if other.vec_sum is not None:
            self.vec_sum = other.vec_sum.copy() if self.vec_sum is None else self.vec_sum + other.vec_sum
            self.n_vectors += other.n_vectors
        self._term_vector = None
        for t, w in other.terms.items():
            self.terms[t] = self.terms.get(t, 0.0) + w
        self._top_entities = None
        self.entities.update(other.entities)
        if other.label_score > self.label_score:
            self.label, self.label_article, self.label_score = other.label, other.label_article, other.label_score

    # -- persistence --------------------------------------------------------------------------------

    def record(self) -> dict[str, Any]:
        return {
            "id": self.id, "label": self.label, "label_article": self.label_article, "label_score": self.label_score,
            "first_seen": self.first_seen, "last_seen": self.last_seen, "n_articles": self.n_articles,
            "outlets": dict(self.outlets.most_common()), "languages": dict(self.languages.most_common()),
            "centroid": self.vec_sum.astype(np.float32).tobytes() if self.vec_sum is not None else None,
            "n_vectors": self.n_vectors,
            "terms": dict(sorted(self.terms.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_STORY_TERMS]),
            "entities": dict(sorted(self.entities.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_STORY_ENTITIES]),
        }

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> Story:
        vec = np.frombuffer(r["centroid"], dtype=np.float32).copy() if r["centroid"] is not None else None
        return cls(r["id"], r["first_seen"], r["last_seen"], r["label"], r["label_article"], r["label_score"],
                   r["n_articles"], Counter(r["outlets"]), Counter(r["languages"]), vec, r["n_vectors"],
                   dict(r["terms"]), Counter(r["entities"]))


@dataclass
class Decision:
    story_id: str
    score: float
    reason: str  # opened | joined | copy
    merged: list[str] = field(default_factory=list)
    features: dict[str, float] = field(default_factory=dict)
    refused: list[tuple[str, str | None, str]] = field(default_factory=list)  # (story, other story, why)
    mention: str | None = None  # a round-up kept apart: the story it fits best ("also mentioned in")


CONTINUATION_CUE = re.compile(
    r"\b(?:again|latest|update[ds]?|continu\w*|resum\w*|follow[- ]?up|further|another|second|third|next step|"
    r"now|still|after|extend\w*|progress\w*|expan\w*|phase|final|approv\w*|reject\w*|complet\w*)\b", re.IGNORECASE)


def gap_days(rep: ArticleRep, story: Story) -> float:
    if rep.time < story.first_seen:
        return hours_between(rep.time, story.first_seen) / 24
    if rep.time > story.last_seen:
        return hours_between(rep.time, story.last_seen) / 24
    return 0.0


def score(rep: ArticleRep, weights: dict[str, float], story: Story, p: StoryParams,
          gap: float | None = None, grace: float = 1.0) -> tuple[float, dict[str, float]]:
    """How well an article fits a story (higher is better), and the features behind the number.  ``grace``:
    days past the story's span before the time penalty starts (1 for a story that has not developed)."""
    lex = sparse_cos(weights, story.term_vector())
    ents = rep.lead_entities
    top = story.top_entities()
    ent = len(ents & top) / max(1, min(len(ents), 6)) if ents else 0.0
    ent = min(ent, 1.0)
    if gap is None:
        gap = gap_days(rep, story)
    centroid = story.centroid
    if rep.vector is not None and centroid is not None:
        dense = float(rep.vector @ centroid)
        s = p.w_dense * dense + p.w_lex * lex + p.w_entity * ent
    else:  # no shared dense space: the lexical and entity evidence carries the whole weight
        dense = float("nan")
        s = (p.w_lex * lex + p.w_entity * ent) * (p.w_dense + p.w_lex + p.w_entity) / (p.w_lex + p.w_entity)
    s -= p.w_time * max(0.0, gap - grace)
    return s, {"dense": dense, "lex": round(lex, 4), "entity": round(ent, 4), "gap_days": round(gap, 2)}


def in_reach(rep: ArticleRep, story: Story, p: StoryParams, distinct: frozenset[str], cue: bool = False
             ) -> tuple[float, float] | None:
    """(gap, grace) when the story may take the article, else None: within the story's reach, or past it (up to
    reach_max_days) when the article continues the story — distinctive actors in common, or one and a
    continuation cue in its title (``cue``)."""
    reach, grace = story.reach(p)
    gap = gap_days(rep, story)
    if gap <= reach:
        return gap, grace
    if not p.continuation or p.reach_max_days <= 0 or gap > p.reach_max_days or rep.time < story.first_seen:
        return None
    shared = len(distinct & story.top_entities())
    if shared >= p.continuation_entities or (shared >= 1 and cue):
        return gap, max(grace, gap - (reach - grace))  # evidence of continuation stands in for closeness in time
    return None


def _actor_shared(rep: ArticleRep, story: Story, distinct: frozenset[str]) -> bool:
    """The merge check's test: does the story name a distinctive actor of the article?  An article or a story
    naming nobody (a language without capitals, a text of common nouns) is not judged by it."""
    top = story.top_entities()
    if not rep.lead_entities or not top:
        return True
    return bool(distinct & top)


Confirm = Callable[[Story], "bool | None"]  # does the article state a fact the story's members state (None: unknown)?


def _no_fact(rep: ArticleRep, story: Story, score: float, p: StoryParams, distinct: frozenset[str],
             confirm: Confirm | None) -> str | None:
    """The fact check's verdict on a join or merge: why it is refused, or None when it stands.  Suspect (and
    only then checked: claims cost sentence vectors) when it scores below ``fact_strong`` and shares fewer than
    ``fact_actors`` distinctive named actors with the story."""
    if not p.fact_check or confirm is None or score >= p.fact_strong:
        return None
    shared = len(distinct & story.top_entities())
    if shared < p.fact_actors and confirm(story) is False:
        return f"no shared fact and {shared} shared named actor(s)"
    return None


def _suspect(rep: ArticleRep, story: Story, score: float, p: StoryParams, distinct: frozenset[str],
             confirm: Confirm | None) -> str | None:
    """Why a join is refused, or None when it stands: the named-actor test below ``strong`` first (cheap), then
    the fact check."""
    if p.entity_check and score < p.strong and not _actor_shared(rep, story, distinct):
        return "no shared named actor"
    return _no_fact(rep, story, score, p, distinct, confirm)


def decide(rep: ArticleRep, weights: dict[str, float], candidates: list[Story], p: StoryParams,
           distinct: frozenset[str] | None = None, confirm: Confirm | None = None) -> Decision:
    """Join the best story that may take the article, open one, and say which near-equal stories it bridges.

    ``distinct``: the article's distinctive named actors (rare in the stream so far); all its entities when
    not given (a caller without document frequencies).  ``confirm``: the fact check of a suspect join or merge
    (see :func:`_suspect`); without it, only named actors are checked."""
    distinct = rep.lead_entities if distinct is None else distinct
    scored: list[tuple[float, dict[str, float], Story]] = []
    cue = bool(CONTINUATION_CUE.search(rep.title)) if p.continuation and p.reach_max_days > 0 and distinct else False
    for s in candidates:
        reach = in_reach(rep, s, p, distinct, cue)
        if reach is not None:
            sc, feats = score(rep, weights, s, p, *reach)
            scored.append((sc, feats, s))
    scored.sort(key=lambda x: (-x[0], x[2].id))
    refused: list[tuple[str, str | None, str]] = []
    weak = rep.roundup is not None and p.roundups != "off"
    check = None if weak else confirm  # a round-up glues nothing whatever it joins: its facts are not checked
    while scored and scored[0][0] >= p.threshold:  # refuse, best first, the suspect joins
        why = _suspect(rep, scored[0][2], scored[0][0], p, distinct, check)
        if why is None:
            break
        sc, _, s = scored.pop(0)
        refused.append((s.id, None, f"join refused: {why} (score {sc:.3f})"))
    if not scored or scored[0][0] < p.threshold or (weak and p.roundups == "apart"):
        top_score, top_feats = (scored[0][0], scored[0][1]) if scored else (0.0, {})
        mention = scored[0][2].id if weak and scored and scored[0][0] >= p.threshold else None
        return Decision(story_id_for(rep.id), top_score, "opened", features=top_feats, refused=refused, mention=mention)
    best_score, feats, best = scored[0]
    if weak:
        return Decision(best.id, best_score, "roundup", [], feats, refused)
    merged = []
    for sc, _, other in scored[1:3]:
        if sc >= p.threshold and best_score - sc <= p.merge_margin and _bridged(best, other, rep, weights, p):
            if p.entity_check and not _actor_shared(rep, other, distinct):  # the bridge names an actor of each
                refused.append((best.id, other.id, "merge refused: the bridging article shares no named actor with it"))
                continue
            why = _no_fact(rep, other, sc, p, distinct, confirm)
            if why is not None:  # ... and states a fact of each, unless it shares enough actors with both
                refused.append((best.id, other.id, f"merge refused: the bridging article has {why} with it"))
                continue
            merged.append(other.id)
    return Decision(best.id, best_score, "joined", merged, feats, refused)


def _bridged(best: Story, other: Story, rep: ArticleRep, weights: dict[str, float], p: StoryParams) -> bool:
    """Two stories are one when, with the new article added to the best, they resemble each other: a bridge
    article reveals a split.  A round-up touching two unrelated stories does not make them alike."""
    a, b = best.centroid, other.centroid
    if a is not None and b is not None and rep.vector is not None:
        joined = best.vec_sum + rep.vector
        return float(joined @ b) / float(np.linalg.norm(joined)) >= p.threshold
    terms = dict(best.terms)
    for t, w in weights.items():
        terms[t] = terms.get(t, 0.0) + w
    norm = sum(w * w for w in terms.values()) ** 0.5 or 1.0
    return sparse_cos({t: w / norm for t, w in terms.items()}, other.term_vector()) >= p.threshold / 2


def term_weights(rep: ArticleRep, df: dict[str, int], n_docs: int) -> dict[str, float]:
    return tfidf(rep.counts, df, n_docs)


def new_rep(row: dict[str, Any], vector: np.ndarray | None, parts: TextParts | None = None) -> ArticleRep:
    """The article as the clustering sees it.  ``parts``: its terms, entities and round-up verdict when they
    were computed already from the same title and text (see :class:`~storyloom.stories.represent.TextParts`)."""
    time, flag = row["published"], row.get("date_flag")
    if not time:
        time, flag = row["ingested_at"], flag or "no date: ingest time used"
    title = row["title"]
    if parts is None:
        parts = TextParts.of(title or "", row["text"] or "")
    return ArticleRep(row["id"], title, time, flag if not row["published"] else None, row.get("outlet"),
                      row.get("language"), parts.counts, parts.entities, vector,
                      row.get("group_id"), parts.roundup)
