"""Ingest throughput and memory benchmark: ``.venv/bin/python bench/ingest.py [--n 20000] [--repeat 3]``.

A benchmark, not a test: it prints numbers and only checks that every article was stored.  The input is N
distinct JSONL articles built deterministically (seeded ``random.Random``) from real text: paragraphs of the
AEB gold bodies (``/work/shared/corpora/aeb/ground-truth.json``; when absent, ``trafilatura.extract`` over
``sample/aeb/*.html.gz``) and of the two ``sample/seeds`` articles.  Each measurement runs in a fresh child
process (this script with ``--child``) on a fresh database, ``--repeat`` times; medians are reported.

* **storyloom ingest** -- ``pipeline.ingest([jsonl], Store(db), Settings(db_path=db, run_copies=False))``:
  hashing, JSON parsing, field mapping, cleaning (text normalisation, furniture rules, template counts, the
  learned line classifier, date parsing, language detection), raw-blob storage, sightings, secondary indexes
  and the FTS5 index, in transactions of ``Settings.batch_size``.  Copy detection and story clustering, which
  also run on ingest by default, are left to their own benchmarks (bench/copies.py, bench/stories.py).
* **bare executemany** -- the floor, and the issue's yardstick (target: storyloom >= 0.5x its rate): the same
  JSONL parsed with ``json.loads`` (inside the timing, its share shown) into a plain table (id, url, title,
  text, published, outlet, language) by ``executemany`` in transactions of the same size, with the journal
  mode and ``synchronous`` level read from a real ``Store`` at run time.
* **bare executemany + FTS5** -- the same plus an FTS5 external-content index over title+text, filled by an
  AFTER INSERT trigger as in the store's schema: how much of the gap is full-text indexing alone.

Also printed: storyloom's memory against N (N/4, N/2, N; flat in N means the growth column stays put), and,
once, an idempotent re-run over the filled store (every item a duplicate).  ``--profile`` prints the top 10
cumulative cProfile hotspots inside storyloom for a 5k ingest instead.
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import hashlib
import itertools
import json
import os
import platform
import pstats
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import reset_peak_rss, rss_mb

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample"
GOLD = ROOT.parent / "shared" / "corpora" / "aeb" / "ground-truth.json"
OUTLETS = ["The Daily Ledger", "Northern Courier", "Buna Times", "Express Wire", "Harbour Post", "Metro Bulletin"]
KINDS = ["storyloom", "bare", "bare_fts"]
LABELS = {"storyloom": "storyloom ingest", "bare": "bare executemany", "bare_fts": "bare executemany + FTS5"}
BARE_SCHEMA = """CREATE TABLE docs (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, url TEXT,
    title TEXT NOT NULL, text TEXT NOT NULL, published TEXT, outlet TEXT, language TEXT);"""
FTS_SCHEMA = """CREATE VIRTUAL TABLE docs_fts USING fts5(title, text, content='docs', content_rowid='rowid',
    tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER docs_ai AFTER INSERT ON docs BEGIN
    INSERT INTO docs_fts(rowid, title, text) VALUES (new.rowid, new.title, new.text);
END;"""
BARE_INSERT = "INSERT INTO docs (id, url, title, text, published, outlet, language) VALUES (?, ?, ?, ?, ?, ?, ?)"
Result = dict[str, Any]


def load_text() -> tuple[list[str], list[str], str]:
    """(paragraphs, headline-sized sentences, where they came from), all from real articles."""
    if GOLD.is_file():
        bodies = [rec["articleBody"] for rec in json.loads(GOLD.read_text(encoding="utf-8")).values()]
        source = f"AEB gold bodies ({GOLD})"
    else:
        import trafilatura

        pages = sorted((SAMPLE / "aeb").glob("*.html.gz"))
        bodies = [trafilatura.extract(gzip.decompress(p.read_bytes()).decode("utf-8", "replace")) or "" for p in pages]
        source = "trafilatura.extract over sample/aeb/*.html.gz"
    bodies += [p.read_text(encoding="utf-8") for p in sorted((SAMPLE / "seeds").glob("*.txt"))]
    paras = list(dict.fromkeys(p.strip() for b in bodies for p in b.split("\n") if len(p.strip()) >= 40))
    sentences = [s for p in paras for s in re.split(r"(?<=[.!?])\s+", p) if 30 <= len(s) <= 140]
    return paras, sentences, f"{source} + sample/seeds: {len(paras):,} paragraphs, {len(sentences):,} titles"


def articles(n: int, paras: list[str], sentences: list[str], seed: int = 20240) -> Iterator[dict[str, str]]:
    """N articles of 4-12 paragraphs; the same seed gives the same stream, so N/4 is a prefix of N."""
    rng = random.Random(seed)
    epoch = datetime(2019, 1, 1, tzinfo=UTC)
    for i in range(n):
        outlet = rng.choice(OUTLETS)
        published = epoch + timedelta(seconds=rng.randrange(5 * 365 * 86400))
        yield {
            "url": f"https://{outlet.lower().replace(' ', '')}.example/news/{published:%Y/%m/%d}/{i:07d}",
            "title": rng.choice(sentences),
            "text": "\n\n".join(rng.sample(paras, rng.randint(4, 12))),
            "published": published.isoformat(timespec="seconds"),
            "outlet": outlet,  # no "language": storyloom detects it, as it would for most scraped input
        }


def write_jsonl(path: Path, n: int, paras: list[str], sentences: list[str]) -> None:
    """Stream N articles to ``path``; fail if two of them share a title and text."""
    seen: set[bytes] = set()
    with open(path, "w", encoding="utf-8") as fh:
        for art in articles(n, paras, sentences):
            seen.add(hashlib.blake2b(f"{art['title']}\0{art['text']}".encode(), digest_size=16).digest())
            fh.write(json.dumps(art, ensure_ascii=False) + "\n")
    if len(seen) != n:
        raise SystemExit(f"corpus: only {len(seen)} of {n} articles are distinct")


def result(start: float, base_rss: float, **extra: Any) -> Result:
    peak = rss_mb()
    return {"seconds": time.perf_counter() - start, "rss_peak": peak, "growth": peak - base_rss, **extra}


def child_storyloom(jsonl: str, db: str, rerun: bool) -> Result:
    import storyloom.ingest.web  # noqa: F401  (pipeline.ingest imports it lazily: keep that out of the timing)
    from storyloom.enrich.language import detect_language
    from storyloom.pipeline import ingest
    from storyloom.settings import Settings
    from storyloom.store import Store

    detect_language("Load the language model before the clock starts: once per process.")
    settings, store = Settings(db_path=db, run_copies=False), Store(db)
    base = reset_peak_rss()
    start = time.perf_counter()
    report = ingest([jsonl], store, settings)
    out = result(start, base)
    if report.failed or report.stored != sum(1 for _ in open(jsonl, "rb")):
        raise SystemExit(f"storyloom stored {report.stored}, failed {report.failed}: {report.errors[:3]}")
    if rerun:
        start = time.perf_counter()
        again = ingest([jsonl], store, settings)
        out["rerun_seconds"] = time.perf_counter() - start
        assert again.counts["duplicate"] == report.stored, again.counts
    store.close()
    return out


def child_bare(jsonl: str, db: str, fts: bool) -> Result:
    from storyloom.settings import Settings
    from storyloom.store import Store

    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "probe.db") as probe:  # the store's pragmas
        journal, sync = (probe.conn.execute(f"PRAGMA {p}").fetchone()[0] for p in ("journal_mode", "synchronous"))
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute(f"PRAGMA journal_mode = {journal}")
    conn.execute(f"PRAGMA synchronous = {sync}")
    conn.executescript(BARE_SCHEMA + (FTS_SCHEMA if fts else ""))

    def row(line: bytes) -> tuple[str | None, ...]:
        obj = json.loads(line)
        return (hashlib.sha256(line.strip()).hexdigest()[:16], obj["url"], obj["title"], obj["text"],
                obj.get("published"), obj.get("outlet"), obj.get("language"))

    batch, parse = Settings().batch_size, 0.0
    base = reset_peak_rss()
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
    out = result(start, base, parse_seconds=parse)  # before close(): its WAL checkpoint is not in storyloom's time
    conn.close()
    return out


def measure(kind: str, jsonl: Path, tmp: Path, rerun: bool = False) -> Result:
    db = tmp / f"{kind}.db"
    cmd = [sys.executable, __file__, "--child", kind, str(jsonl), str(db)]
    try:
        done = subprocess.run(cmd + (["--rerun"] if rerun else []), check=True, capture_output=True, text=True)
        return json.loads(done.stdout.strip().splitlines()[-1])
    except subprocess.CalledProcessError as exc:
        raise SystemExit(f"{kind} child failed:\n{exc.stderr}") from exc
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)


def median(runs: list[Result], key: str) -> float:
    return statistics.median(r.get(key, 0.0) for r in runs)


def machine() -> str:
    info = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    cpu = next((ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name")), platform.machine())
    return f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"


def profile(jsonl: Path, tmp: Path, top: int = 10) -> None:
    """The top cumulative cProfile entries inside storyloom's own source for one ingest (in this process)."""
    prof = cProfile.Profile()
    prof.runcall(child_storyloom, str(jsonl), str(tmp / "profile.db"), False)
    print(f"cProfile of a storyloom ingest of {jsonl.name}: top {top} cumulative inside storyloom")
    pstats.Stats(prof).sort_stats("cumulative").print_stats(re.escape(str(ROOT / "src")), top)


def tables(n: int, repeat: int, runs: dict[str, list[Result]], by_n: dict[int, list[Result]]) -> list[Table]:
    bare_rate = n / median(runs["bare"], "seconds")
    main = Table(title=f"Ingest of {n:,} JSONL articles (median of {repeat}; fresh process and database each)",
                 caption="JSON parsing of the JSONL is inside every timing (the bare rows show its share). "
                         "ratio = articles/s ÷ bare executemany's. Target: storyloom ≥ 0.50x.")
    for col in ("", "articles/s", "seconds", "of which parse s", "ratio to bare", "peak RSS MB", "RSS growth MB"):
        main.add_column(col, justify="right" if col else "left")
    for kind in KINDS:
        secs, parse = median(runs[kind], "seconds"), median(runs[kind], "parse_seconds")
        main.add_row(LABELS[kind], f"{n / secs:,.0f}", f"{secs:.2f}", f"{parse:.2f}" if parse else "(inside)",
                     f"{n / secs / bare_rate:.2f}x", f"{median(runs[kind], 'rss_peak'):.0f}",
                     f"{median(runs[kind], 'growth'):.1f}")
    mem = Table(title=f"storyloom ingest: memory against N (median of {repeat}; fresh process each)",
                caption="RSS growth = peak RSS during the ingest − RSS just before it (after imports, store "
                        "creation and loading the language model).")
    for col in ("N", "articles/s", "peak RSS MB", "RSS growth MB", "growth MB per 1k articles"):
        mem.add_column(col, justify="right")
    for size, rs in sorted(by_n.items()):
        growth = median(rs, "growth")
        mem.add_row(f"{size:,}", f"{size / median(rs, 'seconds'):,.0f}", f"{median(rs, 'rss_peak'):.0f}",
                    f"{growth:.1f}", f"{growth / size * 1000:.3f}")
    return [main, mem]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--n", type=int, default=20_000, help="articles in the main run (default 20000)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement; medians are shown (default 3)")
    ap.add_argument("--profile", action="store_true", help="print cProfile hotspots of a 5k ingest instead")
    ap.add_argument("--child", nargs=3, metavar=("KIND", "JSONL", "DB"), help=argparse.SUPPRESS)
    ap.add_argument("--rerun", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, jsonl, db = args.child
        print(json.dumps(child_storyloom(jsonl, db, args.rerun) if kind == "storyloom" else
                         child_bare(jsonl, db, fts=kind == "bare_fts")))
        return
    console = Console(width=None if sys.stdout.isatty() else 120)  # readable tables when sent to a file
    console.print(f"[bold]Machine:[/] {machine()}")
    paras, sentences, source = load_text()
    console.print(f"[bold]Text:[/] {source}")
    with tempfile.TemporaryDirectory(prefix="storyloom-bench-") as tmpdir:
        tmp = Path(tmpdir)
        if args.profile:
            write_jsonl(tmp / "articles-5000.jsonl", 5000, paras, sentences)
            profile(tmp / "articles-5000.jsonl", tmp)
            return
        sizes = sorted({max(1, args.n // 4), max(1, args.n // 2), args.n})
        files = {size: tmp / f"articles-{size}.jsonl" for size in sizes}
        for size, path in files.items():
            write_jsonl(path, size, paras, sentences)
        console.print(f"[bold]Input:[/] {args.n:,} distinct articles, {files[args.n].stat().st_size / 1e6:.1f} MB "
                      "of JSONL, no language field (storyloom detects it)\n")
        runs: dict[str, list[Result]] = {kind: [] for kind in KINDS}
        with console.status("measuring") as status:
            for r in range(args.repeat):  # interleaved, so drift in machine load hits every row alike
                for kind in KINDS:
                    status.update(f"run {r + 1}/{args.repeat}: {LABELS[kind]}, N={args.n:,}")
                    runs[kind].append(measure(kind, files[args.n], tmp, rerun=kind == "storyloom" and r == 0))
            by_n = {args.n: runs["storyloom"]}
            for size in sizes[:-1]:
                status.update(f"storyloom ingest, N={size:,}, {args.repeat} runs")
                by_n[size] = [measure("storyloom", files[size], tmp) for _ in range(args.repeat)]

    main_table, mem_table = tables(args.n, args.repeat, runs, by_n)
    console.print(main_table)
    rerun = runs["storyloom"][0]["rerun_seconds"]
    console.print(f"Idempotent re-run over the filled store (all {args.n:,} items duplicates; measured once): "
                  f"[bold]{args.n / rerun:,.0f} articles/s[/] ({rerun:.2f} s)\n")
    console.print(mem_table)


if __name__ == "__main__":
    main()
