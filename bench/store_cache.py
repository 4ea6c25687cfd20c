"""How large SQLite's page cache should be: the write path and the stories stage at N articles, by cache size.

    PYTHONPATH=src .venv/bin/python bench/store_cache.py                        # 10k and 40k; 2, 16, 64, 256 MB
    PYTHONPATH=src .venv/bin/python bench/store_cache.py --sizes 10000,100000 --cache 2,64

For each size N, one store is filled with N synthetic articles made from real text (``bench/stories.py``'s speed
set: basil/aeb/wmt21 sentences, 150 articles a day), and then, for each cache size in a fresh child process, the
same store is clustered again from scratch (``--recluster``: stories forgotten, every article queued) with
``build_stories`` (``story_embeddings=False``).  The first cache size also times the fill (``Store.write_batch``:
articles, blobs, FTS, template counts) — a second fill per cache size is measured with ``--fill-each``.

Printed per (N, cache): CPU seconds and ms per article of the stories stage (the child's process tree), its
first-10 % and last-10 % rates (flat cost means equal), and the store's size.  The baseline is SQLite's own
default (2 MB) in the same run.  A benchmark, not a test; the machine's load is printed: CPU seconds are the
comparable figure on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def child(n: int, db: Path, cache_mb: int, recluster: bool) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src"), "STORYLOOM_BENCH_CACHE_MB": str(cache_mb)}
    if recluster:
        env["STORYLOOM_BENCH_RECLUSTER"] = "1"
    else:
        env.pop("STORYLOOM_BENCH_RECLUSTER", None)
    out = subprocess.run([sys.executable, str(HERE / "stories.py"), "--child", str(n), "noembed", str(db), "0"],
                         capture_output=True, text=True, env=env)
    if out.returncode:
        raise SystemExit(f"child {n} {cache_mb} MB failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,40000")
    ap.add_argument("--cache", default="2,16,64,256", help="cache sizes in MB; the first also fills the store")
    ap.add_argument("--fill-each", action="store_true", help="fill a fresh store for every cache size (times the writes)")
    ap.add_argument("--json")
    args = ap.parse_args()
    caches = [int(c) for c in args.cache.split(",")]
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="storyloom-bench-cache-") as tmp:
        for n in [int(s) for s in args.sizes.split(",")]:
            base = Path(tmp) / f"s{n}"
            base.mkdir()
            for k, mb in enumerate(caches):
                db = base / f"speed-noembed-{n}-w0.db"
                if args.fill_each and k:
                    shutil.rmtree(base)
                    base.mkdir()
                fresh = not db.exists()
                t0 = time.perf_counter()
                r = child(n, db, mb, recluster=not fresh)
                r |= {"cache_mb": mb, "filled": fresh, "wall": time.perf_counter() - t0, "load": os.getloadavg()[0]}
                rows.append(r)
                d = r["decile_rates"]
                print(f"{n:>8,} {mb:>5} MB: stories CPU {r['cpu_seconds']:7.1f} s = {1000 * r['cpu_seconds'] / n:5.2f} ms "
                      f"per article (wall {r['seconds']:.1f} s; first/last 10 % {d[0]:.0f}/{d[-1]:.0f} articles/s); "
                      + (f"fill {r['fill_seconds']:.1f} s wall; " if fresh else "")
                      + f"store {r['db_mb']:.0f} MB; B³ {r['b3_f1']:.3f}; load {r['load']:.1f}", flush=True)
    print("\n| articles | cache MB | stories CPU s | ms per article | ÷ 2 MB | first 10 % /s | last 10 % /s | B³ F1 |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        ref = next((x for x in rows if x["n"] == r["n"] and x["cache_mb"] == 2), None)
        ratio = f"{r['cpu_seconds'] / ref['cpu_seconds']:.2f}" if ref else "-"
        d = r["decile_rates"]
        print(f"| {r['n']:,} | {r['cache_mb']} | {r['cpu_seconds']:.1f} | {1000 * r['cpu_seconds'] / r['n']:.2f} | {ratio} | "
              f"{d[0]:.0f} | {d[-1]:.0f} | {r['b3_f1']:.3f} |")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, default=str))


if __name__ == "__main__":
    main()
