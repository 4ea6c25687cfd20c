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

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from storyloom.enrich.sentences import split_sentences

# Numbers in any script's digits; the look-arounds are ASCII-only so "2020年" and "13日" still match.
_NUM = re.compile(
    r"(?<![0-9A-Za-z.,])\d{1,3}(?:[,.\u00a0 \u202f]\d{3})+(?:[.,]\d+)?(?![0-9A-Za-z])"
    r"|(?<![0-9A-Za-z.,])\d+(?:[.,]\d+)?(?![0-9A-Za-z])"
)
_WORD = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)
NAME_PREFIX = 4
_NOT_LOWER = re.compile(r"[^a-z]")
MIN_ANCHORS_FOR_ORDER = 3

# Thresholds on the cosine of title + lead, per model (calibrated on the dev split of bench/copies.py).
COSINE = {"use-m3": 0.55, "e5-small-q4": 0.86}
COSINE_NO_ANCHORS = {"use-m3": 0.72, "e5-small-q4": 0.9}
MIN_ORDER = 0.35
MIN_OVERLAP = 0.3
MIN_SENTENCE_RATIO = 0.5


def _number(token: str) -> str | None:
    t = re.sub(r"(?<=\d)[,.\u00a0 \u202f](?=\d{3}(?!\d))", "", token)  # thousands separators, any convention
    t = t.replace(",", ".")
    try:
        value = float(t)
    except ValueError:
        return None
    if value < 10 and "." not in t:
        return None  # small integers are often written as words in a translation
    return f"#{value:g}"


def anchors(text: str) -> list[str]:
    """Anchors in order of appearance: numbers (normalised) and capitalised non-initial words transliterated
    to ASCII and cut to a prefix (so inflections — Лавров, Лаврова — meet the English Lavrov)."""
    return anchors_in(split_sentences(text))


def anchors_in(sentences: Iterable[str]) -> list[str]:
    """:func:`anchors` of text already split into sentences (a word is a name only when it does not open its
    sentence, so the anchors need the split; callers holding it should not pay for a second one)."""
    out: list[str] = []
    for sent in sentences:
        for m in _NUM.finditer(sent):
            n = _number(m.group(0))
            if n:
                out.append(n)
        for i, m in enumerate(_WORD.finditer(sent)):
            w = m.group(0)
            if i == 0 or not w[0].isupper() or len(w) < NAME_PREFIX:
                continue
            key = _name_key(w)
            if key:
                out.append(key)
    return out


@lru_cache(maxsize=1 << 16)
def _name_key(word: str) -> str:
    """A name's ASCII prefix, or "" when too short; cached, names recur across a corpus and transliteration
    is pure Python."""
    from anyascii import anyascii

    ascii_ = _NOT_LOWER.sub("", anyascii(word).lower())
    return ascii_[:NAME_PREFIX] if len(ascii_) >= NAME_PREFIX else ""


def anchor_keys(tokens: list[str]) -> list[int]:
    return sorted({int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little", signed=True) for t in tokens})


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
    def of(cls, text: str, language: str | None) -> "TransPrint":
        sents = tuple(split_sentences(text))
        return cls(language, len(sents), tuple(anchors_in(sents)), sents)


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
    pairs = []
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
    sa, sb = set(a.anchors), set(b.anchors)
    if len(a.anchors) >= MIN_ANCHORS_FOR_ORDER and len(b.anchors) >= MIN_ANCHORS_FOR_ORDER:
        overlap = len(sa & sb) / min(len(sa), len(sb))  # German capitalises nouns: compare to the smaller set
        order = _lcs(list(a.anchors), list(b.anchors)) / min(len(a.anchors), len(b.anchors))
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


class Vectors:
    """Title + lead embeddings per model: read from the store, computed and stored when missing."""

    def __init__(self, store: Any, leads: dict[str, str]) -> None:
        self.store, self.leads = store, leads
        self.cache: dict[tuple[str, str], Any] = {}

    def get(self, embedder: Any, ids: list[str]) -> dict[str, Any]:
        import numpy as np

        from storyloom.store import copies as sql

        want = [i for i in ids if (embedder.name, i) not in self.cache]
        if want:
            for aid, blob in sql.load_embeddings(self.store, embedder.name, want).items():
                self.cache[(embedder.name, aid)] = np.frombuffer(blob, dtype=np.float16).astype(np.float32)
            missing = [i for i in want if (embedder.name, i) not in self.cache]
            if missing:
                texts = [self.leads.get(i) or "" for i in missing]
                vecs = embedder.embed(texts)
                sql.save_embeddings(self.store, embedder.name,
                                    [(i, v.astype(np.float16).tobytes()) for i, v in zip(missing, vecs)])
                for i, v in zip(missing, vecs):
                    self.cache[(embedder.name, i)] = v
        return {i: self.cache[(embedder.name, i)] for i in ids if (embedder.name, i) in self.cache}


def find_translations(store: Any, ids: list[str], rows: dict[str, dict[str, Any]], settings: Any,
                      done: set[tuple[str, str]]) -> tuple[list[dict[str, Any]], int]:
    """Translation links for a chunk (after its anchors are stored); returns (links, candidates tried)."""
    import numpy as np

    from storyloom.embed import covers, get_embedder, lead
    from storyloom.store import copies as sql

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
    pool = sql.embedding_pool(store, fast.name, since, until, POOL_LIMIT) if own else []
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
    links, tried = [], 0
    for aid in known:
        for c in sorted(candidates[aid]):
            a, b = min(aid, c), max(aid, c)
            if (a, b) in done or a not in prints or b not in prints:
                continue
            done.add((a, b))
            tried += 1
            both_fast = covers(fast, rows[a]["language"]) and covers(fast, rows[b]["language"])
            model = fast if both_fast else wide
            vec = vectors.get(model, [a, b])
            if a not in vec or b not in vec:
                continue
            cos = float(vec[a] @ vec[b])
            v = verify_translation(prints[a], prints[b], cos, model.name)
            if v is None:
                continue
            pa, pb = rows[a]["published"], rows[b]["published"]
            direction = "unknown" if not (pa and pb) or pa == pb else ("b_from_a" if pa < pb else "a_from_b")
            links.append({"a": a, "b": b, "kind": "translation", "score": v.score, "direction": direction,
                          "details": v.details, "evidence": v.evidence})
    return links, tried
