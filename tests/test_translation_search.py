"""The translation search (storyloom.copies.transsearch): candidates that do not depend on the chunking, the
model a pair gets, plugged-in thresholds, and the issue's bad input (very short articles, wrong language tags,
languages no model covers, mixed-language articles).  The stand-in embedders of standin_embedders.py keep this
fast and exact; the real models are measured by bench/translations.py (--variant short|translit)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from batchdata import ml_article, multilingual_corpus
from storyloom.copies import translation as tr
from storyloom.copies import transsearch as ts
from storyloom.embed import E5Embedder, USEEmbedder
from storyloom.pipeline import ingest
from storyloom.settings import Settings
from storyloom.store import Store

STANDIN = {"embedder_fast": "standin_embedders:AnchorVectors", "embedder_wide": "standin_embedders:AnchorVectorsWide"}


def _links(tmp: Path, name: str, inputs: list[str], **kw: Any) -> list[tuple[str, str, str, str]]:
    db = tmp / f"{name}.db"
    settings = Settings(db_path=str(db), line_classifier=False, story_embeddings=False, **STANDIN, **kw)  # type: ignore[arg-type]
    with Store(db) as store:
        ingest(inputs, store, settings)
        return [(r[0], r[1], r[2], r[3]) for r in store.conn.execute(
            "SELECT a.url, b.url, l.kind, l.details FROM copy_links l JOIN articles a ON a.id = l.a "
            "JOIN articles b ON b.id = l.b ORDER BY 1, 2")]


def test_links_do_not_depend_on_how_the_stream_is_cut(tmp_path: Path) -> None:
    corpus = multilingual_corpus(tmp_path / "ml", with_copy=False)
    one = _links(tmp_path, "one", [str(corpus)], batch_size=500)
    small = _links(tmp_path, "small", [str(corpus)], batch_size=2)
    assert one == small
    assert sum(k == "translation" for _, _, k, _ in one) >= 6


def _pool(rows: list[tuple[str, int, str, int, list[float]]]) -> ts.Pool:
    return ts.Pool.of(((i, r, lang, d, np.array(v, dtype=np.float32)) for i, r, lang, d, v in rows), 2)


def test_nearest_looks_back_at_other_languages_within_the_window() -> None:
    v = [1.0, 0.0]
    pool = _pool([("early", 1, "de", 100, v), ("same-lang", 2, "en", 100, v), ("far", 3, "de", 80, v),
                  ("undated", 4, "fr", ts.UNDATED, v), ("later", 9, "de", 100, v), ("unlike", 5, "de", 100, [0.0, 1.0])])
    got = ts.nearest(pool, [("me", 6, "en", 101, np.array(v, dtype=np.float32))], window_days=7)
    assert got["me"] == ["undated", "early"]  # best first, ties: newest first; not later, same-language, far, unlike
    undated = ts.nearest(pool, [("me", 6, "en", ts.UNDATED, np.array(v, dtype=np.float32))], window_days=7)
    assert undated["me"] == ["undated", "far", "early"]  # an undated article is near every date


def test_nearest_keeps_the_top_k() -> None:
    rows = [(f"c{i}", i, "de", 10, [float(np.cos(0.1 * i)), float(np.sin(0.1 * i))]) for i in range(10)]
    got = ts.nearest(_pool(rows), [("me", 100, "en", 10, np.array([1.0, 0.0], dtype=np.float32))], 7)["me"]
    assert got == ["c0", "c1", "c2", "c3", "c4"][: ts.EMBED_TOP_K]


def test_each_pair_gets_a_model_covering_both_languages_or_none() -> None:
    assert ts.model_for(USEEmbedder, E5Embedder, "de", "en") is USEEmbedder
    assert ts.model_for(USEEmbedder, E5Embedder, "is", "en") is E5Embedder
    # Dhivehi (Thaana script): XLM-R never saw it, so no model: no translation link, and the story page says so
    assert ts.model_for(USEEmbedder, E5Embedder, "dv", "en") is None
    assert ts.model_for(USEEmbedder, E5Embedder, None, "en") is None


def test_a_plugged_in_model_brings_its_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    class Mine:
        name = "my-model"
        translation_thresholds = {"floor": 0.3, "sure": 0.7, "align": 0.6}

    for table in (tr.COSINE_FLOOR, tr.SURE, tr.crossalign.ALIGN):
        monkeypatch.setitem(table, "placeholder", 0.0)  # restored after the test, with the model's entries gone
        monkeypatch.delitem(table, "placeholder")
    tr.register_model(Mine())
    try:
        assert (tr.COSINE_FLOOR["my-model"], tr.SURE["my-model"], tr.crossalign.ALIGN["my-model"]) == (0.3, 0.7, 0.6)
        tr.register_model(USEEmbedder)  # a shipped model's calibration is not touched
        assert tr.SURE["use-m3"] == 0.65
    finally:
        for table in (tr.COSINE_FLOOR, tr.SURE, tr.crossalign.ALIGN, tr.crossalign.SHORT_ALIGN):
            table.pop("my-model", None)


def _jsonl(folder: Path, name: str, recs: list[dict[str, Any]]) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), encoding="utf-8")
    return str(path)


def test_bad_input_is_judged_not_crashed_on(tmp_path: Path) -> None:
    """Very short articles, a wrong language tag, a language no model covers, a mixed-language article, an
    unseen script, no text: each one is stored and judged; only real translations are linked as such."""
    en, de = ml_article(0, "en", 1), ml_article(0, "de", 2)
    src = ml_article(2, "en", 1)["text"]
    for old, new in [("The council of", "Yesterday the town board of"), ("voted on", "approved"), ("said", "told reporters"),
                     ("people came", "visitors travelled"), ("it cost", "the bill came to")]:
        src = src.replace(old, new)
    reworded = {**ml_article(2, "en", 2), "url": "https://wrong.example/2", "language": "de", "text": src}
    recs = [
        en, de,
        ml_article(1, "en", 1, short=True), ml_article(1, "de", 2, short=True),  # headline + one sentence each
        ml_article(2, "en", 1), reworded,  # an English rewrite, tagged German
        {**ml_article(3, "de", 1), "language": "dv"},  # a language no cross-lingual model covers
        ml_article(3, "en", 2),
        {**ml_article(0, "de", 3), "url": "https://mixed.example/0",  # German, then the English original
         "text": ml_article(0, "de", 3)["text"] + "\n\n" + en["text"]},
        {"url": "https://thaana.example/1", "title": "ދިވެހި ރާއްޖެ", "text": "ދިވެހިރާއްޖޭގެ ސަރުކާރު " * 12},
        {"url": "https://empty.example/1", "title": "Riverton Corvell 37", "text": "", "language": "de"},
    ]
    links = _links(tmp_path, "bad", [_jsonl(tmp_path / "in", "bad.jsonl", recs)])
    kinds = {(a, b): k for a, b, k, _ in links}
    assert kinds.get(("https://de.example/0/0", "https://en.example/0/0"), kinds.get(
        ("https://en.example/0/0", "https://de.example/0/0"))) == "translation"
    trans = {frozenset((a, b)) for a, b, k, _ in links if k == "translation"}
    urls = {u for p in trans for u in p}
    assert "https://wrong.example/2" not in urls  # the same language under a wrong tag: a copy, not a translation
    assert not {"https://de.example/3/0", "https://thaana.example/1", "https://empty.example/1"} & urls
    assert frozenset(("https://mixed.example/0", "https://en.example/0/0")) not in trans


def test_each_model_aligns_its_own_sentences(monkeypatch: pytest.MonkeyPatch) -> None:
    """An article in an uncertain pair of each model (English with German: the fast one; with Icelandic: the wide
    one) is aligned on each model's own sentence list, as each model's threshold was calibrated on."""
    from standin_embedders import AnchorVectors, AnchorVectorsWide

    for name in ("anchors-fast", "anchors-wide"):
        monkeypatch.setitem(tr.COSINE_FLOOR, name, 0.5)
        monkeypatch.setitem(tr.SURE, name, 1.01)  # nothing is sure: every pair is aligned
        monkeypatch.setitem(tr.crossalign.ALIGN, name, 0.5)
    monkeypatch.setitem(tr.crossalign.MAX_SENTENCES, "anchors-wide", 3)
    rows = {f"{lang}0": ml_article(0, lang, 1) for lang in ("en", "de", "is")}
    caches = ts.Caches(None)
    links = ts.judge([("de0", "en0"), ("en0", "is0")], rows, AnchorVectors(), AnchorVectorsWide(), caches)
    assert [(link["a"], link["b"], link["details"]["confirmed_by"]) for link in links] == [
        ("de0", "en0", "sentences"), ("en0", "is0", "sentences")]
    assert len(caches.sents["anchors-fast"].texts["en0"]) == 5 and len(caches.sents["anchors-wide"].texts["en0"]) == 3


def test_each_model_gets_its_own_lead() -> None:
    from storyloom.embed import lead, lead_for

    text = "First sentence here. Second sentence there. Third one. Fourth."
    assert lead_for(USEEmbedder, "Title", text) == lead("Title", text) == "Title\nFirst sentence here. Second sentence there. Third one."
    assert lead_for(E5Embedder, "Title", text) == "Title\nFirst sentence here."  # the slow model: title + first sentence
    assert len(lead_for(E5Embedder, "T", "word " * 500)) <= 300


def test_a_lead_splits_off_only_its_first_sentences_and_is_the_same() -> None:
    """``lead`` stops splitting after the sentences it keeps: the same lead as the first sentences of a whole
    split, on paragraphs, abbreviations, CJK stops, texts shorter than asked and a cut at 4,000 characters."""
    from storyloom.embed import lead
    from storyloom.enrich.sentences import split_sentences

    texts = ["", "One.", "Mr. Smith went to Washington. He met Dr. Jones.\n\nNew paragraph here. And more.",
             "東京で会議が開かれた。首相が出席した。結論は出なかった。", "no stop at all " * 50,
             "A sentence. " * 600, "U.S. officials said on Jan. 5 that 3.5% more. Then \"quoted.\" Next one! Last?"]
    for text in texts:
        for n in (0, 1, 3, 5):
            whole = " ".join(split_sentences(text[:4000])[:n])
            assert lead("T", text, n, 10_000) == f"T\n{whole}".strip()


def test_a_short_pair_needs_a_closer_alignment() -> None:
    """A headline and one sentence against another: every sentence is "in order" whatever it says, so the
    alignment must be closer than for a long pair (bench/translations.py --variant short)."""
    from storyloom.copies import crossalign

    def matrices(n: int, sim: float) -> tuple[Any, Any]:
        a = np.eye(n, 2 * n, dtype=np.float32)  # row i: axis i; b row i: mostly axis i, the rest its own axis
        b = np.zeros((n, 2 * n), dtype=np.float32)
        for i in range(n):
            b[i, i], b[i, n + i] = sim, float(np.sqrt(1 - sim * sim))
        return a, b

    short, long_ = crossalign.align(*matrices(2, 0.5)), crossalign.align(*matrices(12, 0.5))
    assert short is not None and long_ is not None and short.short and not long_.short
    assert short.inband == long_.inband == 1.0 and abs(short.diag - 0.5) < 1e-6 and abs(long_.diag - 0.5) < 1e-6
    assert crossalign.accepts(long_, "use-m3") and not crossalign.accepts(short, "use-m3")
    assert crossalign.accepts(crossalign.align(*matrices(2, 0.6)), "use-m3")


def test_a_translation_joins_its_source_story(tmp_path: Path) -> None:
    """The stories stage reads the cascade's links through the copy groups: every language version of a story
    (even one dated weeks later, which its anchors link) is in that story."""
    corpus = multilingual_corpus(tmp_path / "ml", with_copy=False)
    db = tmp_path / "s.db"
    settings = Settings(db_path=str(db), line_classifier=False, story_embeddings=False, **STANDIN)  # type: ignore[arg-type]
    with Store(db) as store:
        ingest([str(corpus)], store, settings)
        rows = store.conn.execute("SELECT a.url, m.story_id, m.reason FROM story_members m "
                                  "JOIN articles a ON a.id = m.article_id").fetchall()
    by_story: dict[str, set[str]] = {}
    for url, sid, _ in rows:
        by_story.setdefault(url.split("/")[3], set()).add(sid)
    assert all(len(sids) == 1 for sids in by_story.values()), by_story
    assert sum(reason == "copy" for _, _, reason in rows) >= 6  # joined through their translation links


def test_beyond_the_window_only_pairs_whose_anchors_agree_are_judged() -> None:
    """The anchor candidates are not bounded in time.  A pair published further apart than the translation
    window is embedded only when its anchors agree in overlap and order (a translation published weeks later
    still is); one whose anchors barely meet costs no embedding at all, as it would within the window."""
    from standin_embedders import AnchorVectors, AnchorVectorsWide

    en, de = ml_article(0, "en", 1), ml_article(0, "de", 2)
    weak = {**de, "text": "In Riverton sprachen Ostwald, Berger und Kranz mit 37 Gästen. Lehmann, Albers und Quandt "
                          "kamen 2019 hinzu. Später sagten Vogt, Seidel und Brandt, es koste 900 Euro."}
    assert not tr.anchors_agree(tr.TransPrint.of(en["text"], "en"), tr.TransPrint.of(weak["text"], "de"))
    assert not tr.rejected_before_cosine(tr.TransPrint.of(en["text"], "en"), tr.TransPrint.of(weak["text"], "de"))

    def embedded(rows: dict[str, dict[str, Any]]) -> tuple[list[str], list[tuple[str, str]]]:
        AnchorVectors.seen.clear()
        links = ts.judge([("de0", "en0")], rows, AnchorVectors(), AnchorVectorsWide(), ts.Caches(None), window_days=7)
        return list(AnchorVectors.seen), [(link["a"], link["b"]) for link in links]

    later = "2024-03-25T10:00:00+00:00"  # 23 days after the English one
    assert embedded({"en0": en, "de0": de})[1] == [("de0", "en0")]
    assert embedded({"en0": en, "de0": {**de, "published": later}})[1] == [("de0", "en0")]  # anchors agree
    assert embedded({"en0": en, "de0": weak})[0]  # within the window the pair is looked at
    assert embedded({"en0": en, "de0": {**weak, "published": later}}) == ([], [])  # beyond it: not even embedded
    assert ts.within_window(None, later, 7) and ts.within_window(en["published"], later, None)


def test_anchor_candidates_counted_in_sqlite_are_the_ones_counted_row_by_row(tmp_path: Path) -> None:
    """``keyed_candidates(..., min_shared=k)`` counts the shared keys in SQLite: the same articles and counts as
    counting every row here and keeping those with k or more; over-full buckets are skipped either way."""
    import random

    from storyloom.store import copies as sql

    rng = random.Random(7)
    with Store(tmp_path / "k.db") as store:
        store.migrate()
        rows = [(f"a{i:03d}", sorted(rng.sample(range(40), rng.randint(0, 12)))) for i in range(120)]
        with store.transaction():
            sql.save_anchors(store, rows)
        for aid, keys in rows[:30]:
            for cap in (5, 500):
                every, over = sql.keyed_candidates(store, "copy_anchors", "akey", keys, aid, cap)
                three, over3 = sql.keyed_candidates(store, "copy_anchors", "akey", keys, aid, cap, min_shared=3)
                assert three == {a: n for a, n in every.items() if n >= 3} and over3 == over
        assert any(sql.keyed_candidates(store, "copy_anchors", "akey", k, a, 500, 3)[0] for a, k in rows)


def test_a_chunks_anchor_candidates_at_once_are_each_articles_own(tmp_path: Path) -> None:
    """``keyed_candidates_many`` (the translation search's anchor look-ups of a chunk in one go) gives every
    article what its own ``keyed_candidates`` call gives and what counting the stored keys here gives: the same
    articles, counts and skipped buckets, itself excluded, whatever the cap and ``min_shared``; and ``languages``
    answers, for all at once, which articles are stored in another known language."""
    import random
    from collections import Counter

    from storyloom.store import copies as sql

    rng = random.Random(11)
    with Store(tmp_path / "k.db") as store:
        store.migrate()
        # hex ids (held as 8 bytes) and ids kept as text, keys drawn so that some buckets overflow a cap of 5
        ids = [f"{i:016x}" if i % 3 else f"id-{i}" for i in range(150)]
        rows = [(aid, sorted(rng.sample(range(60), rng.randint(0, 15)))) for aid in ids]
        with store.transaction():
            sql.save_anchors(store, rows)
        asked = {aid: keys + keys[:2] for aid, keys in rows[:40]}  # repeated keys count once, as one by one
        asked["not-stored"] = [1, 2, 3, 4, 5]
        asked["no-keys"] = []
        holders: dict[int, set[str]] = {}
        for aid, keys in rows:
            for key in keys:
                holders.setdefault(key, set()).add(aid)

        def counted(aid: str, keys: list[int], cap: int, k: int) -> tuple[dict[str, int], list[int]]:
            keys = sorted(set(keys))
            shared = Counter(h for key in keys if len(holders.get(key, ())) <= cap for h in holders.get(key, ()))
            shared.pop(aid, None)
            return {h: n for h, n in shared.items() if n >= k}, [key for key in keys if len(holders.get(key, ())) > cap]

        for cap in (5, 30, 500):
            for k in (1, 3):
                many = sql.keyed_candidates_many(store, "copy_anchors", "akey", asked, cap, k)
                assert set(many) == set(asked)
                for aid, keys in asked.items():
                    assert many[aid] == counted(aid, keys, cap, k)
                    assert many[aid] == sql.keyed_candidates(store, "copy_anchors", "akey", keys, aid, cap, k)
        assert any(hits for hits, _ in sql.keyed_candidates_many(store, "copy_anchors", "akey", asked, 500, 3).values())
        assert any(over for _, over in sql.keyed_candidates_many(store, "copy_anchors", "akey", asked, 5, 3).values())
        with pytest.raises(ValueError):
            sql.keyed_candidates_many(store, "articles", "id", asked, 5)

        arts = [{"title": f"t{i}", "text": f"Text number {i} about the Danube.", "language": lang,
                 "url": f"https://x.example/{i}", "published": "2024-03-01T10:00:00+00:00"}
                for i, lang in enumerate(["en", "de", None, "fr", "en"])]
        path = tmp_path / "a.jsonl"
        path.write_text("".join(json.dumps(a) + "\n" for a in arts))
        ingest([str(path)], store, Settings(db_path=str(tmp_path / "k.db"), run_copies=False, run_stories=False))
        stored = [r[0] for r in store.conn.execute("SELECT id FROM articles ORDER BY rowid")]
        got = sql.languages(store, [*stored, "missing"])
        for lang in ("en", "de", "fr", "xx"):
            other = store.conn.execute("SELECT id FROM articles WHERE language IS NOT NULL AND language != ?", (lang,))
            assert sorted(i for i in stored if i in got and got[i] != lang) == sorted(r[0] for r in other)


def test_same_language_reads_each_text_once_and_decides_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    """A text in several linked pairs is given to the language detector once; the answer is the detector's."""
    from storyloom.enrich import language

    calls: list[str] = []
    real = language.detect_language

    def counting(text: str) -> str | None:
        calls.append(text)
        return real(text)

    monkeypatch.setattr(language, "detect_language", counting)
    ts._written_in.cache_clear()
    en = {"title": "Floods close the bridge", "text": "The river rose by two metres overnight and the city closed "
          "the old bridge to traffic. Engineers will inspect it on Monday."}
    de = {"title": "Hochwasser sperrt die Brücke", "text": "Der Fluss stieg über Nacht um zwei Meter, und die Stadt "
          "sperrte die alte Brücke für den Verkehr. Ingenieure prüfen sie am Montag."}
    mislabelled = {**en, "title": "Floods close the old bridge"}  # English again, tagged as another language
    assert not ts.same_language(en, de) and ts.same_language(en, mislabelled) and not ts.same_language(de, en)
    assert len(calls) == 3  # en, de, the second English text: each once
    assert ts.same_language(en, de) == (real(f"{en['title']}\n{en['text']}") == real(f"{de['title']}\n{de['text']}"))


def test_the_cascade_keeps_links_whatever_the_chunking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a cascade on the wide model, kept in the store as heads and tails: the same links in one chunk and
    in chunks of two, and the same pairs as without the cascade."""
    corpus = multilingual_corpus(tmp_path / "ml", with_copy=False)
    monkeypatch.setitem(tr.SURE, "anchors-wide", 1.01)  # nothing is sure: every pair is aligned
    plain = _links(tmp_path, "plain", [str(corpus)], batch_size=500)
    monkeypatch.setitem(tr.crossalign.CASCADE, "anchors-wide", tr.crossalign.Cascade(rows=2, refuse=0.2, accept=0.9))
    one = _links(tmp_path, "one", [str(corpus)], batch_size=500)
    small = _links(tmp_path, "small", [str(corpus)], batch_size=2)
    assert one == small
    assert [(a, b, k) for a, b, k, _ in one] == [(a, b, k) for a, b, k, _ in plain]
    wide = [json.loads(d) for _, _, k, d in one if k == "translation" and json.loads(d)["model"] == "anchors-wide"]
    assert any(d.get("first_sentences_only") == 2 for d in wide), wide  # some decided on their heads


def test_the_slow_model_never_embeds_a_pair_whose_sentence_counts_are_far_apart() -> None:
    """Only the slow (wide) model covers Icelandic: a pair whose sentence counts differ more than any translation's
    on the dev split (ratio under WIDE_MIN_RATIO, though over MIN_SENTENCE_RATIO, the bar of every pair) costs no
    embedding at all; at a translation's ratio, the same texts are embedded."""
    from standin_embedders import AnchorVectors, AnchorVectorsWide

    lines = [f"Ostwald met Berger in Riverton on day {i}, with Kranz and {100 + i} guests." for i in range(9)]

    def embedded(n_is: int) -> list[str]:
        rows = {"en0": {"title": "Riverton", "text": " ".join(lines), "language": "en", "published": None},
                "is0": {"title": "Riverton", "text": " ".join(lines[:n_is]), "language": "is", "published": None}}
        pa, pb = (tr.TransPrint.of(rows[x]["text"], rows[x]["language"]) for x in ("en0", "is0"))
        assert not tr.rejected_before_cosine(pa, pb) and tr.anchors_agree(pa, pb)
        AnchorVectorsWide.seen.clear()
        ts.judge([("en0", "is0")], rows, AnchorVectors(), AnchorVectorsWide(), ts.Caches(None))
        return list(AnchorVectorsWide.seen)

    assert tr.MIN_SENTENCE_RATIO < 5 / 9 < tr.WIDE_MIN_RATIO <= 6 / 9
    assert embedded(5) == []
    assert embedded(6)


def test_the_slow_model_never_embeds_latin_script_pairs_whose_anchors_barely_meet() -> None:
    """Between two Latin-script languages a translation keeps most of its source's names and numbers (dev split:
    overlap >= 0.50), so a pair whose anchors meet less than WIDE_MIN_OVERLAP_LATIN costs the slow model nothing;
    a pair with a language of another script keeps the lower bar of every script (capitals differ there)."""
    from standin_embedders import AnchorVectors, AnchorVectorsWide

    names = ["Ostwald", "Berger", "Riverton", "Kranz", "Lindqvist", "Moreau", "Haldane", "Petrov", "Sorel", "Vinter"]

    def pair(shared: int, la: str, lb: str) -> tuple[tr.TransPrint, tr.TransPrint]:
        own = tuple(n.lower() for n in names)
        other = own[:shared] + tuple(f"x{k}" for k in range(len(names) - shared))
        sents = tuple(f"Sentence {k}." for k in range(8))
        return tr.TransPrint(la, 8, own, sents), tr.TransPrint(lb, 8, other, sents)

    assert tr.WIDE_MIN_OVERLAP < tr.WIDE_MIN_OVERLAP_LATIN <= 0.3 < 0.4  # 0.40: the lowest real translation seen
    assert tr.refused_before_slow_model(*pair(2, "en", "is"))  # overlap 0.2, both Latin script
    assert not tr.refused_before_slow_model(*pair(3, "en", "is"))  # overlap 0.3: at the bar, not under it
    assert not tr.refused_before_slow_model(*pair(3, "en", "uk"))  # Cyrillic: only the bar of every script
    assert tr.refused_before_slow_model(*pair(1, "en", "uk"))  # overlap 0.1: under that bar too
    assert not tr.refused_before_slow_model(*pair(5, "en", "is"))  # overlap 0.5, as the dev split's lowest
    assert {"en", "is", "fr", "de"} <= tr.LATIN_SCRIPT and not {"ru", "uk", "ja", "el"} & tr.LATIN_SCRIPT

    def embedded(shared: int) -> list[str]:
        own = names[:8]
        other = names[:shared] + ["Quill", "Tarn", "Odin", "Yrsa", "Ulf", "Birk", "Skald", "Vigga"][: 8 - shared]
        en = " ".join(f"Today {own[i]} met {own[(i + 1) % 8]} and {own[(i + 2) % 8]} in the hall." for i in range(8))
        is_ = " ".join(f"Í dag hitti {other[i]} {other[(i + 1) % 8]} og {other[(i + 2) % 8]} í salnum." for i in range(8))
        rows = {"en0": {"title": "Hall", "text": en, "language": "en", "published": None},
                "is0": {"title": "Salur", "text": is_, "language": "is", "published": None}}
        pa, pb = (tr.TransPrint.of(rows[x]["text"], rows[x]["language"]) for x in ("en0", "is0"))
        assert not tr.rejected_before_cosine(pa, pb)
        AnchorVectorsWide.seen.clear()
        ts.judge([("en0", "is0")], rows, AnchorVectors(), AnchorVectorsWide(), ts.Caches(None))
        return list(AnchorVectorsWide.seen)

    assert tr.WIDE_MIN_OVERLAP < 2 / 8 < tr.WIDE_MIN_OVERLAP_LATIN
    assert embedded(2) == []  # 2 of 8 names shared: overlap 0.25, over the bar of every script, under the Latin one
    assert embedded(8)


def _fast_pair_embeds_sentences(monkeypatch: pytest.MonkeyPatch, en: str, de: str) -> bool:
    """Whether the fast model embeds the sentences of an en-de pair that reaches the alignment: nothing is sure and
    no cosine is under the floor here, so only the refusals before the sentences can spare them."""
    from standin_embedders import AnchorVectors, AnchorVectorsWide

    monkeypatch.setitem(tr.SURE, "anchors-fast", 1.01)
    monkeypatch.setitem(tr.COSINE_FLOOR, "anchors-fast", -1.0)
    rows = {"en0": {"title": "Hall", "text": en, "language": "en", "published": None},
            "de0": {"title": "Saal", "text": de, "language": "de", "published": None}}
    pa, pb = (tr.TransPrint.of(rows[x]["text"], rows[x]["language"]) for x in ("en0", "de0"))
    assert not tr.rejected_before_cosine(pa, pb)
    caches = ts.Caches(None)
    ts.judge([("de0", "en0")], rows, AnchorVectors(), AnchorVectorsWide(), caches)
    assert "anchors-fast" in caches.leads  # the pair was looked at: its leads were embedded
    return "anchors-fast" in caches.sents


def test_the_fast_model_never_embeds_the_sentences_of_a_pair_whose_sentence_counts_are_far_apart(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The sentence-count bar of the slow model (WIDE_MIN_RATIO: no dev translation under 0.714) also spares the fast
    model's sentence matrices, the most of its cost on real text: at a ratio of 5/9 (over MIN_SENTENCE_RATIO, the
    bar of every pair) no sentence is embedded, at 6/9 they are."""
    lines = [f"Ostwald met Berger in Riverton on day {i}, with Kranz and {100 + i} guests." for i in range(9)]
    de = [f"Ostwald traf Berger in Riverton am Tag {i}, mit Kranz und {100 + i} Gästen." for i in range(9)]
    assert tr.MIN_SENTENCE_RATIO < 5 / 9 < tr.WIDE_MIN_RATIO <= 6 / 9
    assert not _fast_pair_embeds_sentences(monkeypatch, " ".join(lines), " ".join(de[:5]))
    assert _fast_pair_embeds_sentences(monkeypatch, " ".join(lines), " ".join(de[:6]))


def test_the_fast_model_never_embeds_the_sentences_of_latin_script_pairs_whose_anchors_barely_meet(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Between two Latin-script languages the anchors of a pair under WIDE_MIN_OVERLAP_LATIN spare the fast model's
    sentence matrices; in another script only the sentence-count bar holds (a ja-en translation of the dev split
    shares no anchor), and a sure pair is never asked (it needs no sentences)."""
    names = ["Ostwald", "Berger", "Riverton", "Kranz", "Lindqvist", "Moreau"]

    def texts(shared: int) -> tuple[str, str]:
        other = names[:shared] + ["Quill", "Tarn", "Odin", "Yrsa", "Ulf", "Birk"][: 6 - shared]
        en = " ".join(f"Today {names[i]} met {names[(i + 1) % 6]} and {names[(i + 2) % 6]}." for i in range(6))
        de = " ".join(f"Heute traf {other[i]} {other[(i + 1) % 6]} und {other[(i + 2) % 6]}." for i in range(6))
        return en, de

    assert not _fast_pair_embeds_sentences(monkeypatch, *texts(1))  # 1 of 6 names shared: overlap 0.17
    assert _fast_pair_embeds_sentences(monkeypatch, *texts(3))  # overlap 0.5, as the dev split's lowest (de-fr)

    def prints(shared: int, la: str, lb: str, n_b: int = 8) -> tuple[tr.TransPrint, tr.TransPrint]:
        own = tuple(n.lower() for n in names) + ("hall", "day", "city", "river")
        other = own[:shared] + tuple(f"x{k}" for k in range(len(own) - shared))
        return (tr.TransPrint(la, 8, own, tuple(f"S {k}." for k in range(8))),
                tr.TransPrint(lb, n_b, other, tuple(f"S {k}." for k in range(n_b))))

    assert tr.refused_before_sentences(*prints(2, "en", "fr"))  # overlap 0.2, both Latin script
    assert not tr.refused_before_sentences(*prints(0, "en", "ja"))  # nothing shared, but another script
    assert not tr.refused_before_sentences(*prints(1, "ru", "en"))  # overlap 0.1: the slow model's bar, not this one
    assert tr.refused_before_slow_model(*prints(1, "ru", "en"))
    assert tr.refused_before_sentences(*prints(10, "en", "ja", n_b=4))  # ratio 0.5: any script
    assert not tr.refused_before_sentences(*prints(10, "en", "th", n_b=4))  # but Thai counts paragraphs
    assert not tr.refused_before_sentences(*prints(3, "de", "fr"))  # overlap 0.3: at the bar, not under it
