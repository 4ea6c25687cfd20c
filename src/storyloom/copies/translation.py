"""Translated copies: B is a translation of A.

A cascade, cheap signals first:

1. **candidates** — articles in another language that share language-independent *anchors* with this one
   (numbers, names transliterated to ASCII), or whose title + lead embedding is among the nearest;
2. **cheap refusals** — no embedding at all for a pair whose sentence counts differ by more than half, or whose
   numbers disagree (each has three or more, none shared: a translation keeps its source's figures);
3. **document cosine** — title + lead embeddings with a model that covers both languages (USE where it can,
   the slower e5 only for the languages USE lacks, see :mod:`storyloom.embed`): a low floor, only to spare the
   next step the plainly unrelated;
4. **sentence alignment** — the two texts' first sentences embedded (once per article version, cached) and
   aligned along the diagonal (:mod:`storyloom.copies.crossalign`): a translation keeps the order and number
   of its source's sentences, a same-event report in another language does not.  The aligned sentence pairs
   are the link's evidence.

The anchors' overlap and order are kept in a link's details (what a reader checks), no longer as a gate: names
are capitalised in English and German but not in Japanese, and a translator's "President Putin" against the
source's "Путин" made the order test refuse a third of the Russian and Japanese translations.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from storyloom.copies import crossalign
from storyloom.embed.cache import SentenceVectors, Vectors, unpack
from storyloom.enrich.anchors import anchor_keys, anchors_in
from storyloom.enrich.sentences import split_sentences
from storyloom.timeparse import utc_key

MIN_ANCHORS_FOR_ORDER = 3
MIN_SENTENCE_RATIO = 0.5
MIN_NUMBERS = 3  # numbers each text needs before "none shared" refuses the pair

# Floors of the title + lead cosine per model, below which a pair is not aligned: cost only, the sentence
# alignment decides.  Dev split: the lowest translation was 0.42 (USE) / 0.82 (e5); these floors let 1.2% / 0.3%
# of other cross-language pairs through (e5's similarities are compressed into 0.7-0.9).  Unlisted model: 0.9.
COSINE_FLOOR = {"use-m3": 0.35, "e5-small-q4": 0.80}
# A pair is *sure* — confirmed without aligning its sentences — when its title + lead cosine reaches this and its
# anchors agree in overlap and order (≥ SURE_ANCHORS each).  Dev split: 313 of 468 (USE) and 66 of 93 (e5) of the
# translations reaching the floor were sure, none of the 1,280 other documents was (the highest of those had
# anchor overlap 0.44, order 0.2; same-event reports such as gazeta.ru/aif.ru on one story reach a cosine of 0.71
# with overlap 0.1-0.2).  The rest, the uncertain pairs, are aligned.
SURE = {"use-m3": 0.65, "e5-small-q4": 0.86}
SURE_ANCHORS = 0.5
# Before the slow model (languages the fast one lacks) embeds a pair: anchors that barely meet refuse it.  Dev: the
# lowest overlap of a translation was 0.22 (ru-en, English capitalises titles Russian does not) and 0.57 for en-is.
WIDE_MIN_OVERLAP = 0.2


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

    @property
    def numbers(self) -> frozenset[str]:
        """The numbers, a year also as its last two digits (Japanese and Korean news often write '13 for 2013)."""
        out = {x for x in self.anchors if x.startswith("#")}
        out |= {f"#{int(x[1:]) % 100}" for x in out if x[1:].isdigit() and 1900 <= int(x[1:]) < 2100}
        return frozenset(out)


@lru_cache(maxsize=1024)  # a chunk (200) plus its candidates; keys are the texts, freed as the cache turns
def _print_of(text: str, language: str | None) -> TransPrint:
    sents = tuple(split_sentences(text))
    return TransPrint(language, len(sents), tuple(anchors_in(sents)), sents)


def sentence_ratio(a: TransPrint, b: TransPrint) -> float:
    return min(a.n_sentences, b.n_sentences) / max(a.n_sentences, b.n_sentences, 1)


def rejected_before_cosine(a: TransPrint, b: TransPrint) -> bool:
    """Whether :func:`verify_translation` says no whatever the embeddings: the search then skips embedding the
    pair (the slow model's passages were most of its cost)."""
    return _refused(a, b)


def _refused(a: TransPrint, b: TransPrint) -> bool:
    if not a.language or not b.language or a.language == b.language:
        return True
    if sentence_ratio(a, b) < MIN_SENTENCE_RATIO:
        return True
    na, nb = a.numbers, b.numbers
    return len(na) >= MIN_NUMBERS and len(nb) >= MIN_NUMBERS and not (na & nb)


def _anchor_agreement(a: TransPrint, b: TransPrint) -> tuple[float, float] | None:
    """(overlap, order) of two texts' anchors, or None when either has too few to judge order."""
    if len(a.anchors) < MIN_ANCHORS_FOR_ORDER or len(b.anchors) < MIN_ANCHORS_FOR_ORDER:
        return None
    sa, sb = set(a.anchors), set(b.anchors)
    overlap = len(sa & sb) / min(len(sa), len(sb))  # German capitalises nouns: compare to the smaller set
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


def sure_translation(a: TransPrint, b: TransPrint, cosine: float, model: str) -> TransVerdict | None:
    """The verdict on a pair whose cosine and anchors leave no doubt (see ``SURE``), else None: the pair is then
    uncertain and :func:`verify_translation` decides on its aligned sentences."""
    if _refused(a, b) or model not in SURE or cosine < SURE[model]:
        return None
    agreement = _anchor_agreement(a, b)
    if agreement is None or min(agreement) < SURE_ANCHORS:
        return None
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
    agreement = _anchor_agreement(a, b)
    if agreement is not None:
        details.update(anchor_overlap=round(agreement[0], 3), anchor_order=round(agreement[1], 3))
    evidence = crossalign.evidence(alignment, a_sents, b_sents) if a_sents and b_sents else []
    return TransVerdict(round(alignment.diag, 4), details, evidence)


# -- the stage: candidates from anchors and embeddings, scored with a model covering both languages ------

ANCHOR_CANDIDATE_MIN = 3  # shared anchor keys for an anchor-based candidate
EMBED_TOP_K = 5
EMBED_CANDIDATE_MIN = COSINE_FLOOR["use-m3"]  # the nearest, down to the floor the pair must reach anyway
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
    matrix = np.vstack([unpack(v, fast.dim)[1][:1] for _, _, v in pool]) if pool else None

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
            if not both_fast and wide is not fast:
                agreement = _anchor_agreement(prints[a], prints[b])
                if agreement is not None and agreement[0] < WIDE_MIN_OVERLAP:
                    continue
            todo.append((a, b, fast if both_fast else wide))
    if wide is not fast:
        vectors.get(wide, list(dict.fromkeys(x for a, b, m in todo if m is wide for x in (a, b))))
    cosines: list[tuple[str, str, Any, float]] = []  # the uncertain pairs
    verdicts: list[tuple[str, str, TransVerdict]] = []
    for a, b, model in todo:
        vec = vectors.get(model, [a, b])
        if a in vec and b in vec:
            cos = float(vec[a] @ vec[b])
            if cos < COSINE_FLOOR.get(model.name, 0.9):
                continue
            sure = sure_translation(prints[a], prints[b], cos, model.name)
            if sure is not None:
                verdicts.append((a, b, sure))
            else:
                cosines.append((a, b, model, cos))
    # the pairs left are aligned sentence by sentence: each article's sentences embedded once per model
    sents: dict[str, dict[str, list[str]]] = {}
    mats: dict[str, dict[str, Any]] = {}
    for model in dict.fromkeys((fast, wide)):
        mine = list(dict.fromkeys(x for a, b, m, _ in cosines if m is model for x in (a, b)))
        sents[model.name] = {x: crossalign.sentences_for(rows[x]["title"], prints[x].sentences, model.name)
                             for x in mine}
        mats[model.name] = SentenceVectors(store, sents[model.name]).get(model, mine)
    for a, b, model, cos in cosines:
        got, text = mats[model.name], sents[model.name]
        alignment = crossalign.align(got.get(a), got.get(b))
        v = verify_translation(prints[a], prints[b], cos, model.name, alignment, text.get(a), text.get(b))
        if v is not None:
            verdicts.append((a, b, v))
    links = []
    for a, b, v in verdicts:
        pa, pb = rows[a]["published"], rows[b]["published"]
        ka, kb = utc_key(pa), utc_key(pb)  # instants: the stored times keep their outlets' offsets
        direction = "unknown" if not (pa and pb) or ka == kb else ("b_from_a" if ka < kb else "a_from_b")
        links.append({"a": a, "b": b, "kind": "translation", "score": v.score, "direction": direction,
                      "details": v.details, "evidence": v.evidence})
    return links, tried
