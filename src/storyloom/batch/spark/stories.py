"""Stories on Spark: the local online clustering, run block by block on executors.

Articles are sorted by (time, input order) and cut into *segments* wherever two consecutive articles are more
than 2 × the stories' horizon (``max(story_window_days, story_reach_max_days)``) apart (no story can reach
across such a gap); segments sharing a copy group form
one *block*; each block runs :func:`storyloom.batch.stages.run_story_block` (the local
:func:`storyloom.stories.build_stories` in a scratch store), segment by segment, each segment starting from the
exact document frequencies of everything before it (a Spark aggregation).  This gives the local rebuild's result.
Limitation: one block runs on one executor, and a continuous news stream is one block.  With ``block_days`` the
segments are also cut at calendar windows of that many days and every window is its own block (document
frequencies still exact): parallel, but a story is not continued across a cut — approximate.  The distributed
stage that does continue stories across its cuts is :mod:`storyloom.batch.spark.storyblocks`.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

from storyloom.batch import stages
from storyloom.batch.spark.context import SparkRun
from storyloom.batch.spark.output import bytes_hex
from storyloom.batch.tables import TABLES, ddl

WINDOWS = 10_000_000  # segment id × this + calendar window: ids that still sort by time
STORY_TABLES = ("story_members", "stories", "story_events")


def place(job: SparkRun, base: Any) -> Any:
    """(id, rank, seg) of every article: its global rank in (time, input order) and its segment.

    One sort; each sorted partition is summarised (count, first and last time, gaps inside) on the driver,
    which then knows where every partition's ranks and segments start, so the assignment is one more pass."""
    cut = 2 * max(job.settings.story_window_days, job.settings.story_reach_max_days) * 86400.0
    keyed = base.select("tkey", "ord_file", "ord_pos", "id").rdd.map(lambda r: ((r[0], r[1], r[2]), r[3]))
    ordered = keyed.sortByKey(numPartitions=job.n).persist()

    def summary(pid: int, rows: Iterator[Any]) -> Iterator[tuple[int, int, float | None, float | None, int]]:
        count, first, last, breaks = 0, None, None, 0
        for (tkey, _, _), _ in rows:
            t = stages.parse_time(tkey)
            count += 1
            if t is None:
                continue
            if first is None:
                first = t
            elif last is not None and t - last > cut:
                breaks += 1
            last = t
        yield pid, count, first, last, breaks

    starts: dict[int, tuple[int, int]] = {}
    seg, rank, prev_last = -1, 0, None
    for pid, count, first, last, breaks in sorted(ordered.mapPartitionsWithIndex(summary).collect()):
        if count == 0:
            continue
        if seg < 0 or (first is not None and prev_last is not None and first - prev_last > cut):
            seg += 1
        starts[pid] = (seg, rank)
        seg += breaks
        rank += count
        prev_last = last if last is not None else prev_last
    info = job.sc.broadcast(starts)
    width = job.block_days * 86400.0 if job.block_days else 0.0

    def assign(pid: int, rows: Iterator[Any]) -> Iterator[tuple[str, int, int]]:
        if pid not in info.value:
            return
        s, r = info.value[pid]
        last, window = None, 0
        for (tkey, _, _), aid in rows:
            t = stages.parse_time(tkey)
            if t is not None:
                if last is not None and t - last > cut:
                    s += 1
                last = t
                window = int(t // width) if width else 0
            # forced cuts (approximate mode): a segment is split at calendar windows of block_days
            yield aid, r, s * WINDOWS + window if width else s
            r += 1

    placed = job.keep(job.spark.createDataFrame(ordered.mapPartitionsWithIndex(assign), "id string, rank long, seg long"))
    placed.count()
    ordered.unpersist()
    job.report.counts["story_segments"] = seg + 1
    if width:
        job.report.counts["story_windows"] = placed.select("seg").distinct().count()
    return placed


def blocks(job: SparkRun, placed: Any, base: Any) -> tuple[Any, bool]:
    """(seg, block) for the segments merged into an earlier one's block, and whether there are any.

    Segments sharing a copy group are one block (a later copy joins the story of an earlier one); with forced
    cuts every window is a block of its own (a copy across a cut is judged on its words)."""
    from pyspark.sql import functions as F

    spans = [] if job.block_days else (
        placed.join(base.select("id", "group_id"), "id").groupBy("group_id")
        .agg(F.collect_set("seg").alias("segs")).filter(F.size("segs") > 1).select("segs").collect())
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for row in spans:
        segs = sorted(row.segs)
        for other in segs[1:]:
            ra, rb = find(segs[0]), find(other)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    merged = [(s, find(s)) for s in parent]
    return job.spark.createDataFrame(merged, "seg long, block long"), bool(merged)


# an article's text parts travel as one JSON string (see stages.packed_parts): as a map<string,double> column,
# converting each article's few hundred terms between Python and the JVM cost more than computing them
PARTS = "id string, parts string, terms array<string>"


def text_parts(job: SparkRun, base: Any) -> Any:
    """(id, parts, terms): every article's text parts (terms, entities, round-up verdict: see
    :func:`storyloom.batch.stages.story_parts`), computed here once, in parallel, and its document-frequency
    keys.  Both story stages count the frequencies from the keys and ship the parts to their block runs in place
    of the text, so no block run splits, tokenises or scans a text again (kept on disk: read twice)."""

    def parts(rows: Iterator[Any]) -> Iterator[tuple[Any, ...]]:
        for r in rows:
            p = stages.story_parts(r.title, r.text)
            yield r.id, stages.packed_parts(p), p["terms"]

    return job.keep(job.spark.createDataFrame(base.select("id", "title", "text").rdd.mapPartitions(parts), PARTS),
                    disk=True)


def prior_frequencies(job: SparkRun, tdf: Any, placed: Any) -> tuple[Any, Any]:
    """(seg, pdf): the document frequencies of every term over all earlier segments, exactly as the local run
    counts them; and the (seg, term, c) counts they were summed from (the corpus's ``term_df`` table).  ``tdf``:
    :func:`text_parts`."""
    from pyspark.sql import functions as F
    from pyspark.sql.window import Window

    seg_terms = job.keep(tdf.select("id", "terms").join(placed, "id").select("seg", F.explode("terms").alias("term"))
                         .groupBy("seg", "term").agg(F.count("*").alias("c")))
    before = Window.partitionBy("term").orderBy("seg").rowsBetween(Window.unboundedPreceding, -1)
    priors = (seg_terms.withColumn("prior", F.coalesce(F.sum("c").over(before), F.lit(0))).filter(F.col("prior") > 0)
              .groupBy("seg").agg(F.map_from_entries(F.collect_list(F.struct("term", "prior"))).alias("pdf")))
    return priors, seg_terms


def story_base(job: SparkRun, articles: Any, groups: Any) -> Any:
    """What either story stage reads of each article, with its copy group and the time it is ordered by (its
    publication time, else the batch's ingest time), kept on disk: every later step reads it again."""
    from pyspark.sql import functions as F

    return job.keep(articles.select("id", "title", "text", "published", "date_flag", "outlet", "language", "ord_file",
                                    "ord_pos")
                    .join(groups.withColumnRenamed("article_id", "id"), "id")
                    .withColumn("tkey", F.coalesce("published", F.lit(job.ingested_at))), disk=True)


def stories(job: SparkRun, articles: Any, groups: Any) -> tuple[Any, Any, Any, Any]:
    """The story tables (members, stories, events) and ``term_df``, as the local rebuild writes them."""
    from pyspark.sql import functions as F

    base = story_base(job, articles, groups)
    placed = place(job, base)
    merged, any_merged = blocks(job, placed, base)
    tdf = text_parts(job, base)
    priors, seg_terms = prior_frequencies(job, tdf, placed)
    firsts = placed.groupBy("seg").agg(F.min("rank").alias("first_rank"))
    text = ["text"] if job.settings.story_embeddings else []  # the text travels only for the embedder
    rows = (base.select("id", "title", *text, "published", "date_flag", "outlet", "language", "group_id")
            .join(tdf.select("id", "parts"), "id").join(placed, "id")
            .join(F.broadcast(merged) if any_merged else merged, "seg", "left")
            .withColumn("block", F.coalesce("block", "seg"))
            .join(firsts, "seg").join(priors, "seg", "left")
            .withColumn("prior_df", F.when(F.col("rank") == F.col("first_rank"), F.col("pdf")))
            .withColumn("prior_docs", F.col("first_rank"))
            .select("block", "seg", "rank", "id", "title", *text, "published", "date_flag", "outlet", "language",
                    "group_id", "parts", "prior_df", "prior_docs")
            .repartition(job.n, "block").sortWithinPartitions("block", "rank"))
    hook, settings, ingested_at = job.hook, job.settings, job.ingested_at
    cpu = job.story_cpu = job.sc.accumulator(0.0)

    def run(pid: int, it: Iterator[Any]) -> Iterator[tuple[str, str]]:
        if hook is not None:
            hook("stories", pid)
        start = time.process_time()
        for _, block_rows in itertools.groupby(it, key=lambda r: r.block):
            for table, row in stages.run_story_block((r.asDict() for r in block_rows), settings, ingested_at):
                yield table, json.dumps(row, default=bytes_hex)
        cpu.add(time.process_time() - start)

    out = job.keep(job.spark.createDataFrame(rows.rdd.mapPartitionsWithIndex(run), "t string, row string"))
    term_df = seg_terms.groupBy("term").agg(F.sum("c").alias("df"))
    members, stories_, events = (_table(job, out, name) for name in STORY_TABLES)
    return members, stories_, events, term_df


def _table(job: SparkRun, out: Any, name: str) -> Any:
    """One story table out of the blocks' (table, JSON row) output, with its binary columns decoded."""
    from pyspark.sql import functions as F

    cols = [c for c, _ in TABLES[name]]
    binary = {c for c, t in TABLES[name] if t == "binary"}

    def decode(r: Any) -> tuple[Any, ...]:
        d = json.loads(r.row)
        return tuple(bytes.fromhex(d[c]) if c in binary and d[c] is not None else d[c] for c in cols)

    return job.spark.createDataFrame(out.filter(F.col("t") == name).rdd.map(decode), ddl(name))
