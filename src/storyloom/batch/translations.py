"""Translated copies in a batch run, per partition, in plain Python (no Spark here): the local stage's own
functions (:mod:`storyloom.copies.transsearch`) over rows that a Spark job (:mod:`storyloom.batch.spark.translations`)
moves between them, so a batch finds the links ``storyloom copies`` finds.

Embeddings are cached in memory per task (a batch has no store yet) and kept as the store would read them back
(int8 with a scale per row), so a cosine is the one the local stage computes from its stored vectors; a lead
vector travels between tasks as float32, the exact value the local stage computes with.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from storyloom.canonical import canonical_json
from storyloom.settings import Settings

BATCH = 256  # articles or pairs embedded per model call (and kept in a task's caches at most 16 times that)


def _batches(rows: Iterable[Any], n: int = BATCH) -> Iterator[list[Any]]:
    it = iter(rows)
    while chunk := list(islice(it, n)):
        yield chunk


def vector_bytes(vec: Any) -> bytes:
    import numpy as np

    return np.asarray(vec, dtype=np.float32).tobytes()


def vector_of(blob: bytes) -> Any:
    import numpy as np

    return np.frombuffer(blob, dtype=np.float32).copy()


def looker_rows(rows: Iterable[dict[str, Any]], settings: Settings) -> Iterator[dict[str, Any]]:
    """Per article that looks for its translations (id, title, text, language, published, rank): its anchor
    keys, its day, and its title + lead vector of the fast model where that covers its language."""
    from storyloom.copies import translation as tr
    from storyloom.copies.transsearch import day_of
    from storyloom.embed import covers, get_embedder, lead_for
    from storyloom.embed.cache import Vectors

    fast = get_embedder(settings.embedder_fast)
    for chunk in _batches(rows):
        covered = [r for r in chunk if covers(fast, r["language"])]
        got = Vectors(None, {r["id"]: lead_for(fast, r["title"], r["text"]) for r in covered}).get(
            fast, [r["id"] for r in covered])
        for r in chunk:
            keys = tr.anchor_keys(list(tr.TransPrint.of(r["text"], r["language"]).anchors))
            vec = got.get(r["id"])
            yield {"id": r["id"], "rank": r["rank"], "language": r["language"], "day": day_of(r["published"]),
                   "akeys": sorted(set(keys)), "vec": vector_bytes(vec) if vec is not None else None}


def pool_of(rows: Iterable[tuple[str, int, str, int, bytes]], settings: Settings) -> Any:
    """The broadcast pool: (id, rank, language, day, vector bytes) of every looker the fast model embedded."""
    from storyloom.copies.transsearch import Pool
    from storyloom.embed import get_embedder

    return Pool.of(((i, rank, lang, day, vector_of(v)) for i, rank, lang, day, v in rows),
                   get_embedder(settings.embedder_fast).dim)


def nearest_pairs(rows: Iterable[tuple[str, int, str, int, bytes]], pool: Any, settings: Settings) -> Iterator[tuple[str, str]]:
    """(a, b), a < b: each embedded looker with its nearest earlier leads in ``pool``."""
    from storyloom.copies.transsearch import nearest

    for chunk in _batches(rows, 1024):
        queries = [(i, rank, lang, day, vector_of(v)) for i, rank, lang, day, v in chunk]
        for aid, found in nearest(pool, queries, settings.translation_window_days).items():
            for c in found:
                yield (min(aid, c), max(aid, c))


def judge_rows(rows: Iterable[dict[str, Any]], settings: Settings) -> Iterator[dict[str, Any]]:
    """Translation links (``copy_links`` rows, details and evidence as the store's JSON) among candidate pairs:
    each row ``a``, ``b`` and both articles' ``title_a``, ``text_a``, ``language_a``, ``published_a`` (and ``_b``)."""
    from storyloom.copies.transsearch import Caches, judge
    from storyloom.embed import get_embedder

    fast = get_embedder(settings.embedder_fast)
    wide = get_embedder(settings.embedder_wide)
    caches = Caches(None)
    for chunk in _batches(rows):
        if caches.size() > 16 * BATCH:  # a task's memory stays bounded
            caches = Caches(None)
        arts: dict[str, dict[str, Any]] = {}
        for r in chunk:
            for side in ("a", "b"):
                arts[r[side]] = {k: r[f"{k}_{side}"] for k in ("title", "text", "language", "published")}
        for link in judge([(r["a"], r["b"]) for r in chunk], arts, fast, wide, caches,
                          settings.translation_window_days):
            yield {**link, "details": canonical_json(link["details"]), "evidence": canonical_json(link["evidence"])}
