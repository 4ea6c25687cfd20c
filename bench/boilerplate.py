"""Boilerplate removal in scraped text: ``.venv/bin/python bench/boilerplate.py [--quick]``.

A benchmark, not a test: it prints tables.  Data (``bench/boilerplate_data.py``, deterministic): each of the
181 AEB pages (``/work/shared/corpora/aeb``) dumped as a naive scraper would -- one line per block element,
scripts and styles dropped, ~178 lines a page of which ~15% are article -- and each line labelled content or
boilerplate by the gold ``articleBody`` (a line of >= 4 tokens is content when at least half its tokens are
covered by 4-token shingles that occur in the gold; shorter lines and repeated lines: see that module).  The
split is ``bench/aeb.py``'s: sha1(page id), last hex digit < 8 -> dev (91 pages), else test (90 pages).  The
classifier was trained and its threshold chosen on dev only; test is never used for any choice.

Systems, all in the same run on the same text:

* **keep everything** -- the dump as it is (the floor);
* **trafilatura on the lines** -- ``trafilatura.extract`` on a minimal HTML page with every line as a ``<p>``
  (``include_comments=False``, ``include_tables=True``, defaults otherwise): what the best HTML extractor does
  when it only has the text;
* **storyloom line classifier** -- ``LineClassifier.load()``: lines with P(boilerplate) >= its threshold go;
* **storyloom rules only** / **storyloom (rules + classifier)** -- ``storyloom.clean.text.clean_scraped`` (the
  pattern rules, then the classifier) when it exists; rows are skipped otherwise;
* **oracle** -- exactly the article's lines: the upper bound of any line-level method on this dump.

Reported: the AEB token metric of the kept text against the gold body (``\\w+`` tokens, 4-gram shingle
multisets, P and R averaged over pages, F1 of the averages -- ``bench/aeb.py``'s ``prf``/``aggregate``), with
the number of pages a system returned nothing for; and line-level P/R/F1 of *kept = content* over all lines
(for the systems that return text, a line counts as kept when the labelling rule above, applied to their
output, says so).  Then speed, then the second table: the same systems on already-extracted **article texts**
made from the test pages (``article_variants``: the article's span with the furniture in and around it, and
the article's lines alone), with the share of the article's tokens each removes; then what the classifier
removes from the two seed articles (``/work/shared/corpora/seeds``).
"""

from __future__ import annotations

import argparse
import html as html_lib
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import boilerplate_data as data

SEEDS = data.ROOT.parent / "shared" / "corpora" / "seeds"


# -- systems: each takes the lines of one document and returns the kept text and the kept-line mask (or None) --


def keep_all(lines: list[str]) -> tuple[str, list[bool] | None]:
    return "\n".join(lines), [True] * len(lines)


def trafilatura_lines(lines: list[str]) -> tuple[str, list[bool] | None]:
    import trafilatura

    page = "<html><body>" + "".join(f"<p>{html_lib.escape(x)}</p>" for x in lines) + "</body></html>"
    out = trafilatura.extract(page, include_comments=False, include_tables=True) or ""
    return out, None


def classifier_system() -> Callable[[list[str]], tuple[str, list[bool] | None]] | None:
    try:
        from storyloom.clean.classifier import LineClassifier
    except ImportError:
        return None
    model = LineClassifier.load()
    t = model.threshold

    def run(lines: list[str]) -> tuple[str, list[bool] | None]:
        keep = [p < t for p in model.boilerplate_proba(lines)]
        return "\n".join(x for x, k in zip(lines, keep) if k), keep

    return run


def clean_scraped_system(classifier: bool) -> Callable[[list[str]], tuple[str, list[bool] | None]] | None:
    try:
        from storyloom.clean.text import TextOptions, clean_scraped
    except (ImportError, AttributeError):
        return None

    opts = TextOptions(classifier=classifier)

    def run(lines: list[str]) -> tuple[str, list[bool] | None]:
        return clean_scraped("\n".join(lines), None, opts).text, None

    return run


# -- scoring --


def line_prf(docs: list[dict], kept: list[list[bool]]) -> tuple[float, float, float]:
    tp = fp = fn = 0
    for d, k in zip(docs, kept):
        for y, keep in zip(d["labels"], k):
            tp += y and keep
            fp += (not y) and keep
            fn += y and not keep
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


def evaluate(docs: list[dict], system: Callable, gold_key: str = "gold") -> dict:
    texts, kept = [], []
    t0, c0 = time.perf_counter(), time.process_time()
    for d in docs:
        text, mask = system(d["lines"])
        texts.append(text)
        kept.append(mask)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    kept = [m if m is not None else [bool(v) for v in data.label_lines(d["lines"], t)] for d, m, t in
            zip(docs, kept, texts)]
    tok = data.aggregate([data.prf(t, d[gold_key]) for d, t in zip(docs, texts)])
    lp, lr, lf = line_prf(docs, kept)
    lost = article_loss(docs, kept)
    return {"tok": tok, "line": (lp, lr, lf), "seconds": seconds, "cpu": cpu, "lines": sum(len(d["lines"]) for d in docs),
            "docs": len(docs), "lost": lost}


def article_loss(docs: list[dict], kept: list[list[bool]]) -> float:
    """Share of the content lines' tokens that a system removed."""
    lost = tot = 0
    for d, k in zip(docs, kept):
        for line, y, keep in zip(d["lines"], d["labels"], k):
            if y:
                n = len(data.tokens(line))
                tot += n
                lost += 0 if keep else n
    return lost / tot if tot else 0.0


def oracle(docs_by_lines: dict[tuple[str, ...], list[int]]) -> Callable:
    def run(lines: list[str]) -> tuple[str, list[bool] | None]:
        labels = docs_by_lines[tuple(lines)]
        return "\n".join(x for x, y in zip(lines, labels) if y), [bool(y) for y in labels]

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="skip trafilatura (the slow baseline)")
    args = ap.parse_args()

    t0 = time.time()
    docs = data.build()
    by_split = {s: [d for d in docs if d["split"] == s] for s in ("dev", "test")}
    n_lines = sum(len(d["lines"]) for d in docs)
    share = sum(sum(d["labels"]) for d in docs) / n_lines
    print(f"AEB page dumps: {len(docs)} pages (dev {len(by_split['dev'])}, test {len(by_split['test'])}), "
          f"{n_lines} lines ({n_lines / len(docs):.0f} a page, {share:.1%} article); built in {time.time() - t0:.1f}s")

    systems: list[tuple[str, Callable | None]] = [("keep everything", keep_all)]
    if not args.quick:
        systems.append(("trafilatura on the lines", trafilatura_lines))
    clf = classifier_system()
    systems.append(("storyloom line classifier", clf))
    systems.append(("storyloom rules only", clean_scraped_system(classifier=False)))
    systems.append(("storyloom (rules + classifier)", clean_scraped_system(classifier=True) if clf else None))
    labels = {tuple(d["lines"]): d["labels"] for d in docs}
    systems.append(("oracle: exactly the article's lines", oracle(labels)))

    if clf is not None:
        from storyloom.clean.classifier import LineClassifier

        spec = LineClassifier.load().spec
        cv = spec.get("training", {}).get("cv_at_threshold", {})
        print(f"classifier threshold {spec['threshold']} (chosen on dev by 5-fold cross-validation by page; "
              f"out-of-fold dev token F1 there {cv.get('dump_f1', float('nan')):.3f}).  The classifier was trained "
              f"on the dev pages: its dev rows below are in-sample, test is the honest figure.")
    results: dict[tuple[str, str], dict] = {}
    for name, system in systems:
        if system is None:
            print(f"  ({name}: not available, skipped)")
            continue
        for split in ("dev", "test"):
            results[(name, split)] = evaluate(by_split[split], system)

    print()
    print("Page dumps -> article (token metric of AEB; line metric: kept = article line)")
    head = f"{'system':<36} {'split':<5} {'tok F1':>7} {'tok P':>6} {'tok R':>6} {'empty':>5}  " \
           f"{'line P':>6} {'line R':>6} {'line F1':>7}"
    print(head)
    print("-" * len(head))
    for split in ("dev", "test"):
        for name, _system in systems:
            r = results.get((name, split))
            if r is None:
                continue
            t = r["tok"]
            lp, lr, lf = r["line"]
            print(f"{name:<36} {split:<5} {t['f1']:7.3f} {t['precision']:6.3f} {t['recall']:6.3f} {t['empty']:5d}  "
                  f"{lp:6.3f} {lr:6.3f} {lf:7.3f}")
        print()

    print("Speed over the 181 page dumps, one process: per CPU second (time.process_time, what the code costs) and")
    print("per wall-clock second (what this run saw, on a machine shared with other work)")
    head = f"{'system':<36} {'lines/cpu-s':>11} {'docs/cpu-s':>10} {'lines/wall-s':>12} {'docs/wall-s':>11}"
    print(head)
    print("-" * len(head))
    for name, _ in systems:
        if (name, "dev") not in results or name.startswith(("oracle", "keep")):
            continue
        rs = [results[(name, "dev")], results[(name, "test")]]
        cpu, wall = sum(r["cpu"] for r in rs), sum(r["seconds"] for r in rs)
        n, d = sum(r["lines"] for r in rs), sum(r["docs"] for r in rs)
        print(f"{name:<36} {n / cpu:11.0f} {d / cpu:10.1f} {n / wall:12.0f} {d / wall:11.1f}")

    # article texts: the test pages' article spans (with furniture) and clean articles
    variants: dict[str, list[dict]] = {"window": [], "pure": []}
    for d in by_split["test"]:
        for kind, lines, labs in data.article_variants(d):
            variants[kind].append({"id": d["id"], "lines": lines, "labels": labs, "gold": d["gold"]})
    labels_v = {tuple(d["lines"]): d["labels"] for v in variants.values() for d in v}
    print()
    print("Article texts made from the test pages: 'span' = the article's lines from first to last plus 0-5 lines")
    print("either side (the furniture in and around it kept), 'clean' = the article's lines alone; "
          "'lost' = share of the article's tokens removed")
    head = f"{'system':<36} {'text':<5} {'tok F1':>7} {'tok P':>6} {'tok R':>6} {'lost':>6}"
    print(head)
    print("-" * len(head))
    for kind, label in (("window", "span"), ("pure", "clean")):
        for name, system in systems:
            if system is None:
                continue
            if name.startswith("oracle"):
                system = oracle(labels_v)
            r = evaluate(variants[kind], system)
            t = r["tok"]
            print(f"{name:<36} {label:<5} {t['f1']:7.3f} {t['precision']:6.3f} {t['recall']:6.3f} {r['lost']:6.3f}")
        print()

    if clf is not None and SEEDS.is_dir():
        from storyloom.clean.classifier import LineClassifier

        model = LineClassifier.load()
        print(f"Seed articles ({SEEDS}): lines the classifier alone removes at threshold {model.threshold}")
        for path in sorted(SEEDS.glob("*.txt")):
            lines = [x.strip() for x in path.read_text(encoding="utf-8").split("\n") if x.strip()]
            probs = model.boilerplate_proba(lines)
            gone = [(p, x) for p, x in zip(probs, lines) if p >= model.threshold]
            print(f"  {path.name}: {len(gone)} of {len(lines)} lines")
            for p, x in gone:
                print(f"    p={p:.2f}  {x[:100]}{'…' if len(x) > 100 else ''}")


if __name__ == "__main__":
    main()
