"""Translated copies on Spark: the local stage's candidates and cascade (:mod:`storyloom.copies.transsearch`),
with joins instead of store look-ups.

1. **lookers** — every article with a language that is not a member of another article's exact class (the
   local stage's class representatives and texts without words): anchor keys, day, and the fast model's title +
   lead vector, computed per partition (:func:`storyloom.batch.translations.looker_rows`);
2. **candidates** — pairs sharing ``ANCHOR_CANDIDATE_MIN`` anchor keys in buckets within ``copy_bucket_cap``
   (a self-join), and each looker's nearest earlier leads in another language (the vectors are collected and
   broadcast: 512 float32 numbers an article, the exact values the local stage compares, 200 MB at 100k articles), less the pairs linked as copies;
3. **judge** — the cascade on both articles' texts, partitioned by ``a`` so a task meets the same article
   again and its embeddings are cached.

Rank (which article came first) is the input order (``ord_file``, ``ord_pos``), the order the local batch
stores articles in.  Where the two engines may differ: a bucket of anchors counted at its final size here, at
its size when looked up there (only a bucket crossing the cap); an exact class whose smallest id arrives after
another member in a later chunk (locally both members looked, here only the smallest: the same groups, links
from another member); and USE's last bits in another batch composition (int8 rounding, below every
threshold's resolution).  Memory: the broadcast pool is 2 KB an article (200 MB at 100k).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from storyloom.batch import translations as bt
from storyloom.batch.spark.context import SparkRun
from storyloom.batch.tables import TABLES, ddl
from storyloom.copies.transsearch import ANCHOR_CANDIDATE_MIN

LOOKER_DDL = "`id` string, `rank` long, `language` string, `day` long, `akeys` array<long>, `vec` binary"


def lookers(job: SparkRun, articles: Any, prints: Any) -> Any:
    """Anchor keys, day and fast vector of every article that looks for its translations."""
    from pyspark.sql import functions as F

    reps = prints.filter("has_shingles").groupBy("exact").agg(F.min("article_id").alias("_rep"))
    looking = (prints.join(reps, "exact", "left")
               .filter(~F.col("has_shingles") | (F.col("article_id") == F.col("_rep")))
               .select(F.col("article_id").alias("id")))
    rows = (articles.filter(F.col("language").isNotNull()).join(looking, "id")
            .select("id", "title", "text", "language", "published",
                    (F.col("ord_file") * F.lit(1 << 32) + F.col("ord_pos")).alias("rank")))
    settings, hook = job.settings, job.hook
    cols = [c.split("`")[1] for c in LOOKER_DDL.split(", ")]

    def run(pid: int, it: Iterator[Any]) -> Iterator[tuple[Any, ...]]:
        if hook is not None:
            hook("translations", pid)
        for out in bt.looker_rows((r.asDict() for r in it), settings):
            yield tuple(out[c] for c in cols)

    return job.spark.createDataFrame(rows.rdd.mapPartitionsWithIndex(run), LOOKER_DDL)


def candidates(job: SparkRun, looked: Any, links: Any) -> Any:
    """(a, b), a < b: pairs by shared anchors and by nearest leads, less the pairs already linked as copies."""
    from pyspark.sql import functions as F

    cap = job.settings.copy_bucket_cap
    keys = looked.select("id", "language", F.explode("akeys").alias("akey"))
    sizes = keys.groupBy("akey").agg(F.count("*").alias("_n")).filter((F.col("_n") >= 2) & (F.col("_n") <= cap))
    usable = keys.join(sizes.select("akey"), "akey")
    x, y = usable.alias("x"), usable.alias("y")
    by_anchor = (x.join(y, "akey").filter((F.col("x.id") < F.col("y.id")) & (F.col("x.language") != F.col("y.language")))
                 .groupBy(F.col("x.id").alias("a"), F.col("y.id").alias("b")).count()
                 .filter(F.col("count") >= ANCHOR_CANDIDATE_MIN).select("a", "b"))
    embedded = looked.filter(F.col("vec").isNotNull()).select("id", "rank", "language", "day", "vec")
    settings = job.settings
    pool = job.sc.broadcast(bt.pool_of([tuple(r) for r in embedded.collect()], settings))

    def near(it: Iterator[Any]) -> Iterator[tuple[str, str]]:
        yield from bt.nearest_pairs((tuple(r) for r in it), pool.value, settings)

    by_lead = job.spark.createDataFrame(embedded.rdd.mapPartitions(near), "`a` string, `b` string")
    linked = links.select("a", "b")
    return by_anchor.unionByName(by_lead).distinct().join(linked, ["a", "b"], "left_anti")


def judge(job: SparkRun, pairs: Any, articles: Any) -> Any:
    """The translation links among the candidate pairs (``copy_links`` rows)."""
    from pyspark.sql import functions as F

    fields = ("title", "text", "language", "published")

    def side(s: str) -> Any:
        return articles.select(F.col("id").alias(s), *[F.col(f).alias(f"{f}_{s}") for f in fields])

    joined = pairs.join(side("a"), "a").join(side("b"), "b").repartition(job.n, "a").sortWithinPartitions("a", "b")
    settings, hook = job.settings, job.hook
    cols = [n for n, _ in TABLES["copy_links"]]

    def run(pid: int, it: Iterator[Any]) -> Iterator[tuple[Any, ...]]:
        if hook is not None:
            hook("translations", pid)
        for link in bt.judge_rows((r.asDict() for r in it), settings):
            yield tuple(link[c] for c in cols)

    return job.spark.createDataFrame(joined.rdd.mapPartitionsWithIndex(run), ddl("copy_links"))


def translation_links(job: SparkRun, articles: Any, prints: Any, links: Any) -> Any:
    """Every translation link of the batch (see the module docstring)."""
    looked = job.keep(lookers(job, articles, prints), disk=True)
    pairs = job.keep(candidates(job, looked, links))
    job.report.counts["translation_pairs"] = pairs.count()
    return judge(job, pairs, articles)
