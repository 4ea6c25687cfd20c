"""The whole ``storyloom ingest`` path on real articles, with Spark ``local[2]`` as the baseline in the same run.

    PYTHONPATH=src .venv/bin/python bench/pipeline.py                  # real texts + real HTML pages + Spark (~10 min)
    PYTHONPATH=src .venv/bin/python bench/pipeline.py --scaled 10000   # also a 10k set made from the real texts
    PYTHONPATH=src .venv/bin/python bench/pipeline.py --limit 600 --only text --profile 25   # where the time goes

Why real text: the synthetic articles of bench/ingest.py and bench/spark.py are English paragraphs with
invented marker words; they never reach the translation search's slow model (the languages USE lacks), the
sentence splitter's hard cases or the line classifier's real boilerplate.  Issue 23 measured 11 articles/s on
real text against 48 on synthetic.

Input, read from ``../shared/corpora/`` (never copied into the project), every labelled text once:

* **text** (one JSONL file): wcxb-dev main texts (711, many languages), aeb gold bodies (181), basil (240),
  story_chains_dev (39), wmt21 (323 documents: the source, the first professional translation and the first
  machine translation of each, so ru/ja/de/fr/en/is and real translated copies).  Dates are re-drawn over 30
  days (a hash of the id picks the day; a wmt21 document and its translations fall within the same day), as a
  news stream is: the corpora's own dates span 2010–2021 and would leave every translation window empty.
* **html** (a folder of ``.html.gz``): the wcxb-dev and aeb pages themselves, decoded and extracted by the
  ingest path.
* **scaled** (``--scaled N``): N articles repeated from the real texts with new ids, urls, outlets and dates,
  and light edits (a paragraph dropped or moved, a sentence-final "(updated)"), as a wire story re-run is —
  real language, not word salad.  Translations are repeated with their source, on the same day.

Each measurement runs in a fresh child process on a fresh store, with the default settings a new user gets
(copies with translations, stories with embeddings, the FTS index): wall seconds, articles/s, CPU seconds of
the process tree, peak RSS of the tree, store bytes per stored article, and a per-stage table from timers
wrapped around the stages (nested stages are indented; "(rest)" is input reading, decoding, JSON and the
pipeline's own bookkeeping), and the store's bytes per stored article by table (SQLite's dbstat).  ``--profile K`` adds the top K cProfile functions by own time (it slows the run).
The Spark baseline is ``storyloom batch --engine spark --master local[2]`` over the same JSONL (the real texts,
and the scaled set when there is one), timed from the outside (session start included, and printed apart from the engine's own stage timers; CPU sampled every 0.5 s
over the live process tree, so the last half second is missed); note that batch runs
find no translated copies and use no story embeddings by default, so it does less work than ``ingest``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "src"))
from benchutil import TreePeakRss, cpu_tree

CORPORA = ROOT.parent / "shared" / "corpora"
if not CORPORA.is_dir():
    CORPORA = Path("/work/shared/corpora")
START = datetime(2024, 3, 1, tzinfo=UTC)
DAYS = 30


def _h(s: str) -> int:
    return int.from_bytes(hashlib.sha1(s.encode("utf-8")).digest()[:8], "big")


def _when(key: str, offset_s: int = 0) -> str:
    """A date in the 30-day window, drawn from the key (same key, same day) plus an offset in seconds."""
    h = _h(key)
    t = START + timedelta(days=h % DAYS, seconds=(h >> 8) % 43_200 + offset_s)
    return t.isoformat(timespec="seconds")


# -- the real corpora ------------------------------------------------------------------------------


def wcxb() -> Iterator[dict[str, Any]]:
    root = CORPORA / "wcxb-dev" / "dev"
    for gt in sorted((root / "ground-truth").glob("*.json")):
        page = json.loads(gt.read_text(encoding="utf-8"))
        g = page.get("ground_truth") or {}
        text = g.get("main_content") or ""
        if text.strip():
            yield {"id": f"wcxb-{gt.stem}", "url": page.get("url"), "title": g.get("title") or "", "text": text,
                   "author": g.get("author"), "published": _when(f"wcxb-{gt.stem}"),
                   "outlet": (page.get("url") or "").split("/")[2] if "//" in (page.get("url") or "") else None}


def aeb() -> Iterator[dict[str, Any]]:
    gold = json.loads((CORPORA / "aeb" / "ground-truth.json").read_text(encoding="utf-8"))
    for k in sorted(gold):
        body, url = gold[k]["articleBody"], gold[k].get("url") or ""
        lines = [ln for ln in body.split("\n") if ln.strip()]
        if len(lines) < 2:
            continue
        yield {"id": f"aeb-{k}", "url": url, "title": lines[0][:200], "text": "\n\n".join(lines[1:]),
               "published": _when(f"aeb-{k}"), "outlet": url.split("/")[2] if "//" in url else None}


def basil() -> Iterator[dict[str, Any]]:
    for f in sorted((CORPORA / "basil" / "articles").glob("*/*.json")):
        a = json.loads(f.read_text(encoding="utf-8"))
        text = "\n\n".join(" ".join(p) for p in a["body-paragraphs"])
        yield {"id": f"basil-{f.stem}", "url": a.get("url"), "title": a.get("title") or "", "text": text,
               "published": _when(f"basil-{a['triplet-uuid']}", _h(f.stem) % 20_000),
               "outlet": (a.get("source") or "").lower()}


def chains() -> Iterator[dict[str, Any]]:
    with open(CORPORA / "story_chains_dev" / "articles.csv", encoding="utf-8") as fh:
        for a in csv.DictReader(fh):
            yield {"id": f"chain-{_h(a['url']):x}", "url": a["url"], "title": a["title"], "text": a["text"],
                   "published": _when("chains", _h(a["url"]) % (DAYS * 86_400 - 86_400)),
                   "outlet": a["url"].split("/")[2] if "//" in a["url"] else None}


def wmt() -> Iterator[dict[str, Any]]:
    """Each document three times: its source, a professional translation, a machine translation."""
    with open(CORPORA / "wmt21" / "newstest2021_docs.jsonl", encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            key = f"wmt-{d['pair']}-{d['docid']}"
            versions = [("src", d["src_lang"], d["src_segs"])]
            if d.get("refs"):
                name = sorted(d["refs"])[0]
                versions.append((f"ref-{name}", d["tgt_lang"], d["refs"][name]))
            if d.get("mt"):
                name = sorted(d["mt"])[0]
                versions.append((f"mt-{name}", d["tgt_lang"], d["mt"][name]))
            for n, (tag, lang, segs) in enumerate(versions):
                segs = [s for s in segs if s.strip()]
                if len(segs) < 2:
                    continue
                site = f"{tag.split('-')[0]}-{lang}.wmt.example"
                yield {"id": f"{key}-{tag}", "url": f"https://{site}/{d['docid']}", "title": segs[0],
                       "text": "\n\n".join(segs[1:]), "published": _when(key, 3600 * n), "outlet": site,
                       "language": lang}


def real_texts() -> list[dict[str, Any]]:
    return [*wcxb(), *aeb(), *basil(), *chains(), *wmt()]


def real_pages(dest: Path, limit: int | None) -> int:
    """The wcxb-dev and aeb HTML pages, gzipped as they are stored, into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    src = sorted((CORPORA / "wcxb-dev" / "dev" / "html").glob("*.html.gz")) + sorted(
        (CORPORA / "aeb" / "html").glob("*.html.gz"))
    src = src[:limit] if limit else src
    for p in src:
        shutil.copyfile(p, dest / f"{p.parent.parent.name}-{p.name}")
    return len(src)


def scaled(base: list[dict[str, Any]], n: int, seed: int = 23) -> list[dict[str, Any]]:
    """``n`` articles from the real ones: new ids, urls, outlets and dates, light edits; a wmt21 document's
    versions stay together (same round, same day), so translations keep being found at scale."""
    rng = random.Random(seed)
    groups: dict[str, list[dict[str, Any]]] = {}
    for a in base:
        groups.setdefault(re.sub(r"-(?:src|ref-.*|mt-.*)$", "", a["id"]) if a["id"].startswith("wmt-") else a["id"],
                          []).append(a)
    keys = sorted(groups)
    out: list[dict[str, Any]] = []
    rnd = 0
    while len(out) < n:
        order = keys[:]
        rng.shuffle(order)
        for k in order:
            day = rng.randrange(DAYS * 4)
            for a in groups[k]:
                if len(out) >= n:
                    break
                paras = a["text"].split("\n\n")
                if rnd and len(paras) > 3:
                    edit = rng.random()
                    if edit < 0.3:
                        paras.pop(rng.randrange(1, len(paras)))
                    elif edit < 0.5:
                        paras.insert(1, paras.pop(rng.randrange(1, len(paras))))
                    elif edit < 0.7:
                        paras[-1] = paras[-1] + " (updated)"
                site = (a.get("outlet") or "outlet") + (f".r{rnd % 7}" if rnd else "")
                when = START + timedelta(days=day, seconds=_h(a["id"]) % 40_000)
                out.append({**a, "id": f"{a['id']}-r{rnd}", "url": f"https://{site}/{rnd}/{_h(a['id']) % 10**9}",
                            "outlet": site, "text": "\n\n".join(paras), "published": when.isoformat(timespec="seconds")})
        rnd += 1
    return out


def write_jsonl(path: Path, arts: list[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for a in arts:
            fh.write(json.dumps({k: v for k, v in a.items() if v is not None}, ensure_ascii=False) + "\n")


# -- the measured child ----------------------------------------------------------------------------


class Timers:
    """Wall seconds and calls per named stage, by wrapping functions where the pipeline looks them up."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def wrap(self, owner: Any, attr: str, name: str) -> None:
        fn = getattr(owner, attr)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t
                self.calls[name] = self.calls.get(name, 0) + 1

        setattr(owner, attr, timed)


def install_timers(t: Timers) -> None:
    import storyloom.copies as copies_pkg
    import storyloom.copies.transsearch as transsearch
    import storyloom.embed as embed
    import storyloom.pipeline as pipeline
    from storyloom.clean import classifier, pool
    from storyloom.store import Store

    # cleaning: the item's own half (in this process, or the wait for a worker's result) and, in input order,
    # the template layer; with workers, the line classifier runs in them and its timer here stays at 0
    t.wrap(pipeline, "prepare_outcome", "clean")
    t.wrap(pool.CleanPool, "result", "clean")
    t.wrap(pipeline, "settle_batch", "clean › templates, in input order")
    t.wrap(pipeline, "refresh_stored", "write (articles, blobs, FTS) › re-clean of stored articles templates changed")
    if hasattr(classifier, "LineClassifier"):
        t.wrap(classifier.LineClassifier, "boilerplate_proba", "clean › line classifier")
    t.wrap(Store, "write_batch", "write (articles, blobs, FTS)")
    t.wrap(pipeline, "find_copies", "copies")
    t.wrap(copies_pkg, "process_chunk", "copies › chunks")
    t.wrap(transsearch, "find_translations", "copies › translation search")
    t.wrap(pipeline, "build_stories", "stories")
    real_get = embed.get_embedder

    def get_embedder(name: str) -> Any:
        t0 = time.perf_counter()
        model = real_get(name)
        if not getattr(model, "_bench_timed", False):
            t.seconds["model loading"] = t.seconds.get("model loading", 0.0) + time.perf_counter() - t0
            t.wrap(model, "embed", f"embedding ({model.name})")
            model._bench_timed = True
        return model

    embed.get_embedder = get_embedder  # looked up at call time by the translation and story stages


def child(spec: dict[str, Any]) -> dict[str, Any]:
    import cProfile
    import pstats

    from storyloom.pipeline import ingest
    from storyloom.settings import Settings
    from storyloom.store import Store

    timers = Timers()
    install_timers(timers)
    db = spec["db"]
    settings = Settings(db_path=db, **spec.get("settings", {}))
    if spec.get("workers") is not None:
        settings = settings.with_overrides(ingest_workers=spec["workers"])
    prof = cProfile.Profile() if spec.get("profile") else None
    c0, own0 = cpu_tree(), time.process_time()
    with TreePeakRss() as peak:
        t0 = time.perf_counter()
        store = Store(db)
        store.migrate()
        if prof:
            prof.enable()
        rep = ingest(spec["inputs"], store, settings)
        if prof:
            prof.disable()
        store.close()
        wall = time.perf_counter() - t0
    cpu, own = cpu_tree() - c0, time.process_time() - own0
    size = sum(os.path.getsize(p) for p in (db, db + "-wal") if os.path.exists(p))
    out = {"tables": table_bytes(db), "wall": wall, "cpu": cpu, "cpu_main": own, "peak_mb": peak.mb, "counts": dict(rep.counts), "copies": rep.copies,
           "stories": rep.stories, "errors": rep.errors[:5], "store_bytes": size, "stages": timers.seconds,
           "calls": timers.calls}
    if prof:
        import io

        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(spec["profile"])
        out["profile"] = buf.getvalue()
    return out


def table_bytes(db: str) -> dict[str, int]:
    """Bytes of each table and index of the store (SQLite's dbstat), largest first: where the disk goes."""
    import sqlite3

    c = sqlite3.connect(db)
    try:
        rows = c.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall()
    except sqlite3.Error:  # a SQLite built without dbstat
        rows = []
    finally:
        c.close()
    return {name: int(n) for name, n in rows}


def run_child(spec: dict[str, Any], tmp: Path) -> dict[str, Any]:
    spec_path = tmp / f"spec-{spec['name']}.json"
    spec_path.write_text(json.dumps(spec))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("STORYLOOM_CONFIG", None)
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(spec_path)], cwd=tmp,
                          env=env, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{spec['name']}: child failed\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_spark(src: Path, out: Path) -> dict[str, Any]:
    """``storyloom batch --engine spark --master local[2]`` as a user runs it, timed from the outside."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "SPARK_LOCAL_IP": "127.0.0.1"}
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with open(out.parent / "spark.out", "w+") as so, open(out.parent / "spark.err", "w+") as se:
        proc = subprocess.Popen([sys.executable, "-m", "storyloom.cli", "batch", str(src), "--out", str(out),
                                 "--engine", "spark", "--master", "local[2]", "--json"], env=env, stdout=so,
                                stderr=se, text=True, cwd=out.parent)
        cpu = 0.0
        while proc.poll() is None:  # sampled while it lives: the JVM is not always reaped by its parent, so
            cpu = max(cpu, cpu_tree(proc.pid))  # its CPU would be missing from the children's total at the end
            time.sleep(0.5)
        wall = time.perf_counter() - t0
        so.seek(0)
        se.seek(0)
        stdout, stderr = so.read(), se.read()
    if proc.returncode:
        return {"error": stderr[-1500:], "wall": wall, "cpu": cpu}
    try:
        rep = json.loads(stdout[stdout.index("{"):])
    except ValueError:
        rep = {"raw": stdout[-500:]}
    return {"wall": wall, "cpu": cpu, "report": rep}


# -- the report ------------------------------------------------------------------------------------


def print_run(name: str, n_in: int, r: dict[str, Any]) -> None:
    stored = r["counts"].get("added", 0) + r["counts"].get("version", 0)
    print(f"\n## {name}: {n_in:,} items in, {stored:,} stored, counts {r['counts']}")
    print(f"wall {r['wall']:.1f} s = **{n_in / r['wall']:.1f} items/s**; CPU of the process tree {r['cpu']:.1f} s "
          f"({r['cpu'] / r['wall']:.2f} cores busy; {1000 * r['cpu'] / n_in:.0f} ms per item), of which the ingesting "
          f"process {r.get('cpu_main', float('nan')):.1f} s: on two idle cores at least "
          f"max(process, tree / 2) = {max(r.get('cpu_main', 0.0), r['cpu'] / 2):.1f} s = "
          f"{n_in / max(r.get('cpu_main', 0.0), r['cpu'] / 2, 1e-9):.1f} items/s at best; peak RSS {r['peak_mb']:.0f} MB; store "
          f"{r['store_bytes'] / max(1, stored) / 1024:.1f} KB per stored article; copy links {r['copies']}; "
          f"stories opened {r['stories']}")
    for loc, why in r["errors"]:
        print(f"  error: {loc}: {why}")
    print("\n| stage | s | share of wall | calls | ms per item in |")
    print("|---|---:|---:|---:|---:|")
    top = ["clean", "write (articles, blobs, FTS)", "copies", "stories"]
    rest = r["wall"] - sum(r["stages"].get(k, 0.0) for k in top)
    rows = [(k, v) for k, v in r["stages"].items()] + [("(rest: reading, decoding, bookkeeping)", rest)]
    order = {k: i for i, k in enumerate(top)}
    rows.sort(key=lambda kv: (order.get(kv[0].split(" › ")[0], 9), kv[0]))
    for k, v in rows:
        label = ("  ↳ " + k.split(" › ", 1)[1]) if " › " in k else k
        print(f"| {label} | {v:.1f} | {100 * v / r['wall']:.0f} % | {r['calls'].get(k, '')} | {1000 * v / n_in:.1f} |")
    print("(model loading and embeddings are also counted inside the stages that called them)")
    if r.get("tables"):
        top = sorted(r["tables"].items(), key=lambda kv: -kv[1])[:8]
        print("store by table (KB per stored article): " + ", ".join(
            f"{name} {n / max(1, stored) / 1024:.1f}" for name, n in top))
    if r.get("profile"):
        print("\n```\n" + r["profile"].strip()[:6000] + "\n```")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--only", choices=["text", "html", "scaled", "spark"], nargs="+",
                    default=["text", "html", "spark"], help="which runs (default: text html spark; scaled with --scaled)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N real texts / pages (quick look)")
    ap.add_argument("--scaled", type=int, default=0, help="also a set of N articles repeated from the real texts")
    ap.add_argument("--profile", type=int, default=0, help="cProfile: print the top K functions by own time")
    ap.add_argument("--workers", type=int, nargs="+", default=[0],
                    help="ingest_workers of the local runs, each measured in turn (0: one per CPU, the default; "
                         "1: no pool, as before issue 23's pool)")
    ap.add_argument("--keep", help="keep the inputs and stores in this folder")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(Path(args.child).read_text())), default=str))
        return

    tmp = Path(args.keep or tempfile.mkdtemp(prefix="storyloom-bench-pipeline-"))
    tmp.mkdir(parents=True, exist_ok=True)
    runs = list(args.only) + (["scaled"] if args.scaled and "scaled" not in args.only else [])
    results: dict[str, Any] = {"load_before": os.getloadavg(), "cpus": os.cpu_count()}
    try:
        texts = real_texts()
        texts = texts[: args.limit] if args.limit else texts
        src = tmp / "real.jsonl"
        write_jsonl(src, texts)
        langs: dict[str, int] = {}
        for a in texts:
            lang = a.get("language") or "?"
            langs[lang] = langs.get(lang, 0) + 1
        print(f"real texts: {len(texts):,} ({src.stat().st_size / 1e6:.1f} MB of JSONL; declared languages "
              f"{dict(sorted(langs.items(), key=lambda kv: -kv[1]))}); machine: {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)
        def local(name: str, title: str, inputs: list[str], n: int) -> None:
            for w in args.workers:
                key = name if len(args.workers) == 1 else f"{name}-w{w}"
                r = run_child({"name": key, "db": str(tmp / f"{key}.db"), "inputs": inputs, "workers": w,
                               "profile": args.profile}, tmp)
                results[key] = {"n": n, "workers": w, **r}
                print_run(f"{title}, ingest_workers = {w}", n, r)

        if "text" in runs:
            local("text", "storyloom ingest, real texts (JSONL)", [str(src)], len(texts))
        if "html" in runs:
            n = real_pages(tmp / "pages", args.limit)
            local("html", "storyloom ingest, real HTML pages (wcxb-dev + aeb)", [str(tmp / "pages")], n)
        big = tmp / f"scaled-{args.scaled}.jsonl"
        if "scaled" in runs and args.scaled:
            write_jsonl(big, scaled(real_texts(), args.scaled))
            local("scaled", f"storyloom ingest, {args.scaled:,} articles repeated from the real texts", [str(big)],
                  args.scaled)
        if "spark" in runs:  # over each JSONL input the local runs had: the real texts, the scaled set
            for name, path, n in (("text", src, len(texts)), ("scaled", big, args.scaled)):
                if name == "scaled" and not ("scaled" in runs and args.scaled):
                    continue
                sp = run_spark(path, tmp / f"spark-out-{name}")
                results["spark" if name == "text" else f"spark-{name}"] = sp
                print(f"\n## storyloom batch --engine spark --master local[2], the same {n:,} "
                      + ("real texts" if name == "text" else "scaled articles"))
                if "error" in sp:
                    print(f"failed after {sp['wall']:.1f} s: {sp['error']}")
                    continue
                secs = sp["report"].get("seconds", {}) if isinstance(sp["report"], dict) else {}
                eng = secs.get("total")
                print(f"wall {sp['wall']:.1f} s incl. session start = **{n / sp['wall']:.1f} articles/s**"
                      + (f"; engine's own total {eng:.1f} s = {n / eng:.1f} articles/s" if eng else "")
                      + f"; CPU of the process tree {sp['cpu']:.1f} s; stages {secs}")
                for key, r in results.items():
                    if key == name or key.startswith(f"{name}-w"):
                        print(f"local ingest ({key}) ÷ Spark (articles/s, outside wall): "
                              f"{(n / r['wall']) / (n / sp['wall']):.2f}×")
        results["load_after"] = os.getloadavg()
        print(f"\nload average before {results['load_before'][0]:.1f}, after {results['load_after'][0]:.1f} "
              f"(other processes share the 2 cores)")
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
