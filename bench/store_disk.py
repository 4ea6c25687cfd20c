"""Disk bytes per article by table and index, ingest CPU and the read paths' latency, against a baseline tree.

    PYTHONPATH=src .venv/bin/python bench/store_disk.py --real                 # the real texts (~5 min a build)
    PYTHONPATH=src .venv/bin/python bench/store_disk.py --n 10000              # a synthetic 10k stream
    PYTHONPATH=src .venv/bin/python bench/store_disk.py --real --baseline /work/main/src   # main in the same run
    PYTHONPATH=src .venv/bin/python bench/store_disk.py --baseline /work/main/src --upgrade KEEP/baseline.db

Issue 23 asks for at most 15 KB per stored text article without losing the raw input.  Each build runs
``storyloom ingest``'s library call with the settings a new user gets (copies with translations, stories
with embeddings, the FTS index) in a fresh child process on a fresh store, once with this tree's code and
once with the ``--baseline`` tree's (default: none), over the same JSONL:

* ``--real``: every labelled text of ``../shared/corpora`` (bench/pipeline.py's set: wcxb-dev, aeb, basil,
  story_chains_dev, wmt21 sources and translations; several languages);
* ``--n N``: bench/serve.py's synthetic stream (real basil/aeb/wmt21 text, 1-5 perturbed articles a story).

Printed: the file's bytes per stored article (after a WAL checkpoint, as a user's store is at rest), the
bytes of each table and index (SQLite's ``dbstat``: pages in use, so the slack inside them counts too), the
ingest's CPU seconds (process tree), and the serve read paths' latency (median and p95 over a fixed sample,
called in process: the article page with and without the raw input, a search, a story page, the feed).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

WORDS = ["police", "government", "president", "market", "election", "storm", "court", "football", "minister",
         "prices", "\"prime minister\"", "vaccine"]


def child(spec: dict[str, Any]) -> dict[str, Any]:
    from benchutil import cpu_tree
    from storyloom.pipeline import ingest
    from storyloom.settings import Settings
    from storyloom.store import Store, queries
    from storyloom.store import stories as stories_sql

    db = spec["db"]
    c0 = cpu_tree()
    t0 = time.perf_counter()
    store = Store(db)
    rep = ingest([spec["input"]], store, Settings(db_path=db))
    wall = time.perf_counter() - t0
    cpu = cpu_tree() - c0
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    size = sum(os.path.getsize(p) for p in (db, db + "-wal") if os.path.exists(p))
    c = sqlite3.connect(db)
    tables = {n: int(b) for n, b in c.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name")}
    n_articles = c.execute("SELECT count(*) FROM articles").fetchone()[0]
    ids = [r[0] for r in c.execute("SELECT id FROM articles ORDER BY id")]
    story_ids = [r[0] for r in c.execute("SELECT id FROM stories ORDER BY id")]
    c.close()
    rng = random.Random(23)
    sample = rng.sample(ids, min(300, len(ids)))
    s_sample = rng.sample(story_ids, min(300, len(story_ids)))
    read = Store(db, readonly=True)
    lat: dict[str, list[float]] = {}

    def timed(kind: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        out = fn(*args, **kwargs)
        lat.setdefault(kind, []).append(time.perf_counter() - t)
        return out

    for _ in range(2):  # the first pass warms the page cache, as a running server's is; the second is measured
        lat.clear()
        for aid in sample:
            timed("article page", queries.get_article, read, aid)
            timed("article page + raw", queries.get_article, read, aid, raw=True)
        for sid in s_sample:
            timed("story page", stories_sql.story_detail, read, sid)
        for w in WORDS * 5:
            timed("search", queries.search, read, w)
        for sort in ("recent", "size") * 20:
            timed("feed", stories_sql.feed, read, sort=sort)
    read.close()
    return {"wall": wall, "cpu": cpu, "stored": n_articles, "bytes": size, "tables": tables,
            "counts": dict(rep.counts),
            "lat": {k: (statistics.median(v) * 1000, sorted(v)[int(0.95 * (len(v) - 1))] * 1000) for k, v in lat.items()}}


PHRASES = [*WORDS, '"the president"', '"prime minister" OR vaccine', 'storm NOT football', 'elect*', "police court"]


def reads(spec: dict[str, Any]) -> dict[str, Any]:
    """What a user reads of a store (searches with their snippets, article texts, bodies and raw inputs), after
    opening it with this code -- which upgrades a store an older code wrote -- and the CPU the opening took."""
    import hashlib

    from storyloom.store import Store, queries

    c0 = time.process_time()
    Store(spec["db"]).close()  # migrations, then packing the old texts
    cpu = time.process_time() - c0
    read = Store(spec["db"], readonly=True)
    ids = [r[0] for r in read.conn.execute("SELECT id FROM articles ORDER BY rowid")]
    out: dict[str, Any] = {"cpu": cpu, "search": {}, "articles": {}}
    for q in PHRASES:
        out["search"][q] = [(h.id, round(h.score, 9), h.snippet) for h in queries.search(read, q, limit=50)]
    for aid in ids:
        art = queries.get_article(read, aid, raw=True)
        assert art is not None and art.raw is not None
        out["articles"][aid] = hashlib.sha256(
            json.dumps([art.title, art.text, art.body, art.raw.data, art.raw.encoding]).encode("utf-8", "surrogatepass")).hexdigest()
    read.close()
    return out


def upgrade_check(baseline: Path, db: Path, tmp: Path) -> None:
    """A store the baseline tree built (``db``), read by the baseline's code, then opened (upgraded) and read by
    this tree's: every search (ids, scores, snippets) and every article (text, body, raw input) must be equal."""
    import shutil

    tmp.mkdir(parents=True, exist_ok=True)
    got = {}
    for name, src in (("baseline", baseline), ("this tree", HERE.parent / "src")):
        copy = tmp / f"upgrade-{name.replace(' ', '-')}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(copy) + suffix).unlink(missing_ok=True)
        shutil.copy(db, copy)
        spec = tmp / "spec-upgrade.json"
        spec.write_text(json.dumps({"db": str(copy), "reads": True}))
        env = {**os.environ, "PYTHONPATH": str(src)}
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(spec)], cwd=tmp, env=env,
                              capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit(f"{name}: child failed\n{proc.stderr[-3000:]}")
        got[name] = json.loads(proc.stdout.strip().splitlines()[-1])
        conn = sqlite3.connect(copy)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM")
        n = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
        conn.close()
        got[name]["kb"] = os.path.getsize(copy) / n / 1024
    a, b = got["baseline"], got["this tree"]
    same_search = a["search"] == b["search"]
    same_articles = a["articles"] == b["articles"]
    hits = sum(len(v) for v in a["search"].values())
    print(f"\nupgrade of the baseline's store ({len(a['articles']):,} articles): searches equal {same_search} "
          f"({len(PHRASES)} queries, {hits} hits with snippets), articles equal (text, body, raw) {same_articles}; "
          f"opening CPU s {a['cpu']:.2f} (baseline) / {b['cpu']:.2f} (this tree: migration + packing); "
          f"KB per article after VACUUM {a['kb']:.1f} -> {b['kb']:.1f}")
    if not (same_search and same_articles):
        raise SystemExit("the upgrade changed what a user reads")


def run_child(name: str, src: Path, inp: Path, tmp: Path) -> dict[str, Any]:
    db = tmp / f"{name}.db"
    for p in (db, Path(str(db) + "-wal"), Path(str(db) + "-shm")):
        p.unlink(missing_ok=True)
    spec = tmp / f"spec-{name}.json"
    spec.write_text(json.dumps({"db": str(db), "input": str(inp)}))
    env = {**os.environ, "PYTHONPATH": str(src)}
    env.pop("STORYLOOM_CONFIG", None)
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(spec)], cwd=tmp, env=env,
                          capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{name}: child failed\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def report(runs: dict[str, dict[str, Any]]) -> None:
    names = list(runs)
    per = {k: max(1, r["stored"]) * 1024 for k, r in runs.items()}
    print("\n| | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    print("| stored articles | " + " | ".join(f"{r['stored']:,}" for r in runs.values()) + " |")
    print("| **file, KB per article** | " + " | ".join(f"**{r['bytes'] / per[k]:.1f}**" for k, r in runs.items()) + " |")
    print("| ingest CPU s (process tree) | " + " | ".join(f"{r['cpu']:.1f}" for r in runs.values()) + " |")
    print("| ingest wall s | " + " | ".join(f"{r['wall']:.1f}" for r in runs.values()) + " |")
    for kind in next(iter(runs.values()))["lat"]:
        print(f"| {kind}: median / p95 ms | " + " | ".join(
            f"{r['lat'][kind][0]:.2f} / {r['lat'][kind][1]:.2f}" if kind in r["lat"] else "-" for r in runs.values()) + " |")
    every = sorted({t for r in runs.values() for t in r["tables"]},
                   key=lambda t: -max(r["tables"].get(t, 0) / per[k] for k, r in runs.items()))
    print("\nKB per stored article, by table and index (dbstat pages; tables under 0.05 KB everywhere left out):\n")
    print("| table or index | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for t in every:
        vals = [r["tables"].get(t, 0) / per[k] for k, r in runs.items()]
        if max(vals) >= 0.05:
            print(f"| {t} | " + " | ".join(f"{v:.2f}" for v in vals) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--real", action="store_true", help="the real texts of ../shared/corpora")
    ap.add_argument("--n", type=int, default=0, help="a synthetic stream of N articles (bench/serve.py's)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N real texts")
    ap.add_argument("--baseline", help="the src folder of the tree to compare with (e.g. /work/main/src)")
    ap.add_argument("--keep", help="keep the inputs and stores in this folder")
    ap.add_argument("--reuse-baseline", action="store_true",
                    help="take the baseline's figures from the last run kept in --keep (same input) instead of rebuilding it")
    ap.add_argument("--baseline-only", action="store_true", help="build only the baseline (to --keep for later runs)")
    ap.add_argument("--upgrade", metavar="DB", help="a store the --baseline tree built: check that opening it with this "
                    "tree (migrations) leaves every search and article as the baseline reads them")
    args = ap.parse_args()
    if args.child:
        spec = json.loads(Path(args.child).read_text())
        print(json.dumps(reads(spec) if spec.get("reads") else child(spec)))
        return
    if args.upgrade:
        if not args.baseline:
            ap.error("--upgrade needs --baseline")
        upgrade_check(Path(args.baseline), Path(args.upgrade), Path(args.keep or tempfile.mkdtemp(prefix="storyloom-up-")))
        return
    if not args.real and not args.n:
        ap.error("give --real or --n N")
    tmp = Path(args.keep or tempfile.mkdtemp(prefix="storyloom-bench-disk-"))
    tmp.mkdir(parents=True, exist_ok=True)
    inp = tmp / "input.jsonl"
    if args.reuse_baseline and inp.exists():
        pass  # the same input as the kept baseline
    elif args.real:
        import pipeline

        texts = pipeline.real_texts()
        pipeline.write_jsonl(inp, texts[: args.limit] if args.limit else texts)
    else:
        import serve

        serve.make_jsonl(inp, args.n, seed=11)
    n_in = sum(1 for _ in open(inp, encoding="utf-8"))
    print(f"input: {n_in:,} items, {inp.stat().st_size / n_in / 1024:.1f} KB of JSONL each; load {os.getloadavg()[0]:.1f}")
    runs: dict[str, dict[str, Any]] = {}
    kept = tmp / "result-baseline.json"
    if args.baseline and args.reuse_baseline and kept.exists():
        runs["baseline (kept)"] = json.loads(kept.read_text())
    elif args.baseline:
        runs["baseline"] = run_child("baseline", Path(args.baseline), inp, tmp)
        kept.write_text(json.dumps(runs["baseline"]))
    if not args.baseline_only:
        runs["this tree"] = run_child("this", HERE.parent / "src", inp, tmp)
    report(runs)
    print(f"\nload after {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
