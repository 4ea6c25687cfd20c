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
4. **candidates** — self-joins on band key, sentence key and exact key (buckets over ``copy_bucket_cap``
   skipped); **verify** on the real texts; **groups** by connected components (see :mod:`.copies`), ids
   ``"g" + min(member id)``;
5. **stories** — the local online clustering, run on executors block by block, exact by default (a
   continuous stream is then one task: :mod:`.stories`); with ``story_blocks`` distributed: the stream cut into
   blocks of articles clustered in parallel after a warm-up, then reconciled (:mod:`.storyblocks`).

Outputs are Parquet tables (:mod:`storyloom.batch.tables`), swapped into place at the end of the run.

Modules: :mod:`.session` (the SparkSession), :mod:`.inputs` (listing and parsing inputs), :mod:`.job` (the run:
stages 1–2 and the order of everything), :mod:`.copies` (3–4), :mod:`.stories` and :mod:`.storyblocks` (5), :mod:`.output` (the
tables written and swapped into place).
"""

from storyloom.batch.report import BatchReport
from storyloom.batch.spark.inputs import list_inputs
from storyloom.batch.spark.job import SparkBatch, run_spark
from storyloom.batch.spark.output import write_tables
from storyloom.batch.spark.session import spark_session

__all__ = ["SparkBatch", "BatchReport", "run_spark", "spark_session", "list_inputs", "write_tables"]
