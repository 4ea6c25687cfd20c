"""The translation search: which pairs are looked at, and the cascade that decides them.

One set of functions for every engine — the local copies stage (:func:`find_translations`, which reads its
candidates from the store) and the Spark batch (:mod:`storyloom.batch.translations`, which computes the same
candidates with joins and a broadcast pool) — so both give the same links.

Candidates of an article, defined so that they do not depend on how the stream was cut into chunks:

* **anchors** — articles in another language sharing ``ANCHOR_CANDIDATE_MIN`` anchor keys (numbers, names
  transliterated to ASCII) in buckets within ``copy_bucket_cap``: a symmetric relation, not bounded in time
  (but :func:`judge` looks at a pair published further apart than ``translation_window_days`` only when its
  anchors agree in overlap and order);
* **nearest leads** — the ``EMBED_TOP_K`` nearest title + lead vectors (the fast model) among the articles in
  another language stored *before* it (rank = store order), published within ``translation_window_days`` of it
  (an undated article is near every date), with a cosine of at least ``EMBED_CANDIDATE_MIN``: each pair is
  looked at from its later article, which sees the earlier one whatever the chunking.

:func:`judge` then runs the cascade on the pairs (:mod:`storyloom.copies.translation`): cheap refusals without
embedding, the title + lead cosine with the fast model where it covers both languages and the wide one
where it does not (no model outside the wide one's languages), "sure" pairs by anchors, the rest by their
aligned sentences.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from functools import lru_cache
from typing import Any

from storyloom.copies import crossalign
from storyloom.copies import translation as tr
from storyloom.embed.cache import SentenceVectors, Vectors, unpack
from storyloom.timeparse import maybe_time, utc_key

ANCHOR_CANDIDATE_MIN = 3  # shared anchor keys for an anchor-based candidate
EMBED_TOP_K = 5
EMBED_CANDIDATE_MIN = tr.COSINE_FLOOR["use-m3"]  # the nearest, down to the floor the pair must reach anyway
POOL_LIMIT = 20_000  # the newest earlier articles an article is compared with (a memory bound)
UNDATED = -1


def day_of(published: str | None) -> int:
    """The UTC calendar day of a stored time (its ordinal), or ``UNDATED``."""
    dt = maybe_time(published)
    return dt.astimezone(UTC).date().toordinal() if dt is not None else UNDATED


@dataclass
class Pool:
    """Title + lead vectors (fast model) of the articles a translation can be among, in rank order."""

    ids: list[str]
    ranks: Any  # int64[n], increasing
    langs: Any  # str[n]
    days: Any  # int64[n], UNDATED when unknown
    matrix: Any  # float32[n, dim], rows L2-normalised (as read back from the store)

    @classmethod
    def of(cls, rows: Iterable[tuple[str, int, str, int, Any]], dim: int) -> Pool:
        """From (id, rank, language, day, vector) rows in any order."""
        import numpy as np

        got = sorted(rows, key=lambda r: r[1])
        return cls([r[0] for r in got], np.array([r[1] for r in got], dtype=np.int64),
                   np.array([r[2] for r in got], dtype=object), np.array([r[3] for r in got], dtype=np.int64),
                   np.vstack([r[4] for r in got]).astype(np.float32) if got else np.zeros((0, dim), np.float32))

    @classmethod
    def newest_first(cls, rows: Iterable[tuple[str, int, str, int, Any]], dim: int, limit: int) -> Pool:
        """From at most ``limit`` (id, rank, language, day, vector) rows in decreasing rank (a store cursor, read
        as it goes): the same pool as :meth:`of`, built without holding the rows.  Why: :meth:`of` keeps every row
        with its vector, then a stacked copy and a float32 copy of that — ~9 KB per row at once, 180 MB for a
        full pool of 20,000 (the ingesting process's RSS grew by that much from 2k to 20k articles, and the
        allocator kept the pages).  Here each vector goes straight into its row of one matrix, filled from the
        end; the rows a short pool leaves untouched are never written, so never resident."""
        import numpy as np

        matrix = np.empty((limit, dim), dtype=np.float32)
        ids: list[str] = []
        ranks: list[int] = []
        langs: list[str] = []
        days: list[int] = []
        at = limit
        for aid, rank, lang, day, vec in rows:
            if ranks and rank >= ranks[-1]:
                raise ValueError("Pool.newest_first: rows must come in decreasing rank")
            if at == 0:
                raise ValueError(f"Pool.newest_first: more than {limit} rows")
            at -= 1
            matrix[at] = vec
            ids.append(aid)
            ranks.append(rank)
            langs.append(lang)
            days.append(day)
        return cls(ids[::-1], np.array(ranks[::-1], dtype=np.int64), np.array(langs[::-1], dtype=object),
                   np.array(days[::-1], dtype=np.int64), matrix[at:])


def nearest(pool: Pool, queries: Sequence[tuple[str, int, str, int, Any]], window_days: int) -> dict[str, list[str]]:
    """Each query's (id, rank, language, day, vector) nearest-lead candidates in ``pool`` (see the module
    docstring); ties are broken by rank, so the result is the same on any engine."""
    import numpy as np

    out: dict[str, list[str]] = {}
    if not len(pool.ids):
        return {q[0]: [] for q in queries}
    sims_all = pool.matrix @ np.vstack([q[4] for q in queries]).T if queries else None
    for col, (aid, rank, lang, day, _) in enumerate(queries):
        ok = (pool.ranks < rank) & (pool.langs != lang)
        if day != UNDATED:
            ok &= (pool.days == UNDATED) | (np.abs(pool.days - day) <= window_days)
        idx = np.flatnonzero(ok)
        if len(idx) > POOL_LIMIT:
            idx = idx[-POOL_LIMIT:]  # the newest (ranks increase along the pool)
        assert sims_all is not None
        sims = sims_all[idx, col]
        order = np.lexsort((-pool.ranks[idx], -sims))  # best first, then the newest
        picked = [pool.ids[idx[j]] for j in order[:EMBED_TOP_K] if sims[j] >= EMBED_CANDIDATE_MIN]
        out[aid] = picked
    return out


def decode(blob: bytes, dim: int, codec: str) -> Any:
    """A stored title + lead vector (packed as ``codec`` after its digest: :mod:`storyloom.embed.cache`) as float32."""
    return unpack(blob, dim, codec)[1][0]


def model_for(fast: Any, wide: Any, la: str | None, lb: str | None) -> Any | None:
    """The model a pair is embedded with: the fast one where it covers both languages, else the wide one where
    that does, else none (a language no cross-lingual model covers: the story page says so)."""
    from storyloom.embed import covers

    if covers(fast, la) and covers(fast, lb):
        return fast
    if covers(wide, la) and covers(wide, lb):
        return wide
    return None


@dataclass
class Caches:
    """The embedding caches of a search, one per model and kind — each model embeds its own lead
    (:func:`storyloom.embed.lead_for`, or for a cascade model with ``lead_rows`` its first sentence rows) and its
    own number of sentences, its thresholds were calibrated on them — backed by the store (locally) or kept in
    memory (``store=None``: a Spark task)."""

    store: Any
    leads: dict[str, Vectors] = field(default_factory=dict)
    sents: dict[str, SentenceVectors] = field(default_factory=dict)
    firsts: dict[str, SentenceVectors] = field(default_factory=dict)
    heads: dict[str, SentenceVectors] = field(default_factory=dict)
    tails: dict[str, SentenceVectors] = field(default_factory=dict)

    def lead(self, model: Any) -> Vectors:
        return self.leads.setdefault(model.name, Vectors(self.store, {}))

    def sentences(self, model: Any) -> SentenceVectors:
        return self.sents.setdefault(model.name, SentenceVectors(self.store, {}))

    def first(self, model: Any) -> SentenceVectors:
        """A cascade model's first rows that make its title + lead vector (``Cascade.lead_rows``): embedded for
        every pair it looks at, and the start of the head of the pairs the lead leaves uncertain."""
        return self.firsts.setdefault(model.name, _First(self.store, {}))

    def head(self, model: Any) -> SentenceVectors:
        """A cascade model's first sentences (:data:`storyloom.copies.crossalign.CASCADE`; past the rows of
        :meth:`first` when it has them), kept apart from the rest (:meth:`tail`): a pair its heads decide never
        embeds the rest."""
        return self.heads.setdefault(model.name, _Head(self.store, {}))

    def tail(self, model: Any) -> SentenceVectors:
        return self.tails.setdefault(model.name, _Tail(self.store, {}))

    def size(self) -> int:
        return sum(len(c.texts) for c in [*self.leads.values(), *self.sents.values(), *self.firsts.values(),
                                          *self.heads.values(), *self.tails.values()])


class _First(SentenceVectors):
    suffix = "#first"
    # kept in the store as the lead vector it replaces was (the embedding cache keeps only the matrices that say
    # so, as the slow model's #head / #tail do): else an earlier ingest's article meeting a new candidate would
    # embed its first rows again with the slow model
    kept = True


class _Head(SentenceVectors):
    suffix = "#head"
    kept = True  # the slow model's: worth their bytes (0.12 KB an article on the real texts)


class _Tail(SentenceVectors):
    suffix = "#tail"
    kept = True


def within_window(pa: str | None, pb: str | None, window_days: int | None) -> bool:
    """Whether two articles were published close enough to be a translation and its source (the days
    :func:`nearest` compares; an undated article is near every date; ``None``: no window)."""
    if window_days is None:
        return True
    da, db = day_of(pa), day_of(pb)
    return da == UNDATED or db == UNDATED or abs(da - db) <= window_days


def judge(pairs: Sequence[tuple[str, str]], rows: dict[str, dict[str, Any]], fast: Any, wide: Any,
          caches: Caches, window_days: int | None = None) -> list[dict[str, Any]]:
    """The translation links among ``pairs`` (a < b, each judged once), as ``copy_links`` records.

    ``rows``: id → title, text, language, published of every article named.  A pair published further apart
    than ``window_days`` (``translation_window_days``: how close a translation is looked for) is judged only
    when its anchors agree as a sure pair's must (:func:`storyloom.copies.translation.anchors_agree`): the
    anchor candidates are not bounded in time, so a translation published weeks later is still found by its
    names and numbers, but on real text half of the pairs that reached the slow model were weeks apart with
    anchors that barely met (none of them a translation), and each cost two embeddings."""
    from storyloom.embed import lead_for

    tr.register_model(fast)
    tr.register_model(wide)
    prints = {x: tr.TransPrint.of(rows[x]["text"], rows[x]["language"]) for p in pairs for x in p}
    todo: list[tuple[str, str, Any]] = []
    for a, b in pairs:
        if tr.rejected_before_cosine(prints[a], prints[b]):
            continue
        if not within_window(rows[a]["published"], rows[b]["published"], window_days) and not tr.anchors_agree(
                prints[a], prints[b]):
            continue
        model = model_for(fast, wide, rows[a]["language"], rows[b]["language"])
        if model is None:
            continue
        if model is not fast and tr.refused_before_slow_model(prints[a], prints[b]):
            continue
        todo.append((a, b, model))
    # the embeddings of each model in one call (the slow model's batch gives the same bits as one text at a time)
    leads: dict[str, dict[str, Any]] = {}
    for model in dict.fromkeys(m for _, _, m in todo):
        mine = list(dict.fromkeys(x for a, b, m in todo if m is model for x in (a, b)))
        cascade = crossalign.CASCADE.get(model.name)
        if cascade is not None and cascade.lead_rows:
            first = caches.first(model)
            for x in mine:
                first.texts.setdefault(x, _sentences(rows, prints, x, model)[: cascade.lead_rows])
            leads[model.name] = {x: crossalign.lead_of_rows(m) for x, m in first.get(model, mine).items()}
            continue
        cache = caches.lead(model)
        for x in mine:
            cache.texts.setdefault(x, lead_for(model, rows[x]["title"], rows[x]["text"]))
        leads[model.name] = cache.get(model, mine)
    uncertain: list[tuple[str, str, Any, float]] = []
    verdicts: list[tuple[str, str, tr.TransVerdict]] = []
    for a, b, model in todo:
        vec = leads[model.name]
        if a not in vec or b not in vec:
            continue
        cos = float(vec[a] @ vec[b])
        if cos < tr.COSINE_FLOOR.get(model.name, 0.9):
            continue
        sure = tr.sure_translation(prints[a], prints[b], cos, model.name)
        if sure is not None:
            verdicts.append((a, b, sure))
        elif not tr.refused_before_sentences(prints[a], prints[b]):
            # the fast model's uncertain pairs had no bar but the cosine floor before their sentence matrices:
            # on the real texts of bench/pipeline.py 405 of its 966 (none linked) were refused here, 205 of the
            # 707 articles whose sentences it embedded were embedded only for them
            uncertain.append((a, b, model, cos))
    # the pairs left are aligned sentence by sentence: each article's sentences embedded once per model
    for (a, b, model, cos), (alignment, texts) in zip(uncertain, aligned(uncertain, rows, prints, caches)):
        v = tr.verify_translation(prints[a], prints[b], cos, model.name, alignment, texts.get(a), texts.get(b))
        if v is not None:
            verdicts.append((a, b, v))
    return [link_of(a, b, v, rows[a]["published"], rows[b]["published"]) for a, b, v in verdicts
            if not same_language(rows[a], rows[b])]


def _sentences(rows: dict[str, dict[str, Any]], prints: dict[str, tr.TransPrint], x: str, model: Any) -> list[str]:
    return crossalign.sentences_for(rows[x]["title"], prints[x].sentences, model.name)


def aligned(uncertain: Sequence[tuple[str, str, Any, float]], rows: dict[str, dict[str, Any]],
            prints: dict[str, tr.TransPrint], caches: Caches) -> list[tuple[Any, dict[str, list[str]]]]:
    """Each uncertain pair's sentence alignment (or None), with the sentences it was made of per article, in
    the order of ``uncertain``.  A model with a cascade (:data:`storyloom.copies.crossalign.CASCADE`) embeds
    each article's first sentences, and the rest only for the articles of a pair its heads leave undecided; the
    whole matrix is then the head's rows and the tail's: for a model that embeds each text alone whatever the
    batch (e5), the rows one call on all the sentences gives (a vector is kept row by row), so an undecided pair
    is judged exactly as without the cascade."""
    import numpy as np

    out: dict[tuple[str, str, str], tuple[Any, dict[str, list[str]]]] = {}
    for model in dict.fromkeys(m for _, _, m, _ in uncertain):
        mine_pairs = [(a, b) for a, b, m, _ in uncertain if m is model]
        mine = list(dict.fromkeys(x for p in mine_pairs for x in p))
        lists = {x: _sentences(rows, prints, x, model) for x in mine}
        cascade = crossalign.CASCADE.get(model.name)
        if cascade is None:
            sents = caches.sentences(model)
            for x in mine:
                sents.texts.setdefault(x, lists[x])
            got = sents.get(model, mine)
            for a, b in mine_pairs:
                out[(a, b, model.name)] = (crossalign.align(got.get(a), got.get(b)), sents.texts)
            continue
        k, j = cascade.rows, cascade.lead_rows
        head = caches.head(model)
        for x in mine:
            head.texts.setdefault(x, lists[x][j:k])
        heads = head.get(model, mine)
        if j:  # the lead's rows, embedded for the cosine (judge), start the head
            first = caches.first(model)
            for x in mine:
                first.texts.setdefault(x, lists[x][:j])
            firsts = first.get(model, mine)
            heads = {x: np.vstack([firsts[x], heads[x]]) if x in heads else firsts[x] for x in mine if x in firsts}
        open_pairs = []
        for a, b in mine_pairs:
            cut = len(lists[a]) > k or len(lists[b]) > k
            at_head = crossalign.align(heads.get(a), heads.get(b), head=cut)
            if crossalign.decided(at_head, model.name):
                out[(a, b, model.name)] = (at_head, lists)
            else:
                open_pairs.append((a, b))
        longer = list(dict.fromkeys(x for p in open_pairs for x in p if len(lists[x]) > k))
        tail = caches.tail(model)
        for x in longer:
            tail.texts.setdefault(x, lists[x][k:])
        tails = tail.get(model, longer)
        whole = {x: np.vstack([heads[x], tails[x]]) if x in heads and x in tails
                 else heads.get(x) if len(lists[x]) <= k else None for p in open_pairs for x in p}
        for a, b in open_pairs:
            out[(a, b, model.name)] = (crossalign.align(whole[a], whole[b]), lists)
    return [out[(a, b, m.name)] for a, b, m, _ in uncertain]


def same_language(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two texts tagged with different languages are written in one (a wrong tag: a feed that says "de"
    for everything): then they are a rewrite or a copy in that language, for the copy search, not a translation.
    Asked only of pairs about to be linked; a text too short or too mixed to tell is not held against them."""
    la = _written_in(a["title"], a["text"])
    return la is not None and la == _written_in(b["title"], b["text"])


# an article is in several linked pairs (a WMT21 document and its two translations: each in two), and the
# detector read each text once per pair (1,318 calls for 659 links on the real texts of bench/pipeline.py)
@lru_cache(maxsize=1024)
def _written_in(title: str | None, text: str) -> str | None:
    from storyloom.enrich.language import detect_language

    return detect_language(f"{title or ''}\n{text}")


def link_of(a: str, b: str, v: tr.TransVerdict, pa: str | None, pb: str | None) -> dict[str, Any]:
    """A translation verdict as a ``copy_links`` record; the direction from the two publication instants."""
    ka, kb = utc_key(pa), utc_key(pb)  # instants: the stored times keep their outlets' offsets
    direction = "unknown" if not (pa and pb) or ka == kb else ("b_from_a" if ka < kb else "a_from_b")
    return {"a": a, "b": b, "kind": "translation", "score": v.score, "direction": direction,
            "details": v.details, "evidence": v.evidence}


def find_translations(store: Any, ids: list[str], rows: dict[str, dict[str, Any]], settings: Any,
                      done: set[tuple[str, str]]) -> tuple[list[dict[str, Any]], int]:
    """Translation links for a chunk of the local copies stage (after its anchors are stored): candidates from
    the store, judged by :func:`judge`; returns (links, candidate pairs tried).  ``done``: pairs already
    linked (as copies) or tried, which are not tried again."""
    from storyloom.embed import covers, get_embedder, lead_for
    from storyloom.store import copies as sql
    from storyloom.store import embeddings as emb_sql

    fast = get_embedder(settings.embedder_fast)
    wide = get_embedder(settings.embedder_wide)
    known = [aid for aid in ids if aid in rows and rows[aid]["language"]]
    if not known:
        return [], 0
    caches = Caches(store)
    covered = [aid for aid in known if covers(fast, rows[aid]["language"])]
    caches.lead(fast).texts.update({aid: lead_for(fast, rows[aid]["title"], rows[aid]["text"]) for aid in covered})
    own = caches.lead(fast).get(fast, covered)
    # the chunk's anchors are all stored before this (process_chunk) and nothing here writes them: the look-ups
    # of all its articles at once give what one look-up per article gives, each bucket read once
    by_anchor = sql.keyed_candidates_many(
        store, "copy_anchors", "akey",
        {aid: tr.anchor_keys(list(tr.TransPrint.of(rows[aid]["text"], rows[aid]["language"]).anchors)) for aid in known},
        settings.copy_bucket_cap, ANCHOR_CANDIDATE_MIN)
    strong = {aid: sorted(c for c, n in by_anchor[aid][0].items() if n >= ANCHOR_CANDIDATE_MIN) for aid in known}
    langs = sql.languages(store, [c for found in strong.values() for c in found])
    candidates: dict[str, set[str]] = {
        aid: {c for c in strong[aid] if c in langs and langs[c] != rows[aid]["language"]} for aid in known}
    if own:
        days = {aid: day_of(rows[aid]["published"]) for aid in own}
        dated = [d for d in days.values() if d != UNDATED]
        pool_limit = POOL_LIMIT + len(ids)
        pool_rows = emb_sql.ranked_pool(store, fast.name, (min(dated) - settings.translation_window_days,
                                                           max(dated) + settings.translation_window_days)
                                        if dated and len(dated) == len(days) else None,
                                        max(r["rank"] for aid, r in rows.items() if aid in own), pool_limit)
        pool = Pool.newest_first(((i, rank, lang, day_of(pub), decode(v, fast.dim, codec))
                                  for i, rank, lang, pub, codec, v in pool_rows), fast.dim, pool_limit)
        queries = [(aid, rows[aid]["rank"], rows[aid]["language"], days[aid], own[aid]) for aid in own]
        for aid, found in nearest(pool, queries, settings.translation_window_days).items():
            candidates[aid] |= set(found)
    pairs: list[tuple[str, str]] = []
    for aid in known:
        for c in sorted(candidates[aid]):
            a, b = min(aid, c), max(aid, c)
            if (a, b) not in done:
                done.add((a, b))
                pairs.append((a, b))
    need = sorted({x for p in pairs for x in p} - set(rows))
    if need:
        rows = {**rows, **sql.texts(store, need)}
    pairs = [(a, b) for a, b in pairs if a in rows and b in rows]
    return judge(pairs, rows, fast, wide, caches, settings.translation_window_days), len(pairs)
