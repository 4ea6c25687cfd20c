"""The embedding cache: vectors of title + lead per (article, model), read from the store when kept and
computed (then kept) when missing.  Copies (translations), stories and compare all read embeddings through it, so
an article is embedded once per model whatever stage asks first."""

from __future__ import annotations

from typing import Any


class Vectors:
    """Title + lead embeddings per model: read from the store, computed and stored when missing."""

    def __init__(self, store: Any, leads: dict[str, str]) -> None:
        self.store, self.leads = store, leads
        self.cache: dict[tuple[str, str], Any] = {}

    def get(self, embedder: Any, ids: list[str]) -> dict[str, Any]:
        import numpy as np

        from storyloom.store import embeddings as sql

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
