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

Modules: :mod:`.session` (the SparkSession), :mod:`.inputs` (listing and parsing inputs), :mod:`.job` (the run:
stages 1–2 and the order of everything), :mod:`.copies` (3–4), :mod:`.stories` (5), :mod:`.output` (the
tables written and swapped into place).
"""

from storyloom.batch.report import BatchReport
from storyloom.batch.spark.inputs import list_inputs
from storyloom.batch.spark.job import SparkBatch, run_spark
from storyloom.batch.spark.output import write_tables
from storyloom.batch.spark.session import spark_session

__all__ = ["SparkBatch", "BatchReport", "run_spark", "spark_session", "list_inputs", "write_tables"]
