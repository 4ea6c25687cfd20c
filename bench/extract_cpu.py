"""CPU of ``extract_html`` alone over the pages of ``bench/pipeline.py --only html`` (wcxb-dev + AEB), in one
process, and its outputs for comparing two trees.

    PYTHONPATH=src .venv/bin/python bench/extract_cpu.py [--limit N] [--dump out.json] [--profile K]

Why: the HTML run's tree CPU mixes the cleaning workers with the ingesting process (store writes, copies, stories)
and moves with the machine's load; this isolates the extraction.  ``--dump`` writes every field of each page's
``Extracted`` (or its BadInput reason), so ``cmp`` of two dumps says whether a change kept every output.
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import json
import pstats
import time
from pathlib import Path
from typing import Any

CORPORA = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora"


def pages(limit: int | None) -> list[tuple[str, bytes]]:
    src = sorted((CORPORA / "wcxb-dev" / "dev" / "html").glob("*.html.gz")) + sorted(
        (CORPORA / "aeb" / "html").glob("*.html.gz"))
    return [(f"{p.parent.parent.name}-{p.name}", gzip.decompress(p.read_bytes())) for p in src[:limit]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="only the first N pages")
    ap.add_argument("--dump", type=Path, default=None, help="write every page's outputs (JSON) here")
    ap.add_argument("--profile", type=int, default=0, help="cProfile: the top K functions by own time")
    args = ap.parse_args()
    from storyloom.clean.html import extract_html
    from storyloom.errors import BadInput

    todo = pages(args.limit)
    out: dict[str, Any] = {}

    def run() -> None:
        for name, data in todo:
            try:
                e = extract_html(data, name, None, timeout=None)  # type: ignore[arg-type]
                out[name] = [e.title, e.text, e.body, e.published, e.author, e.sitename, e.url, e.language,
                             list(e.warnings), repr(e.hints)]
            except BadInput as exc:
                out[name] = ["BadInput", str(exc)]

    prof = cProfile.Profile() if args.profile else None
    start = time.process_time()
    if prof:
        prof.enable()
    run()
    if prof:
        prof.disable()
    cpu = time.process_time() - start
    print(f"{len(todo)} pages, extract_html CPU {cpu:.2f} s, {1000 * cpu / max(len(todo), 1):.1f} ms a page "
          f"(one process: its one-off start-up included)")
    if prof:
        pstats.Stats(prof).sort_stats("tottime").print_stats(args.profile)
    if args.dump:
        args.dump.write_text(json.dumps(out, sort_keys=True, default=str))


if __name__ == "__main__":
    main()
