"""Which sentence translates which, between two articles the copies stage found to be translations.

Why a second way of pairing sentences: the claim aligner judges each pair of sentences on its own, and across
languages all it has is a cosine and shared names or numbers -- a threshold that keeps precision among unrelated
sentences of a story misses many true counterparts (the wmt21 dev half: Japanese-English recall 0.88, Icelandic
0.75).  Two articles that are translations of each other say much more: their sentences come in the same order.
This is what bilingual sentence aligners have done since Gale & Church (1993); here in the way of vecalign
(Thompson & Koehn, 2019): a monotone path through the two articles' similarity matrix, allowed to skip a
sentence or to join two sentences of one side to one of the other (a translator splits and merges sentences),
scored by *margin* -- a pair's cosine over the mean of each side's best few cosines (Artetxe & Schwenk, 2019).
The margin is what makes one threshold work for every model: e5 packs all its cosines into 0.7-0.95 and USE
spreads them over 0.1-0.9, but a true counterpart stands out from a sentence's other candidates in both.

Chosen on the wmt21 dev half only (``bench/sentence_models.py``, section 6), with and without a fifth of one
side's sentences joined in pairs: a pair is kept when its margin is at least 1 (as close as the mean of the
two sentences' four best candidates) and its cosine at least the model's floor (a guard for articles of one
or two sentences, where a margin means little).
"""

from __future__ import annotations

import numpy as np

MARGIN_K = 4
MIN_MARGIN = 1.0
# cosine floors per embedder (its name): below them a pair is never taken, whatever its margin
RAW_FLOOR = {"use-m3": 0.30, "e5-small-q4": 0.78}


def margins(sim: np.ndarray, k: int = MARGIN_K) -> np.ndarray:
    """Each cosine over the mean of the two sentences' ``k`` best cosines (ratio margin)."""
    k = max(1, min(k, sim.shape[0], sim.shape[1]))
    rows = -np.sort(-sim, axis=1)[:, :k].mean(axis=1)
    cols = -np.sort(-sim, axis=0)[:k, :].mean(axis=0)
    denom = (rows[:, None] + cols[None, :]) / 2
    return np.divide(sim, denom, out=np.zeros_like(sim, dtype=np.float64), where=denom > 0)


def monotone_pairs(sim: np.ndarray, floor: float, min_margin: float = MIN_MARGIN) -> list[tuple[int, int]]:
    """The pairs (i, j) on the best monotone path through ``sim`` (rows: one article's sentences in order,
    columns: the other's).  Steps: skip a sentence of either side, pair two sentences, or pair one sentence
    with two consecutive ones of the other side (both pairs returned).  A pair gains its margin minus
    ``min_margin`` and is allowed only where that gain is positive and the cosine reaches ``floor``: the path
    takes every counterpart it can while staying in order, and nothing below the bar."""
    n, m = sim.shape
    if not n or not m:
        return []
    gain = margins(sim) - min_margin
    gain = np.where((gain >= 0) & (sim >= floor), gain, -np.inf).tolist()
    score = [[0.0] * (m + 1) for _ in range(n + 1)]
    step = [[0] * (m + 1) for _ in range(n + 1)]  # 1 skip i, 2 skip j, 3 pair, 4 one-to-two, 5 two-to-one
    for i in range(n + 1):
        row, prev = score[i], score[i - 1] if i else None
        for j in range(m + 1):
            if not i and not j:
                continue
            best, how = -1.0, 0
            if i and prev is not None and prev[j] > best:
                best, how = prev[j], 1
            if j and row[j - 1] > best:
                best, how = row[j - 1], 2
            if i and j and prev is not None:
                g = gain[i - 1][j - 1]
                if g >= 0 and prev[j - 1] + g > best:
                    best, how = prev[j - 1] + g, 3
                if j > 1:
                    g2 = gain[i - 1][j - 2]
                    if g >= 0 and g2 >= 0 and prev[j - 2] + g + g2 > best:
                        best, how = prev[j - 2] + g + g2, 4
                if i > 1:
                    g2 = gain[i - 2][j - 1]
                    if g >= 0 and g2 >= 0 and score[i - 2][j - 1] + g + g2 > best:
                        best, how = score[i - 2][j - 1] + g + g2, 5
            row[j], step[i][j] = best, how
    out: list[tuple[int, int]] = []
    i, j = n, m
    while i or j:
        how = step[i][j]
        if how == 1:
            i -= 1
        elif how == 2:
            j -= 1
        elif how == 3:
            out.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif how == 4:
            out += [(i - 1, j - 1), (i - 1, j - 2)]
            i, j = i - 1, j - 2
        else:
            out += [(i - 1, j - 1), (i - 2, j - 1)]
            i, j = i - 2, j - 1
    return sorted(out)
