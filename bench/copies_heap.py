"""Heaps of copies: ``.venv/bin/python bench/copies_heap.py [--n 10000] [--n-defaults 1000]``.

A benchmark, not a test: it prints a table and checks nothing.  Issue 24: "identical bodies make copies
quadratic" (500 identical items made 124,750 links; 10,000 did not finish ingesting in 300 s).

**Input.**  Three heaps of N JSON records, each with its own title and URL, built from real text
(``copies_data.speed_articles``: sentences of the AEB gold and BASIL bodies from ``/work/shared/corpora``,
recombined so no two articles share a sentence):

* ``distinct`` — N different articles (the baseline, measured in the same run);
* ``identical`` — the first of them, N times;
* ``near-identical`` — the first of them, N times, each with one random word replaced by another real word.

**What is timed.**  ``storyloom.pipeline.ingest_items(records, Store(db), settings)`` on a fresh store per
heap, in this process, after a warm-up ingest (models loaded outside the timings), in two modes:

* ``copies`` — copies on, translations and stories off (``Settings(translations=False, run_stories=False)``):
  the copies stage isolated, at ``--n``;
* ``defaults`` — ``Settings(db_path=db)`` as a user runs it (translations and stories with embeddings on),
  at ``--n-defaults`` (every article is embedded, which makes 10,000 too slow for a few-minute run).

``copies s`` is the time spent inside the pipeline's ``find_copies`` calls (wrapped here), the rest of the
ingest being cleaning and storing.  Ratios are to the ``distinct`` heap of the same mode and N.

Measured 2026-12-06 (2 shared cores, other jobs running; ``--n 10000 --n-defaults 1000``):

| mode | heap | N | ingest s | × distinct | copies s | × distinct | links | largest group | capped |
|---|---|---|---|---|---|---|---|---|---|
| copies | distinct | 10,000 | 83.9 | 1.00 | 18.5 | 1.00 | 0 | 1 | 0 |
| copies | identical | 10,000 | 39.8 | 0.47 | 2.1 | 0.11 | 9,999 | 10,000 | 0 |
| copies | near-identical | 10,000 | 91.0 | 1.08 | 37.0 | 2.00 | 29,474 | 10,000 | 0 |
| defaults | distinct | 1,000 | 52.7 | 1.00 | 38.8 | 1.00 | 0 | 1 | 0 |
| defaults | identical | 1,000 | 25.5 | 0.48 | 0.4 | 0.01 | 999 | 1,000 | 0 |
| defaults | near-identical | 1,000 | 46.4 | 0.88 | 36.2 | 0.93 | 2,919 | 1,000 | 0 |

Before the near-copy rules (commit d91ac96, exact classes only; ``--n 1000``, copies mode): near-identical 1,000
took 143 s (copies 137 s, 31x
distinct), 129,194 links, a 625 MB store, 499 capped-bucket events (the issue: identical bodies made every pair a link).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
import copies_data as cd
from storyloom import pipeline
from storyloom.ingest.records import record_to_raw
from storyloom.settings import Settings
from storyloom.store import Store

console = Console(width=160, highlight=False)
COPIES_SECONDS = [0.0]


def _timed_find_copies() -> None:
    """Count the seconds the pipeline spends in the copies stage (find_copies runs after every batch)."""
    inner = pipeline.find_copies

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            COPIES_SECONDS[0] += time.perf_counter() - start

    pipeline.find_copies = wrapped  # type: ignore[assignment]


def heaps(n: int, seed: int = 24) -> dict[str, list[dict[str, str]]]:
    distinct = list(cd.speed_articles(n, seed=seed, copy_share=0.0))
    base = distinct[0]["text"]
    words = base.split(" ")
    _, vocab = cd._speed_pool()
    rng = random.Random(seed)

    def nudged() -> str:
        w = list(words)
        w[rng.randrange(len(w))] = rng.choice(vocab)
        return " ".join(w)

    def same_text(text_of: Any) -> list[dict[str, str]]:
        return [{**r, "title": f"{r['title']} ({i})", "text": text_of()} for i, r in enumerate(distinct)]

    return {"distinct": distinct, "identical": same_text(lambda: base), "near-identical": same_text(nudged)}


def records(rows: list[dict[str, str]]) -> list[Any]:
    return [record_to_raw(r, json.dumps(r, sort_keys=True).encode(), "jsonl", f"heap:{i}") for i, r in enumerate(rows)]


def measure(rows: list[dict[str, str]], folder: str, name: str, **overrides: Any) -> dict[str, Any]:
    db = os.path.join(folder, f"{name}.db")
    items = records(rows)
    with Store(db) as store:
        settings = Settings(db_path=db, **overrides)
        COPIES_SECONDS[0] = 0.0
        start = time.perf_counter()
        rep = pipeline.ingest_items(items, store, settings)
        seconds = time.perf_counter() - start
        c = store.conn
        links = c.execute("SELECT count(*) FROM copy_links").fetchone()[0]
        biggest = c.execute("SELECT count(*) FROM copy_groups GROUP BY group_id ORDER BY 1 DESC LIMIT 1").fetchone()
        bands = c.execute("SELECT count(*) FROM copy_bands").fetchone()[0]
        capped = c.execute("SELECT count(*) FROM events WHERE stage = 'copies' AND message LIKE '%over the cap%'").fetchone()[0]
    size = sum(os.path.getsize(p) for p in Path(folder).glob(f"{name}.db*")) / 1e6
    for p in Path(folder).glob(f"{name}.db*"):
        p.unlink()
    return {"seconds": seconds, "copies": COPIES_SECONDS[0], "stored": rep.stored, "links": links,
            "group": biggest[0] if biggest else 0, "bands": bands, "capped": capped, "mb": size}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10_000, help="items per heap, copies mode")
    ap.add_argument("--n-defaults", type=int, default=1_000, help="items per heap, default settings (0: skip)")
    args = ap.parse_args()
    _timed_find_copies()
    table = Table(box=box.SIMPLE_HEAD, title="ingest of heaps of copies (seconds; ratios to distinct)")
    for col in ("mode", "heap", "N", "stored", "ingest s", "× distinct", "copies s", "× distinct ", "links",
                "largest group", "band rows", "capped-bucket events", "store MB"):
        table.add_column(col, justify="left" if col in ("mode", "heap") else "right")
    runs = [("copies", args.n, {"translations": False, "run_stories": False})]
    if args.n_defaults:
        runs.append(("defaults", args.n_defaults, {}))
    with tempfile.TemporaryDirectory(prefix="storyloom-heap-") as folder:
        for mode, n, overrides in runs:
            data = heaps(n)
            measure(heaps(20)["distinct"], folder, "warm", **overrides)  # models loaded outside the timings
            base: dict[str, Any] = {}
            for name, rows in data.items():
                r = measure(rows, folder, name, **overrides)
                base = base or r
                table.add_row(mode, name, f"{n:,}", f"{r['stored']:,}", f"{r['seconds']:.1f}",
                              f"{r['seconds'] / base['seconds']:.2f}", f"{r['copies']:.1f}",
                              f"{r['copies'] / base['copies']:.2f}" if base["copies"] else "—", f"{r['links']:,}",
                              f"{r['group']:,}", f"{r['bands']:,}", f"{r['capped']:,}", f"{r['mb']:.1f}")
                console.print(f"{mode} {name} {n}: {r['seconds']:.1f} s (copies {r['copies']:.1f} s)")
    console.print(table)


if __name__ == "__main__":
    main()
