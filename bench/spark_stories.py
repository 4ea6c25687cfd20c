"""The Spark story stage alone: the distributed stage (blocks + warm-up + reconciliation) against the exact
one-task stage, in the same run, on a synthetic stream and on real text.

    .venv/bin/python bench/spark_stories.py                      # N = 100,000 synthetic + the real sets
    .venv/bin/python bench/spark_stories.py --n 30000 --block-articles 1000
    .venv/bin/python bench/spark_stories.py --n 0                # real text only
    .venv/bin/python bench/spark_stories.py --in-process 20000   # the story work alone, no Spark (CPU)
    .venv/bin/python bench/spark_stories.py --n 12000 --density 6 1000 12000   # cost of a row vs stream density
    .venv/bin/python bench/spark_stories.py --n 6000 --dense-blocks 1000 2000   # blocks on a dense stream, no Spark

Inputs, built straight into the story stage's input (articles and copy groups; no cleaning, no copy stage,
each article its own group):

* **synthetic**: ``bench/spark.py``'s stream (real paragraphs of the AEB bodies, six articles a day,
  continuously over N / 6 days: no gap the exact stage could cut at, so it is one task);
* **real**: basil + wmt21 + the aeb pages (``bench/stories_data.labelled('all')``) and story_chains_dev (all
  chains), 1,8xx articles in one stream; blocks of ``--real-block-articles`` so that it is cut at all.

The exact stage's result equals the local online stage's (``tests/test_spark.py`` asserts it article by
article), so it is the reference of the B-cubed agreement.  Task times come from Spark's REST API (the
``executorRunTime`` of every task the stage's jobs ran); "CPU s" is the CPU of the whole process tree (JVM and
Python workers) over the stage, sampled (``benchutil.TreeCpu``: Spark's Python daemon leaves its exited workers
to the kernel, so the children times ``cpu_tree`` adds up miss them; that figure is printed beside it).  The simulation schedules the measured tasks of every Spark stage of the run,
longest first, on 16, 64 and 256 executors (one core each), stage after stage (a Spark stage waits for the
previous one): the stage's wall time on a cluster, if tasks took there what they took here.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
from benchutil import TreeCpu, cpu_tree
from spark import corpus, load_paragraphs, rest

EXECUTORS = (16, 64, 256)


def synthetic_rows(n: int, per_day: int = 6) -> list[dict[str, Any]]:
    return [{"id": f"a{i:07d}", "title": a["title"], "text": a["text"], "published": a["published"],
             "date_flag": None, "outlet": a["outlet"], "language": "en", "ord_file": 0, "ord_pos": i}
            for i, a in enumerate(corpus(n, load_paragraphs(), per_day=per_day))]


def density(n: int, per_days: list[int]) -> None:
    """The cost of a block run's row as the stream gets denser (no Spark, CPU of this process): one run over
    the first n / 2 and one over all n synthetic articles (text parts computed beforehand, as the stage ships
    them), ``per_day`` articles a day; the marginal cost, (T(n) - T(n/2)) / (n/2), is that of a row arriving
    among min(n / 2, 7 × per_day) .. min(n, 7 × per_day) articles of the stories' 7-day horizon."""
    from storyloom.batch.stages import batch_settings, run_story_block, story_parts
    from storyloom.settings import Settings

    s = batch_settings(Settings(db_path=str(Path(tempfile.mkdtemp(prefix="storyloom-bench-")) / "unused.db")))
    print("| articles a day | articles in the 7-day horizon at the end | CPU s, first n/2 | CPU s, all n | "
          "ms a row (mean) | ms a row (marginal, second half) | stories |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for per_day in per_days:
        rows = synthetic_rows(n, per_day)
        parted = [{**{k: v for k, v in r.items() if k != "text"}, "group_id": "g" + r["id"], "rank": i, "seg": 0,
                   "prior_df": {} if i == 0 else None, "prior_docs": 0,
                   **{k: v for k, v in story_parts(r["title"], r["text"]).items() if k != "terms"}}
                  for i, r in enumerate(rows)]
        cpu, stories = [], 0
        for m in (n // 2, n):
            t = time.process_time()
            out = list(run_story_block(parted[:m], s, "2026-01-01T00:00:00+00:00"))
            cpu.append(time.process_time() - t)
            stories = sum(1 for tb, _ in out if tb == "stories")
        print(f"| {per_day:,} | {min(n, 7 * per_day):,} | {cpu[0]:.1f} | {cpu[1]:.1f} | {1000 * cpu[1] / n:.2f} | "
              f"{1000 * (cpu[1] - cpu[0]) / (n - n // 2):.2f} | {stories:,} |", flush=True)


def real_rows() -> tuple[list[dict[str, Any]], dict[str, str]]:
    from stories_data import labelled, load_chains

    docs = sorted({d.key: d for d in labelled("all") + load_chains("all")}.values(), key=lambda d: (d.time, d.key))
    rows = [{"id": d.key, "title": d.title, "text": d.text, "published": d.time, "date_flag": None,
             "outlet": d.outlet, "language": d.language, "ord_file": 0, "ord_pos": i} for i, d in enumerate(docs)]
    return rows, {d.key: d.story for d in docs}


def frames(spark: Any, rows: list[dict[str, Any]]) -> tuple[Any, Any]:
    arts = spark.createDataFrame(rows, "id string, title string, text string, published string, date_flag string, "
                                       "outlet string, language string, ord_file long, ord_pos long")
    groups = spark.createDataFrame([(r["id"], "g" + r["id"]) for r in rows], "article_id string, group_id string")
    return arts, groups


def tasks_by_stage(spark: Any, group: str) -> tuple[list[list[float]], list[dict[str, Any]]]:
    """Run time (s) of every task of every Spark stage the job group ran, stage by stage in order; and each
    stage's summary (its call site, tasks, wall from submission to completion, task s, JVM CPU s, shuffle MB)."""
    from datetime import datetime

    def ts(x: str) -> float:
        return datetime.strptime(x.replace("GMT", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()

    out, info = [], []
    for j in sorted(rest(spark, "jobs"), key=lambda j: j["jobId"]):
        if j.get("jobGroup") != group:
            continue
        for sid in sorted(j["stageIds"]):
            for st in rest(spark, f"stages/{sid}"):
                if st.get("status") != "COMPLETE":
                    continue
                tl = rest(spark, f"stages/{sid}/{st['attemptId']}/taskList?length=100000")
                times = [t["taskMetrics"]["executorRunTime"] / 1000 for t in tl if t.get("taskMetrics")]
                out.append(times)
                info.append({"job": j["jobId"], "stage": sid, "name": st.get("name", "?"), "tasks": len(times),
                             "wall": ts(st["completionTime"]) - ts(st["submissionTime"]), "task_s": sum(times),
                             "jvm_cpu": st.get("executorCpuTime", 0) / 1e9,
                             "shuffle_mb": (st.get("shuffleWriteBytes", 0) + st.get("shuffleReadBytes", 0)) / 1e6,
                             "start": ts(st["submissionTime"])})
    return out, info


def makespan(times: list[float], executors: int) -> float:
    """Longest-first greedy schedule of independent tasks on ``executors`` slots."""
    slots = [0.0] * min(executors, max(1, len(times)))
    for t in sorted(times, reverse=True):
        heapq.heapreplace(slots, slots[0] + t)
    return max(slots) if times else 0.0


def run_stage(spark: Any, settings: Any, rows: list[dict[str, Any]], tag: str, blocks: bool,
              block_articles: int | None) -> dict[str, Any]:
    from storyloom.batch.spark import stories as exact
    from storyloom.batch.spark import storyblocks as distributed
    from storyloom.batch.spark.context import SparkRun

    arts, groups = frames(spark, rows)
    arts = arts.cache()
    arts.count()
    job = SparkRun(spark, settings, job_prefix=tag, story_blocks=blocks, story_block_articles=block_articles)
    load0 = os.getloadavg()[0]
    c, t = cpu_tree(), time.perf_counter()
    with TreeCpu() as sampled, job.stage("stories"):
        members, story_rows, events, _ = (distributed if blocks else exact).stories(job, arts, groups)
        got = {r[0]: r[1] for r in members.select("article_id", "story_id").collect()}
        n_stories, n_events = story_rows.count(), events.count()
    wall, reaped = time.perf_counter() - t, cpu_tree() - c
    cpu = sampled.seconds
    run_cpu = job.story_cpu.value if job.story_cpu is not None else 0.0
    job._release()
    arts.unpersist()
    stages, stage_info = tasks_by_stage(spark, tag + "stories")
    every = [x for s in stages for x in s]
    return {"wall": wall, "cpu": cpu, "cpu_reaped": reaped, "run_cpu": run_cpu, "load": (load0, os.getloadavg()[0]), "members": got, "stories": n_stories, "events": n_events,
            "tasks": len(every), "task_s": sum(every), "largest": max(every, default=0.0), "stages": stages,
            "counts": dict(job.report.counts), "stage_info": stage_info, "sim": {e: sum(makespan(s, e) for s in stages) for e in EXECUTORS}}


def in_process(n: int) -> None:
    """The story work alone, no Spark, CPU of this process: (1) a block run over rows carrying their text
    against the same rows carrying their text parts; (2) the exact stage's work (terms pass + one run over the
    texts) against the block plan's local driver (parts pass + block runs), on the synthetic stream and the real
    sets (blocks of 100)."""
    from storyloom.batch.stages import batch_settings, run_story_block, story_parts, story_terms
    from storyloom.batch.storyblocks import block_size, run_blocks_locally
    from storyloom.settings import Settings
    from storyloom.stories import agreement

    s = batch_settings(Settings(db_path=str(Path(tempfile.mkdtemp(prefix="storyloom-bench-")) / "unused.db")))
    ing = "2026-01-01T00:00:00+00:00"
    rows = [{**r, "group_id": "g" + r["id"]} for r in synthetic_rows(n)]
    one = [{**r, "rank": i, "seg": 0, "prior_df": {} if i == 0 else None, "prior_docs": 0} for i, r in enumerate(rows)]
    parted = [{**{k: v for k, v in r.items() if k != "text"}, **story_parts(r["title"], r["text"])} for r in one]
    for name, rr in (("text", one), ("text parts", parted)):
        t = time.process_time()
        list(run_story_block(rr, s, ing))
        c = time.process_time() - t
        print(f"block run over {n:,} rows carrying their {name}: CPU {c:.1f} s, {1000 * c / n:.2f} ms a row", flush=True)
    real = [{**r, "group_id": "g" + r["id"]} for r in real_rows()[0]]
    for name, rr, size in (("synthetic", rows, block_size(len(rows), 2)), ("real", real, 100)):
        t = time.process_time()
        for r in rr:
            story_terms(r["title"], r["text"])
        whole = [{**r, "rank": i, "seg": 0, "prior_df": {} if i == 0 else None, "prior_docs": 0} for i, r in enumerate(rr)]
        ref = {r["article_id"]: r["story_id"] for tb, r in run_story_block(whole, s, ing) if tb == "story_members"}
        exact = time.process_time() - t
        t = time.process_time()
        out = run_blocks_locally(rr, s, ing, size)
        blocks = time.process_time() - t
        got = {m["article_id"]: m["story_id"] for m in out["story_members"]}
        print(f"{name} {len(rr):,} (blocks of {size}): exact CPU {exact:.1f} s, blocks {blocks:.1f} s "
              f"({blocks / exact:.2f}x), B3 vs exact {agreement(got, ref)['f1']:.4f}", flush=True)


def dense_blocks(n: int, per_day: int, size: int) -> None:
    """The block plan on a dense stream, no Spark: the local driver (``run_blocks_locally``) against one run over
    every article (text parts shipped to both), with the links the reconciliation receives."""
    from storyloom.batch import storyblocks
    from storyloom.batch.stages import batch_settings, run_story_block, story_parts
    from storyloom.settings import Settings
    from storyloom.stories import agreement

    s = batch_settings(Settings(db_path=str(Path(tempfile.mkdtemp(prefix="storyloom-bench-")) / "unused.db")))
    ing = "2026-01-01T00:00:00+00:00"
    rows = [{**r, "group_id": "g" + r["id"]} for r in synthetic_rows(n, per_day)]
    t = time.process_time()
    one = [{**{k: v for k, v in r.items() if k != "text"}, "rank": i, "seg": 0, "prior_df": {} if i == 0 else None,
            "prior_docs": 0, **{k: v for k, v in story_parts(r["title"], r["text"]).items() if k != "terms"}}
           for i, r in enumerate(rows)]
    ref = {r["article_id"]: r["story_id"] for tb, r in run_story_block(one, s, ing) if tb == "story_members"}
    exact = time.process_time() - t
    links: list[Any] = []
    assemble = storyblocks.assemble

    def spy(results: Any, home: Any, rows_: Any) -> Any:  # the links the reconciliation receives
        links.extend(link for res in results for link in storyblocks.links_of(res, home))
        return assemble(results, home, rows_)

    storyblocks.assemble = spy
    try:
        t = time.process_time()
        out = storyblocks.run_blocks_locally(rows, s, ing, size)
        blocks = time.process_time() - t
    finally:
        storyblocks.assemble = assemble
    got = {m["article_id"]: m["story_id"] for m in out["story_members"]}
    nb = -(-n // size)
    print(f"{n:,} articles, {per_day:,} a day, blocks of {size:,} ({nb}): CPU exact {exact:.1f} s, blocks {blocks:.1f} s; "
          f"{len(links):,} links ({len(links) / max(1, nb - 1):,.0f} a boundary); {len(set(ref.values())):,} stories; "
          f"B3 vs exact {agreement(got, ref)}; same ids {got == ref}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[100_000])
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--block-articles", type=int, default=None, help="articles per block (default: sized by the stage)")
    ap.add_argument("--real-block-articles", type=int, default=100)
    ap.add_argument("--no-real", action="store_true")
    ap.add_argument("--json", help="also write the numbers to this file")
    ap.add_argument("--in-process", type=int, metavar="N", help="only: the story work without Spark (see in_process)")
    ap.add_argument("--density", type=int, nargs="+", metavar="PER_DAY",
                    help="only: a block run's cost per row at these articles a day, over --n[0] articles (see density)")
    ap.add_argument("--dense-blocks", type=int, nargs=2, metavar=("PER_DAY", "BLOCK"),
                    help="only: the local block driver on a stream of --n[0] articles at PER_DAY, blocks of BLOCK")
    args = ap.parse_args()
    if args.dense_blocks:
        dense_blocks(args.n[0], *args.dense_blocks)
        return
    if args.density:
        density(args.n[0], args.density)
        return
    if args.in_process:
        in_process(args.in_process)
        return

    from storyloom.batch.spark import spark_session
    from storyloom.settings import Settings
    from storyloom.stories import agreement

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    tmp = Path(tempfile.mkdtemp(prefix="storyloom-bench-sparkstories-"))
    settings = Settings(db_path=str(tmp / "unused.db"))
    spark = spark_session(args.master, {"spark.ui.enabled": "true", "spark.ui.port": "4078",
                                        "spark.ui.retainedStages": "10000", "spark.ui.retainedTasks": "1000000",
                                        "spark.ui.retainedJobs": "10000", "spark.sql.ui.retainedExecutions": "10"})
    sets: list[tuple[str, list[dict[str, Any]], dict[str, str] | None, int | None]] = []
    for n in args.n:
        if n:
            sets.append((f"synthetic {n:,}", synthetic_rows(n), None, args.block_articles))
    if not args.no_real:
        rows, gold = real_rows()
        sets.append((f"real {len(rows):,} (basil+wmt21+aeb+chains)", rows, gold, args.real_block_articles))
    results = []
    try:
        for k, (name, rows, gold, size) in enumerate(sets):
            one = run_stage(spark, settings, rows, f"{k}/exact/", False, None)
            print(f"{name}: exact {one['wall']:.1f} s, {one['tasks']} tasks, largest {one['largest']:.1f} s", flush=True)
            dist = run_stage(spark, settings, rows, f"{k}/blocks/", True, size)
            agree = agreement(dist["members"], one["members"])
            print(f"{name}: blocks {dist['wall']:.1f} s, {dist['tasks']} tasks, largest {dist['largest']:.1f} s, "
                  f"B3 {agree}", flush=True)
            res = {"name": name, "n": len(rows), "exact": one, "blocks": dist, "agreement": agree,
                   "same_ids": dist["members"] == one["members"]}
            if gold is not None:
                res["gold"] = {"exact": agreement(one["members"], gold), "blocks": agreement(dist["members"], gold)}
            results.append(res)
    finally:
        spark.stop()
    report(results, args.master)
    if args.json:
        for r in results:
            for k in ("exact", "blocks"):
                r[k].pop("members")
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))


def report(results: list[dict[str, Any]], master: str) -> None:
    print(f"\nmachine: {os.cpu_count()} CPUs, Spark {master}, load average at the end {os.getloadavg()[0]:.1f}\n")
    print("| input | stage | blocks | warm-up rows | load avg start→end | wall s | CPU s (sampled) | CPU s (reaped only) | tasks | task s | largest task s | largest ÷ task s "
          "| largest ÷ CPU | wall ÷ exact | B³ P / R / F1 vs exact | same ids |")
    print("|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for r in results:
        for kind in ("exact", "blocks"):
            x = r[kind]
            g = r["agreement"]
            print(f"| {r['name']} | {kind} | {x['counts'].get('story_blocks', '—')} | "
                  f"{x['counts'].get('story_warmup_rows', '—')} | {x['load'][0]:.1f}→{x['load'][1]:.1f} | {x['wall']:.1f} | "
                  f"{x['cpu']:.1f} | {x['cpu_reaped']:.1f} | {x['tasks']} | "
                  f"{x['task_s']:.1f} | {x['largest']:.1f} | {x['largest'] / max(x['task_s'], 1e-9):.1%} | "
                  f"{x['largest'] / max(x['cpu'], 1e-9):.1%} | {x['wall'] / r['exact']['wall']:.2f} | "
                  + (f"{g['precision']:.4f} / {g['recall']:.4f} / {g['f1']:.4f} | {r['same_ids']} |" if kind == "blocks"
                     else "(reference) | |"))
    print("\nSimulated wall time of the story stage (s): the measured tasks of each Spark stage scheduled longest "
          "first on E executors, stage after stage")
    print("; 'uncontended': every task time scaled by the stage's CPU ÷ Σ task s (task times are wall times, "
          "inflated when other jobs share the cores; the CPU is not)")
    print("| input | stage | " + " | ".join(f"E = {e}" for e in EXECUTORS) + " | one core (Σ task s) | "
          + " | ".join(f"E = {e}, uncontended" for e in EXECUTORS) + " |")
    print("|---|---|" + "---:|" * (2 * len(EXECUTORS) + 1))
    for r in results:
        for kind in ("exact", "blocks"):
            x = r[kind]
            scale = min(1.0, x["cpu"] / max(x["task_s"], 1e-9))
            print(f"| {r['name']} | {kind} | " + " | ".join(f"{x['sim'][e]:.1f}" for e in EXECUTORS)
                  + f" | {x['task_s']:.1f} | " + " | ".join(f"{scale * x['sim'][e]:.1f}" for e in EXECUTORS) + " |")
    for r in results:
        if "gold" in r:
            g = r["gold"]
            print(f"\n{r['name']}: B³ F1 against the gold stories (lexical+entity scoring, no embeddings): exact "
                  f"{g['exact']['f1']:.4f}, blocks {g['blocks']['f1']:.4f}")
    for r in results:
        for kind in ("exact", "blocks"):
            x = r[kind]
            t0 = min((st["start"] for st in x["stage_info"]), default=0.0)
            print(f"\n{r['name']}, {kind}: where the wall goes, Spark stage by stage (wall from submission to completion; "
                  f"stages of concurrent jobs overlap; JVM CPU excludes the Python workers)")
            print("| start s | wall s | tasks | task s | JVM CPU s | shuffle MB | job / stage | call site |")
            print("|---:|---:|---:|---:|---:|---:|---|---|")
            for st in x["stage_info"]:
                print(f"| {st['start'] - t0:.1f} | {st['wall']:.1f} | {st['tasks']} | {st['task_s']:.1f} | "
                      f"{st['jvm_cpu']:.1f} | {st['shuffle_mb']:.1f} | {st['job']}/{st['stage']} | {st['name']} |")
    for r in results:
        b = r["blocks"]
        # the block runs: the stage with one task per block (the largest such)
        block_stage = max([s for s in b["stages"] if len(s) == b["counts"].get("story_blocks")] or b["stages"],
                          key=lambda s: sum(s))
        print(f"\n{r['name']}: the block runs' Spark stage: {len(block_stage)} tasks, {sum(block_stage):.1f} task s, "
              f"median {sorted(block_stage)[len(block_stage) // 2]:.2f} s, largest {max(block_stage):.2f} s; "
              f"{b['counts'].get('story_links', 0)} links reconciled; per article of the stream "
              f"{1000 * sum(block_stage) / r['n']:.2f} ms in block runs, {1000 * b['task_s'] / r['n']:.2f} ms in all; "
              f"per row a block run replays (own + warm-up): "
              f"{1000 * sum(block_stage) / (r['n'] + b['counts'].get('story_warmup_rows', 0)):.2f} ms; exact stage "
              f"{1000 * r['exact']['largest'] / r['n']:.2f} ms per article in its largest task")
        rows = r["n"] + b["counts"].get("story_warmup_rows", 0)
        print(f"{r['name']}: CPU of the story runs (Python workers, load-independent): exact {r['exact']['run_cpu']:.1f} s "
              f"({1000 * r['exact']['run_cpu'] / r['n']:.2f} ms an article, one task), blocks {b['run_cpu']:.1f} s "
              f"({1000 * b['run_cpu'] / rows:.2f} ms a replayed row, {b['counts'].get('story_blocks')} tasks); "
              f"the rest of the stage's CPU (process tree): exact {r['exact']['cpu'] - r['exact']['run_cpu']:.1f} s, "
              f"blocks {b['cpu'] - b['run_cpu']:.1f} s")


if __name__ == "__main__":
    main()
