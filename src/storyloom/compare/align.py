"""Claim alignment: do two sentences from different articles say the same thing?

A small logistic model over similarity signals that work across paraphrase and language: the cosine of
multilingual sentence embeddings (USE), a similarity learnt on those vectors (:class:`SentenceHead`), word and
character-trigram overlap, shared word trigrams, the word edit distance, the count of words only one side has,
shared numbers (and numbers that disagree), shared names (transliterated, so "Лавров" meets "Lavrov") and the
length ratio.  ``scripts/train_claim_aligner2.py`` fits it on the MRPC train split and the STS-B train pairs
(same fact ≥ 4, different ≤ 2) and ships it as a JSON file of weights (no model download, no scikit-learn at
run time); the threshold is the one that maximised F1 in cross-validation.  Word overlap means nothing between
two languages, so the file also holds a second model over the language-independent features only (cosine,
numbers, names) and the sentence head, which :func:`align` uses for claims of articles in two different
languages, fitted on STS-B train pairs of an English sentence and a translated one in ten languages (a sentence
and its translation score lower than an English paraphrase, so a model fitted on MRPC set its bar too high),
its threshold the best out-of-fold F1 there: it judges whether two sentences in two languages state the same
fact.  Articles that are translations of each other are not left to it: their claims are paired by order
(compare/parallel.py, through ``translated``).  USE knows 16 languages: a pair in which one
side's language is not among them is scored by a third part, on e5 vectors (slow: a few claims per story, see
:func:`_fallback_pairs`).

Each claim is scored through its views too (compare/views.py: the fact clauses inside a sentence, "X noted
that Y, suggesting that Z" → Y, Z), so a fact is found whatever frame an outlet wraps it in.

:func:`align` scores every cross-article pair of a story without a Python loop over all of them: identical
claims are scored once; the cosine and the features that are overlaps of sets or counts (words, word
trigrams, character trigrams, names, numbers) come from sparse/dense products of small integers, exactly; a
lower bound of the edit distance (from the tokens two sentences share) then discards the pairs that cannot
reach the threshold, and only the pairs left get their edit distance and number conflicts computed one by
one.  The result is that of scoring every pair with :func:`pair_features`.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
from rapidfuzz.distance import Levenshtein as _rf_levenshtein

from storyloom.embed import USE_LANGUAGES
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


def _conflict(a: SentencePrint, b: SentencePrint) -> float:
    """1 when the two give different values in the same unit (bare numbers and years are not compared)."""
    units_a = {u: v for v, u in a.numbers}
    return float(any(u in units_a and units_a[u] != v and u not in ("", "year") for v, u in b.numbers))


def _edit(a: SentencePrint, b: SentencePrint) -> float:
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
        "num_conflict": _conflict(a, b),
        "name_overlap": len(a.names & b.names) / min(len(a.names), len(b.names)) if a.names and b.names else 0.0,
        "edit": _edit(a, b),
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


def sentence_vectors(texts: Sequence[str]) -> np.ndarray | None:
    """USE vectors of sentences (None when the embedding package is missing: the model then uses the rest).
    A sentence that occurs several times (wire copies) is embedded once."""
    try:
        from storyloom.embed import get_embedder

        embedder = get_embedder("use")
    except ImportError:
        return None
    first: dict[str, int] = {}
    where = [first.setdefault(t, len(first)) for t in texts]
    vecs = embedder.embed(list(first))
    return vecs[where] if len(first) < len(where) else vecs


class _Gram:
    """Overlaps between sentences: ``block(s, e)[a, b]`` is the dot product of the item vectors of sentences
    ``s + a`` and ``s + b`` (shared items, or the sum of count products), for items found in at least two
    groups -- the only ones sentences of different groups can share.

    Sparse and dense at once: an item held by few sentences adds its pairs directly (bincount), an item held by
    many goes to a dense matrix whose products BLAS computes.  All values are small integers: exact."""

    def __init__(self, items: Sequence[Any], gid: np.ndarray, counts: bool = False, max_pairs: int = 1_000_000) -> None:
        self.n = n = len(items)
        post: dict[Any, list[int]] = {}
        for i, its in enumerate(items):
            for x in its:
                got = post.get(x)
                if got is None:
                    post[x] = [i]
                else:
                    got.append(i)
        if len(set(gid.tolist())) == n:  # every sentence its own group: shared by two sentences is enough
            spread = [x for x, rows in post.items() if len(rows) > 1]
        else:
            spread = [x for x, rows in post.items() if len(rows) > 1 and len({int(gid[i]) for i in rows}) > 1]
        vals = {x: [items[i][x] for i in post[x]] for x in spread} if counts else {}
        cols = sorted(spread, key=lambda x: len(post[x]))
        # the rarest items go to pairs until the budget is spent; the rest are dense columns
        budget, cut = max_pairs, len(cols)
        for k, x in enumerate(cols):
            m = len(post[x])
            budget -= m * (m - 1) // 2
            if budget < 0:
                cut = k
                break
        dense = cols[cut:]
        self.dense = np.zeros((n, len(dense)), dtype=np.float32)
        if dense:
            r = [i for x in dense for i in post[x]]
            c = [k for k, x in enumerate(dense) for _ in post[x]]
            self.dense[r, c] = [v for x in dense for v in vals[x]] if counts else 1
        by_size: dict[int, list[Any]] = {}
        for x in cols[:cut]:
            by_size.setdefault(len(post[x]), []).append(x)
        I, J, V = [np.zeros(0, dtype=np.int32)], [np.zeros(0, dtype=np.int32)], [np.zeros(0, dtype=np.float32)]
        for m, xs in by_size.items():
            P = np.array([post[x] for x in xs], dtype=np.int32)
            iu, ju = np.triu_indices(m, 1)
            I.append(P[:, iu].ravel())
            J.append(P[:, ju].ravel())
            if counts:
                Q = np.array([vals[x] for x in xs], dtype=np.float32)
                V.append((Q[:, iu] * Q[:, ju]).ravel())
            else:
                V.append(np.ones(len(xs) * len(iu), dtype=np.float32))
        order = np.argsort(np.concatenate(I), kind="stable")
        self.I, self.J, self.V = np.concatenate(I)[order], np.concatenate(J)[order], np.concatenate(V)[order]
        del I, J, V, order

    def block(self, s: int, e: int) -> np.ndarray:
        """Rows s..e-1 against columns s..n-1 (entries with column ≤ row are not meaningful)."""
        n = self.n
        out = (self.dense[s:e] @ self.dense[s:].T).astype(np.float64) if self.dense.shape[1] else np.zeros((e - s, n - s))
        lo, hi = np.searchsorted(self.I, [s, e])
        if hi > lo:
            flat = (self.I[lo:hi].astype(np.int64) - s) * (n - s) + (self.J[lo:hi] - s)
            out += np.bincount(flat, weights=self.V[lo:hi], minlength=(e - s) * (n - s)).reshape(e - s, n - s)
        return out


def _levels(tokens: Sequence[str]) -> set[tuple[str, int]]:
    """A token list as a set in which the dot product of two is their multiset intersection ("the" twice is
    ("the", 1) and ("the", 2))."""
    seen: Counter[str] = Counter()
    out = set()
    for t in tokens:
        seen[t] += 1
        out.add((t, seen[t]))
    return out


class _Scorer:
    """One model's score over a block, accumulated feature by feature (logit units)."""

    def __init__(self, model: ClaimAligner, has_cos: float, shape: tuple[int, int]) -> None:
        self.model = model
        self.w = {k: model.weights[k] / model.scale[k] for k in model.weights}
        self.mu = model.mean
        self.z = np.full(shape, float(model.bias) + self.w.get("has_cos", 0.0) * (has_cos - self.mu.get("has_cos", 0.0)))
        self.logit = math.log(model.threshold / (1 - model.threshold)) if 0 < model.threshold < 1 else -math.inf

    def add(self, k: str, v: np.ndarray | float) -> None:
        if k in self.w:
            self.z += self.w[k] * (v - self.mu[k])

    def reach(self, edit_low: np.ndarray | None) -> np.ndarray:
        """Where the score can still reach the threshold, whatever the pair-by-pair features turn out to be."""
        room = 0.0
        if "num_conflict" in self.w:
            room += max(self.w["num_conflict"] * (0 - self.mu["num_conflict"]), self.w["num_conflict"] * (1 - self.mu["num_conflict"]))
        if "edit" in self.w:
            low = edit_low if edit_low is not None else 0.0
            best = np.maximum(self.w["edit"] * (low - self.mu["edit"]), self.w["edit"] * (1 - self.mu["edit"]))
            return self.z + best + room >= self.logit - 1e-9
        return self.z + room >= self.logit - 1e-9


def _scored_pairs(prints: Sequence[SentencePrint], gid: np.ndarray, vectors: np.ndarray | None,
                  model: ClaimAligner, lang: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i < j, different ``gid``), their probability and the threshold of the model that scored them, for
    every pair whose probability can reach its threshold; pairs left out are below it.  ``lang[i]`` (an
    integer, -1 unknown): pairs of two known, different languages are scored by ``model.cross`` when there
    is one.  Set overlaps come from matrix products; the edit distance and number conflicts are computed pair
    by pair, only for the pairs whose upper bound reaches the threshold."""
    n = len(prints)
    cross = model.cross if lang is not None and model.cross is not None and len(set(lang.tolist()) - {-1}) > 1 else None
    models = [model] + ([cross] if cross is not None else [])
    needs = {k for m in models for k in m.weights if m.weights[k]}
    W = _Gram([p.words for p in prints], gid)
    G = _Gram([p.trigrams for p in prints], gid) if "trigram_cont" in needs else None
    C = _Gram([p.char3 for p in prints], gid, counts=True) if "char3_cos" in needs else None
    N = _Gram([p.names for p in prints], gid) if "name_overlap" in needs else None
    Q = _Gram([set(p.numbers) for p in prints], gid) if "num_shared" in needs else None
    L = _Gram([_levels(p.tokens) for p in prints], gid) if "edit" in needs else None
    n_words = np.array([len(p.words) for p in prints], dtype=np.float64)
    n_content = np.array([p.n_words for p in prints], dtype=np.float64)
    n_tri = np.array([len(p.trigrams) for p in prints], dtype=np.float64)
    n_tok = np.array([len(p.tokens) for p in prints], dtype=np.float64)
    n_names = np.array([len(p.names) for p in prints], dtype=np.float64)
    n_nums = np.array([len(set(p.numbers)) for p in prints], dtype=np.float64)
    c3norm = np.array([p.char3_norm or math.sqrt(sum(v * v for v in p.char3.values())) for p in prints])
    c3norm[c3norm == 0] = 1.0
    has_cos = 1.0 if vectors is not None else 0.0
    head = model.head
    head_half = head.half(vectors) if "head" in needs and head is not None and vectors is not None and head.fits(vectors) else None
    out_i, out_j, out_z, out_x = [], [], [], []
    block = max(1, 600_000 // max(1, n))
    for s in range(0, n, block):
        e = min(n, s + block)  # rows s..e-1 against columns s..n-1 (only j > i is wanted)
        ok = (np.arange(s, n)[None, :] > np.arange(s, e)[:, None]) & (gid[s:e, None] != gid[None, s:])
        if not ok.any():
            continue
        shape = (e - s, n - s)
        scorers = [_Scorer(m, has_cos, shape) for m in models]

        # helpers of this block only (called before the loop moves on, so binding s, e and scorers late is right)
        def both(a: np.ndarray, f: Any, s: int = s, e: int = e) -> np.ndarray:
            return f(a[s:e, None], a[None, s:])

        def dot(m: _Gram, s: int = s, e: int = e) -> np.ndarray:
            return m.block(s, e)

        def add(k: str, v: np.ndarray | float, scorers: list[_Scorer] = scorers) -> None:
            for sc in scorers:
                sc.add(k, v)

        add("cos", (vectors[s:e] @ vectors[s:].T).astype(np.float64) if vectors is not None else 0.0)
        if head_half is not None:
            assert vectors is not None and head is not None
            add("head", head.block(vectors[s:e], vectors[s:], head_half[s:e], head_half[s:]))
        else:
            add("head", 0.0)  # as pair_features has it without vectors
        inter = dot(W)
        union = both(n_words, np.add) - inter
        add("word_jaccard", inter / np.maximum(union, 1))
        add("word_containment", inter / np.maximum(1, both(n_words, np.minimum)))
        add("unmatched", np.log1p(union - inter))
        del inter, union
        add("len_ratio", both(n_content, np.minimum) / both(n_content, np.maximum))
        if G is not None:
            add("trigram_cont", dot(G) / np.maximum(1, both(n_tri, np.minimum)))
        if C is not None:
            add("char3_cos", dot(C) / (c3norm[s:e, None] * c3norm[None, s:]))
        if N is not None:
            fewest = both(n_names, np.minimum)
            add("name_overlap", np.where(fewest > 0, dot(N) / np.maximum(1, fewest), 0.0))
            del fewest
        if Q is not None:
            nums = dot(Q)
            add("num_shared", np.where((n_nums[s:e, None] > 0) & (n_nums[None, s:] > 0),
                                       nums / np.maximum(both(n_nums, np.add) - nums, 1), 0.0))
            del nums
        low = None
        if L is not None:  # edit distance ≥ longer length − common tokens (as a multiset)
            longest = both(n_tok, np.maximum)
            low = np.where(longest > 0, 1 - dot(L) / np.maximum(longest, 1), 0.0)
            del longest
        use_cross = np.zeros(shape, dtype=bool)
        if cross is not None:
            assert lang is not None
            use_cross = (lang[s:e, None] != lang[None, s:]) & (lang[s:e, None] >= 0) & (lang[None, s:] >= 0)
            ok &= np.where(use_cross, scorers[1].reach(low), scorers[0].reach(low))
        else:
            ok &= scorers[0].reach(low)
        ii, jj = np.nonzero(ok)
        if not len(ii):
            continue
        which = use_cross[ii, jj]
        zz = np.where(which, scorers[-1].z[ii, jj], scorers[0].z[ii, jj])
        del scorers, ok, low
        ii += s
        jj += s
        pairs = list(zip(ii.tolist(), jj.tolist()))
        pick = which.astype(int).tolist()
        for k, fn in (("num_conflict", _conflict), ("edit", _edit)):
            wm = [m_.weights.get(k, 0.0) / m_.scale.get(k, 1.0) for m_ in models]
            mm = [m_.mean.get(k, 0.0) for m_ in models]
            if any(wm):
                zz += np.array([wm[c] * (fn(prints[a], prints[b]) - mm[c]) if wm[c] else 0.0
                                for (a, b), c in zip(pairs, pick)])
        out_i.append(ii)
        out_j.append(jj)
        out_z.append(zz)
        out_x.append(which)
    if not out_i:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0), np.zeros(0)
    z = np.concatenate(out_z)
    which = np.concatenate(out_x)
    thresholds = np.where(which, cross.threshold if cross is not None else model.threshold, model.threshold)
    return np.concatenate(out_i), np.concatenate(out_j), 1 / (1 + np.exp(-np.clip(z, -60.0, 60.0))), thresholds


def group_languages(texts: Sequence[str], groups: Sequence[str]) -> list[str | None]:
    """The language of each claim's article, detected once per article on its claims (None when unsure)."""
    from storyloom.enrich.language import LANG_SAMPLE_CHARS, detect_language

    sample: dict[str, list[str]] = {}
    for t, g in zip(texts, groups):
        got = sample.setdefault(g, [])
        if sum(map(len, got)) < LANG_SAMPLE_CHARS:
            got.append(t)
    lang = {g: detect_language(" ".join(ts)) for g, ts in sample.items()}
    return [lang[g] for g in groups]


def _fallback_embed(texts: Sequence[str]) -> np.ndarray | None:
    """Vectors of the fallback embedder (e5: ~100 languages, ~30 sentences/s), None when it is not installed."""
    try:
        from storyloom.embed import get_embedder

        return get_embedder("e5").embed(list(texts))
    except ImportError:
        return None


def _fallback_pairs(prints: Sequence[SentencePrint], texts: Sequence[str], ulangs: Sequence[str | None], model: ClaimAligner,
                    embed: Callable[[Sequence[str]], np.ndarray | None], budget: int
                    ) -> tuple[set[int], list[tuple[int, int, float, float]]]:
    """Pairs of unique claims in two different languages, one of which USE lacks, scored by ``model.fallback``
    on the fallback embedder's vectors: (the claims that got such vectors, the pairs reaching the threshold).

    Only ``budget`` claims are embedded (the fallback model is ~25x slower than USE): first those in languages
    USE lacks, then the others that share the most names and numbers with them (transliterated names cross
    scripts: the likeliest counterparts), then the rest in order; a pair without fallback vectors on both
    sides keeps its USE score."""
    assert model.fallback is not None
    lacking = [u for u, x in enumerate(ulangs) if x is not None and x not in USE_LANGUAGES]
    names = frozenset().union(*(prints[u].names for u in lacking)) if lacking else frozenset()
    numbers = frozenset().union(*(prints[u].numbers for u in lacking)) if lacking else frozenset()
    others = sorted((u for u, x in enumerate(ulangs) if x is not None and x in USE_LANGUAGES),
                    key=lambda u: -(len(prints[u].names & names) + len(numbers.intersection(prints[u].numbers))))
    chosen = (lacking + others)[:budget]
    if not lacking or len({ulangs[u] for u in chosen}) < 2:
        return set(), []
    fvecs = embed([texts[u] for u in chosen])
    if fvecs is None or len(fvecs) != len(chosen):
        return set(), []
    ii, jj, pp, _ = _scored_pairs([prints[u] for u in chosen], np.arange(len(chosen)), np.asarray(fvecs, dtype=np.float32),
                                  model.fallback)
    out = []
    for a, b, p in zip(ii.tolist(), jj.tolist(), pp.tolist()):
        u, v = chosen[a], chosen[b]
        if ulangs[u] != ulangs[v] and (ulangs[u] not in USE_LANGUAGES or ulangs[v] not in USE_LANGUAGES):
            out.append((min(u, v), max(u, v), p, model.fallback.threshold))
    return set(chosen), out


def _remembered(embed: Callable[[Sequence[str]], np.ndarray | None]) -> Callable[[Sequence[str]], np.ndarray | None]:
    """``embed`` that embeds each text once per :func:`align` call: the fallback model (e5, ~30 sentences/s) is
    asked for the same claims by :func:`_fallback_pairs` and :func:`_translation_pairs` (its vectors of a text
    are the same bits in any batch, so a remembered one equals a fresh one)."""
    known: dict[str, np.ndarray] = {}

    def embedded(texts: Sequence[str]) -> np.ndarray | None:
        todo = list(dict.fromkeys(t for t in texts if t not in known))
        if todo:
            got = embed(todo)
            if got is None or len(got) != len(todo):
                return None
            known.update(zip(todo, np.asarray(got, dtype=np.float32)))
        return np.vstack([known[t] for t in texts]) if texts else None

    return embedded


def _translation_pairs(keep: dict[tuple[int, int], float], ga: str, gb: str, texts: Sequence[str],
                       groups: Sequence[str], langs: Sequence[str | None], vecs: np.ndarray | None,
                       prints: Sequence[SentencePrint], model: ClaimAligner,
                       embed: Callable[[Sequence[str]], np.ndarray | None], budget: int) -> dict[tuple[int, int], float]:
    """``keep`` with the pairs between articles ``ga`` and ``gb`` (translations of each other) replaced by
    those on the best monotone path of their claims (compare/parallel.py).  USE's vectors where it covers
    both languages, else the fallback embedder's for the first ``budget`` claims of the two (leads first: a
    translation's order holds from its start).  Each pair keeps the probability the aligner's part for that
    language pair gives it -- a pair may be taken below that part's threshold: its place in the order is the
    evidence.  Without vectors the pairs stay as scored."""
    from storyloom.compare.parallel import RAW_FLOOR, monotone_pairs

    ia = [i for i, g in enumerate(groups) if g == ga]
    ib = [i for i, g in enumerate(groups) if g == gb]
    if not ia or not ib:
        return keep
    la, lb = langs[ia[0]], langs[ib[0]]
    part = model.cross if la != lb and model.cross is not None else model
    name = "use-m3"
    if vecs is not None and (la == lb or (la in USE_LANGUAGES and lb in USE_LANGUAGES)):
        va, vb = vecs[ia], vecs[ib]
    else:
        half = max(1, budget // 2)
        ia, ib = ia[:half], ib[:half]
        got = embed([texts[i] for i in ia + ib])
        if got is None or len(got) != len(ia) + len(ib):
            return keep
        got = np.asarray(got, dtype=np.float32)
        va, vb = got[: len(ia)], got[len(ia):]
        part = model.fallback or part
        name = str(part.meta.get("embedder", ""))
    sim = (va @ vb.T).astype(np.float64)
    path = monotone_pairs(sim, RAW_FLOOR.get(name, 1.0))
    pair_set = {ga, gb}
    out = {k: p for k, p in keep.items() if {groups[k[0]], groups[k[1]]} != pair_set}
    for a, b in path:
        i, j = ia[a], ib[b]
        cos = float(sim[a, b])
        head = part.head_of(va[a], vb[b]) if name == "use-m3" else None
        p = part.proba([pair_features(prints[i], prints[j], cos, head)])[0]
        out[(min(i, j), max(i, j))] = p
    return out


def _views(texts: Sequence[str], members: Sequence[Sequence[int]], prints: Sequence[SentencePrint],
           uvecs: np.ndarray | None, clause_views: bool,
           embed: Callable[[Sequence[str]], np.ndarray | None] | None) -> tuple[np.ndarray, list[SentencePrint], np.ndarray | None]:
    """(the claim each view belongs to, the views' prints, their vectors): every claim's own sentence first,
    then its fact clauses (:func:`storyloom.compare.views.views`) when ``clause_views``.  The clauses are
    embedded by ``embed`` (default: :func:`sentence_vectors`); where vectors are wanted and cannot be had,
    claims keep their one view."""
    from storyloom.compare.views import views

    parent = list(range(len(members)))
    vprints = list(prints)
    extra: list[str] = []
    if clause_views:
        for u, m in enumerate(members):
            for v in views(texts[m[0]])[1:]:
                parent.append(u)
                extra.append(v)
    if not extra:
        return np.arange(len(members)), vprints, uvecs
    vecs = uvecs
    if uvecs is not None:
        got = (embed or sentence_vectors)(extra)
        if got is None or len(got) != len(extra) or got.shape[1] != uvecs.shape[1]:
            return np.arange(len(members)), vprints, uvecs
        vecs = np.vstack([uvecs, np.asarray(got, dtype=uvecs.dtype)])
    vprints.extend(SentencePrint.of(v) for v in extra)
    return np.asarray(parent, dtype=np.int64), vprints, vecs


# claims per story embedded by the fallback model, only in a story with a language USE lacks: ~4 s of e5 on one
# core at its ~30 sentences/s (300 took 47-88 s in a 50-article story on a loaded 2-core machine)
FALLBACK_BUDGET = 120


def align(texts: Sequence[str], groups: Sequence[str], vectors: np.ndarray | None = None,
          aligner: ClaimAligner | None = None,
          languages: Sequence[str | None] | None = None,
          fallback_embed: Callable[[Sequence[str]], np.ndarray | None] | None = None,
          fallback_budget: int = FALLBACK_BUDGET, clause_views: bool = True,
          view_embed: Callable[[Sequence[str]], np.ndarray | None] | None = None,
          translated: Collection[tuple[str, str]] = (),
          ) -> tuple[list[list[int]], dict[tuple[int, int], float]]:
    """Rows of aligned claims: connected components of the pairs the model accepts, only across different
    articles (``groups[i]`` is claim i's article).  Returns the rows (lists of claim indices, each sorted)
    and the accepted pairs with their probability (the evidence for each row).

    ``languages[i]`` is claim i's language (None: unknown); when not given, each article's language is
    detected from its claims.  Pairs in two known, different languages are scored by the model's
    cross-lingual part (when it has one), since word overlap says nothing there; when one of the two is a
    language USE lacks (Icelandic, Ukrainian...) and the model has a fallback part, by that part on the
    vectors of ``fallback_embed`` (default: e5), for at most ``fallback_budget`` claims (see
    :func:`_fallback_pairs`).

    ``clause_views``: each claim is also scored through the fact clauses inside it (compare/views.py), embedded
    by ``view_embed`` (default: USE); a pair of claims is accepted through its best pair of views, and mutual
    best holds per view, so one sentence with two facts can meet two sentences of another article.

    ``translated``: pairs of groups (articles) known to be translations of each other (the copies stage's
    verdict).  Between those two, claims are paired by their order instead (:func:`_translation_pairs`)."""
    n = len(texts)
    if len(set(groups)) < 2:  # one article: every claim is its own row
        return [[i] for i in range(n)], {}
    model = aligner or ClaimAligner.load()
    vecs = vectors if vectors is not None and len(vectors) == n else None
    langs = list(languages) if languages is not None else (group_languages(texts, groups) if model.cross or model.fallback
                                                           else [None] * n)
    lcode: dict[str | None, int] = {None: -1}
    lang_id = [lcode.setdefault(x, len(lcode) - 1) for x in langs]
    # identical claims (wire copies, repeated boilerplate) are scored once: unique (text, vector, language)
    key_of: dict[Any, int] = {}
    uniq = [key_of.setdefault((t, vecs[i].tobytes() if vecs is not None else b"", lang_id[i]), len(key_of))
            for i, t in enumerate(texts)]
    members: list[list[int]] = [[] for _ in key_of]
    for i, u in enumerate(uniq):
        members[u].append(i)
    prints = [SentencePrint.of(texts[m[0]]) for m in members]
    uvecs = vecs[[m[0] for m in members]] if vecs is not None else None
    ulang = np.array([lang_id[m[0]] for m in members], dtype=np.int64)
    # views: each claim, then the fact clauses inside it (compare/views.py), scored as sentences of their own
    vparent, vprints, vvecs = _views(texts, members, prints, uvecs, clause_views, view_embed)
    vlang = ulang[vparent]
    primary = np.arange(len(members))  # _views puts each claim's own sentence first, at the claim's index
    scored: list[tuple[int, int, float, float]] = []  # (view, view, probability, threshold)
    for u, m in enumerate(members):  # a claim and its copies in other articles
        if len({groups[i] for i in m}) > 1:
            vec = uvecs[u] if uvecs is not None else None
            cos = float(vec @ vec) if vec is not None else None
            feats = pair_features(prints[u], prints[u], cos, model.head_of(vec, vec))
            scored.append((int(primary[u]), int(primary[u]), model.proba([feats])[0], model.threshold))
    aa, bb, pp, tt = _scored_pairs(vprints, vparent, vvecs, model, vlang)
    rescored: set[int] = set()
    fallback = _remembered(fallback_embed or _fallback_embed)
    if model.fallback is not None and uvecs is not None and fallback_budget > 0:
        ulangs = [langs[m[0]] for m in members]
        rescored, extra = _fallback_pairs(prints, [texts[m[0]] for m in members], ulangs, model,
                                          fallback, fallback_budget)
        scored.extend((int(primary[u]), int(primary[v]), p, t) for u, v, p, t in extra)
    is_primary = np.zeros(len(vparent), dtype=bool)
    is_primary[primary] = True
    for a, b, p, t in zip(aa.tolist(), bb.tolist(), pp.tolist(), tt.tolist()):
        u, v = int(vparent[a]), int(vparent[b])
        if ulang[u] != ulang[v] and ulang[u] >= 0 and ulang[v] >= 0:
            if not (is_primary[a] and is_primary[b]):
                continue  # clause views are English patterns: across languages a claim is its whole sentence
            if u in rescored and v in rescored and \
                    (langs[members[u][0]] not in USE_LANGUAGES or langs[members[v][0]] not in USE_LANGUAGES):
                continue  # scored by the fallback part instead
        scored.append((a, b, p, t))
    # every accepted pair of views, expanded to the articles' claims (a claim's copies share its views)
    accepted: dict[tuple[int, int, int, int], float] = {}  # (claim i, view of i, claim j, view of j), i < j
    for a, b, p, t in scored:
        if p < t:
            continue
        for i in members[int(vparent[a])]:
            for j in members[int(vparent[b])]:
                if groups[i] != groups[j]:
                    key = (i, a, j, b) if i < j else (j, b, i, a)
                    accepted[key] = max(p, accepted.get(key, 0.0))
    # mutual best per view and other article keeps one sentence from pulling a whole article into a row, while a
    # sentence with two facts may still meet two sentences of another article, one through each fact's view
    best: dict[tuple[int, int, str], tuple[float, int, int]] = {}
    for (i, a, j, b), p in sorted(accepted.items()):
        for x, vx, y, vy in ((i, a, j, b), (j, b, i, a)):
            slot = (x, vx, groups[y])
            if p > best.get(slot, (-1.0, -1, -1))[0]:
                best[slot] = (p, y, vy)
    keep: dict[tuple[int, int], float] = {}
    for (i, a, j, b), p in sorted(accepted.items()):
        if best[(i, a, groups[j])][1:] == (j, b) and best[(j, b, groups[i])][1:] == (i, a):
            keep[(i, j)] = max(p, keep.get((i, j), 0.0))
    claim_prints = [prints[u] for u in uniq] if translated else []
    for ga, gb in translated:
        if ga != gb:
            keep = _translation_pairs(keep, ga, gb, texts, groups, langs, vecs, prints=claim_prints,
                                      model=model, embed=fallback, budget=fallback_budget)
    keep = dict(sorted(keep.items()))
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
