"""Train the line classifier of storyloom.clean.classifier and write src/storyloom/data/line_model.json.

    .venv/bin/pip install scikit-learn numpy        # training only; inference needs neither
    .venv/bin/python scripts/train_line_classifier.py            # from training/lines_dev.jsonl.gz
    .venv/bin/python scripts/train_line_classifier.py --rebuild  # first regenerate that file from ../shared

Data: the AEB **dev split only** (``bench/boilerplate_data.py`` builds it: each page dumped as a naive scraper
would, each line labelled by the gold article body).  Every page gives three documents: the full dump, and the
two article-text variants of :func:`boilerplate_data.article_variants` (the article's span with the furniture
inside and around it; the article's lines alone), so the model learns what furniture looks like both in a
page dump and in an already-extracted article, and that a clean article loses nothing.

Model: stacked logistic regressions (scikit-learn, lbfgs, C = C_REG, standardised features, sample weight
1 + sqrt(tokens of the line) so that long lines -- most of the text -- count more):

1. the line pass over :data:`LINE_FEATURES`;
2. CONTEXT_PASSES context passes over those plus :data:`CONTEXT_FEATURES`, computed from the previous pass's
   probabilities taken out-of-fold (4-fold by page inside the training set), so each pass learns how far to
   trust the previous one on pages it has not seen -- as at inference.

Threshold: 5-fold cross-validation by page over the dev split (the whole procedure re-run inside each fold)
gives out-of-fold P(boilerplate) for every line; the threshold is the highest one in [0.30, 0.80] (step 0.01)
whose AEB token F1 on the kept lines of the page dumps is within F1_TOLERANCE of the best (the classifier
should err towards keeping).  The table printed also shows the two article-text variants: their F1 and the
share of a clean article's tokens that would be lost.  The JSON records the CV figures.  The test split is
never read.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))

import numpy as np
from sklearn.linear_model import LogisticRegression

import boilerplate_data as data
from storyloom.clean.classifier import (
    CONTEXT_FEATURES,
    LINE_FEATURES,
    context_features,
    line_features,
)

OUT = ROOT / "src" / "storyloom" / "data" / "line_model.json"
FOLDS = 5
INNER_FOLDS = 4
CONTEXT_PASSES = 2
C_REG = 20.0  # chosen by the same CV on dev (0.05 / 1 / 20 / 200: F1 0.878 / 0.892 / 0.895 / 0.895)
F1_TOLERANCE = 0.002  # among thresholds this close to the best CV F1, the highest (removes least) wins
THRESHOLDS = [round(0.30 + 0.01 * i, 2) for i in range(51)]


class Doc:
    __slots__ = ("page", "kind", "lines", "y", "x", "w")

    def __init__(self, page: str, kind: str, lines: list[str], content: list[int]) -> None:
        self.page, self.kind, self.lines = page, kind, lines
        self.y = np.array([1 - c for c in content], dtype=np.int8)  # 1 = boilerplate
        self.x = np.array(line_features(lines), dtype=np.float64)
        self.w = 1.0 + np.sqrt(np.expm1(self.x[:, LINE_FEATURES.index("log_words")]))


def fold_of(page: str, k: int) -> int:
    return int(hashlib.sha1(f"fold:{page}".encode()).hexdigest(), 16) % k


class Logistic:
    def __init__(self, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> None:
        self.mean = x.mean(axis=0)
        self.scale = x.std(axis=0)
        self.scale[self.scale < 1e-9] = 1.0
        self.m = LogisticRegression(C=C_REG, max_iter=5000)
        self.m.fit((x - self.mean) / self.scale, y, sample_weight=w)

    def proba(self, x: np.ndarray) -> np.ndarray:
        return self.m.predict_proba((x - self.mean) / self.scale)[:, 1]

    def spec(self) -> dict:
        sig = lambda v: float(f"{v:.6g}")
        return {
            "coef": [sig(v) for v in self.m.coef_[0]],
            "intercept": sig(self.m.intercept_[0]),
            "mean": [sig(v) for v in self.mean],
            "scale": [sig(v) for v in self.scale],
        }


def with_context(d: Doc, p: np.ndarray) -> np.ndarray:
    """A document's input to a context pass: its line features and the context features of ``p``."""
    return np.hstack([d.x, np.array(context_features(p.tolist(), d.x.tolist(), d.lines))])


def fit_passes(docs: list[Doc]) -> list[Logistic]:
    """The line pass and CONTEXT_PASSES context passes.  Each context pass is trained on the previous pass's
    probabilities as they are on unseen pages: out-of-fold, INNER_FOLDS-fold by page."""
    y = np.concatenate([d.y for d in docs])
    w = np.concatenate([d.w for d in docs])
    inner = [fold_of(d.page, INNER_FOLDS) for d in docs]

    def out_of_fold(rows: list[np.ndarray]) -> list[np.ndarray]:
        res: list[np.ndarray] = [np.empty(0)] * len(docs)
        for k in range(INNER_FOLDS):
            tr = [i for i in range(len(docs)) if inner[i] != k]
            m = Logistic(np.vstack([rows[i] for i in tr]), np.concatenate([docs[i].y for i in tr]),
                         np.concatenate([docs[i].w for i in tr]))
            for i in range(len(docs)):
                if inner[i] == k:
                    res[i] = m.proba(rows[i])
        return res

    rows = [d.x for d in docs]
    models = [Logistic(np.vstack(rows), y, w)]
    for _ in range(CONTEXT_PASSES):
        p = out_of_fold(rows)
        rows = [with_context(d, pi) for d, pi in zip(docs, p)]
        models.append(Logistic(np.vstack(rows), y, w))
    return models


def predict(models: list[Logistic], d: Doc) -> np.ndarray:
    p = models[0].proba(d.x)
    for m in models[1:]:
        p = m.proba(with_context(d, p))
    return p


def scores(docs: list[Doc], probs: dict[tuple[str, str], np.ndarray], t: float, gold: dict[str, str]) -> dict:
    out: dict[str, float] = {}
    for kind in ("dump", "window", "pure"):
        res = []
        lost = tot = 0
        for d in docs:
            if d.kind != kind:
                continue
            p = probs[(d.page, d.kind)]
            kept = "\n".join(line for line, v in zip(d.lines, p) if v < t)
            res.append(data.prf(kept, gold[d.page]))
            for line, v, yy in zip(d.lines, p, d.y):
                if not yy:
                    n = len(data.tokens(line))
                    tot += n
                    lost += n if v >= t else 0
        out[f"{kind}_f1"] = data.aggregate(res)["f1"]
        out[f"{kind}_lost_tokens"] = lost / max(tot, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rebuild", action="store_true", help="regenerate training/lines_dev.jsonl.gz from ../shared")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--no-cv", action="store_true", help="skip the cross-validation; keep --threshold")
    ap.add_argument("--threshold", type=float, default=0.5, help="the threshold to write with --no-cv")
    ap.add_argument("--dump-oof", type=Path, help="also pickle the out-of-fold probabilities here (analysis)")
    args = ap.parse_args()
    t0 = time.time()
    if args.rebuild or not data.TRAINING_FILE.exists():
        data.write_training(data.build())
    pages = list(data.read_training())
    gold = {p["id"]: p["gold"] for p in pages}
    docs: list[Doc] = []
    for p in pages:
        docs.append(Doc(p["id"], "dump", p["lines"], p["labels"]))
        for kind, lines, labels in data.article_variants(p):
            docs.append(Doc(p["id"], kind, lines, labels))
    print(f"{len(pages)} dev pages -> {len(docs)} documents, {sum(len(d.lines) for d in docs)} lines "
          f"({time.time() - t0:.1f}s)")

    probs: dict[tuple[str, str], np.ndarray] = {}
    for k in range(0 if args.no_cv else FOLDS):
        models = fit_passes([d for d in docs if fold_of(d.page, FOLDS) != k])
        for d in docs:
            if fold_of(d.page, FOLDS) == k:
                probs[(d.page, d.kind)] = predict(models, d)
        print(f"  fold {k + 1}/{FOLDS} ({time.time() - t0:.0f}s)")
    if args.dump_oof:
        import pickle

        with open(args.dump_oof, "wb") as f:
            pickle.dump({(d.page, d.kind): (d.lines, d.y, probs[(d.page, d.kind)]) for d in docs}, f)
    table = {t: scores(docs, probs, t, gold) for t in ([] if args.no_cv else THRESHOLDS)}
    if args.no_cv:
        threshold = args.threshold
        table[threshold] = {}
    else:
        best = max(table[t]["dump_f1"] for t in THRESHOLDS)
        threshold = max(t for t in THRESHOLDS if table[t]["dump_f1"] >= best - F1_TOLERANCE)
    print(f"{'t':>5} {'dump F1':>8} {'window F1':>9} {'pure F1':>8} {'pure lost':>9}")
    for t in [] if args.no_cv else THRESHOLDS[::5] + [threshold]:
        s = table[t]
        print(f"{t:5.2f} {s['dump_f1']:8.3f} {s['window_f1']:9.3f} {s['pure_f1']:8.3f} "
              f"{s['pure_lost_tokens']:9.3f}{'  <- chosen' if t == threshold else ''}")

    models = fit_passes(docs)
    spec = {
        "format": "storyloom line classifier v1",
        "model": "stacked logistic regressions (line pass, then context passes); "
        "P(boilerplate) = sigmoid(intercept + coef . (x - mean) / scale)",
        "line_features": list(LINE_FEATURES),
        "context_features": list(CONTEXT_FEATURES),
        "line_model": models[0].spec(),
        "context_models": [m.spec() for m in models[1:]],
        "threshold": threshold,
        "training": {
            "data": "training/lines_dev.jsonl.gz (AEB dev split: sha1(page id) last hex digit < 8)",
            "pages": len(pages),
            "documents": len(docs),
            "lines": int(sum(len(d.lines) for d in docs)),
            "C": C_REG,
            "sample_weight": "1 + sqrt(tokens)",
            "cv_folds": FOLDS,
            "context_passes": CONTEXT_PASSES,
            "threshold_rule": f"highest t in [0.30, 0.80] with CV dump F1 >= best - {F1_TOLERANCE}",
            "cv_at_threshold": {k: round(v, 4) for k, v in table[threshold].items()},
        },
    }
    args.out.write_text(json.dumps(spec, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"threshold {threshold}; wrote {args.out} ({args.out.stat().st_size / 1024:.1f} KB) "
          f"in {time.time() - t0:.0f}s")
    assert not math.isnan(threshold)


if __name__ == "__main__":
    main()
