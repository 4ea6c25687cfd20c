"""Claim-pair features and the claim aligner's model: do two sentences from different articles say the same thing?

A small logistic model over similarity signals that work across paraphrase and language: the cosine of
multilingual sentence embeddings (USE), a similarity learnt on those vectors (:class:`SentenceHead`), word and
character-trigram overlap, shared word trigrams, the word edit distance, the count of words only one side has,
shared numbers (and numbers that disagree), shared names (transliterated, so "Лавров" meets "Lavrov") and the
length ratio.  ``scripts/train_claim_aligner2.py`` fits it on the MRPC train split and the STS-B train pairs
(same fact ≥ 4, different ≤ 2) and ships it as a JSON file of weights (no model download, no scikit-learn at
run time); the threshold is the one that maximised F1 in cross-validation.  Word overlap means nothing between
two languages, so the file also holds a second model over the language-independent features only (cosine,
numbers, names) and the sentence head, for claims of articles in two different languages, fitted on STS-B
train pairs of an English sentence and a translated one in ten languages (a sentence and its translation score
lower than an English paraphrase, so a model fitted on MRPC set its bar too high), its threshold the best
out-of-fold F1 there: it judges whether two sentences in two languages state the same fact.

:func:`pair_features` is the reference definition of every feature, one pair at a time;
compare/scoring.py computes the same values for every pair of a story at once.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
from rapidfuzz.distance import Levenshtein as _rf_levenshtein

from storyloom.enrich.quantities import quantities

FEATURES = ("cos", "has_cos", "word_jaccard", "word_containment", "char3_cos", "num_shared", "num_conflict",
            "name_overlap", "len_ratio", "unmatched", "edit", "trigram_cont", "head")
# the features that mean the same whatever the two languages: what the cross-lingual part of the model uses
CROSS_FEATURES = ("cos", "num_shared", "num_conflict", "name_overlap")
MODEL_RESOURCE = "claim_aligner.json"
_WORD = re.compile(r"\w+", re.UNICODE)
_STOP = frozenset("""a an the of to in on at for and or but is are was were be been has have had it its this that these those
with by from as not no he she they we you i his her their our said says will would could should may might than then
there which who whom what when where while into over under about after before also just""".split())


def _tokens(s: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", s).casefold())


def _words(s: str) -> list[str]:
    return [w for w in _tokens(s) if w not in _STOP]


def _char3(s: str) -> Counter[str]:
    t = " " + " ".join(_WORD.findall(s.casefold())) + " "
    return Counter(t[i : i + 3] for i in range(len(t) - 2))


def _names(s: str) -> set[str]:
    from storyloom.enrich.anchors import anchors

    return {a for a in anchors(s) if not a.startswith("#")}


def levenshtein(a: Sequence[str], b: Sequence[str]) -> int:
    """Edit distance between two token sequences, by rapidfuzz (bit-parallel, in C++).

    The tokens are numbered first: rapidfuzz compares the elements of a sequence by a hash in which a one-
    character string is its code point and a longer one its Python hash, so ``""`` and ``"\\x00"`` compare equal
    (and a hash could meet a code point); small integers compare exactly.  Measured against the hand-written
    Hyyrö bit-parallel version this replaces: the same distances on 20,000 random token pairs of 0-50 tokens,
    3.8x faster with the numbering (5.0 against 18.8 us a pair, the best of 5 interleaved passes).
    tests/test_properties.py checks it against a plain dynamic programme."""
    ids: dict[str, int] = {}
    x = [ids.setdefault(t, len(ids)) for t in a]
    y = [ids.setdefault(t, len(ids)) for t in b]
    return int(_rf_levenshtein.distance(x, y))


@dataclass(frozen=True)
class SentencePrint:
    """What the features need of one sentence, computed once (a story compares each sentence many times)."""

    words: frozenset[str]
    n_words: int
    char3: Counter[str]
    numbers: tuple[tuple[float, str], ...]
    names: frozenset[str]
    tokens: tuple[str, ...] = ()
    trigrams: frozenset[tuple[str, str, str]] = frozenset()
    char3_norm: float = field(default=0.0, compare=False)

    @classmethod
    def of(cls, s: str) -> SentencePrint:
        t = _tokens(s)
        w = [x for x in t if x not in _STOP]
        c3 = _char3(s)
        return cls(frozenset(w), max(1, len(w)), c3, tuple((q.value, q.unit) for q in quantities(s)),
                   frozenset(_names(s)), tuple(t), frozenset(zip(t, t[1:], t[2:])),
                   math.sqrt(sum(v * v for v in c3.values())))


def number_conflict(a: SentencePrint, b: SentencePrint) -> float:
    """1 when the two give different values in the same unit (bare numbers and years are not compared)."""
    units_a = {u: v for v, u in a.numbers}
    return float(any(u in units_a and units_a[u] != v and u not in ("", "year") for v, u in b.numbers))


def edit_distance(a: SentencePrint, b: SentencePrint) -> float:
    """Word edit distance over the longer length (0 for two empty sentences)."""
    longest = max(len(a.tokens), len(b.tokens))
    if a.tokens == b.tokens:
        return 0.0
    return levenshtein(a.tokens, b.tokens) / longest


@dataclass(frozen=True)
class SentenceHead:
    """A similarity learnt on top of the sentence vectors: ``Σ_d w_d·u_d·v_d + Σ_d q_d·(u_d² + v_d²) + c·cos + b``.

    Why: the plain cosine weighs every dimension alike; a weight per dimension of the product ``u⊙v`` and of
    ``u² + v²`` (which with it spans ``(u − v)²``, the classic pair features of SentEval) lets "same fact"
    pairs of STS-B and MRPC train pull apart from "same topic" ones (STS-B dev Spearman 0.83–0.85 against the
    cosine's 0.83, see scripts/train_claim_aligner2.py).  Linear in ``u⊙v`` and in per-sentence terms, so a
    whole story's pairs cost one weighted matrix product, like the cosine: ``(U·w) @ Vᵀ + sq(U) + sq(V)ᵀ``."""

    w: np.ndarray  # (dim,) weights of u⊙v
    q: np.ndarray  # (dim,) weights of u² + v²
    c: float
    b: float
    embedder: str = "use-m3"

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SentenceHead:
        return cls(np.asarray(d["w"], dtype=np.float32), np.asarray(d["q"], dtype=np.float32), float(d["c"]),
                   float(d["b"]), d.get("embedder", "use-m3"))

    def fits(self, vectors: np.ndarray | None) -> bool:
        return vectors is not None and vectors.ndim == 2 and vectors.shape[1] == len(self.w)

    def half(self, vectors: np.ndarray) -> np.ndarray:
        """The per-sentence term ``Σ q_d·u_d²`` (plus half the bias), once per sentence."""
        return (vectors.astype(np.float64) ** 2) @ self.q.astype(np.float64) + self.b / 2

    def block(self, a: np.ndarray, b: np.ndarray, half_a: np.ndarray, half_b: np.ndarray) -> np.ndarray:
        """The head's score of every pair of rows of ``a`` and ``b`` (their :meth:`half` terms given)."""
        cross = ((a * (self.w + self.c)) @ b.T).astype(np.float64)
        return cross + half_a[:, None] + half_b[None, :]

    def pair(self, u: np.ndarray, v: np.ndarray) -> float:
        return float(self.block(u[None, :], v[None, :], self.half(u[None, :]), self.half(v[None, :]))[0, 0])


def pair_features(a: SentencePrint, b: SentencePrint, cos: float | None, head: float | None = None) -> dict[str, float]:
    """The features of one pair; ``head``: :class:`SentenceHead`'s score of the two vectors (None: no vectors)."""
    inter = len(a.words & b.words)
    union = len(a.words | b.words)
    tri = len(a.trigrams & b.trigrams)
    na, nb = set(a.numbers), set(b.numbers)
    if a.char3 and b.char3:
        x, y = (a.char3, b.char3) if len(a.char3) <= len(b.char3) else (b.char3, a.char3)
        na3 = a.char3_norm or math.sqrt(sum(v * v for v in a.char3.values()))
        nb3 = b.char3_norm or math.sqrt(sum(v * v for v in b.char3.values()))
        char3 = sum(v * y.get(k, 0) for k, v in x.items()) / (na3 * nb3)
    else:
        char3 = 0.0
    return {
        "cos": cos if cos is not None else 0.0,
        "head": head if head is not None else 0.0,
        "has_cos": 1.0 if cos is not None else 0.0,
        "word_jaccard": inter / (union or 1),
        "word_containment": inter / max(1, min(len(a.words), len(b.words))),
        "len_ratio": min(a.n_words, b.n_words) / max(a.n_words, b.n_words),
        "unmatched": math.log1p(union - inter),
        "trigram_cont": tri / max(1, min(len(a.trigrams), len(b.trigrams))),
        "char3_cos": char3,
        "num_shared": len(na & nb) / len(na | nb) if na and nb else 0.0,
        "num_conflict": number_conflict(a, b),
        "name_overlap": len(a.names & b.names) / min(len(a.names), len(b.names)) if a.names and b.names else 0.0,
        "edit": edit_distance(a, b),
    }


@dataclass(frozen=True)
class ClaimAligner:
    weights: dict[str, float]
    bias: float
    mean: dict[str, float]
    scale: dict[str, float]
    threshold: float
    meta: dict[str, Any]
    # used for pairs of sentences in different languages, where word overlap means nothing: a model over the
    # language-independent features only (cosine, numbers, names); None: this model for every pair
    cross: ClaimAligner | None = None
    # for pairs of two different languages one of which the main embedder (USE) does not cover: a model over
    # CROSS_FEATURES whose cosine is the fallback embedder's (meta "embedder"); None: no fallback
    fallback: ClaimAligner | None = None
    # the learnt similarity over the main embedder's vectors (feature "head"), shared by this model's parts
    head: SentenceHead | None = None

    @classmethod
    def load(cls, path: str | None = None) -> ClaimAligner:
        if path is None:
            return _default()
        with open(path, encoding="utf-8") as fh:
            return cls.from_json(json.load(fh))

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ClaimAligner:
        cross = cls.from_json(d["cross_lingual"]) if d.get("cross_lingual") else None
        fallback = cls.from_json(d["cross_lingual_fallback"]) if d.get("cross_lingual_fallback") else None
        head = SentenceHead.from_json(d["head"]) if d.get("head") else None
        return cls(d["weights"], d["bias"], d["mean"], d["scale"], d["threshold"], d.get("meta", {}), cross, fallback, head)

    def head_of(self, u: np.ndarray | None, v: np.ndarray | None) -> float | None:
        """The head's score of two vectors (None without a head or vectors of its size)."""
        if self.head is None or u is None or v is None or len(u) != len(self.head.w) or len(v) != len(self.head.w):
            return None
        return self.head.pair(u, v)

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
