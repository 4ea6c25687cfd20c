"""Article-body extraction benchmark: ``.venv/bin/python bench/extraction.py [--corpus aeb|wcxb|both] [--held | --held-only]
[--repeat 3] [--no-speed] [--previous main]``.

A benchmark, not a test: it prints tables.  Corpora:

* the article-extraction benchmark (AEB) in ``/work/shared/corpora/aeb`` (181 news/blog pages, hand-checked gold
  bodies, MIT), loaded and scored by ``bench/aeb.py`` -- the upstream metric re-implemented exactly (4-gram
  shingle multisets, per-page normalised tp/fp/fn, precision averaged only over pages where the system returned
  text, recall over all pages, F1 from the two averages).  Since precision skips empty outputs, every table
  also gives the number of empty outputs;
* WCXB dev article pages in ``/work/shared/corpora/wcxb-dev`` (711 pages of 695 domains, CC-BY-4.0), loaded and
  scored by ``bench/wcxb.py`` (upstream bag-of-words F1, macro-averaged; must/must-not snippet shares), split
  into a ``tune`` half and a ``held`` half by a hash of the page id; ``--held`` adds the held-out half, which
  was never looked at while choosing anything.

What it prints, in one run:

1. **metric check**: our metric over the upstream reference outputs (``aeb/output/*.json``) next to the
   published F1, so a drift in the metric shows before any new number is trusted;
2. **quality** of, on the same pages and the same metric:
   * ``storyloom`` -- ``storyloom.clean.html.extract_html(html, id, url).text``; a ``BadInput`` counts as an
     empty output (the text layer, ``clean.text``, is not applied: this measures the HTML extractor);
   * ``storyloom previous`` -- the same from ``src/storyloom/clean/html.py`` at git ``--previous`` (``main``);
   * ``trafilatura`` -- ``trafilatura.extract(html, url=url)`` with default settings (comments included);
   * ``trafilatura -comments`` -- the same with ``include_comments=False`` (upstream's own run of it);
   * ``trafilatura -c +meta`` -- ``bare_extraction(..., include_comments=False, include_tables=True,
     with_metadata=True)``: trafilatura doing the whole job storyloom does (body + metadata), for the speed row;
   * ``readability-lxml`` -- ``Document(html).summary(html_partial=True)`` turned into text by this
     script's block-aware ``page_text``; skipped with a message when ``readability`` is not importable
     (it is not a storyloom dependency: ``pip install readability-lxml``);
   * ``full page text`` -- ``page_text(html)``: every visible text node, the recall ceiling and precision floor;
3. **speed**: pages per second of storyloom and trafilatura per corpus, the median of ``--repeat`` timed
   passes, passes interleaved so that machine drift hits all alike; the ratio to ``trafilatura -c +meta``, by
   wall clock and by the process's CPU time (the figure to trust on a machine shared with other work).

**Dev/test split** (so that tuning storyloom is not fitting the numbers it reports): an AEB page is ``dev`` when
the last hex digit of ``sha1(page id)`` is below 8, else ``test`` (91 dev, 90 test pages); see ``aeb.split_of``.
storyloom's heuristics were chosen looking at AEB dev and WCXB tune pages only.  The gain over trafilatura is also given with
a paired bootstrap 95% interval (1,000 resamples of pages, seeded), because 90 pages is not many.
"""

from __future__ import annotations

import argparse
import logging
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aeb
import wcxb

Extractor = Callable[[str, str, "str | None"], str]

_BLOCK = frozenset(
    "address article aside blockquote br dd details dialog div dl dt fieldset figcaption figure footer form "
    "h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section summary table td th tr ul title".split()
)
_SKIP = frozenset("script style noscript template svg head".split())


def page_text(html: str) -> str:
    """All visible text of an HTML document or fragment, a newline at block boundaries (like html-text)."""
    import lxml.html
    from lxml import etree

    try:
        root = lxml.html.fromstring(html)
    except (etree.ParserError, ValueError):
        return ""
    out: list[str] = []

    def walk(el) -> None:  # type: ignore[no-untyped-def]
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in _SKIP:
            if el.tail:
                out.append(el.tail)
            return
        block = tag in _BLOCK
        if block:
            out.append("\n")
        if isinstance(el.tag, str) and el.text:
            out.append(el.text)
        for child in el:
            walk(child)
        if block:
            out.append("\n")
        if el.tail:
            out.append(el.tail)

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    walk(root)
    lines = (" ".join(ln.split()) for ln in "".join(out).split("\n"))
    return "\n".join(ln for ln in lines if ln)


def _storyloom() -> Extractor:
    from storyloom.clean.html import extract_html
    from storyloom.errors import BadInput

    def run(html: str, pid: str, url: str | None) -> str:
        try:
            return extract_html(html, pid, url).text
        except BadInput:
            return ""

    return run


def _storyloom_previous(ref: str) -> Extractor | None:
    """``extract_html`` as it was at git ``ref`` (default ``main``): the previous extraction, same run, same pages.

    The module text is read with ``git show`` and loaded under another name; it uses today's rules and
    decoder (``clean/rules.py``, ``decoding.py``), so the row isolates the extraction step."""
    import importlib.util
    import subprocess

    root = Path(__file__).resolve().parents[1]
    try:
        src = subprocess.run(["git", "show", f"{ref}:src/storyloom/clean/html.py"], cwd=root, check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    spec = importlib.util.spec_from_loader("storyloom.clean._html_previous", loader=None)
    assert spec is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    exec(compile(src, f"{ref}:src/storyloom/clean/html.py", "exec"), mod.__dict__)
    from storyloom.errors import BadInput

    def run(html: str, pid: str, url: str | None) -> str:
        try:
            return str(mod.extract_html(html, pid, url).text)
        except BadInput:
            return ""

    return run


def _storyloom_clean() -> Extractor:
    """The whole cleaning stage a page goes through on ingest, with the shipped settings: extraction, then the
    furniture rules of clean.text (no templates: one page per site here; the learned line classifier does not
    run on extracted HTML)."""
    from storyloom.clean import clean
    from storyloom.errors import BadInput
    from storyloom.models import RawDoc
    from storyloom.settings import Settings

    settings = Settings()

    def run(html: str, pid: str, url: str | None) -> str:
        try:
            return clean(RawDoc(raw=html.encode(), kind="html", location=pid, url=url, html=html), settings).text
        except BadInput:
            return ""

    return run


def _trafilatura(**kw: object) -> Extractor:
    import trafilatura

    def run(html: str, pid: str, url: str | None) -> str:
        return trafilatura.extract(html, url=url, **kw) or ""  # type: ignore[arg-type]

    return run


def _trafilatura_meta() -> Extractor:
    """What storyloom's extraction does at trafilatura's own cost: body plus metadata (htmldate) in one call."""
    import trafilatura

    def run(html: str, pid: str, url: str | None) -> str:
        doc = trafilatura.bare_extraction(html, url=url, include_comments=False, include_tables=True,
                                          with_metadata=True, deduplicate=False)
        return (doc.text or "") if doc is not None else ""

    return run


def _readability() -> Extractor | None:
    try:
        from readability import Document
    except ImportError:
        return None

    def run(html: str, pid: str, url: str | None) -> str:
        try:
            return page_text(Document(html, url=url).summary(html_partial=True))
        except Exception:
            return ""

    return run


def _full(html: str, pid: str, url: str | None) -> str:
    return page_text(html)


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = [f"Python {platform.python_version()}"]
    for dist in ("storyloom", "trafilatura", "htmldate", "lxml", "readability-lxml"):
        try:
            parts.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            parts.append(f"{dist} (not installed)")
    return ", ".join(parts)


def _gain_ci(a: dict[str, aeb.PRF], b: dict[str, aeb.PRF], ids: list[str], n: int = 1000) -> tuple[float, float]:
    """Paired bootstrap 95% interval of F1(a) - F1(b) over pages (seeded, reproducible)."""
    rng = random.Random(20191118)
    diffs = []
    for _ in range(n):
        sample = [ids[rng.randrange(len(ids))] for _ in ids]
        diffs.append(aeb.aggregate(a[i] for i in sample)["f1"] - aeb.aggregate(b[i] for i in sample)["f1"])
    diffs.sort()
    return diffs[int(0.025 * n)], diffs[int(0.975 * n) - 1]


def _table_aeb(pages: dict[str, tuple[str, str, str | None]], outputs: dict[str, dict[str, str]],
               systems: list[str]) -> dict[str, dict[str, aeb.PRF]]:
    ids = list(pages)
    subsets = {"dev": [i for i in ids if aeb.split_of(i) == "dev"], "test": [i for i in ids if aeb.split_of(i) == "test"],
               "all": ids}
    scores = {name: {pid: aeb.prf(outputs[name][pid], pages[pid][1]) for pid in ids} for name in systems}
    print("\n## AEB: article body quality (AEB metric; `empty` = pages with no output, left out of P)\n")
    cols = [f"{s} {c}" for s in subsets for c in ("F1", "P", "R", "empty")]
    widths = [max(8, len(c)) for c in cols]
    print(f"| {'system':<21} | " + " | ".join(f"{c:>{w}}" for c, w in zip(cols, widths)) + " |")
    print("|" + "|".join(["-" * 23] + ["-" * (w + 2) for w in widths]) + "|")
    for name in systems:
        cells = []
        for _s, sub in subsets.items():
            m = aeb.aggregate(scores[name][i] for i in sub)
            cells += [f"{m['f1']:8.3f}", f"{m['precision']:8.3f}", f"{m['recall']:8.3f}", f"{m['empty']:8d}"]
        print(f"| {name:<21} | " + " | ".join(c.rjust(w) for c, w in zip(cells, widths)) + " |")
    print("\nstoryloom F1 gain on AEB, paired bootstrap 95% interval (1,000 resamples of pages):")
    for base in ("trafilatura", "trafilatura -comments", "storyloom previous", "readability-lxml"):
        if base not in scores:
            continue
        parts = []
        for s, sub in subsets.items():
            gain = aeb.aggregate(scores["storyloom"][i] for i in sub)["f1"] - aeb.aggregate(
                scores[base][i] for i in sub)["f1"]
            lo, hi = _gain_ci(scores["storyloom"], scores[base], sub)
            parts.append(f"{s} {gain:+.3f} [{lo:+.3f}, {hi:+.3f}]")
        print(f"  vs {base:<21} " + "   ".join(parts))
    return scores


def _table_wcxb(pages: list[wcxb.Page], outputs: dict[str, dict[str, str]], systems: list[str],
                splits: list[str]) -> None:
    print("\n## WCXB dev article pages: quality (bag-of-words F1/P/R macro-averaged; `with`/`without` = share of "
          "must / must-not snippets found; `zero` = pages scoring 0)\n")
    print("'undrafted' = the pages whose ground truth was not drafted by an extractor (trafilatura-like output is "
          "favoured on the others).\n")
    print("| split      | system                | pages |    F1 |     P |     R |  with | without | zero |")
    print("|------------|-----------------------|-------|-------|-------|-------|-------|---------|------|")
    for split in splits:
        for label, sub in ((split, [p for p in pages if wcxb.split_of(p.pid) == split]),
                           (f"{split} undr.", [p for p in pages if wcxb.split_of(p.pid) == split and not p.drafted])):
            for name in systems:
                m = wcxb.aggregate(wcxb.score(outputs[name][p.pid], p) for p in sub)
                print(f"| {label:<10} | {name:<21} | {m['n']:5d} | {m['f1']:.3f} | {m['precision']:.3f} | "
                      f"{m['recall']:.3f} | {m['with']:.3f} | {m['without']:7.3f} | {m['zero']:4d} |")
    for split in splits:
        sub = [p for p in pages if wcxb.split_of(p.pid) == split and p.gold is not None]
        ours = {p.pid: wcxb.score(outputs["storyloom"][p.pid], p).f1 or 0.0 for p in sub}
        for base in ("trafilatura -comments", "storyloom previous"):
            if base not in outputs:
                continue
            theirs = {p.pid: wcxb.score(outputs[base][p.pid], p).f1 or 0.0 for p in sub}
            d = {i: ours[i] - theirs[i] for i in ours}
            wins = sorted((i for i in d if d[i] > 0.01), key=lambda i: -d[i])
            losses = sorted((i for i in d if d[i] < -0.01), key=lambda i: d[i])
            print(f"\n{split}: storyloom vs {base}: {len(wins)} pages better by > 0.01 F1, {len(losses)} worse, "
                  f"{len(d) - len(wins) - len(losses)} within 0.01")
            print("  wins:   " + ", ".join(f"{i} {d[i]:+.2f}" for i in wins[:15]) + (" …" if len(wins) > 15 else ""))
            print("  losses: " + ", ".join(f"{i} {d[i]:+.2f}" for i in losses[:15]) + (" …" if len(losses) > 15 else ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--root", type=Path, default=aeb.DEFAULT_ROOT, help="the AEB folder")
    ap.add_argument("--wcxb-root", type=Path, default=wcxb.DEFAULT_ROOT, help="the WCXB dev article folder")
    ap.add_argument("--corpus", choices=("aeb", "wcxb", "both"), default="both")
    ap.add_argument("--held", action="store_true",
                    help="also score WCXB's held-out half (never used to choose anything: run once, at the end)")
    ap.add_argument("--held-only", action="store_true", help="WCXB's held-out half only (implies --held)")
    ap.add_argument("--previous", default="main", help="git ref of the previous storyloom extraction ('' for none)")
    ap.add_argument("--repeat", type=int, default=3, help="timed passes for the speed table (median)")
    ap.add_argument("--no-speed", action="store_true", help="one pass, no speed table")
    args = ap.parse_args()
    logging.disable(logging.WARNING)  # trafilatura logs a warning per discarded page

    corpora: dict[str, dict[str, tuple[str, str, str | None]]] = {}
    wpages: list[wcxb.Page] = []
    splits = ["held"] if args.held_only else ["tune", "held"] if args.held else ["tune"]
    if args.corpus in ("aeb", "both"):
        if not (args.root / "ground-truth.json").is_file():
            sys.exit(f"AEB not found at {args.root} (expected ground-truth.json and html/)")
        corpora["AEB"] = aeb.load_aeb(args.root)
        print(f"AEB: {len(corpora['AEB'])} pages (dev = last hex digit of sha1(page id) < 8, else test)")
        print("\n## Metric check: our metric on the upstream reference outputs (aeb/output/*.json)\n")
        print(f"| {'reference output':<17} | {'F1':>5} | {'P':>5} | {'R':>5} | empty | published F1 | match |")
        print(f"|{'-' * 19}|{'-' * 7}|{'-' * 7}|{'-' * 7}|{'-' * 7}|{'-' * 14}|{'-' * 7}|")
        for name, m, pub in aeb.reference_check(args.root):
            match = "" if pub is None else ("yes" if round(m["f1"], 3) == pub else "NO")
            pubs = "" if pub is None else f"{pub:.3f}"
            print(f"| {name:<17} | {m['f1']:.3f} | {m['precision']:.3f} | {m['recall']:.3f} | {m['empty']:5d} "
                  f"| {pubs:>12} | {match:>5} |")
    if args.corpus in ("wcxb", "both"):
        wpages = [p for s in splits for p in wcxb.load(args.wcxb_root, s)]
        wpages.sort(key=lambda p: p.pid)
        corpora["WCXB"] = {p.pid: (p.html, p.gold or "", p.url) for p in wpages}
        print(f"WCXB dev articles: {len(wpages)} pages of split(s) {', '.join(splits)} "
              "(tune = last hex digit of sha1('wcxb:' + id) < 8, else held)")
    print(_versions())

    systems: dict[str, Extractor] = {"storyloom": _storyloom()}
    prev = _storyloom_previous(args.previous) if args.previous else None
    if prev is not None:
        systems["storyloom previous"] = prev
    elif args.previous:
        print(f"storyloom previous: git ref {args.previous!r} not readable, row skipped")
    systems["storyloom clean"] = _storyloom_clean()
    systems["trafilatura"] = _trafilatura()
    systems["trafilatura -comments"] = _trafilatura(include_comments=False)
    systems["trafilatura -c +meta"] = _trafilatura_meta()
    rd = _readability()
    if rd is None:
        print("\nreadability-lxml: skipped (not importable; `pip install readability-lxml` to include it)")
    else:
        systems["readability-lxml"] = rd
    systems["full page text"] = _full
    timed = ["storyloom", "storyloom previous", "trafilatura", "trafilatura -comments", "trafilatura -c +meta"]
    timed = [t for t in timed if t in systems]

    outputs: dict[str, dict[str, dict[str, str]]] = {c: {} for c in corpora}
    times: dict[str, dict[str, list[float]]] = {c: {name: [] for name in systems} for c in corpora}
    cpu: dict[str, dict[str, list[float]]] = {c: {name: [] for name in systems} for c in corpora}
    passes = 1 if args.no_speed else max(1, args.repeat)
    for p in range(passes):
        for name, fn in systems.items():
            if p > 0 and name not in timed:
                continue
            for c, pages in corpora.items():
                t0, c0 = time.perf_counter(), time.process_time()
                out = {pid: fn(html, pid, url) for pid, (html, _gold, url) in pages.items()}
                times[c][name].append(time.perf_counter() - t0)
                cpu[c][name].append(time.process_time() - c0)
                if p == 0:
                    outputs[c][name] = out

    names = list(systems)
    if "AEB" in corpora:
        _table_aeb(corpora["AEB"], outputs["AEB"], names)
    if "WCXB" in corpora:
        _table_wcxb(wpages, outputs["WCXB"], names, splits)

    if not args.no_speed:
        print(f"\n## Speed: one process, median of {passes} passes (interleaved by system)\n")
        print("| corpus | system                | pages/s | ms/page | vs trafilatura -c +meta | CPU ms/page | vs, CPU | "
              "passes (s)         |")
        print("|--------|-----------------------|---------|---------|-------------------------|-------------|---------|"
              "--------------------|")
        for c, pages in corpora.items():
            ref = statistics.median(times[c]["trafilatura -c +meta"])
            ref_cpu = statistics.median(cpu[c]["trafilatura -c +meta"])
            for name in timed:
                ts = times[c][name]
                med, med_cpu = statistics.median(ts), statistics.median(cpu[c][name])
                runs = ", ".join(f"{t:.1f}" for t in ts)
                print(f"| {c:<6} | {name:<21} | {len(pages) / med:7.1f} | {1000 * med / len(pages):7.1f} | "
                      f"{ref / med:22.2f}x | {1000 * med_cpu / len(pages):11.1f} | {ref_cpu / med_cpu:6.2f}x | "
                      f"{runs:<18} |")
        print("\n(storyloom parses once and runs metadata (htmldate) and the precision-mode body, plus the balanced "
              "and/or recall modes on pages where precision looks collapsed; trafilatura.extract runs no metadata, "
              "`-c +meta` does.)")


if __name__ == "__main__":
    main()
