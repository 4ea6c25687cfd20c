"""Stand-in embedders for tests of the translation search on every engine: a text's vector is its four
commonest anchor buckets (0.5 each: float16 holds that exactly), so texts sharing their anchors score 1.0, the
way a translation does under a real model.  Deterministic, the same bits in any batch, no model file: a Spark
worker imports them by name (``standin_embedders:AnchorVectors``, the module shipped with ``addPyFile``), and
they carry their own thresholds (``translation_thresholds``), as a plugged-in model does."""

from __future__ import annotations

import itertools
import zlib
from collections import Counter
from collections.abc import Sequence

import numpy as np

from storyloom.copies import translation as tr


class AnchorVectors:
    name, dim, languages = "anchors-fast", 64, frozenset({"en", "de"})
    translation_thresholds = {"floor": 0.5, "sure": 0.99, "align": 0.5}
    seen: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, t in enumerate(texts):
            type(self).seen.append(t)
            dims = Counter(zlib.crc32(a.encode()) % self.dim for a in tr.anchors_in(tr.split_sentences(t)))
            picked = [d for d, _ in sorted(dims.items(), key=lambda kv: (-kv[1], kv[0]))][:4]
            extra = (d % self.dim for d in itertools.count(zlib.crc32(t.encode())))
            while len(picked) < 4:
                d = next(extra)
                if d not in picked:
                    picked.append(d)
            out[row, picked] = 0.5
        return out


class AnchorVectorsWide(AnchorVectors):
    name, languages = "anchors-wide", frozenset({"en", "de", "is", "fr"})  # as e5 covers a list, not all
    seen: list[str] = []
