"""The distributed story stage on Spark: blocks of the stream clustered in parallel, then reconciled.

The plan and the reconciliation are :mod:`storyloom.batch.storyblocks` (pure Python, the same functions the
local check runs); this module moves the data.  Steps:

1. rank every article by (time, input order) (one sort); the driver gets the time of every block's first
   article only (one row per block) and broadcasts the plan;
2. each article goes to its own block and, as warm-up, to the later blocks whose overlap it falls in;
3. each article's text parts (terms, entities, round-up verdict) are computed once; they give the
   document-frequency keys and travel to the block runs instead of the text.  Exact document frequencies at
   each block's first row: for every (block, term) a block needs, the counts of the blocks before it (a
   running sum over term-sorted rows) minus the block's own warm-up's counts;
4. one task per block (a partitioner by block number) runs the local online stage over warm-up + own
   articles (:func:`storyloom.batch.stages.run_story_block`);
5. the links of block stories to the home stories of their warm-up articles (one row per story crossing a
   boundary) go to the driver, which reconciles them into final ids (broadcast back);
6. members and events are renamed, and each final story's row is combined from its blocks' rows.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from storyloom.batch import stages, storyblocks
from storyloom.batch.spark.context import SparkRun
from storyloom.batch.spark.output import bytes_hex


def ranked(job: SparkRun, base: Any) -> Any:
    """(id, rank, t): every article's global rank in (time, input order) and its time in seconds."""
    keyed = base.select("tkey", "ord_file", "ord_pos", "id").rdd.map(lambda r: ((r[0], r[1], r[2]), r[3]))
    rows = keyed.sortByKey(numPartitions=job.n).zipWithIndex().map(
        lambda kv: (kv[0][1], kv[1], stages.parse_time(kv[0][0][0])))
    out = job.keep(job.spark.createDataFrame(rows, "id string, rank long, t double"))
    out.count()
    return out


def assign(job: SparkRun, ranks: Any, n: int) -> tuple[Any, storyblocks.BlockPlan]:
    """(id, rank, block, own): each article in its own block, and once per block it warms up."""
    size = storyblocks.block_size(n, job.sc.defaultParallelism, job.story_block_articles)
    firsts = dict(ranks.filter(ranks["rank"] % size == 0).select("rank", "t").rdd.map(lambda r: (r[0] // size, r[1]))
                  .collect())
    plan = storyblocks.plan_from_firsts([firsts.get(b) for b in range(len(firsts))], size,
                                        storyblocks.overlap_days(job.settings))
    bplan = job.sc.broadcast(plan)

    def blocks_of(r: Any) -> Iterator[tuple[str, int, int, bool]]:
        p = bplan.value
        yield r.id, r.rank, p.core(r.rank), True
        for b in p.warm_blocks(r.rank, r.t):
            yield r.id, r.rank, b, False

    out = job.keep(job.spark.createDataFrame(ranks.rdd.flatMap(blocks_of), "id string, rank long, block long, own boolean"))
    job.report.counts["story_blocks"] = plan.blocks
    job.report.counts["story_warmup_rows"] = out.filter(~out["own"]).count()
    return out, plan


def priors(job: SparkRun, tdf: Any, placed: Any) -> tuple[Any, Any]:
    """(block, pdf): each block's document frequencies before its first row, for the terms its rows have; and
    (term, df) over all articles (the ``term_df`` table).  ``tdf``: every article's text parts and keys
    (:func:`storyloom.batch.spark.stories.text_parts`)."""
    from pyspark.sql import functions as F
    from pyspark.sql.window import Window

    # the (block, term) counts are kept (read twice: the priors and term_df), not the exploded rows they sum
    rows = placed.join(tdf.select("id", "terms"), "id").select("block", "own", F.explode("terms").alias("term"))
    counts = job.keep(rows.groupBy("block", "term").agg(F.sum(F.col("own").cast("long")).alias("c"),
                                                        F.sum((~F.col("own")).cast("long")).alias("w")))
    before = Window.partitionBy("term").orderBy("block").rowsBetween(Window.unboundedPreceding, -1)
    pdf = (counts.withColumn("prior", F.coalesce(F.sum("c").over(before), F.lit(0)) - F.col("w"))
           .filter(F.col("prior") > 0)
           .groupBy("block").agg(F.map_from_entries(F.collect_list(F.struct("term", "prior"))).alias("pdf")))
    term_df = counts.groupBy("term").agg(F.sum("c").alias("df")).filter(F.col("df") > 0)
    return pdf, term_df


def run_blocks(job: SparkRun, base: Any, placed: Any, pdf: Any, blocks: int, parts: Any) -> Any:
    """One task per block: the local online stage over its warm-up and own articles, each row carrying its
    text parts rather than its text (the text only when story embeddings need it).  Rows of the result:
    (kind, block, JSON) with kind member | story | event | warm | bridged."""
    from pyspark.sql import functions as F

    starts = placed.groupBy("block").agg(F.min("rank").alias("first_rank"))
    text = ["text"] if job.settings.story_embeddings else []
    rows = (base.select("id", "title", *text, "published", "date_flag", "outlet", "language", "group_id")
            .join(parts, "id").join(placed, "id").join(starts, "block").join(pdf, "block", "left")
            .withColumn("prior_df", F.when(F.col("rank") == F.col("first_rank"), F.col("pdf")))
            .withColumn("prior_docs", F.col("first_rank")).withColumn("seg", F.col("block"))
            .select("block", "seg", "rank", "own", "id", "title", *text, "published", "date_flag", "outlet",
                    "language", "group_id", "parts", "prior_df", "prior_docs"))
    by_block = rows.rdd.keyBy(lambda r: int(r.block)).partitionBy(blocks, lambda b: b)
    hook, settings, ingested_at = job.hook, job.settings, job.ingested_at
    cpu = job.story_cpu = job.sc.accumulator(0.0)

    def run(pid: int, it: Iterator[tuple[int, Any]]) -> Iterator[tuple[str, int, str, str]]:
        if hook is not None:
            hook("stories", pid)
        start = time.process_time()
        yield from blocks_run(it)
        cpu.add(time.process_time() - start)

    def blocks_run(it: Iterator[tuple[int, Any]]) -> Iterator[tuple[str, int, str, str]]:
        got = sorted((r for _, r in it), key=lambda r: (r.block, r.rank))
        for b in sorted({r.block for r in got}):
            mine = [r.asDict() for r in got if r.block == b]
            own = {r["id"] for r in mine if r["own"]}
            res = storyblocks.split_block_output(b, stages.run_story_block(mine, settings, ingested_at), own)
            rank = {r["id"]: r["rank"] for r in mine}
            for m in res.members:
                yield "member", b, m["story_id"], json.dumps({**m, "rank": rank[m["article_id"]]})
            for s in res.stories:
                yield "story", b, s["id"], json.dumps(s, default=bytes_hex)
            for e in res.events:
                yield "event", b, e["story_id"], json.dumps(e)
            for aid, sid in res.warm:
                yield "warm", b, sid, json.dumps([aid, sid])
            for sid in sorted(res.bridged):
                yield "bridged", b, sid, json.dumps(sid)

    out = job.keep(job.spark.createDataFrame(by_block.mapPartitionsWithIndex(run),
                                             "kind string, block long, sid string, row string"))
    # materialised here, once: the joins that read it next run their sides as concurrent jobs (adaptive query
    # execution), and each would otherwise compute the block runs itself (measured: twice the stage's CPU)
    job.report.counts["story_block_rows"] = out.count()
    return out


def reconcile(job: SparkRun, out: Any) -> tuple[dict[storyblocks.Node, str], set[storyblocks.Node]]:
    """The driver's part: links of block stories to their warm-up articles' home stories (aggregated by
    Spark: one row per (story, home story)), the bridged stories, the first times of the stories linked.
    Returns the final id of every story linked, and the stories linked.

    It stays on the driver: the links are the only rows that travel, one per (story continuing across a block
    boundary, home story) — a block's stories of the warm-up alone send none (see bench/README.md for the
    counts measured and what they give at 100M) — and a union-find over them takes seconds where a label
    propagation on the cluster would take three Spark jobs per round."""
    from pyspark.sql import functions as F

    members = out.filter(F.col("kind") == "member").select(
        F.col("block").alias("hb"), F.get_json_object("row", "$.article_id").alias("aid"),
        F.col("sid").alias("hs"), F.get_json_object("row", "$.rank").cast("long").alias("rank"),
        F.get_json_object("row", "$.time").alias("time"), F.col("block"))
    warm = out.filter(F.col("kind") == "warm").select(
        "block", F.get_json_object("row", "$[0]").alias("aid"), F.col("sid").alias("story"))
    links = [(int(r[0]), r[1], int(r[2]), r[3], int(r[4]), int(r[5])) for r in
             warm.join(members.select("aid", "hb", "hs", "rank"), "aid")
             .groupBy("block", "story", "hb", "hs").agg(F.count("*").alias("k"), F.max("rank").alias("latest"))
             .orderBy("block", "story", "hb", "hs").collect()]
    bridged = [(int(r[0]), r[1]) for r in out.filter(F.col("kind") == "bridged").select("block", "sid").collect()]
    nodes = {(b, s) for b, s, *_ in links} | {(hb, hs) for _, _, hb, hs, _, _ in links}
    wanted = job.spark.createDataFrame(sorted(nodes) or [(-1, "")], "block long, story string")
    firsts = {(int(r[0]), r[1]): r[2] for r in members.join(
        F.broadcast(wanted), (members["hb"] == wanted["block"]) & (members["hs"] == wanted["story"]))
        .groupBy(wanted["block"], wanted["story"]).agg(F.min("time")).collect()}
    job.report.counts["story_links"] = len(links)
    return storyblocks.reconcile(links, bridged, firsts), nodes


def stories(job: SparkRun, articles: Any, groups: Any) -> tuple[Any, Any, Any, Any]:
    """The story tables (members, stories, events) and ``term_df``, computed block by block."""
    from pyspark.sql import functions as F

    from storyloom.batch.spark.stories import _table, story_base, text_parts

    base = story_base(job, articles, groups)
    ranks = ranked(job, base)
    n = ranks.count()  # materialised by ranked: no second sort
    placed, plan = assign(job, ranks, n)
    tdf = text_parts(job, base)
    pdf, term_df = priors(job, tdf, placed)
    parts = tdf.select("id", "parts")
    out = run_blocks(job, base, placed, pdf, max(1, plan.blocks), parts)
    final_ids, nodes = reconcile(job, out)
    final = job.sc.broadcast(final_ids)
    info = base.select("id", "outlet", "language")

    def rename(r: Any) -> tuple[str, str]:
        row, fin = json.loads(r.row), final.value
        if r.kind == "member":
            row.pop("rank", None)
            row["story_id"] = fin.get((r.block, row["story_id"]), row["story_id"])
            return "story_members", json.dumps(row)
        for k in ("story_id", "other_id"):
            if row[k] is not None:
                row[k] = fin.get((r.block, row[k]), row[k])
        return "story_events", json.dumps(row)

    renamed = out.filter(F.col("kind").isin("member", "event")).rdd.map(rename).filter(
        lambda tr: tr[0] != "story_events" or not _self_merge(tr[1]))
    members = job.keep(job.spark.createDataFrame(renamed, "t string, row string"))
    members.count()  # read by two joins below (see run_blocks)
    # only the stories the reconciliation linked are combined (fid: their final id); the rest stand as their
    # block wrote them (see storyblocks.assemble)
    linked = F.broadcast(job.spark.createDataFrame(sorted((b, s, final_ids[(b, s)]) for b, s in nodes)
                                                   or [(-1, "", "")], "block long, sid string, fid string"))
    story_rows = out.filter(F.col("kind") == "story").join(linked, ["block", "sid"], "left")
    mrows = (out.filter(F.col("kind") == "member").join(linked, ["block", "sid"])
             .select(F.col("fid").alias("sid"), F.get_json_object("row", "$.article_id").alias("id"),
                     F.get_json_object("row", "$.time").alias("time"))
             .join(info, "id").groupBy("sid")
             .agg(F.collect_list(F.struct("time", "outlet", "language")).alias("members")))
    # spread over as many tasks as there are blocks: adaptive execution coalesced it to 3 tasks at 50k, and the
    # largest of them (42 s) was then the stage's largest task
    grouped = (story_rows.filter(F.col("fid").isNotNull()).groupBy(F.col("fid").alias("sid"))
               .agg(F.collect_list("row").alias("parts")).join(mrows, "sid")
               .repartition(max(job.n, plan.blocks), "sid"))

    def combine(r: Any) -> tuple[str, str]:
        rows = [json.loads(p) for p in r.parts]
        for p in rows:
            if p.get("centroid") is not None:
                p["centroid"] = bytes.fromhex(p["centroid"])
        rec = storyblocks.combine_story(r.sid, rows, [(m.time, m.outlet, m.language) for m in r.members])
        return "stories", json.dumps(rec, default=bytes_hex)

    # kept and counted: each of the three tables is read by its own action (a union read three times ran the
    # combination three times, a third of the stage at 50k)
    combined = job.spark.createDataFrame(grouped.rdd.map(combine), "t string, row string")
    plain = story_rows.filter(F.col("fid").isNull()).select(F.lit("stories").alias("t"), "row")
    story_out = job.keep(combined.unionByName(plain))
    job.report.counts["stories"] = story_out.count()
    job.report.counts["stories_combined"] = len(set(final_ids.values()))
    return (_table(job, members, "story_members"), _table(job, story_out, "stories"),
            _table(job, members, "story_events"), term_df)


def _self_merge(row: str) -> bool:
    """A merge event between two stories the reconciliation made one (left out, as the local driver does)."""
    d = json.loads(row)
    return bool(d.get("kind") == "merge" and d.get("story_id") == d.get("other_id"))
