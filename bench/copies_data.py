"""The labelled copy benchmark of ``bench/copies.py``, built deterministically from real text.

Everything is read from ``/work/shared/corpora`` at run time (nothing is copied into the project) and every
random choice comes from a seeded ``random.Random``, so the same corpora give the same benchmark.

**Articles.**  Each article has a unique benchmark id (``bid``), title, text, language, url, published date
and outlet, and belongs to one *family*: the articles of a family are copies of one another (an original and
the variants made from it, or a WMT21 source document and its translations); articles of different families
are never copies.

* ``wmt21`` — each news document (sentences joined by newlines; title = the first sentence, text = the
  rest) in its source language, each professional reference and each of the two machine translations.
  Positives (kind ``translation``): source ↔ every reference, source ↔ every MT.  Reference ↔ MT and
  reference ↔ reference are same-language co-translations (kind ``co_translation``): reported, not scored.
  No published date (the translation window then does not apply).
* ``aeb`` gold bodies and ``basil`` article bodies are *originals*; from each, :data:`RECIPES` make up to ten
  syndicated variants, each on a different syndication outlet (so an outlet never carries the same story
  twice and its template-line counts see only its own furniture).  Positives: original ↔ variant, of the
  variant's kind (``exact``, ``near_duplicate`` or ``containment``).  Variant ↔ variant pairs of one family
  are true copies too (never counted as false links) but not labelled pairs.
* Hard negatives: ``basil`` articles of different outlets on the same event (same ``triplet-uuid``), kind
  ``basil_same_event``; ``mrpc`` sentence pairs, each sentence a short article: label 0 → kind
  ``mrpc_not_paraphrase``, label 1 → ``mrpc_paraphrase`` (a paraphrase is not a copy: reported separately).

**Split.**  ``split_of(key)``: ``sha1(key)``'s last hex digit ≥ 8 → test, else dev.  The key is the source
document id: ``aeb:<id>``, ``wmt21:<pair>:<docid>``, ``basil:<triplet-uuid>`` (the event, so an event's
three outlets, their variants and the same-event negatives fall in one split), and for an MRPC pair
``mrpc:<id1>-<id2>`` (a sentence article's own key is ``mrpc:<id>``).
"""

from __future__ import annotations

import glob
import hashlib
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
SEED = 20231

RECIPES: list[tuple[str, str]] = [
    ("exact", "whitespace_quotes_case"),
    ("near_duplicate", "typos"),
    ("near_duplicate", "ocr"),
    ("near_duplicate", "headline_dateline"),
    ("near_duplicate", "reorder"),
    ("near_duplicate", "drop_one"),
    ("containment", "trim"),
    ("containment", "wrap"),
    ("containment", "drop_many"),
    ("containment", "trim_wrap"),
]
POSITIVE_KINDS = ("exact", "near_duplicate", "containment", "translation")
SAME_LANGUAGE_KINDS = ("exact", "near_duplicate", "containment")
NEGATIVE_KINDS = ("basil_same_event", "mrpc_not_paraphrase", "mrpc_paraphrase")

SYNDICATORS = [
    ("The Daily Ledger", "dailyledger.example"), ("Northern Courier", "northerncourier.example"),
    ("Buna Times", "bunatimes.example"), ("Express Wire", "expresswire.example"),
    ("Harbour Post", "harbourpost.example"), ("Metro Bulletin", "metrobulletin.example"),
    ("Valley Herald", "valleyherald.example"), ("Capital Chronicle", "capitalchronicle.example"),
    ("Coastal Gazette", "coastalgazette.example"), ("The Evening Star", "eveningstar.example"),
    ("Plains Tribune", "plainstribune.example"), ("River City Journal", "rivercityjournal.example"),
]
NAMES = ["Anna Keller", "James Okafor", "Maria Santos", "David Chen", "Laura Novak", "Peter Walsh", "Sara Lind"]
CITIES = ["WASHINGTON", "LONDON", "NEW YORK", "PARIS", "BERLIN", "CHICAGO", "SYDNEY", "TORONTO"]


def split_of(key: str) -> str:
    """dev or test, from the source document id: sha1(key)'s last hex digit >= 8 → test."""
    return "test" if int(hashlib.sha1(key.encode("utf-8")).hexdigest()[-1], 16) >= 8 else "dev"


def _share(key: str) -> float:
    """A stable number in [0, 1) per key (for --quick subsets), independent of the split digit."""
    return int(hashlib.sha1(("subset:" + key).encode("utf-8")).hexdigest()[:8], 16) / 2**32


@dataclass
class Doc:
    bid: str
    family: str
    split_key: str
    source: str  # wmt21 | aeb | basil | mrpc
    role: str  # original | <recipe> | src | ref:<name> | mt:<system> | sentence
    title: str
    text: str
    language: str | None
    url: str
    published: str | None
    outlet: str
    event: str | None = None  # basil triplet-uuid

    @property
    def split(self) -> str:
        return split_of(self.split_key)

    def record(self) -> dict[str, object]:
        """The JSON record storyloom ingests (``id`` is not a field storyloom knows: it lands in ``extra``)."""
        rec: dict[str, object] = {"id": self.bid, "url": self.url, "title": self.title, "text": self.text,
                                  "outlet": self.outlet}
        if self.language:
            rec["language"] = self.language
        if self.published:
            rec["published"] = self.published
        return rec


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    label: int  # 1: a copy (of ``kind``), 0: not a copy
    kind: str
    recipe: str
    split: str


@dataclass
class Bench:
    docs: list[Doc] = field(default_factory=list)  # in ingest order (deterministically shuffled)
    pairs: list[Pair] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# -- text helpers ------------------------------------------------------------------------------------------

_SENT = re.compile(r"(?<=[.!?…])[\"”’»)]*\s+(?=[\"“‘«(]?[A-Z0-9])")
_WORDTOK = re.compile(r"\w+", re.UNICODE)


def paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.split("\n") if p.strip()]


def sentences(text: str) -> list[str]:
    return [s.strip() for p in paragraphs(text) for s in _SENT.split(p) if s.strip()]


def units(text: str) -> tuple[list[str], str]:
    """The pieces variants cut and move: paragraphs when there are 4 or more, else sentences."""
    paras = paragraphs(text)
    if len(paras) >= 4:
        return paras, "\n"
    return sentences(text), " "


def n_words(text: str) -> int:
    return len(_WORDTOK.findall(text))


_KEYBOARD = {c: n for c, n in zip("qwertyuiopasdfghjklzxcvbnm", "wqeryuiopsadfghjklkzxcvbnmn")}


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1) if len(word) > 2 else 0
    op = rng.choice(("swap", "drop", "double", "key"))
    if op == "swap" and len(word) > 3:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :] if i + 1 < len(word) else word[:-1]
    if op == "double":
        return word[: i + 1] + word[i] + word[i + 1 :]
    if op == "key" and word[i].lower() in _KEYBOARD:
        return word[:i] + _KEYBOARD[word[i].lower()] + word[i + 1 :]
    return word[:i] + word[i + 1 :]  # drop a letter


_OCR = [("rn", "m"), ("m", "rn"), ("l", "1"), ("i", "l"), ("o", "0"), ("e", "c"), ("h", "b"), ("cl", "d")]


def _ocr(word: str, rng: random.Random) -> str:
    options = [(a, b) for a, b in _OCR if a in word]
    roll = rng.random()
    if roll < 0.25 and len(word) >= 6:  # a line-break hyphenation left in, or a word split by a space
        cut = rng.randrange(2, len(word) - 2)
        return word[:cut] + rng.choice(("- ", " ")) + word[cut:]
    if options:
        a, b = rng.choice(options)
        at = [m.start() for m in re.finditer(re.escape(a), word)]
        k = rng.choice(at)
        return word[:k] + b + word[k + len(a) :]
    return _typo(word, rng)


def noise(text: str, rate: float, rng: random.Random, style: str = "typo") -> str:
    """Change ``rate`` of the words (3+ letters): typing errors or OCR confusions."""
    fn = _typo if style == "typo" else _ocr

    def sub(m: re.Match[str]) -> str:
        w = m.group(0)
        return fn(w, rng) if len(w) >= 3 and rng.random() < rate else w

    return re.sub(r"[^\W\d_]+", sub, text)


def exactish(text: str, rng: random.Random) -> str:
    """The same text for the exact key: whitespace, quote styles, dashes and case changed, nothing else."""
    out = []
    for i, p in enumerate(paragraphs(text)):
        words_ = p.split(" ")
        p = "".join(w + (rng.choice(("  ", " \u00a0", " ")) if rng.random() < 0.1 else " ") for w in words_).rstrip()
        if "'" in p or '"' in p:
            p = p.replace("'", "’")
            q = iter(range(10**6))
            p = re.sub('"', lambda m, q=q: "“" if next(q) % 2 == 0 else "”", p)
        else:
            p = p.replace("’", "'").replace("“", '"').replace("”", '"')
        p = p.replace(" — ", " - ") if rng.random() < 0.5 else p
        if i == 0:  # a lead-in in capitals, as some sites set it
            head = p.split(" ", 3)
            p = " ".join([w.upper() for w in head[:3]] + head[3:])
        out.append(p + rng.choice(("", " ", "\t")))
    return rng.choice(("\n", "\n\n", "\n \n")).join(out) + "\n"


def rewrite_headline(title: str, body: str, rng: random.Random) -> str:
    first = sentences(body)[:1]
    options = [f"UPDATE 2-{title}", f"{title} - report", f"Watch: {title}", title.upper()]
    if first:
        options.append(" ".join(first[0].split()[:12]).rstrip(",;:") + "…")
    return rng.choice(options)


def furniture(outlet: str, origin: str, rng: random.Random, headlines: list[str], day: str) -> tuple[list[str], list[str]]:
    """Lines another site puts around a syndicated story: its name and navigation, byline, dates, related
    headlines (real titles of other articles), credits, copyright, share and comment prompts."""
    before_pool = [
        outlet, "Home | News | World | Business | Sport | Opinion | Culture", f"By {rng.choice(NAMES)}, {outlet}",
        f"Published {day}", "Advertisement", f"Related: {rng.choice(headlines)}", "Listen to this article",
    ]
    after_pool = [
        "Advertisement", "Related stories", *rng.sample(headlines, 3), f"© {day[:4]} {outlet}. All rights reserved.",
        "Share this article: Facebook Twitter Email", f"This article originally appeared on {origin}.",
        "Comments", "Most read this week", f"Read more from {outlet}",
    ]
    before = [x for x in before_pool if rng.random() < 0.5][:4] or [outlet]
    after = [x for x in after_pool if rng.random() < 0.5][:6] or ["Advertisement"]
    return before, after


def variant(recipe: str, title: str, text: str, rng: random.Random, outlet: str, origin: str,
            headlines: list[str], day: str) -> tuple[str, str] | None:
    """(title, text) of one syndicated variant, or None when the original is too short for the recipe."""
    us, sep = units(text)
    n = len(us)
    if recipe == "whitespace_quotes_case":
        return title, exactish(text, rng)
    if recipe == "typos":
        return title, noise(text, rng.uniform(0.02, 0.05), rng, "typo")
    if recipe == "ocr":
        return title, noise(text, rng.uniform(0.02, 0.04), rng, "ocr")
    if recipe == "headline_dateline":
        lines = paragraphs(text)
        lines[0] = f"{rng.choice(CITIES)} ({outlet}) — {lines[0]}"
        lines.append(f"(Reporting by {rng.choice(NAMES)}; Editing by {rng.choice(NAMES)})")
        return rewrite_headline(title, text, rng), "\n".join(lines)
    if recipe == "reorder":
        if n < 3:
            return None
        moved = list(us)
        for _ in range(1 if n < 5 else 2):  # move a unit (not the lead, when there are enough) elsewhere
            i = rng.randrange(1 if n > 3 else 0, n)
            unit = moved.pop(i)
            moved.insert(rng.choice([j for j in range(n) if j != i]), unit)
        if moved == list(us):
            moved = us[1:] + us[:1]
        return title, sep.join(moved)
    if recipe == "drop_one":
        total = sum(n_words(u) for u in us)
        small = [i for i in range(1, n) if n_words(us[i]) <= 0.15 * total]
        if n < 5 or not small:
            return None
        k = rng.choice(small)
        return title, sep.join(u for i, u in enumerate(us) if i != k)
    if recipe == "drop_many":
        if n < 5:
            return None
        gone = set(rng.sample(range(1, n), max(2, round(n * rng.uniform(0.3, 0.5)))))
        return title, sep.join(u for i, u in enumerate(us) if i not in gone)
    if recipe in ("trim", "trim_wrap"):
        if n < 3:
            return None
        k = max(1, round(n * rng.uniform(0.3, 0.6)))
        body = sep.join(us[:k])
        if recipe == "trim":
            return title, body
        text = body
    if recipe in ("wrap", "trim_wrap"):
        before, after = furniture(outlet, origin, rng, headlines, day)
        if recipe == "trim_wrap":
            after = [f"Read the full story at {origin}.", *after]
        return title, "\n".join([*before, text, *after])
    raise ValueError(recipe)


# -- sources ---------------------------------------------------------------------------------------------


def load_aeb() -> list[dict[str, str]]:
    gold = json.loads((CORPORA / "aeb" / "ground-truth.json").read_text(encoding="utf-8"))
    out = []
    for key in sorted(gold):
        body = gold[key]["articleBody"].strip()
        paras = paragraphs(body)
        if n_words(body) < 20 or not paras:
            continue
        sents = sentences(body)
        title = " ".join(sents[0].split()[:14]) if sents else key  # the gold has no title: its first words
        out.append({"id": key, "title": title, "text": body, "url": gold[key]["url"]})
    return out


def load_basil() -> list[dict[str, str]]:
    out = []
    for f in sorted(glob.glob(str(CORPORA / "basil" / "articles" / "*" / "*.json"))):
        a = json.loads(Path(f).read_text(encoding="utf-8"))  # id: the file name (4 files have uuid "empty")
        out.append({"id": Path(f).stem, "event": a["triplet-uuid"], "outlet": a["source"].lower(), "date": a["date"],
                    "title": a["title"] or " ".join(a["body-paragraphs"][0][0].split()[:12]), "url": a["url"],
                    "text": "\n".join(" ".join(p) for p in a["body-paragraphs"])})
    return out


def load_wmt() -> list[dict[str, object]]:
    path = CORPORA / "wmt21" / "newstest2021_docs.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def detok(s: str) -> str:
    """MRPC's tokenised sentences back to running text."""
    s = s.replace("<QUOTE>", '"')
    s = re.sub(r" (n't|'s|'re|'ve|'ll|'d|'m)\b", r"\1", s)
    s = re.sub(r" ([,.;:!?%)\]])", r"\1", s)
    s = re.sub(r"([(\[$]) ", r"\1", s)
    s = re.sub(r'" (.*?) "', r'"\1"', s)
    return re.sub(r"\s+", " ", s).strip()


def load_mrpc() -> list[tuple[int, str, str, str, str]]:
    rows = []
    for name in ("msr_paraphrase_train.txt", "msr_paraphrase_test.txt"):
        lines = (CORPORA / "mrpc" / name).read_text(encoding="utf-8-sig").splitlines()[1:]
        for line in lines:
            parts = line.split("\t")
            if len(parts) == 5:
                rows.append((int(parts[0]), parts[1], parts[2], detok(parts[3]), detok(parts[4])))
    return rows


# -- the benchmark ------------------------------------------------------------------------------------------


def build(share: float = 1.0, mrpc_share: float = 1.0, languages: frozenset[str] | None = None,
          seed: int = SEED) -> Bench:
    """The labelled benchmark; ``share`` < 1 keeps a stable subset of the families (chosen by a hash of the
    family key, independent of the split), ``mrpc_share`` of the MRPC pairs; ``languages``, when given, keeps
    only families written in those languages (``--quick`` keeps the fast embedder's, so e5 stays out)."""
    from storyloom.enrich.language import detect_language

    rng = random.Random(seed)
    bench = Bench()
    docs, pairs = bench.docs, bench.pairs

    def keep(key: str) -> bool:
        return share >= 1.0 or _share(key) < share

    epoch = date(2021, 1, 1)

    aeb, basil = load_aeb(), load_basil()
    headlines = [a["title"] for a in basil] + [a["title"] for a in aeb]

    def originals() -> Iterator[tuple[str, str, dict[str, str], str | None, str, str, str | None]]:
        for a in aeb:
            fam = f"aeb:{a['id']}"
            lang = detect_language(a["text"])
            if keep(fam) and (languages is None or lang in languages):
                day = (epoch + timedelta(days=rng.randrange(365))).isoformat()
                host = re.sub(r"^https?://(www\.)?", "", a["url"]).split("/")[0]
                yield fam, fam, a, lang, host, day, None
        for a in basil:
            key = f"basil:{a['event']}"
            if keep(key):
                yield f"basil:{a['id']}", key, a, "en", a["outlet"], a["date"][:10], a["event"]

    for fam, key, a, lang, origin, day, event in originals():
        source = fam.split(":")[0]
        docs.append(Doc(f"{fam}:original", fam, key, source, "original", a["title"], a["text"], lang, a["url"],
                        day, origin, event))
        outlets = rng.sample(SYNDICATORS, len(RECIPES))
        for (kind, recipe), (outlet, host) in zip(RECIPES, outlets):
            made = variant(recipe, a["title"], a["text"], rng, outlet, origin, [h for h in headlines if h != a["title"]], day)
            if made is None:
                continue
            vday = (date.fromisoformat(day) + timedelta(days=rng.randrange(3))).isoformat()
            bid = f"{fam}:{recipe}"
            docs.append(Doc(bid, fam, key, source, recipe, made[0], made[1], lang,
                            f"https://{host}/news/{hashlib.sha1(bid.encode()).hexdigest()[:12]}", vday, outlet, event))
            pairs.append(Pair(f"{fam}:original", bid, 1, kind, recipe, split_of(key)))

    by_event: dict[str, list[dict[str, str]]] = {}
    for a in basil:
        by_event.setdefault(a["event"], []).append(a)
    for event, arts in sorted(by_event.items()):
        key = f"basil:{event}"
        if not keep(key):
            continue
        arts = sorted(arts, key=lambda x: x["id"])
        for i in range(len(arts)):
            for j in range(i + 1, len(arts)):
                if arts[i]["outlet"] != arts[j]["outlet"]:
                    pairs.append(Pair(f"basil:{arts[i]['id']}:original", f"basil:{arts[j]['id']}:original", 0,
                                      "basil_same_event", f"{arts[i]['outlet']}-{arts[j]['outlet']}", split_of(key)))

    for d in load_wmt():
        fam = f"wmt21:{d['pair']}:{d['docid']}"
        if not keep(fam) or (languages is not None and not {d["src_lang"], d["tgt_lang"]} <= languages):
            continue
        versions: list[tuple[str, str, list[str]]] = [("src", str(d["src_lang"]), list(d["src_segs"]))]  # type: ignore[arg-type]
        versions += [(f"ref:{k}", str(d["tgt_lang"]), list(v)) for k, v in sorted(d["refs"].items())]  # type: ignore[union-attr]
        versions += [(f"mt:{k}", str(d["tgt_lang"]), list(v)) for k, v in sorted(d["mt"].items())]  # type: ignore[union-attr]
        for role, lang, segs in versions:
            if len(segs) < 2:
                continue
            outlet = {"src": f"wmt21 source ({lang})"}.get(role, role.replace("ref:", "translator ").replace("mt:", ""))
            docs.append(Doc(f"{fam}:{role}", fam, fam, "wmt21", role, segs[0], "\n".join(segs[1:]), lang,
                            f"https://wmt21.example/{d['pair']}/{d['docid']}/{role.replace(':', '-')}", None, outlet))
        roles = [r for r, _, s in versions if len(s) >= 2]
        if "src" in roles:
            for r in roles:
                if r != "src":
                    pairs.append(Pair(f"{fam}:src", f"{fam}:{r}", 1, "translation", r.split(":")[0], split_of(fam)))
        tgt = [r for r in roles if r != "src"]
        for i in range(len(tgt)):
            for j in range(i + 1, len(tgt)):
                pairs.append(Pair(f"{fam}:{tgt[i]}", f"{fam}:{tgt[j]}", 1, "co_translation",
                                  f"{tgt[i].split(':')[0]}-{tgt[j].split(':')[0]}", split_of(fam)))

    mrpc = load_mrpc()
    if mrpc_share < 1.0:
        mrpc = [r for r in mrpc if _share(f"mrpc:{r[1]}-{r[2]}") < mrpc_share]
    text_of: dict[str, str] = {}  # normalised text → bid, so one sentence is one article
    used: set[str] = set()
    mrpc_outlets = ["Wire Digest", "Newswire Roundup", "Morning Brief"]
    for label, i1, i2, s1, s2 in mrpc:
        bids = []
        for sid, s in ((i1, s1), (i2, s2)):
            norm = " ".join(_WORDTOK.findall(s.casefold()))
            if norm not in text_of:
                bid = f"mrpc:{sid}" if f"mrpc:{sid}" not in used else f"mrpc:{sid}:{len(text_of)}"
                used.add(bid)
                text_of[norm] = bid
                day = (date(2004, 1, 1) + timedelta(days=rng.randrange(365))).isoformat()
                docs.append(Doc(bid, bid, f"mrpc:{sid}", "mrpc", "sentence", " ".join(s.split()[:8]) + "…", s, "en",
                                f"https://mrpc.example/{sid}/{len(text_of)}", day, rng.choice(mrpc_outlets)))
            bids.append(text_of[norm])
        if bids[0] != bids[1]:
            kind = "mrpc_paraphrase" if label == 1 else "mrpc_not_paraphrase"
            pairs.append(Pair(bids[0], bids[1], 0, kind, "mrpc", split_of(f"mrpc:{i1}-{i2}")))

    rng.shuffle(docs)  # ingest order: originals, copies and translations interleaved
    seen: set[str] = set()
    for d in docs:
        if d.bid in seen:
            raise ValueError(f"duplicate benchmark id {d.bid}")
        seen.add(d.bid)
    return bench


# -- the speed corpus ------------------------------------------------------------------------------------


def _speed_pool() -> tuple[list[str], list[str]]:
    """English sentences (6+ words) of the AEB gold and BASIL bodies, and a vocabulary for word noise."""
    from storyloom.enrich.language import detect_language

    bodies = [a["text"] for a in load_aeb() if detect_language(a["text"]) == "en"] + [a["text"] for a in load_basil()]
    sents = list(dict.fromkeys(s for b in bodies for s in sentences(b) if 6 <= len(s.split()) <= 60))
    vocab = sorted({w for s in sents for w in re.findall(r"[A-Za-z]{4,}", s)})
    return sents, vocab


def speed_articles(n: int, seed: int = 7, copy_share: float = 0.2) -> Iterator[dict[str, str]]:
    """N English articles from real sentences; the same seed gives the same stream (N=10k is a prefix of 100k).

    A new article is 4-9 paragraphs of 2-4 sentences drawn from the pool, each sentence with one or two words
    replaced by other real words (so no two new articles share a whole sentence and their word shingles
    overlap only by chance).  ``copy_share`` of the articles are copies of one of the 2,000 most recent ones:
    typos, trimmed, wrapped in furniture, a paragraph dropped, or whitespace/case only.
    """
    sents, vocab = _speed_pool()
    rng = random.Random(seed)
    recent: list[tuple[str, str]] = []
    epoch = date(2022, 1, 1)
    titles = [s for s in sents if len(s) <= 140]

    def perturb(s: str) -> str:
        ws = s.split(" ")
        for _ in range(rng.randint(1, 2)):
            ws[rng.randrange(len(ws))] = rng.choice(vocab)
        return " ".join(ws)

    for i in range(n):
        outlet, host = rng.choice(SYNDICATORS)
        day = epoch + timedelta(days=rng.randrange(365))
        if recent and rng.random() < copy_share:
            title, text = rng.choice(recent)
            recipe = rng.choice(("typos", "trim", "wrap", "drop_one", "whitespace_quotes_case"))
            made = variant(recipe, title, text, rng, outlet, "the original site", titles, day.isoformat())
            title, text = made if made else (title, noise(text, 0.02, rng))
        else:
            title = perturb(rng.choice(titles))
            paras = [" ".join(perturb(rng.choice(sents)) for _ in range(rng.randint(2, 4))) for _ in range(rng.randint(4, 9))]
            text = "\n".join(paras)
        recent.append((title, text))
        if len(recent) > 2000:
            recent.pop(0)
        yield {"url": f"https://{host}/{day:%Y/%m/%d}/{i:07d}", "title": title, "text": text,
               "published": day.isoformat(), "outlet": outlet, "language": "en"}
