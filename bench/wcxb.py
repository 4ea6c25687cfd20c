"""WCXB dev article pages: loader, tuning/held-out split and the upstream bag-of-words metric.

Corpus: ``/work/shared/corpora/wcxb-dev`` (Web Content eXtraction Benchmark, M. Foley 2026, CC-BY-4.0): 711
article pages of 695 domains, ``dev/html/<id>.html.gz`` with a reviewed plain-text ``main_content`` in
``dev/ground-truth/<id>.json``.  248 ground truths were *drafted by an extractor* ("rs-trafilatura-draft" in
``_internal.source``) before review: on those pages trafilatura-like output is favoured, so every table also
gives the figure without them (``drafted`` = that flag).

Split, so that tuning is not fitting the figure reported: a page is ``tune`` when the last hex digit of
``sha1("wcxb:" + id)`` is below 8, else ``held`` (held out: never looked at while choosing anything).
Pages without any reference (4681: empty text and no snippets) are dropped; 4893 has snippets only and is
scored on them alone (its F1 is left out of the means, it counts in the snippet shares).

Metric (upstream README): lower-case, ``\\w+`` tokens, multiset overlap; P = overlap/predicted, R =
overlap/reference, F1 = 2PR/(P+R) per page, macro-averaged.  An empty prediction scores 0 (F1, P and R).
Also the share of ``with`` snippets found and of ``without`` snippets found (case-insensitive substring).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "wcxb-dev"
_TOKEN = re.compile(r"\w+")


@dataclass(frozen=True)
class Page:
    pid: str
    html: str
    gold: str | None  # None: no main_content (snippets only)
    url: str | None
    with_: tuple[str, ...]
    without: tuple[str, ...]
    drafted: bool  # ground truth drafted by an extractor before review


def split_of(pid: str) -> str:
    """``tune`` or ``held``: last hex digit of sha1("wcxb:" + id) below 8 → tune."""
    return "tune" if int(hashlib.sha1(f"wcxb:{pid}".encode()).hexdigest()[-1], 16) < 8 else "held"


def load(root: str | Path = DEFAULT_ROOT, split: str | None = None) -> list[Page]:
    """Every scorable page (optionally of one split), in id order."""
    root = Path(root) / "dev"
    out = []
    for gt_path in sorted((root / "ground-truth").glob("*.json")):
        pid = gt_path.stem
        if split is not None and split_of(pid) != split:
            continue
        d = json.loads(gt_path.read_text(encoding="utf-8"))
        gt = d.get("ground_truth") or {}
        gold = gt.get("main_content")
        with_, without = tuple(gt.get("with") or ()), tuple(gt.get("without") or ())
        if not gold and not with_ and not without:
            continue
        with gzip.open(root / "html" / f"{pid}.html.gz", "rt", encoding="utf-8") as f:
            html = f.read()
        drafted = (d.get("_internal") or {}).get("source") == "rs-trafilatura-draft"
        out.append(Page(pid, html, gold or None, d.get("url"), with_, without, drafted))
    return out


class Score(NamedTuple):
    f1: float | None  # None: no reference text
    p: float | None
    r: float | None
    with_found: int
    with_n: int
    without_found: int
    without_n: int


def _bag(text: str) -> Counter[str]:
    return Counter(_TOKEN.findall(text.lower()))


def score(pred: str, page: Page) -> Score:
    low = (pred or "").lower()
    wf = sum(1 for s in page.with_ if s.lower() in low)
    nf = sum(1 for s in page.without if s.lower() in low)
    if page.gold is None:
        return Score(None, None, None, wf, len(page.with_), nf, len(page.without))
    g, p = _bag(page.gold), _bag(pred or "")
    ng, np_ = sum(g.values()), sum(p.values())
    if ng == 0:
        f = 1.0 if np_ == 0 else 0.0
        return Score(f, f, f, wf, len(page.with_), nf, len(page.without))
    if np_ == 0:
        return Score(0.0, 0.0, 0.0, wf, len(page.with_), nf, len(page.without))
    ov = sum((g & p).values())
    prec, rec = ov / np_, ov / ng
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return Score(f1, prec, rec, wf, len(page.with_), nf, len(page.without))


def aggregate(scores: Iterable[Score]) -> dict[str, float]:
    ss = list(scores)
    f = [s for s in ss if s.f1 is not None]
    wn = sum(s.with_n for s in ss)
    nn = sum(s.without_n for s in ss)
    return {
        "f1": statistics.mean(s.f1 for s in f) if f else 0.0,  # type: ignore[misc]
        "precision": statistics.mean(s.p for s in f) if f else 0.0,  # type: ignore[misc]
        "recall": statistics.mean(s.r for s in f) if f else 0.0,  # type: ignore[misc]
        "with": sum(s.with_found for s in ss) / wn if wn else 1.0,
        "without": sum(s.without_found for s in ss) / nn if nn else 0.0,
        "n": len(ss),
        "zero": sum(1 for s in f if s.f1 == 0.0),  # pages with no overlap at all (empty output or all wrong)
    }
