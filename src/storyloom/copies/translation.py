"""Translated copies: B is a translation of A.

A cascade, cheap signals first:

1. **candidates** — articles in another language that share language-independent *anchors* with this one
   (numbers, names transliterated to ASCII), or whose title + lead embedding is among the nearest;
2. **score** — the cosine of title + lead embeddings, with a model that covers both languages (USE where it
   can, the slower e5 only for the languages USE lacks);
3. **confirm** — a translation keeps the source's anchors *in order* and about as many sentences; two
   independent reports of one event share some anchors in another order and differ in length.  That is
   what separates a translation from same-story coverage in another language, which the stories stage
   groups but which is not a copy.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from storyloom.embed.cache import Vectors
from storyloom.enrich.anchors import anchor_keys, anchors_in
from storyloom.enrich.sentences import split_sentences
from storyloom.timeparse import utc_key

MIN_ANCHORS_FOR_ORDER = 3

# Thresholds on the cosine of title + lead, per model (calibrated on the dev split of bench/copies.py).
COSINE = {"use-m3": 0.55, "e5-small-q4": 0.86}
COSINE_NO_ANCHORS = {"use-m3": 0.72, "e5-small-q4": 0.9}
MIN_ORDER = 0.35
MIN_OVERLAP = 0.3
MIN_SENTENCE_RATIO = 0.5


def _lcs(a: list[str], b: list[str]) -> int:
    a, b = a[:300], b[:300]
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


@dataclass(frozen=True)
class TransPrint:
    language: str | None
    n_sentences: int
    anchors: tuple[str, ...]
    sentences: tuple[str, ...]

    @classmethod
    def of(cls, text: str, language: str | None) -> TransPrint:
        """The print of a text; memoised, because one chunk asks for each of its articles' prints three times
        (anchors to store, candidates, verification) and splitting plus anchors is a quarter of the search."""
        return _print_of(text, language)


@lru_cache(maxsize=1024)  # a chunk (200) plus its candidates; keys are the texts, freed as the cache turns
def _print_of(text: str, language: str | None) -> TransPrint:
    sents = tuple(split_sentences(text))
    return TransPrint(language, len(sents), tuple(anchors_in(sents)), sents)


def rejected_before_cosine(a: TransPrint, b: TransPrint) -> bool:
    """Whether :func:`verify_translation` says no whatever the cosine: the search then skips embedding the pair
    (the slow model's passages were most of its cost)."""
    if not a.language or not b.language or a.language == b.language:
        return True
    if min(a.n_sentences, b.n_sentences) / max(a.n_sentences, b.n_sentences, 1) < MIN_SENTENCE_RATIO:
        return True
    if len(a.anchors) < MIN_ANCHORS_FOR_ORDER or len(b.anchors) < MIN_ANCHORS_FOR_ORDER:
        return False
    sa, sb = set(a.anchors), set(b.anchors)
    if len(sa & sb) / min(len(sa), len(sb)) < MIN_OVERLAP:
        return True
    # The order (a longest common subsequence, quadratic in Python) only when a cheap bound leaves it open: the
    # subsequence is never longer than the anchors the two share, counted with repeats.
    shortest = min(len(a.anchors), len(b.anchors))
    if sum((Counter(a.anchors) & Counter(b.anchors)).values()) / shortest < MIN_ORDER:
        return True
    return _lcs(list(a.anchors), list(b.anchors)) / shortest < MIN_ORDER


def _anchor_agreement(a: TransPrint, b: TransPrint) -> tuple[float, float] | None:
    """(overlap, order) of two texts' anchors, or None when either has too few to judge order."""
    if len(a.anchors) < MIN_ANCHORS_FOR_ORDER or len(b.anchors) < MIN_ANCHORS_FOR_ORDER:
        return None
    sa, sb = set(a.anchors), set(b.anchors)
    overlap = len(sa & sb) / min(len(sa), len(sb))  # German capitalises nouns: compare to the smaller set
    order = _lcs(list(a.anchors), list(b.anchors)) / min(len(a.anchors), len(b.anchors))
    return overlap, order


@dataclass(frozen=True)
class TransVerdict:
    score: float
    details: dict[str, Any]
    evidence: list[dict[str, Any]]


def _evidence(a: TransPrint, b: TransPrint, limit: int = 5) -> list[dict[str, Any]]:
    """Sentence pairs that carry the same anchors: readable proof that one text follows the other."""
    from anyascii import anyascii  # noqa: F401  (anchors() needs it; keep import errors here explicit)

    sa = [set(anchors_in((s,))) for s in a.sentences[:200]]
    sb = [set(anchors_in((s,))) for s in b.sentences[:200]]
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


def verify_translation(a: TransPrint, b: TransPrint, cosine: float, model: str) -> TransVerdict | None:
    """Is one text a translation of the other?  ``cosine`` is of their title + lead embeddings."""
    if not a.language or not b.language or a.language == b.language:
        return None
    ratio = min(a.n_sentences, b.n_sentences) / max(a.n_sentences, b.n_sentences, 1)
    details: dict[str, Any] = {"cosine": round(cosine, 4), "model": model, "sentence_ratio": round(ratio, 3),
                               "languages": [a.language, b.language]}
    if ratio < MIN_SENTENCE_RATIO or cosine < COSINE.get(model, 0.8):
        return None
    agreement = _anchor_agreement(a, b)
    if agreement is not None:
        overlap, order = agreement
        details.update(anchor_overlap=round(overlap, 3), anchor_order=round(order, 3))
        if overlap < MIN_OVERLAP or order < MIN_ORDER:
            return None
        score = (cosine + order) / 2
    else:
        if cosine < COSINE_NO_ANCHORS.get(model, 0.9):
            return None
        details["anchor_overlap"] = None
        score = cosine
    return TransVerdict(round(score, 4), details, _evidence(a, b))


# -- the stage: candidates from anchors and embeddings, scored with a model covering both languages ------

ANCHOR_CANDIDATE_MIN = 3  # shared anchor keys for an anchor-based candidate
EMBED_TOP_K = 5
EMBED_CANDIDATE_MIN = 0.5
POOL_LIMIT = 20_000


def _window(dates: list[str | None], days: int) -> tuple[str | None, str | None]:
    from datetime import date, timedelta

    known = sorted(d[:10] for d in dates if d)
    if not known:
        return None, None
    lo = date.fromisoformat(known[0]) - timedelta(days=days)
    hi = date.fromisoformat(known[-1]) + timedelta(days=days)
    return lo.isoformat(), hi.isoformat() + "T23:59:59~"


def find_translations(store: Any, ids: list[str], rows: dict[str, dict[str, Any]], settings: Any,
                      done: set[tuple[str, str]]) -> tuple[list[dict[str, Any]], int]:
    """Translation links for a chunk (after its anchors are stored); returns (links, candidates tried)."""
    import numpy as np

    from storyloom.embed import covers, get_embedder, lead
    from storyloom.store import copies as sql
    from storyloom.store import embeddings as emb_sql

    fast = get_embedder(settings.embedder_fast)
    wide = get_embedder(settings.embedder_wide)
    langs = {aid: rows[aid]["language"] for aid in ids if aid in rows}
    known = [aid for aid in ids if langs.get(aid)]
    if not known:
        return [], 0
    leads: dict[str, str] = {aid: lead(rows[aid]["title"], rows[aid]["text"]) for aid in known}
    vectors = Vectors(store, leads)
    covered = [aid for aid in known if covers(fast, langs[aid])]
    own = vectors.get(fast, covered)
    since, until = _window([rows[a]["published"] for a in known], settings.translation_window_days)
    pool = emb_sql.embedding_pool(store, fast.name, since, until, POOL_LIMIT) if own else []
    pool_ids = [p[0] for p in pool]
    pool_lang = {p[0]: p[1] for p in pool}
    matrix = np.vstack([np.frombuffer(v, dtype=np.float16).astype(np.float32) for _, _, v in pool]) if pool else None

    candidates: dict[str, set[str]] = {}
    for aid in known:
        found: set[str] = set()
        keys = anchor_keys(list(TransPrint.of(rows[aid]["text"], langs[aid]).anchors))
        by_anchor, _ = sql.keyed_candidates(store, "copy_anchors", "akey", keys, aid, settings.copy_bucket_cap)
        strong = [c for c, n in by_anchor.items() if n >= ANCHOR_CANDIDATE_MIN]
        found |= set(sql.other_language(store, sorted(strong), langs[aid])) if strong else set()
        if matrix is not None and aid in own:
            sims = matrix @ own[aid]
            order = np.argsort(-sims, kind="stable")
            picked = 0
            for j in order[: EMBED_TOP_K * 4]:
                c = pool_ids[j]
                if c == aid or not pool_lang.get(c) or pool_lang[c] == langs[aid] or sims[j] < EMBED_CANDIDATE_MIN:
                    continue
                found.add(c)
                picked += 1
                if picked >= EMBED_TOP_K:
                    break
        candidates[aid] = found

    need = sorted({c for cs in candidates.values() for c in cs} - set(rows))
    if need:
        rows = {**rows, **sql.texts(store, need)}
        for c in need:
            leads[c] = lead(rows[c]["title"], rows[c]["text"])
    prints = {aid: TransPrint.of(rows[aid]["text"], rows[aid]["language"]) for aid in set(known) | set(need) if aid in rows}
    # First the pairs worth a cosine, then their embeddings in one call per model (the slow model's batch gives
    # the same bits as one text at a time: tests/test_pipeline_speed.py), then the verdicts in the same order.
    todo: list[tuple[str, str, Any]] = []
    tried = 0
    for aid in known:
        for c in sorted(candidates[aid]):
            a, b = min(aid, c), max(aid, c)
            if (a, b) in done or a not in prints or b not in prints:
                continue
            done.add((a, b))
            tried += 1
            if rejected_before_cosine(prints[a], prints[b]):
                continue
            both_fast = covers(fast, rows[a]["language"]) and covers(fast, rows[b]["language"])
            todo.append((a, b, fast if both_fast else wide))
    if wide is not fast:
        vectors.get(wide, list(dict.fromkeys(x for a, b, m in todo if m is wide for x in (a, b))))
    links = []
    for a, b, model in todo:
        vec = vectors.get(model, [a, b])
        if a not in vec or b not in vec:
            continue
        cos = float(vec[a] @ vec[b])
        v = verify_translation(prints[a], prints[b], cos, model.name)
        if v is None:
            continue
        pa, pb = rows[a]["published"], rows[b]["published"]
        ka, kb = utc_key(pa), utc_key(pb)  # instants: the stored times keep their outlets' offsets
        direction = "unknown" if not (pa and pb) or ka == kb else ("b_from_a" if ka < kb else "a_from_b")
        links.append({"a": a, "b": b, "kind": "translation", "score": v.score, "direction": direction,
                      "details": v.details, "evidence": v.evidence})
    return links, tried
