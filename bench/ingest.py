"""Ingest throughput and memory benchmark: ``.venv/bin/python bench/ingest.py [--n 20000] [--repeat 3]``.

A benchmark, not a test: it prints numbers and asserts only that every article was stored.

The input is N distinct JSONL articles built deterministically (seeded ``random.Random``) from real text:
the paragraphs of the AEB gold bodies (``/work/shared/corpora/aeb/ground-truth.json``, or, when absent,
``trafilatura.extract`` over ``sample/aeb/*.html.gz``) plus the two ``sample/seeds`` articles.

Every measurement runs in a fresh child process (this script with ``--child``) on a fresh database, so peak
RSS is the ingest's own, and is repeated ``--repeat`` times; medians are reported.  What is measured:

* **storyloom ingest** -- ``pipeline.ingest([jsonl], Store(db), Settings(db_path=db))``: hashing, JSON
  parsing, field mapping, cleaning (text normalisation, date parsing, language detection), raw-blob storage,
  sightings, four secondary indexes and the FTS5 index, in transactions of ``Settings.batch_size``.
* **bare executemany** -- the floor: the same JSONL parsed with ``json.loads`` (timed, and shown
  separately) into a plain table (id, url, title, text, published, outlet, language) with ``executemany`` in
  transactions of the same size, with the journal mode and ``synchronous`` level a ``Store`` sets (read from
  a real ``Store`` at run time).  The issue's target is storyloom >= 0.5x this rate.
* **bare executemany + FTS5** -- the same plus an FTS5 external-content index over title+text, filled by an
  AFTER INSERT trigger exactly as in the store's schema, so the reader sees how much of the gap FTS alone is.

Also: memory against N (storyloom ingest at N/4, N/2, N: if memory is flat in N, MB per 1k articles falls as
N grows), and once, the idempotent re-run over the filled store (every item a duplicate).
``--profile`` instead prints the top 10 cumulative cProfile hotspots inside storyloom for a 5k ingest.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import itertools
import json
import os
import platform
import random
import re
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample"
GOLD = ROOT.parent / "shared" / "corpora" / "aeb" / "ground-truth.json"
OUTLETS = ["The Daily Ledger", "Northern Courier", "Buna Times", "Express Wire", "Harbour Post", "Metro Bulletin"]
KINDS = ["storyloom", "bare", "bare_fts"]
LABELS = {"storyloom": "storyloom ingest", "bare": "bare executemany", "bare_fts": "bare executemany + FTS5"}
BARE_SCHEMA = """
CREATE TABLE docs (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, url TEXT, title TEXT NOT NULL,
                   text TEXT NOT NULL, published TEXT, outlet TEXT, language TEXT);
"""
FTS_SCHEMA = """
CREATE VIRTUAL TABLE docs_fts USING fts5(title, text, content='docs', content_rowid='rowid',
                                         tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER docs_ai AFTER INSERT ON docs BEGIN
    INSERT INTO docs_fts(rowid, title, text) VALUES (new.rowid, new.title, new.text);
END;
"""
BARE_INSERT = "INSERT INTO docs (id, url, title, text, published, outlet, language) VALUES (?, ?, ?, ?, ?, ?, ?)"


# -- corpus -----------------------------------------------------------------------------------------------


def load_text() -> tuple[list[str], list[str], str]:
    """(paragraphs, headline-sized sentences, where they came from), from real articles."""
    bodies: list[str] = []
    if GOLD.is_file():
        bodies = [rec["articleBody"] for rec in json.loads(GOLD.read_text(encoding="utf-8")).values()]
        source = f"AEB gold bodies ({GOLD})"
    else:
        import trafilatura

        for page in sorted((SAMPLE / "aeb").glob("*.html.gz")):
            bodies.append(trafilatura.extract(gzip.decompress(page.read_bytes()).decode("utf-8", "replace")) or "")
        source = "trafilatura.extract over sample/aeb/*.html.gz"
    bodies += [p.read_text(encoding="utf-8") for p in sorted((SAMPLE / "seeds").glob("*.txt"))]
    paras = list(dict.fromkeys(p.strip() for b in bodies for p in b.split("\n") if len(p.strip()) >= 40))
    sentences = [s for p in paras for s in re.split(r"(?<=[.!?])\s+", p) if 30 <= len(s) <= 140]
    return paras, sentences, f"{source} + sample/seeds: {len(paras):,} paragraphs, {len(sentences):,} titles"


def articles(n: int, paras: list[str], sentences: list[str], seed: int = 20240) -> Iterator[dict[str, str]]:
    """N articles; the first k are the same for every N (so N/4 is a prefix of N)."""
    rng = random.Random(seed)
    epoch = datetime(2019, 1, 1, tzinfo=timezone.utc)
    for i in range(n):
        outlet = rng.choice(OUTLETS)
        host = outlet.lower().replace(" ", "") + ".example"
        published = epoch + timedelta(seconds=rng.randrange(5 * 365 * 86400))
        yield {
            "url": f"https://{host}/news/{published:%Y/%m/%d}/{i:07d}",
            "title": rng.choice(sentences),
            "text": "\n\n".join(rng.sample(paras, rng.randint(4, 12))),
            "published": published.isoformat(timespec="seconds"),
            "outlet": outlet,
        }


def write_jsonl(path: Path, n: int, paras: list[str], sentences: list[str]) -> int:
    """Stream N articles to ``path``; returns its size.  Fails if two articles share a title+text."""
    seen: set[bytes] = set()
    with open(path, "w", encoding="utf-8") as fh:
        for art in articles(n, paras, sentences):
            seen.add(hashlib.blake2b(f"{art['title']}\0{art['text']}".encode(), digest_size=16).digest())
            fh.write(json.dumps(art, ensure_ascii=False) + "\n")
    if len(seen) != n:
        raise SystemExit(f"corpus: only {len(seen)} of {n} articles are distinct")
    return path.stat().st_size


# -- child: one measurement in a fresh process --------------------------------------------------------------


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def store_pragmas() -> tuple[str, int]:
    """The journal mode and synchronous level a real Store sets, so the bare baselines match it."""
    from storyloom.store import Store

    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "probe.db") as store:
        return (store.conn.execute("PRAGMA journal_mode").fetchone()[0],
                store.conn.execute("PRAGMA synchronous").fetchone()[0])


def child_storyloom(jsonl: str, db: str, rerun: bool) -> dict[str, Any]:
    import storyloom.ingest.web  # noqa: F401  (imported lazily by pipeline.ingest; keep it out of the timing)
    from storyloom.clean.meta import detect_language
    from storyloom.pipeline import ingest
    from storyloom.settings import Settings
    from storyloom.store import Store

    detect_language("Load the language model before the clock starts, once per process.")
    settings, store = Settings(db_path=db), Store(db)
    base = peak_rss_mb()
    start = time.perf_counter()
    report = ingest([jsonl], store, settings)
    out: dict[str, Any] = {"seconds": time.perf_counter() - start, "rows": report.stored,
                           "rss_base": base, "rss_peak": peak_rss_mb()}
    if report.failed or report.stored != sum(1 for _ in open(jsonl, "rb")):
        raise SystemExit(f"storyloom stored {report.stored}, failed {report.failed}: {report.errors[:3]}")
    if rerun:
        start = time.perf_counter()
        again = ingest([jsonl], store, settings)
        out["rerun_seconds"] = time.perf_counter() - start
        assert again.counts["duplicate"] == report.stored, again.counts
    store.close()
    return out


def child_bare(jsonl: str, db: str, fts: bool) -> dict[str, Any]:
    from storyloom.settings import Settings

    journal, sync = store_pragmas()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute(f"PRAGMA journal_mode = {journal}")
    conn.execute(f"PRAGMA synchronous = {sync}")
    conn.executescript(BARE_SCHEMA + (FTS_SCHEMA if fts else ""))

    def row(line: bytes) -> tuple[str | None, ...]:
        obj = json.loads(line)
        return (hashlib.sha256(line.strip()).hexdigest()[:16], obj["url"], obj["title"], obj["text"],
                obj.get("published"), obj.get("outlet"), obj.get("language"))

    batch, rows, parse = Settings().batch_size, 0, 0.0
    base = peak_rss_mb()
    start = time.perf_counter()
    with open(jsonl, "rb") as fh:
        while True:
            t = time.perf_counter()
            chunk = [row(line) for line in itertools.islice(fh, batch)]
            parse += time.perf_counter() - t
            if not chunk:
                break
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(BARE_INSERT, chunk)
            conn.execute("COMMIT")
            rows += len(chunk)
    out = {"seconds": time.perf_counter() - start, "parse_seconds": parse, "rows": rows,
           "rss_base": base, "rss_peak": peak_rss_mb()}
    conn.close()
    return out


# -- parent ---------------------------------------------------------------------------------------------------


def measure(kind: str, jsonl: Path, tmp: Path, rerun: bool = False) -> dict[str, Any]:
    db = tmp / f"{kind}.db"
    cmd = [sys.executable, __file__, "--child", kind, "--jsonl", str(jsonl), "--db", str(db)]
    try:
        done = subprocess.run(cmd + (["--rerun"] if rerun else []), check=True, capture_output=True, text=True)
        return json.loads(done.stdout.strip().splitlines()[-1])
    except subprocess.CalledProcessError as exc:
        raise SystemExit(f"{kind} child failed:\n{exc.stderr}") from exc
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)


def median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def machine() -> str:
    cpu = platform.machine()
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
            f"{platform.system()} {platform.release()}")


def profile(jsonl: Path, tmp: Path, top: int = 10) -> None:
    import cProfile
    import pstats

    from rich.console import Console
    from rich.table import Table

    prof = cProfile.Profile()
    prof.runcall(child_storyloom, str(jsonl), str(tmp / "profile.db"), False)
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    ours = [(ct, tt, nc, f"{Path(f).relative_to(ROOT / 'src')}:{ln} {fn}") for (f, ln, fn), (_, nc, tt, ct, _)
            in stats.items() if "/storyloom/" in f and "/bench/" not in f]
    table = Table(title=f"cProfile, storyloom ingest of {jsonl.name}: top {top} cumulative inside storyloom")
    for col in ("cumulative s", "own s", "calls", "function"):
        table.add_column(col, justify="left" if col == "function" else "right")
    for ct, tt, nc, name in sorted(ours, reverse=True)[:top]:
        table.add_row(f"{ct:.2f}", f"{tt:.2f}", f"{nc:,}", name)
    Console().print(table)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--n", type=int, default=20_000, help="articles in the main run (default 20000)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement; medians are shown")
    ap.add_argument("--profile", action="store_true", help="print cProfile hotspots of a 5k ingest instead")
    ap.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    ap.add_argument("--jsonl", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    ap.add_argument("--rerun", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        out = (child_storyloom(args.jsonl, args.db, args.rerun) if args.child == "storyloom"
               else child_bare(args.jsonl, args.db, fts=args.child == "bare_fts"))
        print(json.dumps(out))
        return

    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]Machine:[/] {machine()}")
    paras, sentences, source = load_text()
    console.print(f"[bold]Text:[/] {source}")
    with tempfile.TemporaryDirectory(prefix="storyloom-bench-") as tmpdir:
        tmp = Path(tmpdir)
        if args.profile:
            jsonl = tmp / "articles-5000.jsonl"
            write_jsonl(jsonl, 5000, paras, sentences)
            profile(jsonl, tmp)
            return
        sizes = sorted({max(1, args.n // 4), max(1, args.n // 2), args.n})
        files = {n: tmp / f"articles-{n}.jsonl" for n in sizes}
        for n, path in files.items():
            write_jsonl(path, n, paras, sentences)
        size = files[args.n].stat().st_size
        console.print(f"[bold]Input:[/] {args.n:,} distinct articles, {size / 1e6:.1f} MB of JSONL "
                      f"(4-12 paragraphs each, no language field: storyloom detects it)\n")

        runs: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS}
        for r in range(args.repeat):  # interleaved, so drift in machine load hits every row alike
            for kind in KINDS:
                console.print(f"  run {r + 1}/{args.repeat}: {LABELS[kind]} …", end="\r")
                runs[kind].append(measure(kind, files[args.n], tmp, rerun=(kind == "storyloom" and r == 0)))
        by_n = {n: [measure("storyloom", files[n], tmp) for _ in range(args.repeat)] for n in sizes if n != args.n}
        by_n[args.n] = runs["storyloom"]

    bare_rate = args.n / median(runs["bare"], "seconds")
    table = Table(title=f"Ingest of {args.n:,} JSONL articles (median of {args.repeat}, fresh process and DB each)")
    for col in ("", "articles/s", "seconds", "of which JSON parse s", "ratio to bare", "peak RSS MB", "RSS growth MB"):
        table.add_column(col, justify="left" if not col else "right")
    for kind in KINDS:
        secs = median(runs[kind], "seconds")
        parse = f"{median(runs[kind], 'parse_seconds'):.2f}" if kind != "storyloom" else "(inside)"
        table.add_row(LABELS[kind], f"{args.n / secs:,.0f}", f"{secs:.2f}", parse, f"{args.n / secs / bare_rate:.2f}x",
                      f"{median(runs[kind], 'rss_peak'):.0f}",
                      f"{median([{'g': r['rss_peak'] - r['rss_base']} for r in runs[kind]], 'g'):.1f}")
    console.print(table)
    console.print("Bare rows: JSON parsing of the same JSONL is inside the timing (its share is shown); "
                  "ratio = articles/s ÷ bare executemany's articles/s. Target: storyloom ≥ 0.50x.")
    rerun = runs["storyloom"][0]["rerun_seconds"]
    console.print(f"Idempotent re-run over the filled store (all {args.n:,} duplicates, run once): "
                  f"[bold]{args.n / rerun:,.0f} articles/s[/] ({rerun:.2f} s)\n")

    mem = Table(title=f"storyloom ingest memory against N (median of {args.repeat}, fresh process each)")
    for col in ("N", "articles/s", "peak RSS MB", "RSS growth MB", "growth MB per 1k articles"):
        mem.add_column(col, justify="right")
    for n in sizes:
        growth = statistics.median(r["rss_peak"] - r["rss_base"] for r in by_n[n])
        mem.add_row(f"{n:,}", f"{n / median(by_n[n], 'seconds'):,.0f}", f"{median(by_n[n], 'rss_peak'):.0f}",
                    f"{growth:.1f}", f"{growth / n * 1000:.2f}")
    console.print(mem)
    console.print("RSS growth = peak RSS during the ingest minus peak RSS before it (after imports, store creation "
                  "and loading the language model). Flat in N means growth stays put while N doubles.")


if __name__ == "__main__":
    main()
