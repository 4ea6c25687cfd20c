"""Online story clustering: each article joins the best story or opens one, as it arrives.

In the spirit of Miranda et al. 2018 (online multilingual news clustering): per-story TF-IDF centroids plus
a multilingual dense centroid, entity overlap and a time gap, combined into one score; above the threshold
the article joins, below it opens a new story.  Candidates come from an index — the stories active in a
time window around the article and the stories sharing its entities — never from a scan of every story.
When an article fits two stories about equally well, and those stories resemble each other, they merge
(the older id survives) and the merge is logged.

Deterministic: the same articles in the same order give the same stories with the same ids (a story's id
is derived from the article that opened it).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from storyloom.stories.represent import ArticleRep, hours_between, sparse_cos, term_counts, tfidf

TOP_STORY_TERMS = 150
TOP_STORY_ENTITIES = 30
ENTITY_CAP = 200  # an entity shared by more active stories than this does not propose candidates


@dataclass(frozen=True)
class StoryParams:
    """The decision's weights and thresholds (chosen on the dev split of bench/stories.py)."""

    w_dense: float = 0.55
    w_lex: float = 0.30
    w_entity: float = 0.15
    w_time: float = 0.05  # per day outside the story's span (after a grace day)
    threshold: float = 0.42
    merge_margin: float = 0.05  # second story within this of the best, and similar to it: merge
    window_days: float = 3.0  # stories whose span is this close to the article are candidates


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

    def absorb(self, other: "Story") -> None:
        self.n_articles += other.n_articles
        self.first_seen = min(self.first_seen, other.first_seen)
        self.last_seen = max(self.last_seen, other.last_seen)
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
    def from_record(cls, r: dict[str, Any]) -> "Story":
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


def score(rep: ArticleRep, weights: dict[str, float], story: Story, p: StoryParams) -> tuple[float, dict[str, float]]:
    """How well an article fits a story (higher is better), and the features behind the number."""
    lex = sparse_cos(weights, story.term_vector())
    ents = rep.lead_entities
    top = story.top_entities()
    ent = len(ents & top) / max(1, min(len(ents), 6)) if ents else 0.0
    ent = min(ent, 1.0)
    gap = 0.0
    if rep.time < story.first_seen:
        gap = hours_between(rep.time, story.first_seen) / 24
    elif rep.time > story.last_seen:
        gap = hours_between(rep.time, story.last_seen) / 24
    centroid = story.centroid
    if rep.vector is not None and centroid is not None:
        dense = float(rep.vector @ centroid)
        s = p.w_dense * dense + p.w_lex * lex + p.w_entity * ent
    else:  # no shared dense space: the lexical and entity evidence carries the whole weight
        dense = float("nan")
        s = (p.w_lex * lex + p.w_entity * ent) * (p.w_dense + p.w_lex + p.w_entity) / (p.w_lex + p.w_entity)
    s -= p.w_time * max(0.0, gap - 1.0)
    return s, {"dense": dense, "lex": round(lex, 4), "entity": round(ent, 4), "gap_days": round(gap, 2)}


def decide(rep: ArticleRep, weights: dict[str, float], candidates: list[Story], p: StoryParams) -> Decision:
    scored = sorted(((score(rep, weights, s, p), s) for s in candidates), key=lambda x: (-x[0][0], x[1].id))
    if not scored or scored[0][0][0] < p.threshold:
        best = scored[0][0] if scored else (0.0, {})
        return Decision(story_id_for(rep.id), best[0], "opened", features=best[1])
    (best_score, feats), best = scored[0]
    merged = []
    for (sc, _), other in scored[1:3]:
        if sc >= p.threshold and best_score - sc <= p.merge_margin and _bridged(best, other, rep, weights, p):
            merged.append(other.id)
    return Decision(best.id, best_score, "joined", merged, feats)


def _bridged(best: Story, other: Story, rep: ArticleRep, weights: dict[str, float], p: StoryParams) -> bool:
    """Two stories are one when, with the new article added to the best, they resemble each other: a bridge
    article reveals a split.  A round-up touching two unrelated stories does not make them alike."""
    a, b = best.centroid, other.centroid
    if a is not None and b is not None and rep.vector is not None:
        joined = best.vec_sum + rep.vector  # type: ignore[operator]
        return float(joined @ b) / float(np.linalg.norm(joined)) >= p.threshold
    terms = dict(best.terms)
    for t, w in weights.items():
        terms[t] = terms.get(t, 0.0) + w
    norm = sum(w * w for w in terms.values()) ** 0.5 or 1.0
    return sparse_cos({t: w / norm for t, w in terms.items()}, other.term_vector()) >= p.threshold / 2


def term_weights(rep: ArticleRep, df: dict[str, int], n_docs: int) -> dict[str, float]:
    return tfidf(rep.counts, df, n_docs)


def new_rep(row: dict[str, Any], vector: np.ndarray | None) -> ArticleRep:
    from storyloom.stories.represent import entities, lead_sentences

    time, flag = row["published"], row.get("date_flag")
    if not time:
        time, flag = row["ingested_at"], flag or "no date: ingest time used"
    lead = lead_sentences(row["text"])
    title, text = row["title"], row["text"]
    return ArticleRep(row["id"], title, time, flag if not row["published"] else None, row.get("outlet"),
                      row.get("language"), term_counts(title, text, lead), entities(title, text, lead), vector,
                      row.get("group_id"))
