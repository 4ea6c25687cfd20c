"""The article-extraction benchmark (AEB): loader, dev/test split and the upstream metric, shared by benches.

Corpus: ``/work/shared/corpora/aeb`` (github.com/scrapinghub/article-extraction-benchmark, MIT): 181 pages
in ``html/<id>.html.gz`` with a hand-checked gold ``articleBody`` in ``ground-truth.json``.

The metric is a re-implementation of upstream ``evaluate.py`` (``string_shingle_matching`` and
``metrics_from_tp_fp_fns``), kept exact on purpose, quirks included:

* tokens are ``\\w+`` matches, case kept; a text becomes the multiset of its 4-token shingles; a text of
  1-3 tokens is one shorter shingle, an empty one has none;
* per document tp/fp/fn are the multiset intersection/excess counts, then *normalised to sum to 1* (so every
  page weighs the same); precision = tp/(tp+fp), recall = tp/(tp+fn), both 1 when fp = fn = 0;
* precision is averaged only over documents where the system returned some shingle (tp+fp > 0): an empty
  output costs recall, never precision.  That is why :func:`aggregate` also reports the number of empty
  outputs -- a system that abstains on its hard pages looks more precise than it is;
* recall is averaged over documents whose gold has a shingle (all 181 here);
* F1 is the harmonic mean of the two averages (not an average of per-page F1s).

``python bench/aeb.py`` prints the check against the published figures from the reference outputs.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import NamedTuple

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "aeb"

_TOKEN_RE = re.compile(r"\w+", re.UNICODE | re.MULTILINE | re.IGNORECASE | re.DOTALL)  # as upstream
NGRAM = 4

# Published upstream F1 (README.rst there, "latest evaluation") for the systems whose outputs ship in output/.
PUBLISHED_F1 = {
    "trafilatura": 0.958,
    "readability": 0.922,
    "goose3": 0.896,
    "justext": 0.804,
    "html-text": 0.665,
    "newspaper": 0.949,  # newspaper4k, "previous evaluation that did not re-run"
}


def load_aeb(root: str | Path = DEFAULT_ROOT) -> dict[str, tuple[str, str, str | None]]:
    """``{page id: (html, gold article body, url)}`` for every page of the benchmark, in id order."""
    root = Path(root)
    gold = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    out: dict[str, tuple[str, str, str | None]] = {}
    for pid in sorted(gold):
        with gzip.open(root / "html" / f"{pid}.html.gz", "rt", encoding="utf-8") as f:
            html = f.read()
        out[pid] = (html, gold[pid].get("articleBody") or "", gold[pid].get("url"))
    return out


def load_reference_outputs(root: str | Path = DEFAULT_ROOT) -> dict[str, dict[str, str]]:
    """``{system: {page id: articleBody}}`` from upstream ``output/*.json`` (plain or version-wrapped)."""
    res: dict[str, dict[str, str]] = {}
    for path in sorted(Path(root, "output").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        items = data["output"] if isinstance(data, dict) and "output" in data else data
        res[path.stem] = {k: (v.get("articleBody") or "") for k, v in items.items()}
    return res


def split_of(page_id: str) -> str:
    """Deterministic dev/test split: ``dev`` when the last hex digit of sha1(page id) is < 8, else ``test``."""
    return "dev" if int(hashlib.sha1(page_id.encode("utf-8")).hexdigest()[-1], 16) < 8 else "test"


def tokens(text: str | None) -> list[str]:
    """Upstream tokenisation: ``\\w+`` runs, case kept."""
    return _TOKEN_RE.findall(text or "")


def _shingles(text: str | None, n: int = NGRAM) -> Counter[tuple[str, ...]]:
    toks = tokens(text)
    return Counter(tuple(toks[i : i + n]) for i in range(max(1, len(toks) - n + 1)) if toks[i : i + n])


class PRF(NamedTuple):
    """One page's normalised (tp, fp, fn) -- summing to 1 unless both texts are empty."""

    tp: float
    fp: float
    fn: float

    @property
    def empty(self) -> bool:
        """The system returned nothing to score (no shingle): excluded from the precision average."""
        return self.tp + self.fp == 0

    @property
    def precision(self) -> float:
        return _precision(self)

    @property
    def recall(self) -> float:
        return _recall(self)


def prf(pred: str | None, gold: str | None) -> PRF:
    """Per-document tp/fp/fn over 4-gram shingle multisets, normalised as upstream does."""
    t, p = _shingles(gold), _shingles(pred)
    tp = float(sum((t & p).values()))
    fp = float(sum((p - t).values()))
    fn = float(sum((t - p).values()))
    s = tp + fp + fn
    return PRF(tp / s, fp / s, fn / s) if s > 0 else PRF(0.0, 0.0, 0.0)


def _precision(r: PRF) -> float:
    if r.fp == r.fn == 0:
        return 1.0
    if r.tp == r.fp == 0:
        return 0.0
    return r.tp / (r.tp + r.fp)


def _recall(r: PRF) -> float:
    if r.fp == r.fn == 0:
        return 1.0
    if r.tp == r.fn == 0:
        return 0.0
    return r.tp / (r.tp + r.fn)


def aggregate(results: Iterable[PRF] | Mapping[str, PRF]) -> dict[str, float]:
    """Upstream ``metrics_from_tp_fp_fns``: precision over non-empty outputs, recall over non-empty golds,
    F1 from the two means; plus ``n`` and ``empty`` (outputs with no shingle)."""
    rs = list(results.values()) if isinstance(results, Mapping) else list(results)
    ps = [_precision(r) for r in rs if r.tp + r.fp > 0]
    rc = [_recall(r) for r in rs if r.tp + r.fn > 0]
    p = statistics.mean(ps) if ps else 0.0
    r = statistics.mean(rc) if rc else 0.0
    f1 = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return {"f1": f1, "precision": p, "recall": r, "n": len(rs), "empty": sum(1 for x in rs if x.empty)}


def reference_check(root: str | Path = DEFAULT_ROOT) -> list[tuple[str, dict[str, float], float | None]]:
    """Our metric over the upstream reference outputs: ``[(system, metrics, published F1 or None)]``."""
    gold = json.loads(Path(root, "ground-truth.json").read_text(encoding="utf-8"))
    rows = []
    for name, out in load_reference_outputs(root).items():
        m = aggregate(prf(out.get(k, ""), v.get("articleBody") or "") for k, v in gold.items())
        rows.append((name, m, PUBLISHED_F1.get(name)))
    return rows


def main() -> None:
    print(f"{'reference output':<18} {'F1':>6} {'P':>6} {'R':>6} {'empty':>5}   published F1")
    for name, m, pub in reference_check():
        ok = "" if pub is None else (f"{pub:.3f}  " + ("ok" if round(m["f1"], 3) == pub else "MISMATCH"))
        print(f"{name:<18} {m['f1']:6.3f} {m['precision']:6.3f} {m['recall']:6.3f} {m['empty']:5d}   {ok}")


if __name__ == "__main__":
    main()
