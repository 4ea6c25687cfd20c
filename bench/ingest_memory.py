"""What grows in memory while ``storyloom ingest`` runs: RSS and PSS of the ingesting process and its workers, the
Python heap (tracemalloc) and the size of every process-wide cache, sampled every ``--every`` articles.

    nice -n 10 env PYTHONPATH=src .venv/bin/python bench/ingest_memory.py --n 10000 --every 1000
    nice -n 10 env PYTHONPATH=src .venv/bin/python bench/ingest_memory.py --n 4000 --every 1000 --trace 15

Input: the scaled set of ``bench/pipeline.py`` (real texts repeated with new ids, outlets, dates and light edits), the
default settings a new user gets (copies with translations, stories with embeddings, the FTS index), a fresh store.
Why PSS beside RSS: the cleaning workers fork after the models are loaded and share those pages; RSS counts a shared
page once in every process (what ``bench/pipeline.py``'s peak RSS of the tree sums), PSS splits it between them, so
the tree's PSS is what the machine gives the ingest.  ``--trace K`` starts tracemalloc in the ingesting process at
the first sample (after the workers forked: they are not traced) and prints the K source lines whose live memory grew
most between the second sample and the last: what keeps growing, as opposed to what warmed up.
A benchmark, not a test: the bounds themselves are asserted by tests/test_memory_bounds.py.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))
from benchutil import _proc_stats, _tree
from pipeline import real_texts, scaled, write_jsonl


def _kb(pid: int, path: str, key: str) -> float:
    try:
        with open(f"/proc/{pid}/{path}") as fh:
            return next(int(ln.split()[1]) for ln in fh if ln.startswith(key + ":")) / 1024
    except (OSError, StopIteration):
        return 0.0


def processes() -> dict[str, tuple[float, float]]:
    """(RSS MB, PSS MB) of this process ("main") and of each child, by pid."""
    me = os.getpid()
    out = {}
    for pid in _tree(me, _proc_stats()):
        out["main" if pid == me else str(pid)] = (_kb(pid, "status", "VmRSS"), _kb(pid, "smaps_rollup", "Pss"))
    return out


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


def c_side() -> dict[str, float]:
    """What the C side holds, in MB: SQLite's own allocations (all connections of this process: page caches,
    statements, FTS5 buffers), glibc malloc's heap in use and free-but-kept (fragmentation), its mmapped blocks,
    and the process's anonymous vs file-backed resident pages.  Empty where glibc or libsqlite3 is not found."""
    out: dict[str, float] = {}
    try:
        lib = ctypes.CDLL("libsqlite3.so.0")  # the library Python's sqlite3 module loaded (same handle)
        lib.sqlite3_memory_used.restype = ctypes.c_int64
        out["sqlite_mb"] = lib.sqlite3_memory_used() / 2**20
    except (OSError, AttributeError):
        pass
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
        mi = libc.mallinfo2()
        out |= {"malloc_used_mb": (mi.uordblks + mi.hblkhd) / 2**20, "malloc_free_mb": mi.fordblks / 2**20,
                "malloc_mmap_mb": mi.hblkhd / 2**20}
    except (OSError, AttributeError):
        pass
    me = os.getpid()
    out["rss_anon"], out["rss_file"] = _kb(me, "status", "RssAnon"), _kb(me, "status", "RssFile")
    out["threads"] = float(len(os.listdir("/proc/self/task")))
    return out


def pymalloc() -> dict[str, float]:
    """Python's small-object allocator, in MB: its arenas (1 MiB each, mmapped: outside mallinfo) and the bytes of
    live blocks in them; arenas far above the live bytes are pymalloc's own fragmentation."""
    fd = os.dup(2)
    with tempfile.TemporaryFile() as tf:
        os.dup2(tf.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(fd, 2)
            os.close(fd)
        tf.seek(0)
        text = tf.read().decode("utf-8", "replace")
    out = {}
    for line in text.splitlines():
        if line.startswith("# arenas allocated current"):
            out["pym_arenas_mb"] = int(line.split("=")[1].replace(",", "")) * 1.0  # × 1 MiB below
        elif line.startswith("# bytes in allocated blocks"):
            out["pym_used_mb"] = int(line.split("=")[1].replace(",", "")) / 2**20
    return out


def trim() -> float:
    """``malloc_trim(0)``: hands every free page of every glibc arena back to the OS; returns the MB of RSS it
    gave back (what the allocator kept free but resident: fragmentation, not live data)."""
    before = _kb(os.getpid(), "status", "VmRSS")
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    return before - _kb(os.getpid(), "status", "VmRSS")


def caches() -> dict[str, int]:
    """The entries of every process-wide cache the ingesting process fills (see each module)."""
    from storyloom.copies import translation
    from storyloom.enrich import anchors
    from storyloom.timeparse import parse_time

    out = {"translation prints (lru)": translation._print_of.cache_info().currsize,
           "anchor name keys (lru)": anchors._name_key.cache_info().currsize,
           "parse_time (lru)": parse_time.cache_info().currsize}
    from storyloom import offered as offered_mod

    for name, cache in offered_mod.registry().items():
        out[f"offered {name}"] = len(cache)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10_000, help="articles of the scaled set")
    ap.add_argument("--every", type=int, default=1_000, help="sample every N stored articles")
    ap.add_argument("--trace", type=int, default=0, help="tracemalloc: the K lines that grew most")
    ap.add_argument("--trim", action="store_true", help="malloc_trim(0) at each sample: how much RSS it gives back")
    ap.add_argument("--keep", help="keep the input and store in this folder")
    args = ap.parse_args()

    from storyloom.ingest import iter_inputs
    from storyloom.pipeline import IngestReport, ingest_items
    from storyloom.settings import Settings
    from storyloom.store import Store

    tmp = Path(args.keep or tempfile.mkdtemp(prefix="storyloom-bench-memory-"))
    tmp.mkdir(parents=True, exist_ok=True)
    src = tmp / f"scaled-{args.n}.jsonl"
    if not src.exists():
        write_jsonl(src, scaled(real_texts(), args.n))
    db = str(tmp / f"memory-{args.n}.db")
    for suffix in ("", "-wal", "-shm"):
        Path(db + suffix).unlink(missing_ok=True)
    store = Store(db)
    store.migrate()
    settings = Settings(db_path=db)
    rows: list[dict[str, Any]] = []
    snaps: list[tracemalloc.Snapshot] = []
    done = [0]
    t0, c0 = time.perf_counter(), time.process_time()
    print(f"{args.n:,} scaled articles, sample every {args.every:,}; load {os.getloadavg()[0]:.1f}", flush=True)

    def sample() -> None:
        gc.collect()
        procs = processes()
        main_rss, main_pss = procs.pop("main")
        row = {"articles": done[0], "wall": time.perf_counter() - t0, "cpu": time.process_time() - c0,
               "main_rss": main_rss, "main_pss": main_pss, "workers_rss": sum(r for r, _ in procs.values()),
               "workers_pss": sum(p for _, p in procs.values()), "n_workers": len(procs),
               "hwm": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               "traced": tracemalloc.get_traced_memory()[0] / 2**20 if tracemalloc.is_tracing() else float("nan"),
               # the Python heap's peak since the last sample: what a pass allocates for a moment
               "traced_peak": tracemalloc.get_traced_memory()[1] / 2**20 if tracemalloc.is_tracing() else float("nan"),
               "db_mb": sum(os.path.getsize(db + s) for s in ("", "-wal") if os.path.exists(db + s)) / 2**20,
               "load": os.getloadavg()[0], **c_side(), **pymalloc(), **caches()}
        if args.trim:
            row["trimmed"] = trim()
        rows.append(row)
        print(" ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
        if args.trace:
            if not tracemalloc.is_tracing():
                tracemalloc.start(1)
            else:
                snaps.append(tracemalloc.take_snapshot())
                tracemalloc.reset_peak()

    def on_event(kind: str, payload: object) -> None:
        if kind == "item":
            done[0] += 1
            if done[0] % args.every == 0:
                sample()

    report = IngestReport()
    ingest_items(iter_inputs([str(src)], settings, None), store, settings, on_event, report)
    store.close()
    print(f"\nstored {report.stored:,}; wall {time.perf_counter() - t0:.0f} s; CPU of the ingesting process "
          f"{time.process_time() - c0:.0f} s; load {os.getloadavg()[0]:.1f}")
    print("\n| articles | main RSS MB | main PSS MB | workers RSS MB | workers PSS MB | tree PSS MB | traced MB | store MB |"
          " translation prints | offered (fingerprints/prints/vectors) | load |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        off = "/".join(str(v) for k, v in r.items() if k.startswith("offered "))
        print(f"| {r['articles']:,} | {r['main_rss']:.0f} | {r['main_pss']:.0f} | {r['workers_rss']:.0f} | "
              f"{r['workers_pss']:.0f} | {r['main_pss'] + r['workers_pss']:.0f} | {r['traced']:.1f} | {r['db_mb']:.0f} | "
              f"{r['translation prints (lru)']:,} | {off} | {r['load']:.1f} |")
    # the ingesting process's anonymous RSS ≈ malloc in use + malloc free-but-kept + pymalloc arenas
    print("\n| articles | main anon RSS MB | SQLite MB | malloc in use MB | malloc free MB | pymalloc arenas MB |"
          " pymalloc live MB | trimmed MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['articles']:,} | {r.get('rss_anon', 0):.0f} | {r.get('sqlite_mb', 0):.0f} | "
              f"{r.get('malloc_used_mb', 0):.0f} | {r.get('malloc_free_mb', 0):.0f} | {r.get('pym_arenas_mb', 0):.0f} | "
              f"{r.get('pym_used_mb', 0):.0f} | {r.get('trimmed', float('nan')):.0f} |")
    if len(rows) >= 3:
        a, b = rows[1], rows[-1]
        per = lambda k: 1024 * (b[k] - a[k]) / max(1, b["articles"] - a["articles"])
        print(f"\ngrowth from {a['articles']:,} to {b['articles']:,} articles: main RSS {per('main_rss'):.1f} KB per "
              f"article, main PSS {per('main_pss'):.1f}, workers PSS {per('workers_pss'):.1f}")
    if len(snaps) >= 2:
        print(f"\ntracemalloc: the {args.trace} lines whose live memory grew most from {rows[1]['articles']:,} "
              f"to {rows[-1]['articles']:,} articles")
        for st in snaps[-1].compare_to(snaps[0], "lineno")[: args.trace]:
            print(f"  {st.size_diff / 2**20:+8.2f} MB ({st.count_diff:+,} blocks) now {st.size / 2**20:.2f} MB  "
                  f"{st.traceback}")


if __name__ == "__main__":
    main()
