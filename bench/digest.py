"""How long a story digest takes, on stories built from real news text.

A story of N articles is built from one real BASIL event (Fox News, NYT and HuffPost on the same day,
../shared/corpora/basil): each of N outlets carries one of the three real articles, keeping a different
70% of its sentences in order (so outlets share some facts and each lacks others, as wire rewrites do).
Repeated sentences are embedded and scored once, which flatters that case: a second one takes N different
real articles, no sentence in common (the worst case for cost).
For each N: the time of the first digest of the story from a cold store (the comparison computed: claims,
sentence embeddings, alignment, conflicts; then the digest), of the digest after the story grew by one more
article (compared again, with the sentence vectors the first comparison kept: only the new article's are
embedded), and of a digest once the comparison is kept (what a story page pays), as medians over several
events, with the size of the digest's JSON.

Baseline in the same run: the claim matrix alone (``compare_story``), which is what the story page used to
compute and show.  One core (``taskset`` is not needed: the stages are single-threaded; USE runs with one
thread).  The model load is paid once before timing (a server does it at start).

    .venv/bin/python bench/digest.py [--sizes 4 12 50] [--events 3]
"""

from __future__ import annotations

import argparse
import glob
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASIL = ROOT.parent / "shared" / "corpora" / "basil" / "articles"
sys.path.insert(0, str(ROOT / "src"))


def events() -> list[list[dict]]:
    by: dict[str, list[dict]] = {}
    for f in sorted(glob.glob(str(BASIL / "*" / "*.json"))):
        a = json.load(open(f, encoding="utf-8"))
        by.setdefault(a["triplet-uuid"], []).append(a)
    return [v for _, v in sorted(by.items()) if len(v) == 3]


def story_records(event: list[dict], n: int, seed: int, pool: list[dict] | None = None) -> list[dict]:
    """N outlets' articles: rewrites of the event's three (``pool`` None), or N different real articles (the
    worst case for cost: no sentence repeats, so nothing is embedded or scored once for several outlets)."""
    rnd = random.Random(seed)
    out = []
    for k in range(n):
        a = event[k % 3] if pool is None else pool[(seed * 97 + k) % len(pool)]
        sents = [s for p in a["body-paragraphs"] for s in p]
        keep = sorted(rnd.sample(range(len(sents)), max(3, int(len(sents) * 0.7))))
        day = a["date"][:10] if a.get("date") else "2016-01-01"
        out.append({"title": a["title"] if k < 3 else f"{a['title']} ({k})", "text": " ".join(sents[i] for i in keep),
                    "outlet": f"Outlet {k:02d}" if k >= 3 else a["source"], "language": "en",
                    "published": f"{day}T{8 + k % 12:02d}:{k % 60:02d}:00Z", "url": f"https://o{k}.example/{seed}"})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[4, 12, 50])
    ap.add_argument("--events", type=int, default=3)
    args = ap.parse_args()
    if not BASIL.is_dir():
        sys.exit(f"BASIL not found at {BASIL}")
    from storyloom.compare import compare_kept, compare_story, warm
    from storyloom.compare.digest import build_digest
    from storyloom.ingest.records import record_to_raw
    from storyloom.outlets import load_table
    from storyloom.pipeline import ingest_items
    from storyloom.settings import Settings
    from storyloom.store import Store
    from storyloom.store import compare as compare_sql
    from storyloom.store import stories as stories_sql

    warm()
    table = load_table()
    rows = []
    every = events()
    evs = every[: args.events]
    pool = [a for ev in every for a in ev]
    for n, mode in [(n, m) for n in args.sizes for m in ("rewrites", "distinct")]:
        matrix_t, cold_t, grown_t, kept_t, sizes, facts = [], [], [], [], [], []
        for e, event in enumerate(evs):
            with tempfile.TemporaryDirectory() as tmp:
                db = str(Path(tmp) / "d.db")
                settings = Settings(db_path=db, line_classifier=False, translations=False, run_stories=False)
                recs = story_records(event, n + 1, seed=e, pool=pool if mode == "distinct" else None)
                with Store(db) as store:
                    ingest_items([record_to_raw(r, json.dumps(r).encode(), "jsonl", f"r{i}")
                                  for i, r in enumerate(recs)], store, settings)
                    # one story of all N: cluster them by hand so the clustering's choices do not change N
                    ids = [r[0] for r in store.conn.execute("SELECT id FROM articles ORDER BY rowid")]
                    with store.transaction():
                        store.conn.execute("DELETE FROM stage_queue")
                        stories_sql.save_stories(store, [{
                            "id": "sbench", "label": recs[0]["title"], "label_article": ids[0], "label_score": 1.0,
                            "first_seen": recs[0]["published"], "last_seen": recs[n - 1]["published"], "n_articles": n,
                            "outlets": {r["outlet"]: 1 for r in recs[:n]}, "languages": {"en": n}, "centroid": None,
                            "n_vectors": 0, "terms": {}, "entities": {}}])
                        stories_sql.save_members(store, [(i, "sbench", 1.0, "joined", r["published"], None)
                                                         for i, r in zip(ids[:n], recs[:n])])
                    t = time.perf_counter()
                    compare_story(store, "sbench")
                    matrix_t.append(time.perf_counter() - t)
                    t = time.perf_counter()
                    result = compare_kept(store, "sbench", write=store)
                    d = build_digest(result, table)  # type: ignore[arg-type]
                    cold_t.append(time.perf_counter() - t)
                    with store.transaction():  # one more outlet joins: a new story version
                        stories_sql.save_members(store, [(ids[n], "sbench", 1.0, "joined", recs[n]["published"], None)])
                        store.conn.execute("UPDATE stories SET n_articles = ? WHERE id = 'sbench'", (n + 1,))
                    t = time.perf_counter()
                    build_digest(compare_kept(store, "sbench", write=store), table)  # type: ignore[arg-type]
                    grown_t.append(time.perf_counter() - t)
                    times = []
                    for _ in range(5):
                        t = time.perf_counter()
                        kept = compare_sql.cached(store, "sbench", None)
                        build_digest(kept[1], table)  # type: ignore[index]
                        times.append(time.perf_counter() - t)
                    kept_t.append(statistics.median(times))
                    sizes.append(len(json.dumps(d.model_dump(mode="json"))))
                    facts.append(len(d.key_facts))
        rows.append((n, mode, statistics.median(matrix_t), statistics.median(cold_t), statistics.median(grown_t),
                     statistics.median(kept_t) * 1000, statistics.median(sizes) / 1024, statistics.median(facts)))
    print(f"\nDigest of a story built from real BASIL text, medians over {len(evs)} events (one core)\n")
    print("| articles | texts | claim matrix alone (baseline), s | digest, cold store, s | digest after +1 article, s "
          "| digest, kept, ms | digest JSON, KB | key facts |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for n, mode, m, c, g, k, kb, f in rows:
        print(f"| {n} | {mode} | {m:.2f} | {c:.2f} | {g:.2f} | {k:.1f} | {kb:.1f} | {f:g} |")
    print("\nrewrites: each outlet keeps 70% of the sentences of one of the event's three real articles; distinct: N")
    print("different real articles (no sentence repeats: the worst case for cost)")
    print("\ntargets (issue 17): a 50-article story ≤ 2 s cold, ≤ 50 ms kept")


if __name__ == "__main__":
    main()
