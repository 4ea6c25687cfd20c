"""Claim alignment: do two sentences from different articles say the same thing?

A small logistic model over similarity signals that work across paraphrase and language: the cosine of
multilingual sentence embeddings (USE), word and character-trigram overlap, shared numbers (and numbers
that disagree), shared names (transliterated, so "Лавров" meets "Lavrov") and the length ratio.  It is
trained on the MRPC train split by ``scripts/train_claim_aligner.py`` and ships as a JSON file of weights
(no model download, no scikit-learn at run time); the threshold is the one that maximised F1 in
cross-validation on that train split.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from storyloom.enrich.quantities import quantities

FEATURES = ("cos", "has_cos", "word_jaccard", "word_containment", "char3_cos", "num_shared", "num_conflict",
            "name_overlap", "len_ratio")
MODEL_RESOURCE = "claim_aligner.json"
_WORD = re.compile(r"\w+", re.UNICODE)
_STOP = frozenset("""a an the of to in on at for and or but is are was were be been has have had it its this that these those
with by from as not no he she they we you i his her their our said says will would could should may might than then
there which who whom what when where while into over under about after before also just""".split())


def _words(s: str) -> list[str]:
    return [w for w in _WORD.findall(unicodedata.normalize("NFKC", s).casefold()) if w not in _STOP]


def _char3(s: str) -> Counter[str]:
    t = " " + " ".join(_WORD.findall(s.casefold())) + " "
    return Counter(t[i : i + 3] for i in range(len(t) - 2))


def _cos_counts(a: Counter[str], b: Counter[str]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(v * b.get(k, 0) for k, v in a.items())
    return dot / math.sqrt(sum(v * v for v in a.values()) * sum(v * v for v in b.values()))


def _names(s: str) -> set[str]:
    from storyloom.copies.translation import anchors

    return {a for a in anchors(s) if not a.startswith("#")}


@dataclass(frozen=True)
class SentencePrint:
    """What the features need of one sentence, computed once (a story compares each sentence many times)."""

    words: frozenset[str]
    n_words: int
    char3: Counter[str]
    numbers: tuple[tuple[float, str], ...]
    names: frozenset[str]

    @classmethod
    def of(cls, s: str) -> "SentencePrint":
        w = _words(s)
        return cls(frozenset(w), max(1, len(w)), _char3(s), tuple((q.value, q.unit) for q in quantities(s)),
                   frozenset(_names(s)))


def pair_features(a: SentencePrint, b: SentencePrint, cos: float | None) -> dict[str, float]:
    inter = len(a.words & b.words)
    union = len(a.words | b.words) or 1
    na, nb = set(a.numbers), set(b.numbers)
    shared = len(na & nb) / len(na | nb) if na and nb else 0.0
    units_a = {u: v for v, u in a.numbers}
    conflict = float(any(u in units_a and units_a[u] != v and u not in ("", "year") for v, u in b.numbers))
    names = len(a.names & b.names) / min(len(a.names), len(b.names)) if a.names and b.names else 0.0
    return {
        "cos": cos if cos is not None else 0.0,
        "has_cos": 1.0 if cos is not None else 0.0,
        "word_jaccard": inter / union,
        "word_containment": inter / max(1, min(len(a.words), len(b.words))),
        "char3_cos": _cos_counts(a.char3, b.char3),
        "num_shared": shared,
        "num_conflict": conflict,
        "name_overlap": names,
        "len_ratio": min(a.n_words, b.n_words) / max(a.n_words, b.n_words),
    }


@dataclass(frozen=True)
class ClaimAligner:
    weights: dict[str, float]
    bias: float
    mean: dict[str, float]
    scale: dict[str, float]
    threshold: float
    meta: dict[str, Any]

    @classmethod
    def load(cls, path: str | None = None) -> "ClaimAligner":
        if path is None:
            return _default()
        with open(path, encoding="utf-8") as fh:
            return cls.from_json(json.load(fh))

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "ClaimAligner":
        return cls(d["weights"], d["bias"], d["mean"], d["scale"], d["threshold"], d.get("meta", {}))

    def proba(self, feats: Sequence[dict[str, float]]) -> list[float]:
        out = []
        for f in feats:
            z = self.bias + sum(w * (f[k] - self.mean[k]) / self.scale[k] for k, w in self.weights.items())
            out.append(1 / (1 + math.exp(-max(-60.0, min(60.0, z)))))
        return out


@lru_cache(maxsize=1)
def _default() -> ClaimAligner:
    text = resources.files("storyloom").joinpath("data", MODEL_RESOURCE).read_text(encoding="utf-8")
    return ClaimAligner.from_json(json.loads(text))


def sentence_vectors(texts: Sequence[str]) -> np.ndarray | None:
    """USE vectors of sentences (None when the embedding package is missing: the model then uses the rest)."""
    try:
        from storyloom.embed import get_embedder

        return get_embedder("use").embed(list(texts))
    except ImportError:
        return None


def align(texts: Sequence[str], groups: Sequence[str], vectors: np.ndarray | None = None,
          aligner: ClaimAligner | None = None) -> tuple[list[list[int]], dict[tuple[int, int], float]]:
    """Rows of aligned claims: connected components of the pairs the model accepts, only across different
    articles (``groups[i]`` is claim i's article).  Returns the rows (lists of claim indices, each sorted)
    and the accepted pairs with their probability (the evidence for each row)."""
    n = len(texts)
    if len(set(groups)) < 2:  # one article: every claim is its own row
        return [[i] for i in range(n)], {}
    model = aligner or ClaimAligner.load()
    prints = [SentencePrint.of(t) for t in texts]
    pairs: list[tuple[int, int]] = []
    feats: list[dict[str, float]] = []
    sims = vectors @ vectors.T if vectors is not None and len(vectors) == n else None
    for i in range(n):
        for j in range(i + 1, n):
            if groups[i] == groups[j]:
                continue
            cos = float(sims[i, j]) if sims is not None else None
            # cheap pre-filter: pairs with nothing in common cannot be the same claim
            if (cos is not None and cos < 0.3) and not (prints[i].words & prints[j].words):
                continue
            pairs.append((i, j))
            feats.append(pair_features(prints[i], prints[j], cos))
    accepted: dict[tuple[int, int], float] = {}
    for (i, j), p in zip(pairs, model.proba(feats)):
        if p >= model.threshold:
            accepted[(i, j)] = p
    # mutual best per article pair keeps one sentence from pulling a whole article into a row
    best: dict[tuple[int, str], tuple[float, int]] = {}
    for (i, j), p in accepted.items():
        for x, y in ((i, j), (j, i)):
            k = (x, groups[y])
            if p > best.get(k, (-1.0, -1))[0]:
                best[k] = (p, y)
    keep = {(i, j): p for (i, j), p in accepted.items()
            if best[(i, groups[j])][1] == j and best[(j, groups[i])][1] == i}
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, j in sorted(keep):
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    rows: dict[int, list[int]] = {}
    for i in range(n):
        rows.setdefault(find(i), []).append(i)
    return sorted(rows.values(), key=lambda r: r[0]), keep
