"""One batch run on a SparkSession: clean, duplicates and versions, templates, copies, stories, output.

The stages themselves are in :mod:`storyloom.batch.spark.inputs`, :mod:`~storyloom.batch.spark.copies` and
:mod:`~storyloom.batch.spark.stories`; this module holds the run together (timers, job groups, what is kept
in memory between stages) and the cleaning stages, which share its document schema.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from storyloom.batch import stages
from storyloom.batch.report import BatchReport
from storyloom.batch.spark import copies, stories, storyblocks, translations
from storyloom.batch.spark.context import SparkRun
from storyloom.batch.spark.inputs import InputFile, list_inputs, parse
from storyloom.batch.spark.output import write_tables
from storyloom.batch.spark.session import spark_session
from storyloom.batch.tables import TABLES, ddl
from storyloom.settings import Settings

DOC_EXTRA = [("ord_file", "long"), ("ord_pos", "long"), ("status", "string"), ("reason", "string"),
             ("raw", "binary"), ("line_keys", "array<string>"),
             ("removed", "array<struct<start:long,end:long,reason:string,rule:string>>")]
DOC_COLUMNS = [
    "ord_file", "ord_pos", "status", "location", "reason", "id", "blob", "kind", "raw", "declared", "extra",
    "title", "text", "text_hash", "url", "canonical_url", "published", "date_flag", "outlet", "author", "language",
    "body", "meta", "template_group", "warnings", "line_keys", "removed",
]

# what later stages read of an article (the articles table's columns, its removed spans, its input order)
ARTICLE_COLUMNS = [c for c, _ in TABLES["articles"] if c != "ingested_at"] + ["removed", "ord_file", "ord_pos"]
INPUT_BYTES_PER_PARTITION = 16 << 20  # ~7,000 articles of plain-text JSONL (~250k band and sentence keys), fewer of HTML


def _doc_ddl() -> str:
    types = dict(TABLES["articles"])
    types.update({"location": "string", "reason": "string"})
    types.update(dict(DOC_EXTRA))
    return ", ".join(f"`{c}` {types[c]}" for c in DOC_COLUMNS)


class SparkBatch(SparkRun):
    """One run of the batch pipeline on a SparkSession; see :mod:`storyloom.batch.spark` for the stages."""

    def size_partitions(self, files: list[InputFile]) -> None:
        """Partitions by input size (one per ``INPUT_BYTES_PER_PARTITION``), never fewer than 2 × the cores: a
        task's share of a shuffle then stays about the same whatever the corpus (with a fixed count it grows
        with the corpus until a task's aggregation no longer fits its memory).  Adaptive execution still
        coalesces small shuffle partitions."""
        if not self.fixed_n:
            size = sum(f.size for f in files)
            self.n = max(self.n, -(-size // INPUT_BYTES_PER_PARTITION))
        self.spark.conf.set("spark.sql.shuffle.partitions", str(self.n))

    # -- 1-2. clean, duplicates and versions, templates ----------------------------------------------

    def clean(self, items: Any) -> Any:
        """Clean every item (first pass, no template counts): one row per item, article or error."""
        settings, hook = self.settings, self.hook

        def run(pid: int, rows: Iterator[tuple[int, int, Any]]) -> Iterator[tuple[Any, ...]]:
            if hook is not None:
                hook("clean", pid)
            for rank, pos, item in rows:
                row = stages.clean_item(item, settings)
                row["ord_file"], row["ord_pos"] = rank, pos
                yield tuple(row.get(c) for c in DOC_COLUMNS)

        return self.spark.createDataFrame(items.mapPartitionsWithIndex(run), _doc_ddl())

    def resolve(self, docs: Any) -> tuple[Any, Any, Any]:
        """Duplicates (same raw bytes: the first place seen wins) and versions (same URL and kind, new text)
        decided as :meth:`storyloom.store.Store.write_batch` decides them.  Returns (articles, sightings,
        errors); ``articles`` carries ``counted`` (a first version: it counts towards template lines)."""
        from pyspark.sql import functions as F
        from pyspark.sql.window import Window

        ok = docs.filter(F.col("status") == "ok")
        order = ["ord_file", "ord_pos"]
        first = ok.withColumn("_n", F.row_number().over(Window.partitionBy("blob").orderBy(*order)))
        firsts = first.filter(F.col("_n") == 1).drop("_n")
        dups = first.filter(F.col("_n") > 1).select("blob", "location")
        byurl = Window.partitionBy("url", "kind").orderBy(*order)
        prior = byurl.rowsBetween(Window.unboundedPreceding, -1)
        lag = F.lag("text_hash").over(byurl)
        firsts = firsts.withColumn("is_article", F.col("url").isNull() | lag.isNull() | (lag != F.col("text_hash")))
        firsts = firsts.withColumn(
            "previous_id",
            F.when(F.col("url").isNull(), F.lit(None)).otherwise(
                F.last(F.when(F.col("is_article"), F.col("id")), ignorenulls=True).over(prior)))
        firsts = firsts.withColumn("sighted_as", F.when(F.col("is_article"), F.col("id")).otherwise(F.col("previous_id")))
        firsts = self.keep(firsts, disk=True)
        articles = firsts.filter("is_article").withColumn(
            "counted", F.col("previous_id").isNull() & F.col("template_group").isNotNull())
        sightings = firsts.select(F.col("sighted_as").alias("article_id"), "location", "blob").unionByName(
            dups.join(firsts.select("blob", "sighted_as"), "blob")
            .select(F.col("sighted_as").alias("article_id"), "location", "blob"))
        errors = docs.filter(F.col("status") != "ok").select("location", "reason", "status")
        self.blobs = firsts.select(F.col("blob").alias("sha256"), F.length("raw").cast("long").alias("size"),
                                   F.col("raw").alias("data"))
        return articles, sightings, errors

    def templates(self, articles: Any) -> Any:
        """Re-clean, with corpus-wide template counts, the articles that have a line common enough in their
        group to be a template (every other article's result cannot change)."""
        from pyspark.sql import functions as F

        s = self.settings
        counted = articles.filter("counted")
        sizes = counted.groupBy("template_group").agg(F.count("*").alias("size"))
        lines = (counted.select("template_group", F.explode(F.array_distinct("line_keys")).alias("key"))
                 .groupBy("template_group", "key").agg(F.count("*").alias("n"))
                 .filter(F.col("n") >= s.template_min_count))
        own = F.col("counted").cast("long")
        mine = (articles.filter(F.col("template_group").isNotNull())
                .select("id", "template_group", "counted", F.explode(F.array_distinct("line_keys")).alias("key"))
                .join(lines, ["template_group", "key"]).join(sizes, "template_group")
                .withColumn("size_", F.col("size") - own).withColumn("n_", F.col("n") - own)
                .filter((F.col("size_") >= s.template_min_count)
                        & (F.col("n_") >= F.greatest(F.lit(float(s.template_min_count)),
                                                     F.lit(s.template_min_share) * F.col("size_"))))
                .groupBy("id").agg(F.first("size_").alias("t_size"),
                                   F.map_from_entries(F.collect_list(F.struct("key", "n_"))).alias("t_counts")))
        hits = articles.join(mine, "id", "left")
        plain = hits.filter(F.col("t_size").isNull()).drop("t_size", "t_counts")
        todo = hits.filter(F.col("t_size").isNotNull())
        cols = plain.columns
        settings, hook = self.settings, self.hook

        def run(pid: int, rows: Iterator[Any]) -> Iterator[tuple[Any, ...]]:
            if hook is not None:
                hook("templates", pid)
            for r in rows:
                d = r.asDict()
                size, counts = d.pop("t_size"), d.pop("t_counts")
                out = stages.reclean_row(d, int(size), {k: int(v) for k, v in counts.items()}, settings)
                yield tuple(out.get(c) for c in cols)

        again = self.spark.createDataFrame(todo.rdd.mapPartitionsWithIndex(run), plain.schema)
        return plain.unionByName(again).select(*ARTICLE_COLUMNS)

    # -- the whole run ----------------------------------------------------------------------------

    def run(self, inputs: list[str], out: str) -> BatchReport:
        from pyspark.sql import functions as F

        total = time.perf_counter()
        try:
            with self.stage("list"):
                files, walk_errors = list_inputs(self.spark, inputs)
                self.size_partitions(files)
            with self.stage("parse+clean"):
                docs = self.keep(self.clean(parse(self, files)), disk=True)
                self.report.counts["items"] = docs.count()
            with self.stage("resolve"):
                articles, sightings, errors = self.resolve(docs)
                if walk_errors:
                    errors = errors.unionByName(self.spark.createDataFrame(
                        [(e["location"], e["reason"], e["status"]) for e in walk_errors], ddl("errors")))
            with self.stage("templates"):
                articles = self.keep(self.templates(articles), disk=True)
                self.report.counts["articles"] = articles.count()
            with self.stage("fingerprints"):
                prints = self.keep(copies.fingerprints(self, articles), disk=True)
                prints.count()
            with self.stage("candidates"):
                pairs = self.keep(copies.candidates(self, prints))
                self.report.counts["candidate_pairs"] = pairs.count()
            with self.stage("verify"):
                links = self.keep(copies.verify(self, pairs, articles))
                self.report.counts["copy_links"] = links.count()
            if self.settings.translations:
                with self.stage("translations"):
                    found = self.keep(translations.translation_links(self, articles, prints, links))
                    self.report.counts["translation_links"] = found.count()
                    links = self.keep(links.unionByName(found))
                    self.report.counts["copy_links"] += self.report.counts["translation_links"]
            with self.stage("groups"):
                groups = self.keep(copies.components(self, links, articles))
            with self.stage("stories"):
                stage = storyblocks if self.story_blocks else stories
                members, story_rows, events, term_df = stage.stories(self, articles, groups)
                story_rows = self.keep(story_rows)
                self.report.counts["stories"] = story_rows.count()
            with self.stage("write"):
                tables = {
                    "articles": articles.withColumn("ingested_at", F.lit(self.ingested_at)),
                    "removed_spans": articles.select(F.col("id").alias("article_id"), F.explode("removed").alias("s"))
                    .select("article_id", "s.start", "s.end", "s.reason", "s.rule"),
                    "blobs": self.blobs,
                    "sightings": sightings,
                    "copy_prints": prints.withColumn("bands", F.array_sort("bands")).withColumn("skeys", F.array_sort("skeys")),
                    "copy_links": links, "copy_groups": groups, "stories": story_rows, "story_members": members,
                    "story_events": events, "term_df": term_df, "errors": errors,
                }
                write_tables(self.spark, tables, out, self._manifest, self._count_output)
        finally:
            self._release()  # a failed run does not leave its DataFrames cached in a session that goes on
        self.report.seconds["total"] = time.perf_counter() - total
        return self.report

    def _count_output(self, read: Any) -> None:
        """Outcome counts, from the written tables (Parquet footers: no pass over the data)."""
        from pyspark.sql import functions as F

        c = self.report.counts
        n = {t: read(t).count() for t in ("blobs", "sightings", "articles")}
        c["unchanged"] = n["blobs"] - n["articles"]
        c["duplicate"] = n["sightings"] - n["blobs"]
        for status, k in read("errors").groupBy("status").count().collect():
            c[status] = k
        c.setdefault("failed", 0)
        c.setdefault("skipped", 0)
        c["copy_groups"] = read("copy_groups").groupBy("group_id").count().filter(F.col("count") > 1).count()

    def _manifest(self) -> dict[str, Any]:
        return {"engine": "spark", "ingested_at": self.ingested_at, "counts": self.report.counts,
                "settings": {k: v for k, v in vars(self.settings).items() if k not in ("api_token",)},
                "notes": self.report.notes}


def run_spark(inputs: list[str], out: str, settings: Settings, *, master: str = "local[2]",
              spark: Any = None, **kw: Any) -> BatchReport:
    """Run the batch pipeline on Spark (a session is made for ``master`` unless one is given)."""
    own = spark is None
    spark = spark or spark_session(master)
    try:
        return SparkBatch(spark, settings, **kw).run(list(inputs), out)
    finally:
        if own:
            spark.stop()

