"""Labelled data for ``bench/stories.py``: basil, a multilingual wmt21 set, aeb distractors, the seeds, and a
synthetic replicated corpus for the speed runs.  Everything is read from ``/work/shared/corpora`` at run time
(never copied into the project) and built deterministically.

Gold stories
------------
* **basil** (80 events x Fox / NYT / HuffPost, 2010-2017): gold story = ``triplet-uuid``; publication time =
  the article's own ``date`` (a day, given as ``YYYY-MM-DD``); outlet = ``source``; title and paragraphs as given.
* **wmt21** (323 news documents, ru->en, ja->en, de->fr, en->is): one story per document = the source document,
  its professional translation(s) and the two submitted machine translations (4-5 articles, 2 languages).  Title =
  the first segment (the headline), text = the other segments, one per line; ``language`` is declared.  The
  documents carry **no dates**, so each gets a *synthetic* publication time: the source document at a time
  drawn uniformly in 2019-11-04 .. 2019-12-02 (four weeks around the aeb pages), every translation of it
  0-6 hours later; drawn from ``random.Random("wmt21:" + docid)``, so a document's times do not depend on which
  others are loaded.
* **aeb** (181 unrelated news/blog pages, crawled in Nov 2019): each page is its own singleton story; text = the
  gold ``articleBody``, title = the HTML ``<title>`` (else the body's first line), outlet = the URL's host,
  time = ``htmldate.find_date`` on the page (original date), or, when it finds none, a time spread
  deterministically over 2019-11-18 .. 2019-11-20.
* **story_chains_dev** (39 business/energy articles, 17 chains: successive developments of one story, days or
  weeks apart): gold story = the chain (a connected component of the ``relation == 1`` pairs, as the folder's
  README says), its id = ``chains:`` + the chain's smallest URL; time = the ``date`` column (``YYYY-MM-DD
  HH:MM:SS``, taken as UTC); title and text as given; outlet = the ``paperurl`` host.  These run in a store of
  their own (no distractors: the corpus is a month of one trade press, its chains are each other's look-alikes).
* **seeds** (``sample/seeds/*.txt``): the two motivating articles, one event, two outlets; ingested as .txt
  files through the ordinary file reader (no date: storyloom uses the ingest time).

Split (never tune on test): a gold story goes to **test** when the last hex digit of ``sha1(story id)`` is
>= 8 (``8..f``), else to **dev**; for the chains the story id hashed is the chain's smallest URL (so a chain
goes whole to one side: 8 chains / 18 articles in dev, 9 / 21 in test).  The aeb pages are distractors and go into *both* runs (all 181 each time);
the seeds too.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"
SEEDS = ROOT / "sample" / "seeds"
WMT_START = datetime(2019, 11, 4, tzinfo=UTC)
WMT_SPAN_DAYS = 28
WMT_MEMBER_HOURS = 6
AEB_FALLBACK = datetime(2019, 11, 18, tzinfo=UTC)


@dataclass
class Doc:
    """One labelled article, as a JSON record for ``record_to_raw``."""

    key: str  # unique, readable: basil/<uuid>, wmt21/<docid>/<member>, aeb/<id>
    story: str  # gold story id
    source: str  # basil | wmt21 | aeb
    time: str  # ISO 8601 UTC: the publication time given to storyloom
    title: str
    text: str
    outlet: str
    language: str | None = None
    url: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def record(self) -> dict[str, str]:
        r = {"title": self.title, "text": self.text, "published": self.time, "outlet": self.outlet}
        if self.language:
            r["language"] = self.language
        if self.url:
            r["url"] = self.url
        r["bench_key"] = self.key  # unknown field: kept in `extra`, and makes every record's bytes unique
        return r


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_test(story: str) -> bool:
    """The split rule: sha1(story id)'s last hex digit >= 8 -> test."""
    return int(hashlib.sha1(story.encode()).hexdigest()[-1], 16) >= 8


def load_basil() -> list[Doc]:
    out = []
    for f in sorted((CORPORA / "basil" / "articles").glob("*/*.json")):
        a = json.loads(f.read_text(encoding="utf-8"))
        text = "\n".join(" ".join(p) for p in a["body-paragraphs"])
        out.append(Doc(f"basil/{a['uuid']}", "basil:" + a["triplet-uuid"], "basil", a["date"] + "T12:00:00Z",
                       a["title"], text, a["source"].lower(), None, a.get("url")))
    return out


def load_wmt21() -> list[Doc]:
    out = []
    for line in (CORPORA / "wmt21" / "newstest2021_docs.jsonl").read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        story = f"wmt21:{d['pair']}:{d['docid']}"
        rng = random.Random("wmt21:" + d["docid"])
        base = WMT_START + timedelta(seconds=rng.uniform(0, WMT_SPAN_DAYS * 86400))
        members = [("src", d["src_lang"], d["src_segs"], f"wmt21 {d['docid'].split('.')[0]}")]
        members += [(f"ref-{k}", d["tgt_lang"], v, f"wmt21 translator {k}") for k, v in sorted(d["refs"].items())]
        members += [(f"mt-{k}", d["tgt_lang"], v, f"wmt21 {k}") for k, v in sorted(d["mt"].items())]
        for i, (name, lang, segs, outlet) in enumerate(members):
            t = base if i == 0 else base + timedelta(seconds=rng.uniform(0, WMT_MEMBER_HOURS * 3600))
            out.append(Doc(f"wmt21/{d['docid']}/{name}", story, "wmt21", iso(t), segs[0], "\n".join(segs[1:]),
                           outlet, lang))
    return out


def _html_title(html: str) -> str | None:
    m = re.search(r"<title[^>]*>(.*?)</title>", html, re.S | re.I)
    if not m:
        return None
    import html as htmllib

    t = " ".join(htmllib.unescape(m.group(1)).split())
    return t or None


@lru_cache(maxsize=1)
def load_aeb() -> tuple[list[Doc], dict[str, int]]:
    """The aeb pages, and how their dates were found ({'htmldate': n, 'fallback': m})."""
    import logging

    from htmldate import find_date

    logging.getLogger("htmldate").setLevel(logging.ERROR)
    root = CORPORA / "aeb"
    gold = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    out, how = [], {"htmldate": 0, "fallback": 0}
    for i, (k, v) in enumerate(sorted(gold.items())):
        html = gzip.open(root / "html" / f"{k}.html.gz", "rt", encoding="utf-8").read()
        body = v["articleBody"].strip()
        title = _html_title(html) or body.split("\n", 1)[0]
        try:
            found = find_date(html, original_date=True, outputformat="%Y-%m-%d", url=v["url"],
                              min_date="2000-01-01", max_date="2019-12-31")
        except Exception:
            found = None
        if found:
            time = found + "T12:00:00Z"
            how["htmldate"] += 1
        else:
            time = iso(AEB_FALLBACK + timedelta(seconds=(i * 7919 % 181) / 181 * 3 * 86400))
            how["fallback"] += 1
        out.append(Doc(f"aeb/{k[:16]}", f"aeb:{k}", "aeb", time, title, body, urlparse(v["url"]).hostname or "aeb",
                       None, v["url"]))
    return out, how


CHAINS = CORPORA / "story_chains_dev"


def load_chains(split: str) -> list[Doc]:
    """The story chains of one split ('dev', 'test' or 'all'), in time order; a chain is split whole."""
    import csv

    arts = list(csv.DictReader(open(CHAINS / "articles.csv", encoding="utf-8")))
    pairs = list(csv.DictReader(open(CHAINS / "pairs.csv", encoding="utf-8"), delimiter=";"))
    parent = {a["url"]: a["url"] for a in arts}

    def root(u: str) -> str:
        while parent[u] != u:
            u = parent[u]
        return u

    for p in pairs:
        if p["relation"] == "1" and p["url1"] in parent and p["url2"] in parent:
            a, b = root(p["url1"]), root(p["url2"])
            if a != b:
                parent[max(a, b)] = min(a, b)
    members: dict[str, list[dict[str, str]]] = {}
    for a in arts:
        members.setdefault(root(a["url"]), []).append(a)
    out = []
    for group in members.values():
        story = "chains:" + min(a["url"] for a in group)
        if split != "all" and is_test(story) != (split == "test"):
            continue
        for a in group:
            when = datetime.fromisoformat(a["date"].strip()).replace(tzinfo=UTC)
            out.append(Doc(f"chains/{hashlib.sha1(a['url'].encode()).hexdigest()[:12]}", story, "chains", iso(when),
                           a["title"].strip(), a["text"].strip(), urlparse(a["paperurl"]).hostname or "chains",
                           "en", a["url"]))
    return sorted(out, key=lambda d: (d.time, d.key))


def seed_paths() -> list[Path]:
    return sorted(SEEDS.glob("*.txt"))


def labelled(split: str) -> list[Doc]:
    """basil + wmt21 stories of one split ('dev' or 'test', or 'all'), plus every aeb page, in time order."""
    docs = [d for d in load_basil() + load_wmt21() if split == "all" or is_test(d.story) == (split == "test")]
    docs += load_aeb()[0]
    return sorted(docs, key=lambda d: (d.time, d.key))


# -- the synthetic corpus of the speed runs ------------------------------------------------------------


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+|\n+", text) if len(s.split()) >= 3]


def base_texts() -> list[tuple[str, list[str], str]]:
    """(title, sentences, language) of real articles: basil, aeb (English), and the wmt21 source documents and
    first references (ru, ja, de, en, fr, is)."""
    bases = [(d.title, _sentences(d.text), "en") for d in load_basil() + load_aeb()[0]]
    seen = set()
    for d in load_wmt21():
        member = d.key.rsplit("/", 1)[1]
        if member == "src" or (member.startswith("ref-") and d.key.rsplit("/", 1)[0] not in seen):
            if member.startswith("ref-"):
                seen.add(d.key.rsplit("/", 1)[0])
            bases.append((d.title, [s for s in d.text.split("\n") if s.strip()], d.language or "en"))
    return [b for b in bases if len(b[1]) >= 3]


def _noisy(words: list[str], rng: random.Random, vocab: list[str], rate: float) -> list[str]:
    out = []
    for w in words:
        r = rng.random()
        if r < rate / 3:
            continue  # drop
        if r < 2 * rate / 3:
            out.append(rng.choice(vocab))  # replace by a random word of the corpus
            continue
        out.append(w)
        if r < rate:
            out.append(rng.choice(vocab))  # insert
    return out


def synthetic(n: int, per_day: int = 150, seed: int = 7) -> list[tuple[dict[str, str], str]]:
    """``n`` (record, gold story) pairs built from real text: story instance k re-uses base article
    ``perm[k mod B]`` (so a base comes back only every ~B/(per_day/3) days, far outside any window), with 1-5
    members, each a perturbed copy (sentences shuffled after the lead, ~12% word noise, a word dropped from the
    title), all within 8 hours; ``per_day`` articles a day, starting 2000-01-01, in time order."""
    return list(iter_synthetic(n, per_day, seed))


def iter_synthetic(n: int, per_day: int = 150, seed: int = 7):  # type: ignore[no-untyped-def]
    bases = base_texts()
    rng = random.Random(seed)
    perm = list(range(len(bases)))
    rng.shuffle(perm)
    vocab = sorted({w for _, ss, _ in bases[:400] for s in ss for w in s.split() if w.isalpha() and len(w) > 3})
    start = datetime(2000, 1, 1, tzinfo=UTC)
    made, k = 0, 0
    outlets = [f"outlet-{i:02d}" for i in range(40)]
    while made < n:
        title, sents, lang = bases[perm[k % len(bases)]]
        size = min(n - made, rng.choice((1, 1, 2, 3, 3, 4, 5, 5)))
        t0 = start + timedelta(days=made / per_day)
        for j in range(size):
            body = sents[:2] + rng.sample(sents[2:], len(sents) - 2)
            words = _noisy(" ".join(body).split(), rng, vocab, 0.12)
            tw = title.split()
            if len(tw) > 3:
                del tw[rng.randrange(len(tw))]
            t = t0 + timedelta(seconds=rng.uniform(0, 8 * 3600))
            rec = {"title": " ".join(tw), "text": " ".join(words), "published": iso(t),
                   "outlet": outlets[(k * 7 + j) % len(outlets)], "language": lang, "url": f"https://synthetic.example/{k}/{j}"}
            yield rec, f"syn:{k}"
            made += 1
        k += 1
