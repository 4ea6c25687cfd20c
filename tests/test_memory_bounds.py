"""Memory of a long ingest stays bounded (issue 23: ≤ 4 GB at 1M articles): every structure the ingesting process
keeps across batches is bounded by a batch or by a constant, never by the corpus.  What this measures on real
text: bench/ingest_memory.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import storyloom.pipeline as pipeline
from storyloom import lookahead, offered
from storyloom.copies import OFFERED as FINGERPRINTS
from storyloom.copies import PRINTS_OFFERED_MAX, fingerprint
from storyloom.copies import translation as tr
from storyloom.embed import cache as ecache
from storyloom.offered import Offered
from storyloom.settings import Settings
from storyloom.store import Store


def test_an_offered_cache_keeps_the_latest_entries_up_to_its_bound() -> None:
    c: Offered[int, str] = Offered("test bound", 3)
    for i in range(10):
        c.offer(i, f"v{i}")
        assert len(c) <= 3
    assert [c.get(i) for i in range(10)] == [None] * 7 + ["v7", "v8", "v9"]
    c.offer(7, "again")  # offered again: the newest, so the next overflow drops 8 first
    c.offer(10, "v10")
    assert 8 not in c and c.get(7) == "again"
    assert c.get(9) == "v9" and 9 in c  # get leaves it for another caller
    assert c.take(9) == "v9" and c.take(9) is None  # take hands it over once
    with pytest.raises(ValueError):
        Offered("test empty", 0)


def test_the_three_offered_caches_are_one_type_bounded_and_forgotten_together() -> None:
    caches = offered.registry()
    assert caches["copy fingerprints"] is FINGERPRINTS and caches["translation prints"] is tr.OFFERED
    assert caches["vectors"] is ecache.OFFERED
    assert FINGERPRINTS.max_entries == PRINTS_OFFERED_MAX and ecache.OFFERED.max_entries == ecache.OFFERS_MAX
    text = "Der Rat traf sich am Montag in Bern. Er beschloss 12 neue Regeln für 2024."
    try:
        for i in range(PRINTS_OFFERED_MAX + 50):  # many more than the bound, as over many chunks of a long ingest
            FINGERPRINTS.offer(f"{text} {i}", fingerprint(f"a{i}", text))
        assert len(FINGERPRINTS) == PRINTS_OFFERED_MAX
        ecache.offer("model", text, [[0.5, 0.5]])
        assert ecache.OFFERED.get(("model", ecache.digest(text))) == [[0.5, 0.5]]
        tr.OFFERED.offer((text, "de"), tr.make_print(text, "de"))
    finally:
        lookahead.forget()
    assert len(FINGERPRINTS) == len(tr.OFFERED) == len(ecache.OFFERED) == 0


def test_a_print_made_ahead_equals_the_cached_one_and_leaves_the_cache_alone() -> None:
    """A cleaning worker never asks for a print twice: its prints go around the cache, which would otherwise
    hold 4,096 texts with their sentences in every worker for nothing."""
    text = "Die Regierung in Berlin legte am Dienstag 3 Entwürfe vor. Die Opposition lehnte sie ab."
    tr._print_of.cache_clear()
    made = tr.make_print(text, "de")
    assert tr._print_of.cache_info().currsize == 0
    assert made == tr.TransPrint.of(text, "de") and made.by_sentence == tr.TransPrint.of(text, "de").by_sentence
    tr._print_of.cache_clear()
    tr.OFFERED.offer((text, "de"), made)
    assert tr.TransPrint.of(text, "de") is made and len(tr.OFFERED) == 0  # taken once, then cached as before


def _articles(n: int) -> list[str]:
    places = ["Norfield", "Eastbrook", "Millport", "Ashdale", "Kingsbridge", "Westmoor", "Oakham"]
    out = []
    for i in range(n):
        place, other = places[i % len(places)], places[(i * 3 + 1) % len(places)]
        out.append(json.dumps({
            "id": f"m{i:04d}", "url": f"https://news{i % 4}.example/{i}", "outlet": f"News {i % 4}",
            "title": f"Council of {place} votes on item {i}", "published": f"2024-03-{i % 28 + 1:02d}T08:00:00Z",
            "text": f"The council of {place} met on Monday and voted on item {i} of its budget.\n\n"
                    f"Residents of {other} asked for {i * 7 % 90 + 10} new homes before the winter.\n\n"
                    f"The mayor said a decision on the {i % 5 + 2} remaining items would follow in {other}."}))
    return out


@pytest.mark.skipif("fork" not in __import__("multiprocessing").get_all_start_methods(), reason="needs fork")
def test_what_an_ingest_keeps_between_batches_is_bounded_by_a_batch(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Over many batches: at each pass of the stages the offered caches hold at most one batch, and nothing
    offered is left once the pass is over; the report lists at most MAX_IDS_KEPT ids and counts them all."""
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(_articles(120)) + "\n", encoding="utf-8")
    batch = 12
    seen: list[dict[str, int]] = []
    real_find = pipeline.find_copies

    def find_copies(*args: object, **kwargs: object) -> object:
        seen.append({name: len(c) for name, c in offered.registry().items()})
        return real_find(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "find_copies", find_copies)
    monkeypatch.setattr(pipeline, "MAX_IDS_KEPT", 30)
    settings = Settings(db_path=str(tmp_path / "m.db"), batch_size=batch, ingest_workers=2, translations=True,
                        story_embeddings=False)
    with Store(str(tmp_path / "m.db")) as store:
        store.migrate()
        rep = pipeline.ingest([str(src)], store, settings)
    assert rep.stored == 120 and len(rep.added_ids) == 30
    assert len(seen) >= 120 // batch  # a pass per batch
    assert max(s["copy fingerprints"] for s in seen) > 0  # the workers did offer (else this tests nothing)
    assert all(n <= batch for s in seen for n in s.values()), seen
    assert all(len(c) == 0 for c in offered.registry().values())


def _pool_rows(n: int, dim: int) -> list[tuple[str, int, str, int, bytes]]:
    """(id, rank, language, day, stored i8 vector) newest first, as the store's ranked pool reads them."""
    import numpy as np

    from storyloom.embed.cache import pack

    rng = np.random.default_rng(23)
    vecs = rng.standard_normal((n, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1)[:, None]
    return [(f"a{i}", i + 1, ("en", "de", "fr")[i % 3], 739_000 + i % 40, pack(f"t{i}", vecs[i : i + 1]))
            for i in reversed(range(n))]


def test_the_nearest_lead_pool_is_built_in_place_the_same_as_from_a_list() -> None:
    """The translation search's pool (up to 20,000 earlier articles per chunk) goes row by row into one matrix: it
    once held every row, each vector, a stacked and a float32 copy at once (~9 KB per row, ~180 MB for a full pool:
    the RSS growth bench/ingest_memory.py measured from 2k to 20k articles).  Same pool, same candidates."""
    import tracemalloc

    from storyloom.copies import transsearch as ts

    n, dim = 3_000, 256
    rows = _pool_rows(n, dim)

    def stream() -> Iterator[tuple[str, int, str, int, Any]]:
        return ((i, r, lang, d, ts.decode(v, dim, "i8")) for i, r, lang, d, v in rows)

    tracemalloc.start()
    try:
        held = ts.Pool.of(stream(), dim)
        held_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        streamed = ts.Pool.newest_first(stream(), dim, n + 100)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    matrix = (n + 100) * dim * 4
    assert peak < 1.25 * matrix, (peak, matrix)  # the matrix, the ids, and one row's decoding at a time
    assert held_peak > 2 * matrix  # what the list-built pool costs (else this compares nothing)
    assert held.ids == streamed.ids and held.matrix.tobytes() == streamed.matrix.tobytes()
    assert (held.ranks == streamed.ranks).all() and (held.days == streamed.days).all()
    assert list(held.langs) == list(streamed.langs)
    queries = [(f"q{k}", n + 10 + k, "es", 739_010, held.matrix[k]) for k in range(0, n, 97)]
    assert ts.nearest(held, queries, 7) == ts.nearest(streamed, queries, 7)
    with pytest.raises(ValueError):
        ts.Pool.newest_first(reversed(list(stream())), dim, n)  # oldest first: refused, not silently misordered
    with pytest.raises(ValueError):
        ts.Pool.newest_first(stream(), dim, n - 1)  # more rows than the bound
    assert ts.Pool.newest_first(iter(()), dim, 10).matrix.shape == (0, dim)


def test_the_local_search_streams_its_pool_from_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The copies stage reads the pool as a cursor into Pool.newest_first, never as a list into Pool.of."""
    from batchdata import multilingual_corpus
    from storyloom.copies import transsearch as ts

    def refuse(*args: object, **kwargs: object) -> object:
        raise AssertionError("the local translation search built its pool from a list")

    seen: list[object] = []
    real = ts.Pool.newest_first.__func__  # type: ignore[attr-defined]

    def spy(cls: type, rows: object, dim: int, limit: int) -> object:
        seen.append(rows)
        return real(cls, rows, dim, limit)

    monkeypatch.setattr(ts.Pool, "of", classmethod(refuse))
    monkeypatch.setattr(ts.Pool, "newest_first", classmethod(spy))
    corpus = multilingual_corpus(tmp_path / "ml", with_copy=False)
    settings = Settings(db_path=str(tmp_path / "t.db"), line_classifier=False, story_embeddings=False,
                        embedder_fast="standin_embedders:AnchorVectors",
                        embedder_wide="standin_embedders:AnchorVectorsWide")
    with Store(str(tmp_path / "t.db")) as store:
        rep = pipeline.ingest([str(corpus)], store, settings)
    assert rep.copies.get("translation", 0) >= 6 and seen
    assert all(not isinstance(rows, list | tuple) for rows in seen)
