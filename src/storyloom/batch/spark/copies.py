"""Copies on Spark: fingerprints, candidate pairs by self-joins on band and sentence keys, verification on the
real texts, and copy groups as connected components (iterative min-label propagation with pointer jumping, in
DataFrames: GraphFrames needs a JVM package from a Maven repository, which this project cannot fetch)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from storyloom.batch import stages
from storyloom.batch.spark.context import SparkRun
from storyloom.batch.tables import TABLES, ddl
from storyloom.copies.fingerprint import FEW_SENTENCE_KEYS


def fingerprints(job: SparkRun, articles: Any) -> Any:
    """Exact key, MinHash sketch, band keys and sentence keys of every article (the local stage's prints)."""
    from pyspark.sql import functions as F

    hook = job.hook
    schema = ddl("copy_prints") + ", `has_shingles` boolean"
    cols = [c.split("`")[1] for c in schema.split(", ")]

    def run(pid: int, rows: Iterator[Any]) -> Iterator[tuple[Any, ...]]:
        if hook is not None:
            hook("fingerprints", pid)
        for r in rows:
            fp = stages.fingerprint(r.id, r.text)
            yield tuple(fp[c] for c in cols)

    prints = job.spark.createDataFrame(articles.select("id", "text").rdd.mapPartitionsWithIndex(run), schema)
    # one bucket entry per exact class, as the local stage keeps them (storyloom.copies.classes): a member
    # other than the class's smallest id keeps no band or sentence keys
    reps = prints.filter("has_shingles").groupBy("exact").agg(F.min("article_id").alias("_rep"))
    member = prints.join(reps, "exact", "left").select(
        "*", (F.col("has_shingles") & (F.col("article_id") != F.col("_rep"))).alias("_member"))
    empty = F.array().cast("array<bigint>")
    return member.select(*[F.when(F.col("_member"), empty).otherwise(F.col(c)).alias(c) if c in ("bands", "skeys")
                           else F.col(c) for c in cols])


def candidates(job: SparkRun, prints: Any) -> Any:
    """Pairs (a < b) sharing a band key or enough sentence keys in buckets within the cap (class
    representatives only), and each exact class's star."""
    from pyspark.sql import functions as F

    cap = job.settings.copy_bucket_cap

    capped = 0

    def pairs(keys: Any, key: str) -> Any:
        nonlocal capped
        sizes = keys.groupBy(key).agg(F.count("*").alias("_size")).filter(F.col("_size") >= 2)
        sizes = job.keep(sizes)  # read twice: the buckets over the cap are counted, those within it joined
        capped += sizes.filter(F.col("_size") > cap).count()  # skipped, as the local stage skips (and logs) them
        usable = keys.join(sizes.filter(F.col("_size") <= cap).select(key), key)
        x, y = usable.alias("x"), usable.alias("y")
        return x.join(y, key).filter(F.col("x.id") < F.col("y.id"))

    bands = prints.select(F.col("article_id").alias("id"), F.explode("bands").alias("band"))
    by_band = pairs(bands, "band").select(F.col("x.id").alias("a"), F.col("y.id").alias("b"))
    sents = prints.select(F.col("article_id").alias("id"), F.explode("skeys").alias("skey"),
                          F.size("skeys").alias("nk"))
    shared = (pairs(sents, "skey").groupBy(F.col("x.id").alias("a"), F.col("y.id").alias("b"))
              .agg(F.count("*").alias("shared"), F.first("x.nk").alias("na"), F.first("y.nk").alias("nb")))

    def need(n: Any) -> Any:  # storyloom.copies.sentences_needed, as a column
        return F.when(n <= FEW_SENTENCE_KEYS, 1).otherwise(2)

    by_sent = shared.filter((F.col("shared") >= need(F.col("na"))) | (F.col("shared") >= need(F.col("nb")))).select("a", "b")
    # exact copies: a star from each class's smallest id (members hold no keys, so no other pair has them)
    exact = prints.filter("has_shingles").select(F.col("article_id").alias("id"), "exact")
    rep = exact.groupBy("exact").agg(F.min("id").alias("_min"))
    star = exact.join(rep, "exact").filter(F.col("id") != F.col("_min")).select(F.col("_min").alias("a"), F.col("id").alias("b"))
    job.report.counts["capped_buckets"] = capped  # band and sentence buckets, each counted once
    return by_band.unionByName(by_sent).unionByName(star).distinct()


def verify(job: SparkRun, pairs: Any, articles: Any) -> Any:
    """The copy links: every candidate pair decided on its two real texts, partitioned by ``a`` so a task
    meets the same text again and again (its print is cached)."""
    from pyspark.sql import functions as F

    texts = articles.select("id", "text")
    joined = (pairs.join(texts.select(F.col("id").alias("a"), F.col("text").alias("ta")), "a")
              .join(texts.select(F.col("id").alias("b"), F.col("text").alias("tb")), "b")
              .repartition(job.n, "a").sortWithinPartitions("a", "b"))
    hook = job.hook
    cols = [n for n, _ in TABLES["copy_links"]]

    def run(pid: int, rows: Iterator[Any]) -> Iterator[tuple[Any, ...]]:
        if hook is not None:
            hook("verify", pid)
        cache = stages.PrintCache()
        for r in rows:
            link = stages.verify_pair(cache, r.a, r.ta, r.b, r.tb)
            if link is not None:
                yield tuple(link[c] for c in cols)

    return job.spark.createDataFrame(joined.rdd.mapPartitionsWithIndex(run), ddl("copy_links"))


def components(job: SparkRun, links: Any, articles: Any) -> Any:
    """Copy groups: connected components of the links by min-label propagation with pointer jumping."""
    from pyspark.sql import functions as F

    if job.report.counts.get("copy_links") == 0:
        job.report.counts["component_rounds"] = 0
        return articles.select(F.col("id").alias("article_id"), F.concat(F.lit("g"), F.col("id")).alias("group_id"))
    edges = links.select(F.col("a").alias("src"), F.col("b").alias("dst"))
    both = job.keep(edges.unionByName(edges.select(F.col("dst").alias("src"), F.col("src").alias("dst"))))
    labels = both.groupBy(F.col("src").alias("v")).agg(F.least(F.min("dst"), F.first("src")).alias("l"))
    labels = labels.localCheckpoint()
    rounds = 0
    while True:
        rounds += 1
        sent = both.join(labels.withColumnRenamed("v", "src"), "src").select(F.col("dst").alias("v"), "l")
        new = labels.unionByName(sent).groupBy("v").agg(F.min("l").alias("l"))
        hop = new.select(F.col("v").alias("l"), F.col("l").alias("ll"))
        new = new.join(hop, "l", "left").select("v", F.least("l", F.coalesce("ll", "l")).alias("l"))
        new = new.localCheckpoint()
        changed = new.join(labels.withColumnRenamed("l", "old"), "v").filter(F.col("l") != F.col("old")).count()
        labels = new
        if changed == 0 or rounds > 100:
            break
    job.report.counts["component_rounds"] = rounds
    return (articles.select(F.col("id").alias("article_id"))
            .join(labels.withColumnRenamed("v", "article_id"), "article_id", "left")
            .select("article_id", F.concat(F.lit("g"), F.coalesce("l", "article_id")).alias("group_id")))
