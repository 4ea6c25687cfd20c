"""The embedding cache: vectors per (article, model), read from the store when kept and computed (then kept) when
missing.  Copies (translations), stories and compare all read embeddings through it, so an article is embedded
once per model and per *version*: each stored blob starts with a digest of the text that was embedded, so an
article whose text changed (cleaned again, a new version of the page) is embedded again instead of being
compared through its old text's vector.

Two kinds of entry per model: title + lead (one vector, :class:`Vectors`), and the sentences a translation is
checked on (a matrix, :class:`SentenceVectors`, ``<model>#sents``).  The store keeps the first kind only (and the
slow model's cascade matrices, ``#head``/``#tail``, small and costly): the fast model's sentence matrices were
9 % of a real-text store (1.94 KB an article) and only 22 % of them were ever read back (199 of 906 asked for on
the real texts, the rest computed in the same chunk), so they live in a bounded memory of the process
(:data:`RECENT`) and are computed again when an article from an earlier ingest meets a new candidate.  A vector just computed is
kept as it will be read back (int8 with a scale per row), so a decision never depends on whether the vector was fresh or kept;
without a store (``store=None``: a Spark task) the cache lives in memory only.

An article's vectors are computed by one call of the model on that article's texts alone (its lead, or its
sentences), unless the model says its output does not depend on the batch (``batch_invariant``): USE's
matrix products give other last bits in another batch, and a kept vector keeps some of them.  So a vector does not
depend on which other articles were embedded with it — in which chunk, on which engine, or ahead in a
cleaning worker (:mod:`storyloom.lookahead`), whose results are *offered* here (:func:`offer`) and taken when
the very same text is asked for.  Measured on news sentences: 7 % more CPU than one call for all."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any

from storyloom.offered import Offered

DIGEST = 8  # bytes of blake2b of the embedded text, before the vector(s)
CODEC = "i8"  # how vectors are kept now: int8 rows, each with its float32 scale (half of float16's bytes)


def digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=DIGEST).digest()


OFFERS_MAX = 50_000  # vectors offered and not yet asked for, at most (the oldest go first)
# rows as the model returned them for [text], computed elsewhere for exactly that text, by (cache model key: the
# model's name, "#sents" appended for sentence matrices, whose text is the sentences joined by newlines; digest)
OFFERED: Offered[tuple[str, bytes], Any] = Offered("vectors", OFFERS_MAX)


RECENT_MAX = 4096  # matrices not kept in the store, remembered in the process (packed: ~6 KB, 16 rows 8.3 KB: <= 34 MB)
# (cache model key, article id) -> the packed matrix (digest first), the most recently used last
RECENT: OrderedDict[tuple[str, str], bytes] = OrderedDict()


_RECENT_LOCK = threading.Lock()  # a server's threads may compare and ingest at once


def remember(model: str, aid: str, blob: bytes) -> None:
    with _RECENT_LOCK:
        RECENT[(model, aid)] = blob
        RECENT.move_to_end((model, aid))
        while len(RECENT) > RECENT_MAX:
            RECENT.popitem(last=False)


def recalled(model: str, ids: list[str]) -> dict[str, tuple[str, bytes]]:
    """The matrices :data:`RECENT` holds of ``ids`` (as the store's rows read: codec, blob), now the most recent."""
    out: dict[str, tuple[str, bytes]] = {}
    with _RECENT_LOCK:
        for aid in ids:
            blob = RECENT.get((model, aid))
            if blob is not None:
                RECENT.move_to_end((model, aid))
                out[aid] = (CODEC, blob)
    return out


def offer(model: str, text: str, rows: Any) -> None:
    """A vector (rows, as the model returned them for ``[text]``) computed elsewhere for exactly ``text``."""
    OFFERED.offer((model, digest(text)), rows)


def quantize(vecs: Any) -> tuple[Any, Any]:
    """(float32 scale per row, int8 rows): each row divided by max |component| / 127 and rounded.  For a unit
    vector of 512 dimensions a cosine moves by ~0.002 at most, below any threshold the stages use with a
    margin (measured on the copies, stories and compare benchmarks: see bench/store_disk.py's notes)."""
    import numpy as np

    m = np.atleast_2d(np.asarray(vecs, dtype=np.float32))
    scale = np.abs(m).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    return scale.astype(np.float32), np.clip(np.rint(m / scale[:, None]), -127, 127).astype(np.int8)


def pack(text: str, vecs: Any) -> bytes:
    """The digest of ``text``, the rows' scales, then the int8 rows (codec :data:`CODEC`)."""
    scale, q = quantize(vecs)
    return digest(text) + scale.tobytes() + q.tobytes()


def unpack(blob: bytes, dim: int, codec: str = CODEC) -> tuple[bytes | None, Any]:
    """(digest or None for a blob kept before digests, float32 rows of ``dim``); ``codec`` as the store kept it:
    ``i8`` (:func:`pack`) or ``f16`` (float16 rows, what stores written before migration 12 hold)."""
    import numpy as np

    head: bytes | None = None
    if codec == "i8":
        rows = (len(blob) - DIGEST) // (dim + 4)
        head, scale = blob[:DIGEST], np.frombuffer(blob, dtype=np.float32, count=rows, offset=DIGEST)
        q = np.frombuffer(blob, dtype=np.int8, offset=DIGEST + 4 * rows).reshape(rows, dim)
        return head, q.astype(np.float32) * scale[:, None]
    if codec != "f16":
        raise ValueError(f"unknown vector codec {codec!r}")
    if len(blob) % (2 * dim) == DIGEST % (2 * dim) and len(blob) >= DIGEST:
        head, blob = blob[:DIGEST], blob[DIGEST:]
    return head, np.frombuffer(blob, dtype=np.float16).astype(np.float32).reshape(-1, dim)


class _Cache:
    suffix = ""
    kept = True  # does the store keep what is computed (else RECENT remembers it)

    def __init__(self, store: Any, texts: dict[str, Any]) -> None:
        self.store, self.texts = store, texts
        self.cache: dict[tuple[str, str], Any] = {}
        self.computed: dict[str, int] = {}  # texts embedded per model (for benchmarks and tests)

    def _key(self, aid: str) -> str:
        raise NotImplementedError

    def _inputs(self, aid: str) -> list[str]:
        raise NotImplementedError

    def _fetch(self, embedder: Any, ids: list[str]) -> None:
        from storyloom.store import embeddings as sql

        model = embedder.name + self.suffix
        want = [i for i in ids if (model, i) not in self.cache and i in self.texts]
        if not want:
            return
        if self.kept:
            found = sql.load_embeddings(self.store, model, want) if self.store is not None else {}
        else:
            found = recalled(model, want)
        for aid, (codec, blob) in found.items():
            head, vecs = unpack(blob, embedder.dim, codec)
            if head == digest(self._key(aid)) and len(vecs):
                self.cache[(model, aid)] = vecs
        missing = [i for i in want if (model, i) not in self.cache]
        if not missing:
            return
        inputs = [self._inputs(i) for i in missing]
        mats = self._embed(embedder, model, missing, inputs)
        rows = []
        for aid, mat in zip(missing, mats):
            if mat is None or not len(mat):
                continue
            blob = pack(self._key(aid), mat)
            self.cache[(model, aid)] = unpack(blob, embedder.dim)[1]  # what a later read gives: fresh = kept
            if self.kept:
                rows.append((aid, blob))
            else:
                remember(model, aid, blob)
        if self.store is not None and rows:
            sql.save_embeddings(self.store, model, rows, CODEC)

    def _embed(self, embedder: Any, model: str, ids: list[str], inputs: list[list[str]]) -> list[Any]:
        """Each article's rows: offered ones taken, the rest computed one article per call (or all in one call
        for a model whose output does not depend on the batch)."""
        mats: list[Any] = [OFFERED.get((model, digest(self._key(i)))) if xs else None
                           for i, xs in zip(ids, inputs)]
        todo = [k for k, (m, xs) in enumerate(zip(mats, inputs)) if m is None and xs]
        self.computed[embedder.name] = self.computed.get(embedder.name, 0) + sum(len(inputs[k]) for k in todo)
        if getattr(embedder, "batch_invariant", False) and todo:
            flat = embedder.embed([t for k in todo for t in inputs[k]])
            at = 0
            for k in todo:
                mats[k], at = flat[at : at + len(inputs[k])], at + len(inputs[k])
        else:
            for k in todo:
                mats[k] = embedder.embed(inputs[k])
        return mats


class Vectors(_Cache):
    """Title + lead embeddings per model: read from the store, computed and stored when missing or stale."""

    def _key(self, aid: str) -> str:
        return str(self.texts.get(aid) or "")

    def _inputs(self, aid: str) -> list[str]:
        return [self._key(aid)]

    def get(self, embedder: Any, ids: list[str]) -> dict[str, Any]:
        self._fetch(embedder, ids)
        model = embedder.name
        return {i: self.cache[(model, i)][0] for i in ids if (model, i) in self.cache}


class SentenceVectors(_Cache):
    """One matrix per article: the embeddings of the sentences a translation is checked on (``texts`` maps an
    id to its list of sentences)."""

    suffix = "#sents"
    kept = False  # see the module's docstring

    def _key(self, aid: str) -> str:
        return "\n".join(self.texts.get(aid) or ())

    def _inputs(self, aid: str) -> list[str]:
        return list(self.texts.get(aid) or ())

    def get(self, embedder: Any, ids: list[str]) -> dict[str, Any]:
        self._fetch(embedder, ids)
        model = embedder.name + self.suffix
        return {i: self.cache[(model, i)] for i in ids if (model, i) in self.cache}
