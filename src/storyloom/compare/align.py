"""Claim alignment: which claims of a story's articles state the same fact.

:func:`align` scores every cross-article pair of claims with the claim aligner (compare/features.py: the
model; compare/scoring.py: all pairs at once, exactly).  Claims of articles in two different languages are
judged by the model's cross-lingual part.  Articles that are translations of each other are not left to it:
their claims are paired by order (compare/parallel.py, through ``translated``).  USE knows 16 languages: a
pair in which one side's language is not among them is scored by a third part, on e5 vectors (slow: a few
claims per story, see :func:`_fallback_pairs`).

Each claim is scored through its views too (compare/views.py: the fact clauses inside a sentence, "X noted
that Y, suggesting that Z" → Y, Z), so a fact is found whatever frame an outlet wraps it in.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

import numpy as np

from storyloom.compare.features import ClaimAligner, SentencePrint, pair_features
from storyloom.compare.scoring import scored_pairs
from storyloom.embed import USE_LANGUAGES


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
    ii, jj, pp, _ = scored_pairs([prints[u] for u in chosen], np.arange(len(chosen)), np.asarray(fvecs, dtype=np.float32),
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
    aa, bb, pp, tt = scored_pairs(vprints, vparent, vvecs, model, vlang)
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
