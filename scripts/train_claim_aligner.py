"""Train the claim aligner (storyloom/data/claim_aligner.json) on the MRPC *train* split only.

    python scripts/train_claim_aligner.py [--corpora ../shared/corpora]

Logistic regression over storyloom.compare.align.pair_features, fitted with numpy (L2-regularised Newton
steps); the decision threshold is the one with the best mean F1 over 5 cross-validation folds of the train
split (the CV accuracy at that threshold is recorded too).  A second, cross-lingual model is fitted the
same way on the same pairs but over CROSS_FEATURES only (cosine, numbers, names: what still means something
when the two sentences are in different languages); align() uses it for such pairs.  The MRPC test split is
never read here: bench/compare.py reports on it.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from storyloom.compare.align import sentence_vectors
from storyloom.compare.features import CROSS_FEATURES, FEATURES, SentencePrint, pair_features


def load_mrpc(path: Path) -> list[tuple[int, str, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8-sig").splitlines()[1:]:
        parts = line.split("\t")
        if len(parts) == 5:
            rows.append((int(parts[0]), parts[3].replace(" 's", "'s").replace("<QUOTE>", '"'), parts[4].replace(" 's", "'s").replace("<QUOTE>", '"')))
    return rows


def featurize(rows: list[tuple[int, str, str]]) -> tuple[np.ndarray, np.ndarray]:
    va = sentence_vectors([a for _, a, _ in rows])
    vb = sentence_vectors([b for _, _, b in rows])
    X, y = [], []
    for k, (label, a, b) in enumerate(rows):
        cos = float(va[k] @ vb[k]) if va is not None and vb is not None else None
        f = pair_features(SentencePrint.of(a), SentencePrint.of(b), cos)
        X.append([f[n] for n in FEATURES])
        y.append(label)
    return np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)


def fit(X: np.ndarray, y: np.ndarray, l2: float = 1.0) -> tuple[np.ndarray, float]:
    Xb = np.hstack([X, np.ones((len(X), 1))])
    w = np.zeros(Xb.shape[1])
    reg = np.eye(Xb.shape[1]) * l2
    reg[-1, -1] = 0.0
    for _ in range(50):
        p = 1 / (1 + np.exp(-Xb @ w))
        grad = Xb.T @ (p - y) + reg @ w
        H = (Xb * (p * (1 - p))[:, None]).T @ Xb + reg
        step = np.linalg.solve(H, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1])


def f1_at(p: np.ndarray, y: np.ndarray, t: float) -> float:
    pred = p >= t
    tp = float((pred & (y == 1)).sum())
    fp = float((pred & (y == 0)).sum())
    fn = float((~pred & (y == 1)).sum())
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def acc_at(p: np.ndarray, y: np.ndarray, t: float) -> float:
    return float(((p >= t) == (y == 1)).mean())


def train(X: np.ndarray, y: np.ndarray, names: list[str], folds: list[list[int]]) -> dict:  # type: ignore[type-arg]
    """Standardise, pick the threshold by CV F1 over ``folds``, fit on everything: the model as JSON."""
    mean, scale = X.mean(0), X.std(0)
    scale[scale == 0] = 1.0
    Z = (X - mean) / scale
    grid = np.linspace(0.2, 0.8, 61)
    f1s = np.zeros(len(grid))
    accs = np.zeros(len(grid))
    for k in range(len(folds)):
        test = np.array(folds[k])
        train = np.array([i for f in folds[:k] + folds[k + 1 :] for i in f])
        w, b = fit(Z[train], y[train])
        p = 1 / (1 + np.exp(-(Z[test] @ w + b)))
        f1s += [f1_at(p, y[test], t) for t in grid]
        accs += [acc_at(p, y[test], t) for t in grid]
    best = int(np.argmax(f1s))
    w, b = fit(Z, y)
    return {
        "weights": {n: round(float(v), 6) for n, v in zip(names, w)},
        "bias": round(b, 6),
        "mean": {n: round(float(v), 6) for n, v in zip(names, mean)},
        "scale": {n: round(float(v), 6) for n, v in zip(names, scale)},
        "threshold": round(float(grid[best]), 3),
        "meta": {"trained_on": f"MRPC train split ({len(y):,} pairs)", "cv_f1": round(float(f1s[best] / len(folds)), 4),
                 "cv_accuracy": round(float(accs[best] / len(folds)), 4), "threshold_criterion": "max mean CV F1",
                 "features": names, "embedder": "use-m3"},
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpora", default=str(ROOT.parent / "shared" / "corpora"))
    ap.add_argument("--out", default=str(ROOT / "src" / "storyloom" / "data" / "claim_aligner.json"))
    args = ap.parse_args()
    rows = load_mrpc(Path(args.corpora) / "mrpc" / "msr_paraphrase_train.txt")
    X, y = featurize(rows)
    idx = list(range(len(y)))
    random.Random(7).shuffle(idx)
    folds = [idx[k::5] for k in range(5)]
    model = train(X, y, list(FEATURES), folds)
    cols = [FEATURES.index(n) for n in CROSS_FEATURES]
    model["cross_lingual"] = train(X[:, cols], y, list(CROSS_FEATURES), folds)
    Path(args.out).write_text(json.dumps(model, indent=2) + "\n", encoding="utf-8")
    for label, m in (("model", model), ("cross-lingual model", model["cross_lingual"])):
        print(f"{label}: threshold {m['threshold']:.3f}, 5-fold CV F1 {m['meta']['cv_f1']:.4f}, accuracy {m['meta']['cv_accuracy']:.4f}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
