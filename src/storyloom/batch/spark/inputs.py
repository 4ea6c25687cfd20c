"""Batch inputs on Spark: every file listed in the local pipeline's walk order, then read into items."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from storyloom.batch import stages
from storyloom.batch.spark.context import SparkRun
from storyloom.batch.spark.session import hadoop_uri, is_local, same_uri
from storyloom.errors import BadInput


@dataclass(frozen=True)
class InputFile:
    uri: str  # as Spark names it
    display: str  # as the local pipeline would write its location
    fmt: str  # jsonl (split by Spark) | parquet | whole (read by storyloom's own readers)
    size: int
    rank: int  # position in the local pipeline's walk order


def list_inputs(spark: Any, inputs: list[str]) -> tuple[list[InputFile], list[dict[str, Any]]]:
    """Every input file, in the order the local pipeline walks them, through Hadoop's FileSystem (so any URI
    Spark reads works); plus the errors the walk itself finds (missing inputs, unknown file types)."""
    from storyloom.ingest.files import file_format

    jvm = spark.sparkContext._jvm
    hconf = spark.sparkContext._jsc.hadoopConfiguration()
    files: list[tuple[int, tuple[Any, ...], str, str, str, int]] = []
    errors: list[dict[str, Any]] = []
    for n, inp in enumerate(inputs):
        local = is_local(inp)
        hpath = jvm.org.apache.hadoop.fs.Path(hadoop_uri(inp))
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


def parse(job: SparkRun, files: list[InputFile]) -> Any:
    """An RDD of (ord_file, ord_pos, RawDoc | BadInput), spread over ``job.n`` partitions: JSONL split by
    Spark (line numbers recovered from the split offsets), Parquet rows, and whole files read by storyloom's own
    readers (a remote file spooled to local disk first)."""
    from pyspark.sql import functions as F
    from pyspark.sql.window import Window

    settings, spark = job.settings, job.spark
    parts = []
    jsonl = [f for f in files if f.fmt == "jsonl"]
    by_uri = {same_uri(f.uri): (f.rank, f.display) for f in files}
    meta = job.sc.broadcast(by_uri)
    empty = [f for f in jsonl if f.size == 0]
    jsonl = [f for f in jsonl if f.size > 0]
    if empty:
        parts.append(job.sc.parallelize(
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
                    .repartition(job.n))

        def jsonl_items(rows: Iterator[Any]) -> Iterator[tuple[int, int, Any]]:
            files_ = meta.value
            for r in rows:
                rank, display = files_[same_uri(r.path)]
                item = stages.jsonl_line_item(r.line, f"{display}:{r.lineno}", settings)
                if item is not None:
                    yield rank, r.lineno, stages.portable(item)

        parts.append(numbered.rdd.mapPartitions(jsonl_items))
    pq = [f for f in files if f.fmt == "parquet"]
    if pq:
        table = (spark.read.option("mergeSchema", "true").parquet(*[f.uri for f in pq])
                 .withColumn("__path", F.col("_metadata.file_path"))
                 .withColumn("__row", F.col("_metadata.row_index")).repartition(job.n))

        def parquet_items(rows: Iterator[Any]) -> Iterator[tuple[int, int, Any]]:
            files_ = meta.value
            for r in rows:
                d = r.asDict(recursive=True)
                path, row = d.pop("__path"), d.pop("__row")
                rank, display = files_[same_uri(path)]
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

        parts.append(job.sc.parallelize(local, max(1, min(len(local), job.n))).mapPartitions(local_items))
    if remote:
        contents = spark.read.format("binaryFile").load([f.uri for f in remote]).select("path", "content")

        def remote_items(rows: Iterator[Any]) -> Iterator[tuple[int, int, Any]]:
            files_ = meta.value
            for r in rows:
                rank, display = files_[same_uri(r.path)]
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

        parts.append(contents.rdd.mapPartitions(remote_items).repartition(job.n))
    if not parts:
        return job.sc.emptyRDD()
    return job.sc.union(parts) if len(parts) > 1 else parts[0]
