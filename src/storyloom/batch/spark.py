"""The batch pipeline on Apache Spark: the local pipeline's stage functions, run over partitions.

Imported only when used (``storyloom batch --engine spark``); PySpark is an optional extra.

Stages, each calling the same functions as the local run (through :mod:`storyloom.batch.stages`):

1. **parse** — JSONL through Spark's text reader (split files, line numbers recovered from the split
   offsets), Parquet rows, and whole files (WARC, HTML, text, JSON, feeds, JSONL.gz) through the local
   readers of :mod:`storyloom.ingest` (a remote file is spooled to local disk first);
2. **clean** — :func:`storyloom.clean.clean` without template counts, then duplicates (same bytes) and
   versions (same URL) decided as the store decides them, template counts aggregated over the corpus by
   (template group, line key), and the articles that have a common-enough line cleaned again with the
   counts (their own line left out): the local pipeline's *re-cleaned* result (``storyloom clean``);
3. **fingerprints** — exact key, MinHash sketch, band keys, sentence keys;
4. **candidates** — self-joins on band key, sentence key and exact key, buckets larger than
   ``Settings.copy_bucket_cap`` skipped; **verify** on the real texts; **groups** by connected components
   (iterative min-label propagation with pointer jumping, in DataFrames: GraphFrames needs a JVM package
   from a Maven repository, which this project cannot fetch), ids ``"g" + min(member id)``;
5. **stories** — articles sorted by (time, input order) and cut into *segments* wherever two consecutive
   articles are more than 2 × ``story_window_days`` apart (no story can reach across such a gap); segments
   sharing a copy group form one *block*; each block runs :func:`storyloom.stories.build_stories` in a
   scratch store on an executor, segment by segment, starting each segment from the exact document
   frequencies of everything before it (a Spark aggregation).  This is the local rebuild's result.
   Limitation: one block runs on one executor, and a continuous news stream is one block.  With
   ``block_days`` the segments are also cut at calendar windows of that many days and every window is its
   own block (IDF still exact): parallel, but a story is not continued across a cut — approximate.

Outputs are Parquet tables (:mod:`storyloom.batch.tables`), swapped into place at the end of the run.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from storyloom.batch import stages
from storyloom.batch.tables import MANIFEST, TABLES, ddl
from storyloom.errors import BadInput, StoryloomError
from storyloom.settings import Settings

WINDOWS = 10_000_000  # segment id × this + calendar window: ids that still sort by time

DOC_EXTRA = [("ord_file", "long"), ("ord_pos", "long"), ("status", "string"), ("reason", "string"),
             ("raw", "binary"), ("line_keys", "array<string>"),
             ("removed", "array<struct<start:long,end:long,reason:string,rule:string>>")]
DOC_COLUMNS = [
    "ord_file", "ord_pos", "status", "location", "reason", "id", "blob", "kind", "raw", "declared", "extra",
    "title", "text", "text_hash", "url", "canonical_url", "published", "date_flag", "outlet", "author", "language",
    "body", "meta", "template_group", "warnings", "line_keys", "removed",
]


def _doc_ddl() -> str:
    types = dict(TABLES["articles"])
    types.update({"location": "string", "reason": "string"})
    types.update(dict(DOC_EXTRA))
    return ", ".join(f"`{c}` {types[c]}" for c in DOC_COLUMNS)


@dataclass
class BatchReport:
    engine: str
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"engine": self.engine, "counts": self.counts,
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()}, "notes": self.notes}


def spark_session(master: str = "local[2]", conf: dict[str, str] | None = None, app: str = "storyloom-batch") -> Any:
    """A SparkSession bound to 127.0.0.1 whose Python workers run this interpreter (when local)."""
    if master.startswith("local"):
        os.environ["PYSPARK_PYTHON"] = sys.executable
    else:
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise StoryloomError("the Spark engine needs PySpark: pip install 'storyloom[spark]'") from exc
    settings = {
        "spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1", "spark.ui.enabled": "false",
        "spark.sql.adaptive.enabled": "true", "spark.sql.shuffle.partitions": "8",
        "spark.python.worker.reuse": "true", "spark.sql.execution.arrow.pyspark.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
    }
    settings.update(conf or {})
    builder = SparkSession.builder.master(master).appName(app)
    for k, v in settings.items():
        builder = builder.config(k, v)
    return builder.getOrCreate()


# -- inputs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputFile:
    uri: str  # as Spark names it
    display: str  # as the local pipeline would write its location
    fmt: str  # jsonl (split by Spark) | parquet | whole (read by storyloom's own readers)
    size: int
    rank: int  # position in the local pipeline's walk order


def _is_local(inp: str) -> bool:
    return "://" not in inp and not inp.startswith("file:")


def list_inputs(spark: Any, inputs: list[str]) -> tuple[list[InputFile], list[dict[str, Any]]]:
    """Every input file, in the order the local pipeline walks them, through Hadoop's FileSystem (so any URI
    Spark reads works); plus the errors the walk itself finds (missing inputs, unknown file types)."""
    from storyloom.ingest.files import file_format

    jvm = spark.sparkContext._jvm
    hconf = spark.sparkContext._jsc.hadoopConfiguration()
    files: list[tuple[int, tuple[Any, ...], str, str, str, int]] = []
    errors: list[dict[str, Any]] = []
    for n, inp in enumerate(inputs):
        local = _is_local(inp)
        target = "file://" + str(Path(inp).resolve()) if local else inp
        hpath = jvm.org.apache.hadoop.fs.Path(target)
        fs = hpath.getFileSystem(hconf)
        if not fs.exists(hpath):
            errors.append(stages.error_row(inp, "no such file or directory", "failed"))
            continue
        status = fs.getFileStatus(hpath)
        root = unquote(status.getPath().toUri().getPath()).rstrip("/")
        if status.isFile():
            found = [(status, [Path(root).name])]
            explicit = True
        else:
            found, explicit = [], False
            it = fs.listFiles(hpath, True)
            while it.hasNext():
                st = it.next()
                rel = unquote(st.getPath().toUri().getPath())[len(root):].strip("/").split("/")
                if any(p.startswith(".") for p in rel):
                    continue
                found.append((st, rel))
        for st, rel in found:
            uri = st.getPath().toString()
            if local:
                display = str(Path(inp)) if explicit else str(Path(inp).joinpath(*rel))
            else:
                display = uri
            name = rel[-1].lower()
            fmt = "parquet" if name.endswith(".parquet") else file_format(name)
            if fmt is None:
                if explicit:
                    errors.append(stages.error_row(display, "unsupported file type (expected .txt .html .json "
                                                   ".jsonl .warc .rss .atom .xml .opml .parquet, or .gz of one)", "failed"))
                else:
                    errors.append(stages.error_row(display, "unknown file type", "skipped"))
                continue
            kind = "parquet" if fmt == "parquet" else ("jsonl" if fmt == "jsonl" and not name.endswith(".gz") else "whole")
            files.append((n, stages.walk_key(rel), uri, display, kind, int(st.getLen())))
    files.sort(key=lambda f: (f[0], f[1]))
    return [InputFile(uri, display, kind, size, rank) for rank, (_, _, uri, display, kind, size) in enumerate(files)], errors


def _norm(uri: str) -> str:
    return unquote(uri).replace("file:///", "file:/")


# -- the job --------------------------------------------------------------------------------------


class SparkBatch:
    """One run of the batch pipeline on a SparkSession; see the module docstring for the stages."""

    def __init__(self, spark: Any, settings: Settings, *, partitions: int | None = None,
                 ingested_at: str | None = None, hook: stages.Hook | None = None,
                 story_embeddings: bool = False, job_prefix: str = "", block_days: float | None = None) -> None:
        self.spark = spark
        self.block_days = block_days  # None: exact blocks; a number: also cut every so many days (approximate)
        self.job_prefix = job_prefix
        self.sc = spark.sparkContext
        self.settings = stages.batch_settings(settings, story_embeddings)
        self.n = partitions or max(2, self.sc.defaultParallelism * 2)
        self.ingested_at = ingested_at or datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.hook = hook
        self.report = BatchReport("spark")
        self.report.notes.append("translated copies are not detected in batch runs (Settings.translations=False)")
        if block_days:
            self.report.notes.append(f"stories: approximate, blocks cut every {block_days:g} days (a story is not "
                                     "continued across a cut)")
        if not story_embeddings:
            self.report.notes.append("stories use lexical and entity evidence only (Settings.story_embeddings=False)")
        self._cached: list[Any] = []

    # -- helpers ----------------------------------------------------------------------------------

    def _stage(self, name: str) -> Any:
        self.sc.setJobGroup(self.job_prefix + name, f"storyloom batch: {name}")
        return _Timer(self.report.seconds, name)

    def _keep(self, df: Any) -> Any:
        from pyspark import StorageLevel

        df = df.persist(StorageLevel.MEMORY_AND_DISK)
        self._cached.append(df)
        return df

    def _release(self) -> None:
        for df in self._cached:
            df.unpersist()
        self._cached.clear()

    # -- 1. parse + clean -------------------------------------------------------------------------

    def parse(self, files: list[InputFile]) -> Any:
        """An RDD of (ord_file, ord_pos, RawDoc | BadInput), spread over ``self.n`` partitions."""
        from pyspark.sql import functions as F
        from pyspark.sql.window import Window

        settings, spark = self.settings, self.spark
        parts = []
        jsonl = [f for f in files if f.fmt == "jsonl"]
        by_uri = {_norm(f.uri): (f.rank, f.display) for f in files}
        meta = self.sc.broadcast(by_uri)
        empty = [f for f in jsonl if f.size == 0]
        jsonl = [f for f in jsonl if f.size > 0]
        if empty:
            parts.append(self.sc.parallelize(
                [(f.rank, 0, stages.portable(BadInput(f.display, "empty file"))) for f in empty], 1))
        if jsonl:
            lines = (spark.read.option("lineSep", "\n").text([f.uri for f in jsonl])
                     .select(F.col("value").cast("binary").alias("line"), F.col("_metadata.file_path").alias("path"),
                             F.col("_metadata.file_block_start").alias("bstart"),
                             F.monotonically_increasing_id().alias("mid")))
            splits = lines.groupBy("path", "bstart").agg(F.count("*").alias("cnt"), F.min("mid").alias("first"))
            w = Window.partitionBy("path").orderBy("bstart").rowsBetween(Window.unboundedPreceding, -1)
            splits = splits.withColumn("before", F.coalesce(F.sum("cnt").over(w), F.lit(0)))
            numbered = (lines.join(F.broadcast(splits.select("path", "bstart", "before", "first")), ["path", "bstart"])
                        .select("path", "line", (F.col("before") + F.col("mid") - F.col("first") + 1).alias("lineno"))
                        .repartition(self.n))

            def jsonl_items(rows: Iterator[Any]) -> Iterator[tuple[int, int, Any]]:
                files_ = meta.value
                for r in rows:
                    rank, display = files_[_norm(r.path)]
                    item = stages.jsonl_line_item(r.line, f"{display}:{r.lineno}", settings)
                    if item is not None:
                        yield rank, r.lineno, stages.portable(item)

            parts.append(numbered.rdd.mapPartitions(jsonl_items))
        pq = [f for f in files if f.fmt == "parquet"]
        if pq:
            table = (spark.read.option("mergeSchema", "true").parquet(*[f.uri for f in pq])
                     .withColumn("__path", F.col("_metadata.file_path"))
                     .withColumn("__row", F.col("_metadata.row_index")).repartition(self.n))

            def parquet_items(rows: Iterator[Any]) -> Iterator[tuple[int, int, Any]]:
                files_ = meta.value
                for r in rows:
                    d = r.asDict(recursive=True)
                    path, row = d.pop("__path"), d.pop("__row")
                    rank, display = files_[_norm(path)]
                    yield rank, row, stages.portable(stages.record_item(d, f"{display}#{row}"))

            parts.append(table.rdd.mapPartitions(parquet_items))
        whole = [f for f in files if f.fmt == "whole"]
        local = [f for f in whole if f.uri.startswith("file:")]
        remote = [f for f in whole if not f.uri.startswith("file:")]
        if local:
            def local_items(fs: Iterator[InputFile]) -> Iterator[tuple[int, int, Any]]:
                for f in fs:
                    path = unquote(f.uri[len("file:"):]).replace("///", "/", 1) if f.uri.startswith("file:") else f.uri
                    use = f.display if os.path.exists(f.display) and os.path.samefile(f.display, path) else path
                    for i, item in enumerate(stages.file_items(use, f.display, settings)):
                        yield f.rank, i, stages.portable(item)

            parts.append(self.sc.parallelize(local, max(1, min(len(local), self.n))).mapPartitions(local_items))
        if remote:
            contents = spark.read.format("binaryFile").load([f.uri for f in remote]).select("path", "content")

            def remote_items(rows: Iterator[Any]) -> Iterator[tuple[int, int, Any]]:
                files_ = meta.value
                for r in rows:
                    rank, display = files_[_norm(r.path)]
                    folder = tempfile.mkdtemp(prefix="storyloom-spool-")
                    spool = os.path.join(folder, Path(unquote(r.path)).name)
                    try:
                        with open(spool, "wb") as fh:
                            fh.write(r.content)
                        for i, item in enumerate(stages.file_items(spool, display, settings)):
                            yield rank, i, stages.portable(item)
                    finally:
                        os.remove(spool)
                        os.rmdir(folder)

            parts.append(contents.rdd.mapPartitions(remote_items).repartition(self.n))
        if not parts:
            return self.sc.emptyRDD()
        return self.sc.union(parts) if len(parts) > 1 else parts[0]

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
        firsts = self._keep(firsts)
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
        return plain.unionByName(again)

    # -- 3-4. copies ------------------------------------------------------------------------------

    def fingerprints(self, articles: Any) -> Any:
        hook = self.hook
        schema = ddl("copy_prints") + ", `has_shingles` boolean"
        cols = [c.split("`")[1] for c in schema.split(", ")]

        def run(pid: int, rows: Iterator[Any]) -> Iterator[tuple[Any, ...]]:
            if hook is not None:
                hook("fingerprints", pid)
            for r in rows:
                fp = stages.fingerprint(r.id, r.text)
                yield tuple(fp[c] for c in cols)

        return self.spark.createDataFrame(articles.select("id", "text").rdd.mapPartitionsWithIndex(run), schema)

    def candidates(self, prints: Any) -> Any:
        """Pairs (a < b) sharing a band key or enough sentence keys in buckets within the cap, or an exact key."""
        from pyspark.sql import functions as F

        cap = self.settings.copy_bucket_cap

        def pairs(keys: Any, key: str) -> Any:
            sizes = keys.groupBy(key).agg(F.count("*").alias("_size"))
            usable = keys.join(sizes.filter((F.col("_size") >= 2) & (F.col("_size") <= cap)).select(key), key)
            x, y = usable.alias("x"), usable.alias("y")
            return x.join(y, key).filter(F.col("x.id") < F.col("y.id"))

        bands = prints.select(F.col("article_id").alias("id"), F.explode("bands").alias("band"))
        by_band = pairs(bands, "band").select(F.col("x.id").alias("a"), F.col("y.id").alias("b"))
        sents = prints.select(F.col("article_id").alias("id"), F.explode("skeys").alias("skey"),
                              F.size("skeys").alias("nk"))
        shared = (pairs(sents, "skey").groupBy(F.col("x.id").alias("a"), F.col("y.id").alias("b"))
                  .agg(F.count("*").alias("shared"), F.first("x.nk").alias("na"), F.first("y.nk").alias("nb")))

        def need(n: Any) -> Any:
            return F.when(n <= 3, 1).otherwise(2)

        by_sent = shared.filter((F.col("shared") >= need(F.col("na"))) | (F.col("shared") >= need(F.col("nb")))).select("a", "b")
        exact = prints.filter("has_shingles").select(F.col("article_id").alias("id"), "exact")
        esize = exact.groupBy("exact").agg(F.count("*").alias("_size"), F.min("id").alias("_min"))
        ex = exact.join(esize.filter(F.col("_size") >= 2), "exact")
        small = ex.filter(F.col("_size") <= cap)
        x, y = small.alias("x"), small.alias("y")
        by_exact = x.join(y, "exact").filter(F.col("x.id") < F.col("y.id")).select(F.col("x.id").alias("a"), F.col("y.id").alias("b"))
        star = ex.filter((F.col("_size") > cap) & (F.col("id") != F.col("_min"))).select(F.col("_min").alias("a"), F.col("id").alias("b"))
        over = (sents.select(F.col("skey").alias("key")).unionByName(bands.select(F.col("band").alias("key")))
                .groupBy("key").count().filter(F.col("count") > cap))
        self.report.counts["capped_buckets"] = over.count()  # skipped, as the local stage skips (and logs) them
        return by_band.unionByName(by_sent).unionByName(by_exact).unionByName(star).distinct()

    def verify(self, pairs: Any, articles: Any) -> Any:
        from pyspark.sql import functions as F

        texts = articles.select("id", "text")
        joined = (pairs.join(texts.select(F.col("id").alias("a"), F.col("text").alias("ta")), "a")
                  .join(texts.select(F.col("id").alias("b"), F.col("text").alias("tb")), "b")
                  .repartition(self.n, "a").sortWithinPartitions("a", "b"))
        hook = self.hook
        cols = [n for n, _ in TABLES["copy_links"]]

        def run(pid: int, rows: Iterator[Any]) -> Iterator[tuple[Any, ...]]:
            if hook is not None:
                hook("verify", pid)
            cache = stages.PrintCache()
            for r in rows:
                link = stages.verify_pair(cache, r.a, r.ta, r.b, r.tb)
                if link is not None:
                    yield tuple(link[c] for c in cols)

        return self.spark.createDataFrame(joined.rdd.mapPartitionsWithIndex(run), ddl("copy_links"))

    def components(self, links: Any, articles: Any) -> Any:
        """Copy groups: connected components of the links by min-label propagation with pointer jumping."""
        from pyspark.sql import functions as F

        if self.report.counts.get("copy_links") == 0:
            self.report.counts["component_rounds"] = 0
            return articles.select(F.col("id").alias("article_id"), F.concat(F.lit("g"), F.col("id")).alias("group_id"))
        edges = links.select(F.col("a").alias("src"), F.col("b").alias("dst"))
        both = self._keep(edges.unionByName(edges.select(F.col("dst").alias("src"), F.col("src").alias("dst"))))
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
        self.report.counts["component_rounds"] = rounds
        return (articles.select(F.col("id").alias("article_id"))
                .join(labels.withColumnRenamed("v", "article_id"), "article_id", "left")
                .select("article_id", F.concat(F.lit("g"), F.coalesce("l", "article_id")).alias("group_id")))

    # -- 5. stories -------------------------------------------------------------------------------

    def stories(self, articles: Any, groups: Any) -> tuple[Any, Any, Any, Any]:
        from pyspark.sql import functions as F
        from pyspark.sql.window import Window

        sc, n = self.sc, self.n
        cut = 2 * self.settings.story_window_days * 86400.0
        base = (articles.select("id", "title", "text", "published", "date_flag", "outlet", "language", "ord_file", "ord_pos")
                .join(groups.withColumnRenamed("article_id", "id"), "id")
                .withColumn("tkey", F.coalesce("published", F.lit(self.ingested_at))))
        base = self._keep(base)
        keyed = base.select("tkey", "ord_file", "ord_pos", "id").rdd.map(lambda r: ((r[0], r[1], r[2]), r[3]))
        ordered = keyed.sortByKey(numPartitions=n).persist()

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

        summ = sorted(ordered.mapPartitionsWithIndex(summary).collect())
        starts: dict[int, tuple[int, int]] = {}
        seg, rank, prev_last = -1, 0, None
        for pid, count, first, last, breaks in summ:
            if count == 0:
                continue
            if seg < 0 or (first is not None and prev_last is not None and first - prev_last > cut):
                seg += 1
            starts[pid] = (seg, rank)
            seg += breaks
            rank += count
            prev_last = last if last is not None else prev_last
        info = sc.broadcast(starts)

        width = self.block_days * 86400.0 if self.block_days else 0.0

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

        placed = self._keep(self.spark.createDataFrame(ordered.mapPartitionsWithIndex(assign), "id string, rank long, seg long"))
        placed.count()
        ordered.unpersist()
        self.report.counts["story_segments"] = seg + 1
        if width:
            self.report.counts["story_windows"] = placed.select("seg").distinct().count()
        # blocks: segments sharing a copy group (a later copy joins the story of an earlier one); with
        # forced cuts every window is a block of its own (a copy across a cut is judged on its words)
        spans = [] if width else (
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
        blocks = self.spark.createDataFrame(merged, "seg long, block long")
        # document frequencies before each segment, exactly as the local run counts them
        hook, settings, ingested_at = self.hook, self.settings, self.ingested_at

        def terms(rows: Iterator[Any]) -> Iterator[tuple[str, list[str]]]:
            for r in rows:
                yield r.id, stages.story_terms(r.title, r.text)

        tdf = self.spark.createDataFrame(base.select("id", "title", "text").rdd.mapPartitions(terms), "id string, terms array<string>")
        seg_terms = (tdf.join(placed, "id").select("seg", F.explode("terms").alias("term"))
                     .groupBy("seg", "term").agg(F.count("*").alias("c")))
        seg_terms = self._keep(seg_terms)
        before = Window.partitionBy("term").orderBy("seg").rowsBetween(Window.unboundedPreceding, -1)
        priors = (seg_terms.withColumn("prior", F.coalesce(F.sum("c").over(before), F.lit(0))).filter(F.col("prior") > 0)
                  .groupBy("seg").agg(F.map_from_entries(F.collect_list(F.struct("term", "prior"))).alias("pdf")))
        firsts = placed.groupBy("seg").agg(F.min("rank").alias("first_rank"))
        rows = (base.join(placed, "id").join(F.broadcast(blocks) if merged else blocks, "seg", "left")
                .withColumn("block", F.coalesce("block", "seg"))
                .join(firsts, "seg").join(priors, "seg", "left")
                .withColumn("prior_df", F.when(F.col("rank") == F.col("first_rank"), F.col("pdf")))
                .withColumn("prior_docs", F.col("first_rank"))
                .select("block", "seg", "rank", "id", "title", "text", "published", "date_flag", "outlet", "language",
                        "group_id", "prior_df", "prior_docs")
                .repartition(n, "block").sortWithinPartitions("block", "rank"))

        def run(pid: int, it: Iterator[Any]) -> Iterator[tuple[str, str]]:
            if hook is not None:
                hook("stories", pid)
            for _, block_rows in itertools.groupby(it, key=lambda r: r.block):
                for table, row in stages.run_story_block((r.asDict() for r in block_rows), settings, ingested_at):
                    yield table, json.dumps(row, default=_bytes_hex)

        out = self._keep(self.spark.createDataFrame(rows.rdd.mapPartitionsWithIndex(run), "t string, row string"))
        term_df = seg_terms.groupBy("term").agg(F.sum("c").alias("df"))

        def table(name: str) -> Any:
            schema = ddl(name)
            cols = [c for c, _ in TABLES[name]]
            binary = {c for c, t in TABLES[name] if t == "binary"}

            def decode(r: Any) -> tuple[Any, ...]:
                d = json.loads(r.row)
                return tuple(bytes.fromhex(d[c]) if c in binary and d[c] is not None else d[c] for c in cols)

            return self.spark.createDataFrame(out.filter(F.col("t") == name).rdd.map(decode), schema)

        return table("story_members"), table("stories"), table("story_events"), term_df

    # -- the whole run ----------------------------------------------------------------------------

    def run(self, inputs: list[str], out: str) -> BatchReport:
        from pyspark.sql import functions as F

        total = time.perf_counter()
        self.spark.conf.set("spark.sql.shuffle.partitions", str(self.n))
        with self._stage("list"):
            files, walk_errors = list_inputs(self.spark, inputs)
        with self._stage("parse+clean"):
            docs = self._keep(self.clean(self.parse(files)))
            self.report.counts["items"] = docs.count()
        with self._stage("resolve"):
            articles, sightings, errors = self.resolve(docs)
            if walk_errors:
                errors = errors.unionByName(self.spark.createDataFrame(
                    [(e["location"], e["reason"], e["status"]) for e in walk_errors], ddl("errors")))
        with self._stage("templates"):
            articles = self._keep(self.templates(articles))
            self.report.counts["articles"] = articles.count()
        with self._stage("fingerprints"):
            prints = self._keep(self.fingerprints(articles))
            prints.count()
        with self._stage("candidates"):
            pairs = self._keep(self.candidates(prints))
            self.report.counts["candidate_pairs"] = pairs.count()
        with self._stage("verify"):
            links = self._keep(self.verify(pairs, articles))
            self.report.counts["copy_links"] = links.count()
        with self._stage("groups"):
            groups = self._keep(self.components(links, articles))
        with self._stage("stories"):
            members, stories, events, term_df = self.stories(articles, groups)
            stories = self._keep(stories)
            self.report.counts["stories"] = stories.count()
        with self._stage("write"):
            tables = {
                "articles": articles.withColumn("ingested_at", F.lit(self.ingested_at)),
                "removed_spans": articles.select(F.col("id").alias("article_id"), F.explode("removed").alias("s"))
                .select("article_id", "s.start", "s.end", "s.reason", "s.rule"),
                "blobs": self.blobs,
                "sightings": sightings,
                "copy_prints": prints.withColumn("bands", F.array_sort("bands")).withColumn("skeys", F.array_sort("skeys")),
                "copy_links": links, "copy_groups": groups, "stories": stories, "story_members": members,
                "story_events": events, "term_df": term_df, "errors": errors,
            }
            write_tables(self.spark, tables, out, self._manifest, self._count_output)
        self._release()
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


def _bytes_hex(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class _Timer:
    def __init__(self, into: dict[str, float], name: str) -> None:
        self.into, self.name = into, name

    def __enter__(self) -> "_Timer":
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.into[self.name] = self.into.get(self.name, 0.0) + time.perf_counter() - self.start


# -- output ---------------------------------------------------------------------------------------


def write_tables(spark: Any, tables: dict[str, Any], out: str, manifest: Callable[[], dict[str, Any]],
                 before_swap: Callable[[Callable[[str], Any]], None] | None = None) -> None:
    """Write every table under a staging folder, then swap each into ``out/<table>`` by rename (through
    Hadoop's FileSystem, so any URI works).  A re-run replaces the previous output; a run killed before the
    swap leaves the previous output whole (its staging folder is removed by the next run)."""
    jvm = spark.sparkContext._jvm
    hconf = spark.sparkContext._jsc.hadoopConfiguration()
    base = ("file://" + str(Path(out).resolve())) if _is_local(out) else out
    Path_ = jvm.org.apache.hadoop.fs.Path
    root = Path_(base)
    fs = root.getFileSystem(hconf)
    fs.mkdirs(root)
    for st in fs.listStatus(root):
        name = st.getPath().getName()
        if name.startswith(("_staging-", "_old-")):
            fs.delete(st.getPath(), True)
    run_id = uuid.uuid4().hex[:12]
    staging = Path_(root, f"_staging-{run_id}")
    for name, df in tables.items():
        df.select(*[c for c, _ in TABLES[name]]).write.mode("overwrite").parquet(Path_(staging, name).toString())
    if before_swap is not None:
        before_swap(lambda name: spark.read.parquet(Path_(staging, name).toString()))
    old = Path_(root, f"_old-{run_id}")
    fs.mkdirs(old)
    fs.delete(Path_(root, MANIFEST), False)  # no manifest while tables are swapped: `load` refuses a half-swapped folder
    manifest_ = {**manifest(), "run_id": run_id, "tables": sorted(tables)}
    for name in tables:
        target = Path_(root, name)
        if fs.exists(target) and not fs.rename(target, Path_(old, name)):
            raise StoryloomError(f"{out}: cannot move the previous {name} table aside")
        if not fs.rename(Path_(staging, name), target):
            raise StoryloomError(f"{out}: cannot move the new {name} table into place")
    stream = fs.create(Path_(root, MANIFEST), True)
    stream.write(bytearray(json.dumps(manifest_, indent=2, default=str).encode("utf-8")))
    stream.close()
    fs.delete(old, True)
    fs.delete(staging, True)


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


__all__ = ["SparkBatch", "BatchReport", "run_spark", "spark_session", "list_inputs", "write_tables"]
