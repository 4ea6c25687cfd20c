"""Data for ``bench/compare.py``: MRPC pairs, wmt21 aligned documents, basil quote/speaker/number sets and a
synthetic 50-article story.  Everything is read from ``/work/shared/corpora`` at run time (never copied into
the project) and built deterministically.

* **MRPC** (``mrpc/msr_paraphrase_{train,test}.txt``): tab-separated, header line, label in column 0, the two
  sentences in columns 3 and 4.  The corpus' tokenisation is undone exactly as in
  ``scripts/train_claim_aligner.py`` (`` 's`` → ``'s``, ``<QUOTE>`` → ``"``), so the bench sees the sentences the
  model was trained on.
* **wmt21** (``wmt21/newstest2021_docs.jsonl``): per document, ``src_segs[i]`` ↔ ``refs[first translator][i]``
  is the positional gold.
* **basil** (``basil/articles`` + ``basil/annotations``): see :func:`quote_cases` and :func:`number_sentences`.
* **synthetic story**: see :func:`synthetic_story`.

Sentence embeddings (USE, e5) of the MRPC sentences are cached in ``/tmp/storyloom-bench-compare`` (keyed by
model name and a hash of the texts), because e5 needs minutes for the 11.6k sentences.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"
CACHE = Path("/tmp/storyloom-bench-compare")


# -- MRPC ---------------------------------------------------------------------------------------------------


def load_mrpc(split: str) -> list[tuple[int, str, str]]:
    """``(label, sentence 1, sentence 2)`` of the ``train`` or ``test`` split."""
    path = CORPORA / "mrpc" / f"msr_paraphrase_{split}.txt"
    rows = []
    for line in path.read_text(encoding="utf-8-sig").splitlines()[1:]:
        parts = line.split("\t")
        if len(parts) == 5:
            rows.append((int(parts[0]), _untok(parts[3]), _untok(parts[4])))
    return rows


def _untok(s: str) -> str:
    return s.replace(" 's", "'s").replace("<QUOTE>", '"')


def cached_embed(model: str, texts: list[str]) -> np.ndarray:
    """``storyloom.embed.get_embedder(model).embed(texts)``, cached on disk under /tmp."""
    key = hashlib.sha1("\x1e".join(texts).encode("utf-8")).hexdigest()[:16]
    path = CACHE / f"{model}-{len(texts)}-{key}.npy"
    if path.exists():
        return np.load(path)
    from storyloom.embed import get_embedder

    vecs = get_embedder(model).embed(texts)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vecs)
    return vecs


# -- wmt21 --------------------------------------------------------------------------------------------------


@dataclass
class AlignedDoc:
    pair: str
    docid: str
    src: list[str]
    ref: list[str]  # ref[i] translates src[i]


def load_wmt21(translator_rank: int = 0) -> list[AlignedDoc]:
    """Each document with its ``translator_rank``-th reference translation (by translator name): only ru-en has
    a second one, so rank 1 gives ru-en documents only."""
    out = []
    with open(CORPORA / "wmt21" / "newstest2021_docs.jsonl", encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            if len(d["refs"]) <= translator_rank:
                continue
            translator = sorted(d["refs"])[translator_rank]
            ref = d["refs"][translator]
            if len(ref) == len(d["src_segs"]):
                out.append(AlignedDoc(d["pair"], d["docid"], d["src_segs"], ref))
    return out


# -- basil --------------------------------------------------------------------------------------------------


def basil_articles() -> dict[str, dict]:  # type: ignore[type-arg]
    """uuid → article JSON, for all 240 articles."""
    out = {}
    for f in sorted((CORPORA / "basil" / "articles").glob("*/*.json")):
        a = json.loads(f.read_text(encoding="utf-8"))
        out[a["uuid"]] = a
    return out


@dataclass
class QuoteCase:
    """One annotated quoted span of basil, in the sentence (as written in the article) that contains it."""

    article: str  # uuid
    paragraph: str  # the whole paragraph, sentences joined by spaces (what storyloom gets)
    sentence: str
    span: str  # the annotated text, quotation marks stripped
    speaker: str  # as annotated, e.g. "Donald_Trump"; "other_*" (an unnamed speaker) is kept but not scored
    named: bool  # the speaker is a name (not other_anti / other_pro / other_neutral)
    last_name: str  # lower-case last token of the speaker ("trump"; "jr." is skipped: "Donald_Trump_Jr." → "trump")


_QUOTE_CHARS = "“”\"‘’'«» "


def quote_cases() -> list[QuoteCase]:
    """Every phrase-level annotation with ``quote == "yes"``, located in its article.

    The annotation's ``start``/``end`` are offsets into one sentence of ``body-paragraphs``; the sentence is the
    one where ``sentence[start:end] == txt`` (else the first containing ``txt``).  Spans that cannot be found
    are dropped (the number dropped is reported by the bench).
    """
    arts = basil_articles()
    out = []
    for f in sorted((CORPORA / "basil" / "annotations").glob("*/*_ann.json")):
        ann = json.loads(f.read_text(encoding="utf-8"))
        art = arts.get(ann["uuid"])
        if art is None:
            continue
        for p in ann["phrase-level-annotations"]:
            if p["quote"] != "yes" or not p["speaker"]:
                continue
            hit = None
            for para in art["body-paragraphs"]:
                for s in para:
                    if s[p["start"] : p["end"]] == p["txt"]:
                        hit = (para, s)
                        break
                if hit:
                    break
            if hit is None:
                hit = next(((para, s) for para in art["body-paragraphs"] for s in para if p["txt"] in s), None)
            if hit is None:
                continue
            para, s = hit
            tokens = [t for t in p["speaker"].split("_") if t]
            while len(tokens) > 1 and tokens[-1].lower().rstrip(".") in ("jr", "sr", "ii", "iii"):
                tokens.pop()
            out.append(QuoteCase(art["uuid"], " ".join(para), s, p["txt"].strip(_QUOTE_CHARS), p["speaker"],
                                 not p["speaker"].startswith("other_"), tokens[-1].lower()))
    return out


_MONTH = (r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
          r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?")
# Date expressions whose digits are not numbers: "July 2", "July 2, 2010", "2 July 2010", "July 2010", "7/2/2010".
DATE_RX = re.compile(
    rf"\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?\b"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+\d{{4}})?\b"
    rf"|\b{_MONTH},?\s+\d{{4}}\b"
    r"|\b\d{1,2}/\d{1,2}/\d{2,4}\b"
)
_TOKEN = re.compile(r"\S+")
_EDGE = "“”\"‘’'«»()[]{},;:!?."


def digit_tokens(sentence: str) -> list[tuple[int, int, str]]:
    """The number gold of one sentence: every whitespace token with a digit in it, trimmed of surrounding
    punctuation and quotes, except the tokens that overlap a date expression (:data:`DATE_RX`; so "31-April"
    of "March 31-April 4" is out too).  Returns
    ``(start, end, token)``.  Standalone years ("in 2010") *are* numbers here (storyloom reports them, unit year)."""
    dates = [m.span() for m in DATE_RX.finditer(sentence)]
    out = []
    for m in _TOKEN.finditer(sentence):
        tok = m.group(0)
        lead = len(tok) - len(tok.lstrip(_EDGE))
        tok = tok.strip(_EDGE)
        if not tok or not any(c.isdigit() for c in tok):
            continue
        start = m.start() + lead
        end = start + len(tok)
        if any(a < end and start < b for a, b in dates):
            continue
        out.append((start, end, tok))
    return out


def number_sentences() -> list[str]:
    """Every sentence of the 240 basil articles, in file order (sentences without digits included: they can
    only add false positives)."""
    return [s for a in basil_articles().values() for para in a["body-paragraphs"] for s in para]


# -- synthetic story ----------------------------------------------------------------------------------------


def synthetic_story(n: int = 50, seed: int = 7) -> tuple[str, list[dict[str, str]]]:
    """``n`` JSON records of one event, built from a real basil triplet (the one with the most sentences).

    Record k starts from the triplet's article ``k mod 3``; each of its sentences is kept with probability 0.8,
    sentences are shuffled inside each paragraph, paragraphs swap with their neighbour with probability 0.3,
    and 2 sentences of another article of the triplet are inserted at random places.  The lead (first
    paragraph) and the title come from a randomly chosen article of the triplet, so that title + lead -- what
    the stories stage compares -- mix across the three (with each article's own lead and title, one of the
    three reports ends up in a story of its own).  Titles get a numbered suffix; outlets "Outlet 01" … ;
    publication times 20 minutes apart from noon of the event's date; unique URLs.  Seeded
    ``random.Random(seed)``: the same records every run.  Returns (event label, records).
    """
    arts = basil_articles()
    triplets: dict[str, list[dict]] = {}  # type: ignore[type-arg]
    for a in arts.values():
        triplets.setdefault(a["triplet-uuid"], []).append(a)
    size = {t: sum(len(p) for a in ms for p in a["body-paragraphs"]) for t, ms in triplets.items() if len(ms) == 3}
    event = max(sorted(size), key=lambda t: size[t])
    members = sorted(triplets[event], key=lambda a: a["uuid"])
    rng = random.Random(seed)
    start = datetime.fromisoformat(members[0]["date"]).replace(hour=12, tzinfo=UTC)
    records = []
    for k in range(n):
        base = members[k % 3]
        other = members[(k + 1 + rng.randrange(2)) % 3]
        head = members[rng.randrange(3)]
        paras = [[s for s in p if rng.random() < 0.8] for p in base["body-paragraphs"][1:]]
        paras = [p for p in paras if p]
        for p in paras:
            rng.shuffle(p)
        for i in range(len(paras) - 1):
            if rng.random() < 0.3:
                paras[i], paras[i + 1] = paras[i + 1], paras[i]
        pool = [s for p in other["body-paragraphs"] for s in p]
        for s in rng.sample(pool, min(2, len(pool))):
            paras.insert(rng.randrange(len(paras) + 1), [s])
        paras.insert(0, list(head["body-paragraphs"][0]))
        records.append({
            "title": f"{head['title']} ({k + 1})",
            "text": "\n".join(" ".join(p) for p in paras),
            "outlet": f"Outlet {k + 1:02d}",
            "published": (start + timedelta(minutes=20 * k)).isoformat().replace("+00:00", "Z"),
            "url": f"https://outlet{k + 1:02d}.example/{event[:8]}/{k + 1}",
        })
    label = next((a["main-event"] for a in members if a.get("main-event")), members[0]["title"])
    return f"{label} ({members[0]['date']}, basil triplet {event[:8]})", records
