"""Scraped-text boilerplate data: AEB pages dumped as a naive scraper would, each line labelled by the gold body.

Shared by ``bench/boilerplate.py`` (the benchmark) and ``scripts/train_line_classifier.py`` (training).

**The dump** (:func:`page_lines`): the page parsed with ``lxml.html``; ``<head>``, ``script``, ``style``,
``noscript``, ``template``, ``svg``, ``iframe``, ``object``, ``canvas`` and comments dropped (their tails kept);
then the visible text of ``<body>`` is written out with a line break at the start and end of every block element
(``p div li h1-h6 td th tr section article header footer nav aside blockquote figcaption dt dd form br hr``
...), whitespace inside a line collapsed to one space, empty lines dropped.  Nothing else is done: no hidden-
element detection, no de-duplication -- it is what ``BeautifulSoup.get_text("\\n")``-style scrapers leave.

**The labels** (:func:`label_lines`), from the gold ``articleBody`` (``\\w+`` tokens as in the AEB metric):

* a line of >= 4 tokens is *content* when at least half of its tokens are covered by a 4-token shingle of the
  line that also occurs in the gold body ("most of its tokens occur in the gold body, in order");
* a line of 1-3 tokens (a subheading, "Advertisement", "Share") is *content* when its whole token sequence
  occurs contiguously in the gold body **and** the nearest line of >= 4 tokens above or below it is content
  (so "Share" after the last paragraph only counts if the gold itself says "Share" there);
* a line without a ``\\w`` token ("|", "•") is boilerplate;
* a repeated line keeps only one copy as content, when the gold holds the passage only once: shingles are
  consumed from the gold multiset in order of the longest content run first (a teaser that repeats the lede at
  the top of the page is boilerplate, the lede inside the article is content).

The *oracle* (exactly the content lines, in order) scores F1 ~0.99 against the gold: what is lost is text the
gold holds that the dump splits oddly (an ``<img alt>``, a ``<br>``-joined caption), not labelling noise.

The split is :func:`bench.aeb.split_of` (sha1 of the page id, last hex digit < 8 -> dev, else test).
"""

from __future__ import annotations

import gzip
import json
import random
import re
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAINING_FILE = ROOT / "training" / "lines_dev.jsonl.gz"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from aeb import DEFAULT_ROOT, aggregate, load_aeb, prf, split_of, tokens  # noqa: F401  (the shared loader/metric)

DROP = {"head", "script", "style", "noscript", "template", "svg", "iframe", "object", "canvas", "math"}
BLOCK = {
    "address", "article", "aside", "blockquote", "body", "br", "caption", "center", "dd", "details", "dialog",
    "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "frameset", "h1", "h2", "h3",
    "h4", "h5", "h6", "header", "hgroup", "hr", "html", "legend", "li", "main", "menu", "nav", "ol", "option",
    "p", "pre", "section", "select", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
    "textarea",
}
_WS = re.compile(r"\s+")


def page_lines(html: str) -> list[str]:
    """The page's visible text as a naive scraper dumps it: one line per block element, in document order."""
    import lxml.html
    from lxml import etree

    try:
        root = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        root = lxml.html.document_fromstring(html.encode("utf-8"))
    for el in list(root.iter()):
        tag = el.tag if isinstance(el.tag, str) else None
        if (tag is None or tag.lower() in DROP) and el.getparent() is not None:
            el.drop_tree()  # keeps the tail text
    lines: list[str] = []
    buf: list[str] = []

    def flush() -> None:
        s = _WS.sub(" ", "".join(buf)).strip()
        if s:
            lines.append(s)
        buf.clear()

    body = root.find("body")
    for ev, el in etree.iterwalk(body if body is not None else root, events=("start", "end")):
        block = isinstance(el.tag, str) and el.tag.lower() in BLOCK
        if ev == "start":
            if block:
                flush()
            if el.text:
                buf.append(el.text)
        else:
            if block:
                flush()
            if el.tail:
                buf.append(el.tail)
    flush()
    return lines


def _contains(hay: list[str], needle: list[str]) -> bool:
    n = len(needle)
    first = needle[0]
    return any(hay[i] == first and hay[i : i + n] == needle for i in range(len(hay) - n + 1))


def label_lines(lines: list[str], gold: str) -> list[int]:
    """1 = content, 0 = boilerplate, per line (the rule in the module docstring)."""
    gt = tokens(gold)
    gold_sh = Counter(tuple(gt[i : i + 4]) for i in range(len(gt) - 3))
    toks = [tokens(x) for x in lines]
    coverage: list[float] = []
    for t in toks:
        if len(t) < 4:
            coverage.append(-1.0)
            continue
        cov = [False] * len(t)
        for i in range(len(t) - 3):
            if tuple(t[i : i + 4]) in gold_sh:
                cov[i : i + 4] = [True] * 4
        coverage.append(sum(cov) / len(t))
    long_lab = [c >= 0.5 for c in coverage]

    # duplicates: consume gold shingles, longest content runs first
    runs: list[list[int]] = []
    for i, c in enumerate(coverage):
        if c < 0:
            continue
        if long_lab[i] and runs and runs[-1][-1] == _prev_long(coverage, i) and long_lab[runs[-1][-1]]:
            runs[-1].append(i)
        elif long_lab[i]:
            runs.append([i])
    # a paragraph rarely runs past ~120 tokens: capping favours the copy laid out as paragraphs over a
    # one-line dump of the whole body (schema.org markup, hidden print copies)
    runs.sort(key=lambda r: (-sum(min(len(toks[j]), 120) for j in r), r[0]))
    left = Counter(gold_sh)
    for run in runs:
        for j in run:
            t = toks[j]
            sh = Counter(tuple(t[i : i + 4]) for i in range(len(t) - 3))
            have = sum(min(k, left[s]) for s, k in sh.items())
            if have * 2 < sum(sh.values()):  # the gold's copy of this passage is already taken
                long_lab[j] = False
                continue
            left.subtract(sh)

    labels = [0] * len(lines)
    for i, c in enumerate(coverage):
        if c >= 0:
            labels[i] = int(long_lab[i])
    for i, c in enumerate(coverage):
        if c >= 0 or not toks[i]:
            continue
        if not _contains(gt, toks[i]):
            continue
        prev = _prev_long(coverage, i)
        nxt = _next_long(coverage, i)
        if (prev is not None and labels[prev]) or (nxt is not None and labels[nxt]):
            labels[i] = 1
    return labels


def _prev_long(coverage: list[float], i: int) -> int | None:
    for j in range(i - 1, -1, -1):
        if coverage[j] >= 0:
            return j
    return None


def _next_long(coverage: list[float], i: int) -> int | None:
    for j in range(i + 1, len(coverage)):
        if coverage[j] >= 0:
            return j
    return None


def build(root: str | Path = DEFAULT_ROOT) -> list[dict]:
    """Every AEB page as ``{"id", "split", "lines", "labels", "gold"}`` (labels: 1 = content), in id order."""
    docs = []
    for pid, (html, gold, _url) in load_aeb(root).items():
        lines = page_lines(html)
        docs.append({"id": pid, "split": split_of(pid), "lines": lines, "labels": label_lines(lines, gold),
                     "gold": gold})
    return docs


def article_variants(doc: dict) -> list[tuple[str, list[str], list[int]]]:
    """Already-extracted article texts made from one labelled page dump (labels: 1 = content), deterministic:

    * ``window``: the lines from the first to the last content line plus 0-5 lines either side (a seeded
      ``random.Random(page id)``) -- an extractor's output that kept the furniture inside and around the article
      (inline teasers, captions, share bars, a byline, the next headline);
    * ``pure``: the content lines alone -- a clean article, of which nothing should be removed.

    Used to train the classifier for the texts it mostly sees (scraped articles), and by the benchmark's second
    table.  A page without content lines gives none."""
    lines, labels = doc["lines"], doc["labels"]
    content = [i for i, y in enumerate(labels) if y]
    if not content:
        return []
    rng = random.Random(doc["id"])
    a, b = rng.randint(0, 5), rng.randint(0, 5)
    idx = range(max(0, content[0] - a), min(len(lines), content[-1] + b + 1))
    return [
        ("window", [lines[i] for i in idx], [labels[i] for i in idx]),
        ("pure", [lines[i] for i in content], [1] * len(content)),
    ]


def write_training(docs: list[dict], path: Path = TRAINING_FILE) -> None:
    """The dev split's labelled lines, one JSON object per page: id, lines, labels (1 = content), gold."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(path, "wb", mtime=0, compresslevel=9) as f:
        for d in docs:
            if d["split"] == "dev":
                rec = {"id": d["id"], "lines": d["lines"], "labels": d["labels"], "gold": d["gold"]}
                f.write((json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8"))


def read_training(path: Path = TRAINING_FILE) -> Iterator[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


if __name__ == "__main__":
    docs = build()
    write_training(docs)
    n = sum(len(d["lines"]) for d in docs)
    c = sum(sum(d["labels"]) for d in docs)
    print(f"{len(docs)} pages, {n} lines ({n / len(docs):.0f}/page), {c / n:.1%} content; "
          f"wrote {TRAINING_FILE.relative_to(ROOT)} ({TRAINING_FILE.stat().st_size / 1e6:.2f} MB)")
