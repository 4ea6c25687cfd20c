"""Translated copies: B is a translation of A.

A cascade, cheap signals first:

1. **candidates** — articles in another language that share language-independent *anchors* with this one
   (numbers, names transliterated to ASCII), or whose title + lead embedding is among the nearest;
2. **cheap refusals** — no embedding at all for a pair whose sentence counts differ by more than half, or whose
   numbers disagree (each has three or more, none shared: a translation keeps its source's figures); before
   any sentence alignment (step 4), also sentence counts further apart than a translation's, and between two
   Latin-script languages anchors that meet less than a translation's; before the slow model, all of these
   and anchors that barely meet;
3. **document cosine** — title + lead embeddings with a model that covers both languages (USE where it can,
   the slower e5 only for the languages USE lacks, see :mod:`storyloom.embed`; e5's title + lead vector is its
   title and first-sentence rows summed, which step 4 reuses): a low floor, only to spare the next step the
   plainly unrelated;
4. **sentence alignment** — the two texts' first sentences embedded (once per article version, cached) and
   aligned along the diagonal (:mod:`storyloom.copies.crossalign`): a translation keeps the order and number
   of its source's sentences, a same-event report in another language does not.  The aligned sentence pairs
   are the link's evidence.  With the slow model, the first sentences first: the rest only when those leave
   the pair undecided (``crossalign.CASCADE``).

The anchors' overlap and order are kept in a link's details (what a reader checks), no longer as a gate: names
are capitalised in English and German but not in Japanese, and a translator's "President Putin" against the
source's "Путин" made the order test refuse a third of the Russian and Japanese translations.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

from storyloom.copies import crossalign
from storyloom.enrich.anchors import anchor_keys, anchors_in
from storyloom.enrich.scripts import LATIN_SCRIPT, unsplit
from storyloom.enrich.sentences import split_sentences
from storyloom.offered import Offered

__all__ = ["anchor_keys", "anchors_in", "split_sentences"]  # the search and the batch read anchors through here

MIN_ANCHORS_FOR_ORDER = 3
MIN_SENTENCE_RATIO = 0.5
MIN_NUMBERS = 3  # numbers each text needs before "none shared" refuses the pair

# Floors of the title + lead cosine per model, below which a pair is not aligned: cost only, the sentence
# alignment decides.  Dev split: the lowest translation was 0.42 (USE); these floors let 1.2% of other
# cross-language pairs through.  Unlisted model: 0.9.  e5's lead is the normalised sum of its title and
# first-sentence rows (crossalign.Cascade.lead_rows), whose cosines sit higher than its own passage's (0.79-0.95):
# on the dev split (en-is, the 186 pairs past the cheap refusals) the lowest translation was at 0.860 (0.819 with
# the passage), other documents up to 0.875 (0.829); 0.84 keeps the passage's margin under the lowest translation
# and lets 30 of the 93 others through (12 at 0.80 with the passage), which the alignment refuses.
COSINE_FLOOR = {"use-m3": 0.35, "e5-small-q4": 0.84}
# A pair is *sure* — confirmed without aligning its sentences — when its title + lead cosine reaches this and its
# anchors agree in overlap and order (≥ SURE_ANCHORS each).  Dev split: 313 of 468 (USE) and, with its passage, 66 of 93 (e5) of the
# translations reaching the floor were sure, none of the 1,280 other documents was (the highest of those had
# anchor overlap 0.44, order 0.2; same-event reports such as gazeta.ru/aif.ru on one story reach a cosine of 0.71
# with overlap 0.1-0.2).  The rest, the uncertain pairs, are aligned.  e5 (lead of rows, see COSINE_FLOOR), dev:
# no other document reaches 0.88 (the highest 0.875, the two whose anchors agree 0.856 and 0.850), 85 of the 93
# translations are sure there (67 at 0.86 with the passage).
SURE = {"use-m3": 0.65, "e5-small-q4": 0.88}
SURE_ANCHORS = 0.5
# Before the slow model (languages the fast one lacks) embeds a pair: anchors that barely meet refuse it.  Dev: the
# lowest overlap of a translation was 0.22 (ru-en, English capitalises titles Russian does not) and 0.57 for en-is.
WIDE_MIN_OVERLAP = 0.2
# ... and so do sentence counts further apart than a translation's (MIN_SENTENCE_RATIO, 0.5, is the bar of every
# pair).  Dev split of bench/translations.py, every (source, translation) pair: the lowest ratio was 0.714 (ru-en),
# 0.778 (en-is), 0.80 (ja-en, de-fr); 0.6 leaves 0.11 below the lowest.  On the real texts of bench/pipeline.py,
# 56 of the 336 pairs that reached e5 were below 0.6 (26 of its 294 articles embedded only for them), none linked.
WIDE_MIN_RATIO = 0.6
# ... and, between two languages written in the Latin script, anchors that meet less than a translation's do there.
# WIDE_MIN_OVERLAP (0.2) is the bar of every script: Russian writes no capital where English does ("президент" /
# "President"), so a ru-en translation's anchors meet at 0.22 on the dev split.  Two Latin-script texts capitalise
# the same names and write the same digits: on the dev split the lowest overlap of a translation was 0.50 (de-fr)
# and 0.52 (en-is, the one pair of the slow model there); 0.4 leaves 0.10 below both.  On the real texts of
# bench/pipeline.py, 152 of the 280 pairs that reached the slow model were not linked; 130 of them (en-is, fr-is,
# de-is) had anchors meeting under 0.4, every linked pair 0.47 or more: 66 fewer articles embedded.
# WIDE_MIN_RATIO and WIDE_MIN_OVERLAP_LATIN also refuse the fast model's uncertain pairs before their sentences are
# embedded (refused_before_sentences; the dev split's figures above are of every pair, both models').  On the real
# texts of bench/pipeline.py the fast model aligned 966 pairs, 208 linked (ratio >= 0.667; Latin-script overlap
# >= 0.40, one de-fr pair exactly at the bar: see bench/README.md, session 25): 181 unlinked ones had a ratio under
# 0.6, 292 were Latin-script pairs meeting under 0.4 (405 in all); 2,900 of its 8,191 sentence rows were embedded
# only for them.
# The bar is 0.3, not the 0.4 the dev split alone allowed (session 24): a real de-fr translation of those texts met
# at exactly 0.40 (5 French anchors against 33 German), so the dev split's margin does not hold for news it has
# not seen; 0.3 leaves 0.1 below the lowest translation seen anywhere, for a little of the saving (the bar only
# spares CPU; a pair it refuses wrongly is a translation lost).
# (Which languages are Latin-script: storyloom.enrich.scripts, the one table of scripts.)
WIDE_MIN_OVERLAP_LATIN = 0.3


def register_model(embedder: object) -> None:
    """Take a plugged-in model's own thresholds (``translation_thresholds = {"floor": …, "sure": …, "align": …,
    "align_short": …}`` on its class: title + lead cosine floor, the sure cosine, the sentence-alignment bar and
    that of a short pair, see :mod:`storyloom.copies.crossalign`), measured by whoever
    plugs it in; a model without them is never trusted (its pairs are refused), as before.  Read in every
    process that judges pairs (a Spark worker too), so a model carries its calibration with it."""
    own = getattr(embedder, "translation_thresholds", None)
    name = getattr(embedder, "name", None)
    if not own or not name:
        return
    COSINE_FLOOR.setdefault(name, float(own["floor"]))
    SURE.setdefault(name, float(own["sure"]))
    crossalign.ALIGN.setdefault(name, float(own["align"]))
    crossalign.SHORT_ALIGN.setdefault(name, float(own.get("align_short", own["align"])))


def _lcs(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence of the first 300 of each, bit-parallel (Hyyrö 2004: one row of
    the DP table is the bits of one integer, so a row costs a few big-integer operations instead of a Python
    loop over its cells; the same number, tests/test_properties.py checks it against the table)."""
    a, b = a[:300], b[:300]
    masks: dict[str, int] = {}
    for j, y in enumerate(b):
        masks[y] = masks.get(y, 0) | (1 << j)
    full = (1 << len(b)) - 1
    v = full
    for x in a:
        u = v & masks.get(x, 0)
        v = ((v + u) | (v - u)) & full
    return len(b) - v.bit_count()


@dataclass(frozen=True)
class TransPrint:
    language: str | None
    n_sentences: int
    anchors: tuple[str, ...]
    sentences: tuple[str, ...]
    # each sentence's own anchors (``anchors`` is their concatenation), for the evidence of a sure pair, which
    # otherwise found them again sentence by sentence for every pair an article was in
    by_sentence: tuple[tuple[str, ...], ...] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, text: str, language: str | None) -> TransPrint:
        """The print of a text; memoised, because one chunk asks for each of its articles' prints three times
        (anchors to store, candidates, verification) and splitting plus anchors is a quarter of the search."""
        return _print_of(text, language)

    @cached_property  # asked of every pair a print is in (20,316 times on the real texts of bench/pipeline.py)
    def numbers(self) -> frozenset[str]:
        """The numbers, a year also as its last two digits (Japanese and Korean news often write '13 for 2013)."""
        out = {x for x in self.anchors if x.startswith("#")}
        out |= {f"#{int(x[1:]) % 100}" for x in out if x[1:].isdigit() and 1900 <= int(x[1:]) < 2100}
        return frozenset(out)


PRINTS_OFFERED_MAX = 4096
# prints computed elsewhere (a cleaning worker, storyloom.lookahead) by TransPrint.of, by (text, language)
OFFERED: Offered[tuple[str, str | None], TransPrint] = Offered("translation prints", PRINTS_OFFERED_MAX)


# a chunk (200) plus its candidates: on the real texts of bench/pipeline.py a chunk's anchor candidates named
# 570-1,370 articles, the same ones chunk after chunk, so 1,024 entries made most prints again; keys are the
# texts, freed as the cache turns
@lru_cache(maxsize=4096)
def _print_of(text: str, language: str | None) -> TransPrint:
    got = OFFERED.take((text, language))
    return got if got is not None else make_print(text, language)


def make_print(text: str, language: str | None) -> TransPrint:
    """:meth:`TransPrint.of` without its cache: what a cleaning worker computes ahead (it never asks for a print
    twice, and a cache there held 4,096 texts with their sentences in every worker for nothing)."""
    sents = tuple(split_sentences(text))
    per = tuple(tuple(anchors_in((s,))) for s in sents)
    return TransPrint(language, len(sents), tuple(x for one in per for x in one), sents, per)


def sentence_ratio(a: TransPrint, b: TransPrint) -> float:
    return min(a.n_sentences, b.n_sentences) / max(a.n_sentences, b.n_sentences, 1)


def rejected_before_cosine(a: TransPrint, b: TransPrint) -> bool:
    """Whether :func:`verify_translation` says no whatever the embeddings: the search then skips embedding the
    pair (the slow model's passages were most of its cost)."""
    return _refused(a, b)


def refused_before_sentences(a: TransPrint, b: TransPrint) -> bool:
    """Whether a pair is refused before its sentences are embedded and aligned (what an uncertain pair of the
    fast model costs: its sentence matrices): sentence counts further apart than any translation's
    (``WIDE_MIN_RATIO``), or, between two languages written in the Latin script, anchors that meet less than any
    translation's there (``WIDE_MIN_OVERLAP_LATIN``).  Cost only: on the dev split no translation comes near
    either bar (lowest ratio 0.714, lowest Latin-script overlap 0.50).  Not the bar of every script
    (``WIDE_MIN_OVERLAP``): on the dev split a ja-en translation's anchors can share nothing (Japanese writes
    no capitals; lowest overlap 0.0), and on the real texts of bench/pipeline.py 15 linked ru-en / ja-en pairs of
    the fast model met under 0.2.  A *sure* pair (:func:`sure_translation`) needs no sentences and is not asked.
    The ratio is not asked of a language whose sentences the splitter cannot find (Thai: paragraphs only), where
    it counts paragraphs and the dev split says nothing."""
    if sentence_ratio(a, b) < WIDE_MIN_RATIO and not (unsplit(a.language) or unsplit(b.language)):
        return True
    if a.language not in LATIN_SCRIPT or b.language not in LATIN_SCRIPT:
        return False
    overlap = _anchor_overlap(a, b)
    return overlap is not None and overlap < WIDE_MIN_OVERLAP_LATIN


def refused_before_slow_model(a: TransPrint, b: TransPrint) -> bool:
    """Whether a pair only the slow model covers is refused before it embeds: what :func:`refused_before_sentences`
    refuses, and anchors that barely meet in any script (under ``WIDE_MIN_OVERLAP``).  Cost only: on the dev split
    no translation of the slow model's languages comes near any of these bars."""
    if refused_before_sentences(a, b):
        return True
    overlap = _anchor_overlap(a, b)
    return overlap is not None and overlap < WIDE_MIN_OVERLAP


def _refused(a: TransPrint, b: TransPrint) -> bool:
    if not a.language or not b.language or a.language == b.language:
        return True
    if sentence_ratio(a, b) < MIN_SENTENCE_RATIO:
        return True
    na, nb = a.numbers, b.numbers
    return len(na) >= MIN_NUMBERS and len(nb) >= MIN_NUMBERS and not (na & nb)


def _anchor_overlap(a: TransPrint, b: TransPrint) -> float | None:
    """The share of the smaller anchor set the other holds, or None when either text has too few anchors to
    judge (what the bars before the sentence matrices and the slow model read: sets, not the order's LCS)."""
    if len(a.anchors) < MIN_ANCHORS_FOR_ORDER or len(b.anchors) < MIN_ANCHORS_FOR_ORDER:
        return None
    sa, sb = set(a.anchors), set(b.anchors)
    return len(sa & sb) / min(len(sa), len(sb))  # German capitalises nouns: compare to the smaller set


def _anchor_agreement(a: TransPrint, b: TransPrint) -> tuple[float, float] | None:
    """(overlap, order) of two texts' anchors, or None when either has too few to judge order."""
    overlap = _anchor_overlap(a, b)
    if overlap is None:
        return None
    shortest = min(len(a.anchors), len(b.anchors))
    if sum((Counter(a.anchors) & Counter(b.anchors)).values()) == 0:
        return overlap, 0.0
    return overlap, _lcs(list(a.anchors), list(b.anchors)) / shortest


@dataclass(frozen=True)
class TransVerdict:
    score: float
    details: dict[str, Any]
    evidence: list[dict[str, Any]]


def _evidence(a: TransPrint, b: TransPrint, limit: int = 5) -> list[dict[str, Any]]:
    """Sentence pairs that carry the same anchors: readable proof that one text follows the other (for a pair
    confirmed without its sentences' embeddings)."""
    sa = [set(x) for x in _per_sentence(a)[:200]]
    sb = [set(x) for x in _per_sentence(b)[:200]]
    pairs: list[dict[str, Any]] = []
    for i, x in enumerate(sa):
        if len(x) < 2:
            continue
        best = max(range(len(sb)), key=lambda j: (len(x & sb[j]), -abs(j - i)), default=None)
        if best is None:
            continue
        shared = x & sb[best]
        if len(shared) >= 2:
            pairs.append({"a": i, "b": best, "score": round(len(shared) / len(x | sb[best]), 3),
                          "a_text": a.sentences[i][:300], "b_text": b.sentences[best][:300], "anchors": sorted(shared)})
    pairs.sort(key=lambda p: (-p["score"], p["a"]))
    return pairs[:limit]


def anchors_agree(a: TransPrint, b: TransPrint) -> bool:
    """Whether two texts' anchors agree in overlap and order as a sure pair's must (``SURE_ANCHORS`` each)."""
    agreement = _anchor_agreement(a, b)
    return agreement is not None and min(agreement) >= SURE_ANCHORS


def _per_sentence(p: TransPrint) -> tuple[tuple[str, ...], ...]:
    if p.by_sentence is not None:
        return p.by_sentence
    return tuple(tuple(anchors_in((s,))) for s in p.sentences[:200])


def sure_translation(a: TransPrint, b: TransPrint, cosine: float, model: str) -> TransVerdict | None:
    """The verdict on a pair whose cosine and anchors leave no doubt (see ``SURE``), else None: the pair is then
    uncertain and :func:`verify_translation` decides on its aligned sentences."""
    if _refused(a, b) or model not in SURE or cosine < SURE[model] or not anchors_agree(a, b):
        return None
    agreement = _anchor_agreement(a, b)
    assert agreement is not None
    details = {"cosine": round(cosine, 4), "model": model, "sentence_ratio": round(sentence_ratio(a, b), 3),
               "languages": [a.language, b.language], "anchor_overlap": round(agreement[0], 3),
               "anchor_order": round(agreement[1], 3), "confirmed_by": "anchors"}
    return TransVerdict(round((cosine + agreement[1]) / 2, 4), details, _evidence(a, b))


def verify_translation(a: TransPrint, b: TransPrint, cosine: float, model: str,
                       alignment: crossalign.Alignment | None,
                       a_sents: list[str] | None = None, b_sents: list[str] | None = None) -> TransVerdict | None:
    """Is one text a translation of the other?  ``cosine``: of their title + lead embeddings; ``alignment``: of
    their sentences (:func:`storyloom.copies.crossalign.align`, same model); ``*_sents``: the sentences that
    were aligned (for the evidence)."""
    if _refused(a, b) or cosine < COSINE_FLOOR.get(model, 0.9):
        return None
    if alignment is None or not crossalign.accepts(alignment, model):
        return None
    details: dict[str, Any] = {"cosine": round(cosine, 4), "model": model,
                               "sentence_ratio": round(sentence_ratio(a, b), 3),
                               "languages": [a.language, b.language],
                               "alignment": round(alignment.diag, 4), "in_order": round(alignment.inband, 3),
                               "confirmed_by": "sentences"}
    if alignment.short:
        details["short_pair"] = True  # its order said nothing: accepted on the higher bar of a short pair
    if alignment.head:
        details["first_sentences_only"] = alignment.rows  # its first rows aligned beyond the cascade's bar
    agreement = _anchor_agreement(a, b)
    if agreement is not None:
        details.update(anchor_overlap=round(agreement[0], 3), anchor_order=round(agreement[1], 3))
    evidence = crossalign.evidence(alignment, a_sents, b_sents) if a_sents and b_sents else []
    return TransVerdict(round(alignment.diag, 4), details, evidence)
