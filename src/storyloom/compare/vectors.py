"""Sentence vectors for comparing stories, kept in the store once per sentence text.

Why: embedding a story's sentences is most of what a comparison costs (a 50-article story: ~1,500 sentences,
seconds of USE on one core), and a growing story is compared again at every new article -- with every sentence
but the new article's already embedded the time before.  Keeping each sentence's vector (keyed by a hash of
its text, so a wire copy's sentences are one entry for all outlets) makes the next comparison pay for the new
sentences only.

Vectors are kept as int8 with one float32 scale each (516 bytes for USE's 512 dimensions, half of float16) and
a comparison always uses the int8 round trip, fresh or kept: the result of comparing a story must not depend on
whether its vectors were computed now or read back (the cosine moves by ~0.002 at most, below any decision the
aligner makes with a margin, but a comparison must be reproducible exactly).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

MODEL_KEY = "use-m3/sentence-int8"


def _key(text: str) -> str:
    return "s:" + hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def pack(v: np.ndarray) -> bytes:
    """One vector as int8 + its float32 scale (max |component| / 127)."""
    scale = float(np.abs(v).max()) / 127.0 or 1.0
    q = np.clip(np.rint(v / scale), -127, 127).astype(np.int8)
    return np.float32(scale).tobytes() + q.tobytes()


def unpack(blob: bytes) -> np.ndarray:
    scale = np.frombuffer(blob[:4], dtype=np.float32)[0]
    return np.frombuffer(blob[4:], dtype=np.int8).astype(np.float32) * scale


def sentence_vectors_kept(texts: Sequence[str], embed: Callable[[Sequence[str]], np.ndarray | None],
                          read: Any | None = None, write: Any | None = None) -> np.ndarray | None:
    """Vectors of ``texts``: those kept in ``read`` (a Store) are read, the others embedded by ``embed`` (each
    distinct text once) and kept in ``write`` when given.  None when ``embed`` cannot embed (no model)."""
    from storyloom.store import embeddings as sql

    if not texts:
        return None
    keys = [_key(t) for t in texts]
    kept: dict[str, np.ndarray] = {}
    if read is not None:
        for k, (_, blob) in sql.load_embeddings(read, MODEL_KEY, sorted(set(keys))).items():
            kept[k] = unpack(blob)
    todo = list(dict.fromkeys(t for t, k in zip(texts, keys) if k not in kept))
    if todo:
        fresh = embed(todo)
        if fresh is None:
            return None
        rows = [(_key(t), pack(v)) for t, v in zip(todo, np.asarray(fresh, dtype=np.float32))]
        for k, blob in rows:
            kept[k] = unpack(blob)
        if write is not None:
            sql.save_embeddings(write, MODEL_KEY, rows, "i8")
    return np.vstack([kept[k] for k in keys])
