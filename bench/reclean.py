"""The template re-clean's cost per batch against the store's size (issue 23: "bounded work per ingest batch").

    PYTHONPATH=src .venv/bin/python bench/reclean.py --scaled 10000          # ~3 min: cleaning + templates only
    PYTHONPATH=src .venv/bin/python bench/reclean.py --scaled 30000 --every 5000 --profile 20

The scaled set of bench/pipeline.py (``--rounds`` picks how many outlet suffixes a round cycles through: 7 as
that bench) is ingested with copies and stories off, so only cleaning, templates and the write run.  Around
every :func:`storyloom.retemplate.refresh_stored` call it records the CPU seconds of the call and what the
call did (RefreshReport: groups whose lines flipped, stored bodies whose lines were hashed, lines flipped when
the tree reports them, articles re-cleaned and changed), and prints one row per ``--every`` stored articles.
Run it on two trees (PYTHONPATH) back to back: the store it ends with is hashed (articles' cleaned columns,
removed spans, template counts) so two trees can be compared for identical output.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import pstats
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import pipeline as pbench  # (bench/pipeline.py: the real texts and the scaled set)


def scaled_with_rounds(n: int, rounds: int) -> list[dict[str, Any]]:
    """bench/pipeline.py's scaled set, with its ``.r{round % 7}`` outlet suffix cycling through ``rounds``."""
    arts = pbench.scaled(pbench.real_texts(), n)
    if rounds != 7:
        for a in arts:
            rnd = int(a["id"].rsplit("-r", 1)[1])
            base = a["outlet"].rsplit(".r", 1)[0] if rnd else a["outlet"]
            a["outlet"] = base + (f".r{rnd % rounds}" if rnd else "")
            a["url"] = a["url"].replace(a["url"].split("/")[2], a["outlet"], 1)
    return arts


def store_digest(db: Path) -> str:
    """A hash of what cleaning decides, in rowid order: comparable between two trees' runs of the same input."""
    h = hashlib.blake2b(digest_size=12)
    con = sqlite3.connect(db)
    con.create_function("storyloom_body", 2, lambda b, t: b)  # the view needs it; we read the raw columns
    for q in ("SELECT id, title, body, text, meta, author, published, date_flag FROM articles ORDER BY rowid",
              "SELECT * FROM article_spans ORDER BY 1",
              "SELECT g.grp, l.line_key, l.n FROM template_lines l JOIN template_groups g USING (gid) ORDER BY 1, 2"):
        for r in con.execute(q):
            h.update(repr(tuple(r)).encode())
    return h.hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scaled", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=7, help="outlet suffixes a round cycles through (7: bench/pipeline.py)")
    ap.add_argument("--every", type=int, default=2000, help="one row per this many stored articles")
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--profile", type=int, default=0, help="cProfile of refresh_stored: the top K by cumulative time")
    ap.add_argument("--keep", help="keep the store at this path")
    ap.add_argument("--resume", help="start from a copy of this store (a --keep of a run on the first --start "
                    "articles) and ingest only the articles after them: the cost at that size, in minutes")
    ap.add_argument("--start", type=int, default=0, help="with --resume: how many of the scaled articles it holds")
    args = ap.parse_args()

    import storyloom.pipeline as pl
    import storyloom.retemplate as rt
    from storyloom.pipeline import ingest
    from storyloom.settings import Settings
    from storyloom.store import Store

    arts = scaled_with_rounds(args.scaled, args.rounds)
    tmp = Path(tempfile.mkdtemp(prefix="reclean-"))
    src = tmp / "scaled.jsonl"
    pbench.write_jsonl(src, arts[args.start:] if args.resume else arts)
    db = Path(args.keep) if args.keep else tmp / "s.db"
    db.unlink(missing_ok=True)
    if args.resume:
        shutil.copyfile(args.resume, db)

    rows: list[dict[str, float]] = []
    prof = cProfile.Profile() if args.profile else None
    real_refresh = pl.refresh_stored
    flips = [0]
    real_flipped = rt.flipped

    split = {"flip": 0.0, "reclean": 0.0}  # CPU inside flipped() and reclean_row(), this batch

    def counted_flipped(*a: Any, **k: Any) -> Any:
        c = time.process_time()
        first, later = real_flipped(*a, **k)
        split["flip"] += time.process_time() - c
        flips[0] += len(first | later)
        return first, later

    real_reclean_row = rt.reclean_row

    def timed_reclean_row(*a: Any, **k: Any) -> Any:
        c = time.process_time()
        try:
            return real_reclean_row(*a, **k)
        finally:
            split["reclean"] += time.process_time() - c

    rt.flipped = counted_flipped  # type: ignore[assignment]
    rt.reclean_row = timed_reclean_row  # type: ignore[assignment]

    def timed(store: Any, settings: Any, before: Any, new_ids: Any, **kw: Any) -> Any:
        stored = store.conn.execute("SELECT count(*) FROM articles").fetchone()[0]
        flips[0] = 0
        split.update(flip=0.0, reclean=0.0)
        c = time.process_time()
        if prof:
            prof.enable()
        try:
            rep = real_refresh(store, settings, before, new_ids, **kw)
        finally:
            if prof:
                prof.disable()
        rows.append({"stored": stored, "cpu": time.process_time() - c, "touched": len(before), "groups": rep.groups,
                     "read": rep.read, "flipped": flips[0], "checked": rep.checked, "changed": rep.changed,
                     "batch": len(new_ids), "flip_s": split["flip"], "reclean_s": split["reclean"],
                     "judged": getattr(rep, "judged", 0)})
        return rep

    pl.refresh_stored = timed  # type: ignore[assignment]
    settings = Settings(db_path=str(db), batch_size=args.batch, ingest_workers=0, run_copies=False,
                        run_stories=False, translations=False, story_embeddings=False)
    t0, c0 = time.perf_counter(), time.process_time()
    with Store(str(db)) as store:
        rep = ingest([str(src)], store, settings)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0

    print(f"{args.scaled - args.start if args.resume else args.scaled} scaled articles (from {args.start:,}), rounds {args.rounds}, batch {args.batch}: {dict(rep.counts)}, "
          f"recleaned {rep.recleaned}; ingest {wall:.0f} s wall, {cpu:.0f} s CPU")
    print(f"{'stored up to':>12} {'batches':>7} {'CPU s':>7} {'ms/art':>7} {'ms/batch':>8} {'flipped()':>9} {'reclean':>7} {'rest':>6} {'touched':>7} {'flipgrp':>7} "
          f"{'hashed':>8} {'flipped':>8} {'recleand':>8} {'changed':>7}")
    edge, acc = args.every, None

    def flush(upto: int, acc: dict[str, float]) -> None:
        print(f"{upto:>12,} {acc['n']:>7.0f} {acc['cpu']:>7.2f} {1000 * acc['cpu'] / max(acc['batch'], 1):>7.2f} "
              f"{1000 * acc['cpu'] / acc['n']:>8.1f} {acc['flip_s']:>9.2f} {acc['reclean_s']:>7.2f} "
              f"{acc['cpu'] - acc['flip_s'] - acc['reclean_s']:>6.2f} {acc['touched']:>7.0f} {acc['groups']:>7.0f} {acc['read']:>8,.0f} "
              f"{acc['flipped']:>8,.0f} {acc['checked']:>8,.0f} {acc['changed']:>7,.0f}")

    for r in rows:
        while r["stored"] >= edge:
            if acc:
                flush(edge, acc)
            acc, edge = None, edge + args.every
        acc = acc or dict.fromkeys(("n", "cpu", "touched", "groups", "read", "flipped", "checked", "changed", "batch",
                                       "flip_s", "reclean_s"), 0.0)
        acc["n"] += 1
        for k in acc:
            if k != "n":
                acc[k] += r[k]
    if acc:
        flush(edge, acc)
    total = sum(r["cpu"] for r in rows)
    print(f"refresh_stored: {total:.1f} s CPU in {len(rows)} batches = {1000 * total / max(sum(r['batch'] for r in rows), 1):.2f} ms an "
          f"article; bodies hashed {sum(r['read'] for r in rows):,.0f}, re-cleaned {sum(r['checked'] for r in rows):,.0f}, "
          f"changed {sum(r['changed'] for r in rows):,.0f}, judged unchanged without re-cleaning "
          f"{sum(r['judged'] for r in rows):,.0f}")
    print(f"of which flipped() {sum(r['flip_s'] for r in rows):.1f} s, reclean_row {sum(r['reclean_s'] for r in rows):.1f} s")
    print(f"store digest {store_digest(db)}")
    if prof:
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(args.profile)
        print(out.getvalue())


if __name__ == "__main__":
    main()
