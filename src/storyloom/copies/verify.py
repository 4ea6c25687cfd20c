"""Verification of a candidate pair on the real texts: LSH and sentence keys only propose, this decides.

Scores are exact set overlaps of word shingles (not MinHash estimates): Jaccard for near-duplicates,
the asymmetric containment |A∩B|/|A| for trimmed or wrapped copies, with the direction recorded.  Short
texts need stricter thresholds, since two one-paragraph texts on the same event can share most words.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from storyloom.copies.fingerprint import exact_key_of_folded, fold, shingles, words, words_of_folded
from storyloom.enrich.sentences import split_sentences

NEAR_DUP_JACCARD = 0.6
CONTAINMENT = 0.75
SHORT_WORDS = 60  # below this many words (the smaller text), both thresholds rise
SHORT_NEAR_DUP_JACCARD = 0.8
SHORT_CONTAINMENT = 0.9
MAX_EVIDENCE = 5


@dataclass(frozen=True)
class TextPrint:
    """What verification needs of one text, computed once per article.

    The sentences are split only when asked for (the evidence of a verified pair, the sentence keys of an
    article being fingerprinted): most candidates fail verification and never need them."""

    exact: str
    n_words: int
    shingles: frozenset[str]
    text: str = field(repr=False, compare=False)

    @classmethod
    def of(cls, text: str) -> TextPrint:
        folded = fold(text)  # words() and exact_key() from one pass
        w = words_of_folded(folded)
        return cls(exact_key_of_folded(folded), len(w), frozenset(shingles(w)), text)

    @functools.cached_property
    def sentences(self) -> tuple[str, ...]:
        return tuple(split_sentences(self.text))

    @functools.cached_property
    def sentence_shingles(self) -> tuple[frozenset[str], ...]:
        """Shingles of the first 400 sentences: kept, since a text in a heap of copies is aligned again and again."""
        return sentence_shingles(self.sentences)


@dataclass(frozen=True)
class Verdict:
    kind: str  # exact | near_duplicate | containment
    score: float
    direction: str  # "same", or "a_in_b" / "b_in_a" for containment
    jaccard: float
    containment_a: float  # share of A's shingles found in B
    containment_b: float
    evidence: list[dict[str, Any]] = field(default_factory=list)


def sentence_shingles(sentences: tuple[str, ...]) -> tuple[frozenset[str], ...]:
    return tuple(frozenset(shingles(words(s))) for s in sentences[:400])


def align_sentences(a: tuple[str, ...], b: tuple[str, ...], limit: int = MAX_EVIDENCE,
                    a_sh: tuple[frozenset[str], ...] | None = None,
                    b_sh: tuple[frozenset[str], ...] | None = None) -> list[dict[str, Any]]:
    """Pairs of sentences that match (shingle overlap ≥ 0.5 of the shorter), best first: the evidence.
    ``a_sh``/``b_sh``: the sentences' shingles when the caller keeps them (a text verified many times)."""
    a_sh = sentence_shingles(a) if a_sh is None else a_sh
    bs = list(enumerate(sentence_shingles(b) if b_sh is None else b_sh))
    index: dict[str, list[int]] = {}
    for j, sh in bs:
        for x in sh:
            index.setdefault(x, []).append(j)
    pairs: list[dict[str, Any]] = []
    for i, sa in enumerate(a_sh):
        if len(sa) < 3:
            continue
        hits: dict[int, int] = {}
        for x in sa:
            for j in index.get(x, ()):
                hits[j] = hits.get(j, 0) + 1
        if not hits:
            continue
        j, n = max(hits.items(), key=lambda kv: (kv[1], -kv[0]))
        score = n / min(len(sa), len(bs[j][1]))
        if score >= 0.5:
            pairs.append({"a": i, "b": j, "score": round(score, 3), "a_text": a[i][:300], "b_text": b[j][:300]})
    pairs.sort(key=lambda p: (-p["score"], p["a"]))
    return pairs[:limit]


def verify(a: TextPrint, b: TextPrint) -> Verdict | None:
    """The copy relation between two texts, or None when they are not copies."""
    if not a.shingles or not b.shingles:
        return None
    if a.exact == b.exact:
        return Verdict("exact", 1.0, "same", 1.0, 1.0, 1.0)
    inter = len(a.shingles & b.shingles)
    if inter == 0:
        return None
    jac = inter / len(a.shingles | b.shingles)
    ca, cb = inter / len(a.shingles), inter / len(b.shingles)
    short = min(a.n_words, b.n_words) < SHORT_WORDS
    near = SHORT_NEAR_DUP_JACCARD if short else NEAR_DUP_JACCARD
    contain = SHORT_CONTAINMENT if short else CONTAINMENT
    if jac >= near:
        kind, score, direction = "near_duplicate", jac, "same"
    elif max(ca, cb) >= contain:
        kind, score = "containment", max(ca, cb)
        direction = "a_in_b" if ca >= cb else "b_in_a"
    else:
        return None
    return Verdict(kind, round(score, 4), direction, round(jac, 4), round(ca, 4), round(cb, 4),
                   align_sentences(a.sentences, b.sentences, a_sh=a.sentence_shingles, b_sh=b.sentence_shingles))
