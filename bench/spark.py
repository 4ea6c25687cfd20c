"""Batch throughput: the whole pipeline on Spark ``local[2]`` against the local pipeline, in the same run.

    .venv/bin/python bench/spark.py                       # N = 10,000 and 100,000 (long: see bench/README.md)
    .venv/bin/python bench/spark.py --n 2000 10000        # quicker
    .venv/bin/python bench/spark.py --n 10000 --skip-local

Input: N distinct JSONL articles made deterministically from real text (paragraphs of the AEB gold bodies, or
of the sample pages when the shared corpora are absent), each sentence marked with a word of its own so two
articles share text only when they are meant to: 4 % are reprints of an earlier article by another outlet
(whole, or its first paragraphs), so the copy stage has real groups to find.  Dates run continuously over
N / 6 days (six articles a day), as a news stream does: there is no gap for the story stage to cut at.

Both engines run with the same settings (``storyloom.batch.stages.batch_settings``: no translations, no
story embeddings).  Spark's numbers exclude the session start (printed apart); stage timings are the
engine's own timers; shuffle bytes and task time per stage come from Spark's REST API on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
from benchutil import cpu_tree

SAMPLE = ROOT / "sample"
GOLD = ROOT.parent / "shared" / "corpora" / "aeb" / "ground-truth.json"
OUTLETS = ["The Daily Ledger", "Northern Courier", "Buna Times", "Express Wire", "Harbour Post", "Metro Bulletin"]
MARKS = ["notably", "reportedly", "meanwhile", "separately", "indeed", "locally", "officially", "apparently"]


def load_paragraphs() -> list[str]:
    if GOLD.is_file():
        bodies = [rec["articleBody"] for rec in json.loads(GOLD.read_text(encoding="utf-8")).values()]
    else:
        import trafilatura

        bodies = [trafilatura.extract(gzip.decompress(p.read_bytes()).decode("utf-8", "replace")) or ""
                  for p in sorted((SAMPLE / "aeb").glob("*.html.gz"))]
    return list(dict.fromkeys(p.strip() for b in bodies for p in b.split("\n") if len(p.strip()) >= 80))


def mark(paragraph: str, n: int, rng: random.Random) -> str:
    """The paragraph with a word of article ``n`` in every sentence (so sentence keys are its own)."""
    out = []
    for s in re.split(r"(?<=[.!?])\s+", paragraph):
        words = s.split()
        if len(words) > 3:
            words.insert(rng.randrange(1, len(words)), f"{rng.choice(MARKS)}-{n:x}")
        out.append(" ".join(words))
    return " ".join(out)


def corpus(n: int, paras: list[str], seed: int = 7, per_day: int = 6) -> list[dict[str, str]]:
    """``n`` articles, ``per_day`` a day (a denser stream gives each article more open stories to weigh)."""
    rng = random.Random(seed)
    start = datetime(2021, 1, 1, tzinfo=UTC)
    span = max(1, n // per_day) * 86400
    arts: list[dict[str, str]] = []
    for i in range(n):
        published = start + timedelta(seconds=int(i * span / n) + rng.randrange(3600))
        outlet = rng.choice(OUTLETS)
        url = f"https://{outlet.lower().replace(' ', '')}.example/{published:%Y/%m/%d}/{i:07d}"
        if i > 10 and rng.random() < 0.04:  # a reprint of a recent article
            src = arts[rng.randrange(max(0, i - 50), i)]
            paras_ = src["text"].split("\n\n")
            text = "\n\n".join(paras_ if rng.random() < 0.5 else paras_[: max(1, len(paras_) // 2)])
            arts.append({"url": url, "title": src["title"] + " (reprint)", "text": text, "outlet": outlet,
                         "published": published.isoformat(timespec="seconds")})
            continue
        body = [mark(p, i, rng) for p in rng.sample(paras, rng.randint(4, 9))]
        title = " ".join(body[0].split()[:12])
        arts.append({"url": url, "title": title, "text": "\n\n".join(body), "outlet": outlet,
                     "published": published.isoformat(timespec="seconds")})
    return arts


def classifier_loads() -> bool:
    """The learned line classifier takes part when its model loads (both engines alike)."""
    try:
        from storyloom.clean.classifier import LineClassifier

        LineClassifier.load()
        return True
    except Exception:
        return False


def write_jsonl(path: Path, arts: list[dict[str, str]]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for a in arts:
            fh.write(json.dumps(a, ensure_ascii=False) + "\n")


# -- Spark's REST API ------------------------------------------------------------------------------


def rest(spark: Any, path: str) -> Any:
    url = spark.sparkContext.uiWebUrl
    app = spark.sparkContext.applicationId
    with urllib.request.urlopen(f"{url}/api/v1/applications/{app}/{path}", timeout=30) as r:  # 127.0.0.1 only
        return json.loads(r.read())


def stage_metrics(spark: Any, prefix: str) -> dict[str, dict[str, float]]:
    """Per pipeline stage (job group): Spark jobs, tasks, task time, shuffle write/read bytes, spill."""
    jobs = rest(spark, "jobs")
    stages = {(s["stageId"], s["attemptId"]): s for s in rest(spark, "stages")}
    out: dict[str, dict[str, float]] = {}
    for j in jobs:
        group = j.get("jobGroup") or ""
        if not group.startswith(prefix):
            continue
        m = out.setdefault(group[len(prefix):], {"jobs": 0, "tasks": 0, "task_s": 0.0, "shuffle_w": 0.0,
                                                 "shuffle_r": 0.0, "spill": 0.0})
        m["jobs"] += 1
        for sid in j["stageIds"]:
            for (s_id, _), st in stages.items():
                if s_id != sid or st.get("status") != "COMPLETE":
                    continue
                m["tasks"] += st.get("numCompleteTasks", 0)
                m["task_s"] += st.get("executorRunTime", 0) / 1000
                m["shuffle_w"] += st.get("shuffleWriteBytes", 0)
                m["shuffle_r"] += st.get("shuffleReadBytes", 0)
                m["spill"] += st.get("diskBytesSpilled", 0)
    return out


def mb(b: float) -> str:
    return f"{b / 1e6:,.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--partitions", type=int, default=None)
    ap.add_argument("--skip-local", action="store_true")
    ap.add_argument("--block-days", type=float, nargs="*", default=[],
                    help="also run Spark's approximate story stage cut every so many days; B-cubed agreement with local")
    ap.add_argument("--json", help="also write the numbers to this file")
    args = ap.parse_args()

    from storyloom.batch.local import run_local
    from storyloom.batch.spark import SparkBatch, spark_session
    from storyloom.settings import Settings

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    paras = load_paragraphs()
    tmp = Path(tempfile.mkdtemp(prefix="storyloom-bench-spark-"))
    results: list[dict[str, Any]] = []
    try:
        t = time.perf_counter()
        spark = spark_session(args.master, {"spark.ui.enabled": "true", "spark.ui.port": "4077",
                                            "spark.ui.retainedStages": "10000",
                                            "spark.ui.retainedJobs": "10000", "spark.sql.ui.retainedExecutions": "10"})
        session_s = time.perf_counter() - t
        for n in args.n:
            arts = corpus(n, paras)
            src = tmp / f"in-{n}.jsonl"
            write_jsonl(src, arts)
            settings = Settings(db_path=str(tmp / "unused.db"), line_classifier=classifier_loads())
            row: dict[str, Any] = {"n": n, "input_mb": src.stat().st_size / 1e6}
            if not args.skip_local:
                c = cpu_tree()
                rep = run_local([str(src)], str(tmp / f"local-{n}"), settings)
                row["local"] = rep.as_dict()
                row["local_cpu"] = cpu_tree() - c
                print(f"local  n={n:,}: {rep.seconds['total']:.1f} s  {rep.seconds}", flush=True)
            batch = SparkBatch(spark, settings, partitions=args.partitions, job_prefix=f"{n}/")
            c = cpu_tree()
            rep = batch.run([str(src)], str(tmp / f"spark-{n}"))
            row["spark"] = rep.as_dict()
            row["spark_cpu"] = cpu_tree() - c
            row["spark_metrics"] = stage_metrics(spark, f"{n}/")
            row["partitions"] = batch.n
            print(f"spark  n={n:,}: {rep.seconds['total']:.1f} s  {rep.seconds}", flush=True)
            row["approx"] = []
            for days in args.block_days:
                from storyloom.batch.local import read_table
                from storyloom.stories import agreement

                c = cpu_tree()
                cut = SparkBatch(spark, settings, partitions=args.partitions, job_prefix=f"{n}/cut{days:g}/",
                                 block_days=days).run([str(src)], str(tmp / f"cut-{n}"))
                members = lambda d: {m["article_id"]: m["story_id"] for m in read_table(d, "story_members")}
                ref = members(tmp / (f"local-{n}" if not args.skip_local else f"spark-{n}"))
                got = members(tmp / f"cut-{n}")
                row["approx"].append({"days": days, "seconds": cut.seconds, "cpu": cpu_tree() - c,
                                      "windows": cut.counts.get("story_windows"), "agreement": agreement(got, ref),
                                      "exact_story_ids": got == ref})
                print(f"spark cut every {days:g} days: {row['approx'][-1]}", flush=True)
                shutil.rmtree(tmp / f"cut-{n}", ignore_errors=True)
            results.append(row)
            shutil.rmtree(tmp / f"local-{n}", ignore_errors=True)
            shutil.rmtree(tmp / f"spark-{n}", ignore_errors=True)
        spark.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(results, session_s, args.master)
    if args.json:
        Path(args.json).write_text(json.dumps({"session_s": session_s, "results": results}, indent=2, default=str))


STAGES_LOCAL = {"ingest": "parse+clean", "copies": "copies", "stories": "stories", "write": "write"}


def report(results: list[dict[str, Any]], session_s: float, master: str) -> None:
    import platform

    print(f"\nmachine: {os.cpu_count()} CPUs, Python {platform.python_version()}, Spark {master}; "
          f"load average at the end {os.getloadavg()[0]:.1f}; Spark session start {session_s:.1f} s (not counted)\n")
    print("| articles | engine | seconds | articles/s | s per 1k articles | CPU s (all processes) | CPU ms per article | Spark ÷ local (time / CPU) |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        loc = r.get("local", {}).get("seconds", {}).get("total")
        sp = r["spark"]["seconds"]["total"]
        lc, sc = r.get("local_cpu"), r["spark_cpu"]
        if loc:
            print(f"| {r['n']:,} | local pipeline | {loc:.1f} | {r['n'] / loc:,.0f} | {1000 * loc / r['n']:.1f} | "
                  f"{lc:.1f} | {1000 * lc / r['n']:.1f} | |")
        ratio = f"{sp / loc:.2f}× / {sc / lc:.2f}×" if loc else "—"
        print(f"| {r['n']:,} | Spark {master} ({r['partitions']} partitions) | {sp:.1f} | {r['n'] / sp:,.0f} | "
              f"{1000 * sp / r['n']:.1f} | {sc:.1f} | {1000 * sc / r['n']:.1f} | {ratio} |")
    approx = [(r["n"], a) for r in results for a in r.get("approx", [])]
    if approx:
        print("\nStory stage cut into calendar windows (approximate, parallel) against the exact online result:")
        print("| articles | cut every | windows | story stage s | B-cubed precision | recall | F1 |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for n, a in approx:
            g = a["agreement"]
            print(f"| {n:,} | {a['days']:g} days | {a['windows']} | {a['seconds'].get('stories', 0):.1f} | "
                  f"{g['precision']:.4f} | {g['recall']:.4f} | {g['f1']:.4f} |")
    for r in results:
        sec = r["spark"]["seconds"]
        met = r["spark_metrics"]
        loc = r.get("local", {}).get("seconds", {})
        print(f"\nStages at {r['n']:,} articles ({r['input_mb']:.0f} MB of JSONL); local stages: ingest = parse+clean "
              f"(+ the store, templates included), copies = fingerprints+candidates+verify+groups")
        print("| stage | Spark s | Spark jobs | tasks | task s | shuffle write MB | shuffle read MB | spill MB | local s |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        local_of = {v: k for k, v in STAGES_LOCAL.items()}
        for stage, s in sec.items():
            if stage == "total":
                continue
            m = met.get(stage, {})
            ls = loc.get(local_of.get(stage, ""), None)
            print(f"| {stage} | {s:.1f} | {int(m.get('jobs', 0))} | {int(m.get('tasks', 0))} | {m.get('task_s', 0):.1f} | "
                  f"{mb(m.get('shuffle_w', 0))} | {mb(m.get('shuffle_r', 0))} | {mb(m.get('spill', 0))} | "
                  f"{'' if ls is None else f'{ls:.1f}'} |")
        if "copies" in loc:
            print(f"| (local copies stage) | | | | | | | | {loc['copies']:.1f} |")
        tot_w = sum(m.get("shuffle_w", 0) for m in met.values())
        print(f"\nshuffle written in total: {mb(tot_w)} MB ({tot_w / max(1, r['n']):,.0f} bytes per article); "
              f"counts: {json.dumps(r['spark']['counts'])}")


if __name__ == "__main__":
    main()
