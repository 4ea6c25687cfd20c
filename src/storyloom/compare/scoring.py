"""Every cross-article claim pair of a story scored at once, exactly as :func:`~storyloom.compare.features.pair_features` would.

No Python loop over all pairs: identical claims are scored once; the cosine and the features that are overlaps
of sets or counts (words, word trigrams, character trigrams, names, numbers) come from sparse/dense products of
small integers, exactly; a lower bound of the edit distance (from the tokens two sentences share) then discards
the pairs that cannot reach the threshold, and only the pairs left get their edit distance and number conflicts
computed one by one.  Kept apart from compare/align.py (which decides *which* pairs a story pairs: views,
translations, the e5 fallback) because this is the numeric kernel, tested against the one-pair definition.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from storyloom.compare.features import ClaimAligner, SentencePrint, edit_distance, number_conflict


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


def scored_pairs(prints: Sequence[SentencePrint], gid: np.ndarray, vectors: np.ndarray | None,
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
        for k, fn in (("num_conflict", number_conflict), ("edit", edit_distance)):
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
