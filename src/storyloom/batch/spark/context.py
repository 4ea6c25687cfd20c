"""What a stage of a Spark run needs of the run: the session, the settings, the report, the partition count,
the input hook, and a way to keep a DataFrame for later stages.

The stage modules (:mod:`.inputs`, :mod:`.copies`, :mod:`.stories`) take a :class:`SparkRun`, not the whole job:
they read nine attributes of it, and typing them against the job made each stage module and the job import
each other.  :class:`storyloom.batch.spark.job.SparkBatch` is a :class:`SparkRun` that also holds the run
together (listing inputs, the cleaning stages, the output).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from storyloom.batch import stages
from storyloom.batch.report import BatchReport, notes_for
from storyloom.settings import Settings


class SparkRun:
    """The state of one Spark run that its stages share (see the module docstring)."""

    def __init__(self, spark: Any, settings: Settings, *, partitions: int | None = None,
                 ingested_at: str | None = None, hook: stages.Hook | None = None,
                 story_embeddings: bool = False, job_prefix: str = "", block_days: float | None = None,
                 on_stage: Callable[[str], None] | None = None, story_blocks: bool = False,
                 story_block_articles: int | None = None) -> None:
        self.spark = spark
        self.block_days = block_days  # None: exact blocks; a number: also cut every so many days (approximate)
        # the distributed story stage (blocks of the stream with a warm-up, reconciled: see .storyblocks)
        self.story_blocks = story_blocks or bool(story_block_articles)
        self.story_block_articles = story_block_articles  # None: sized from the input and the parallelism
        self.job_prefix = job_prefix
        self.sc = spark.sparkContext
        self.settings = stages.batch_settings(settings, story_embeddings)
        self.fixed_n = partitions is not None  # else: sized from the input once it is listed (see size_partitions)
        self.n = partitions or max(2, self.sc.defaultParallelism * 2)
        self.ingested_at = ingested_at or datetime.now(UTC).isoformat(timespec="seconds")
        self.hook = hook
        self.report = BatchReport("spark", notes=notes_for(self.settings), on_stage=on_stage)
        if block_days:
            self.report.notes.append(f"stories: approximate, blocks cut every {block_days:g} days (a story is not "
                                     "continued across a cut)")
        if self.story_blocks:
            self.report.notes.append("stories: distributed, blocks of the stream clustered in parallel after a "
                                     "warm-up and reconciled (close to, not always equal to, the local run)")
        if not story_embeddings:
            self.report.notes.append("stories use lexical and entity evidence only (Settings.story_embeddings=False)")
        self._cached: list[Any] = []
        # CPU seconds of the Python workers' story runs (a Spark accumulator, set by the story stage and read
        # after its tables are computed): what the benchmark compares, since task times are wall times
        self.story_cpu: Any = None

    # -- helpers ----------------------------------------------------------------------------------

    def stage(self, name: str) -> Any:
        """Time a stage, and tag its Spark jobs with its name (the bench reads task time per stage by tag)."""
        self.sc.setJobGroup(self.job_prefix + name, f"storyloom batch: {name}")
        return self.report.timed(name)

    def keep(self, df: Any, *, disk: bool = False) -> Any:
        """Persist a DataFrame a later stage reads again (released at the end of the run).

        ``disk``: the large per-article frames (documents with raw bytes, articles with their text, their prints)
        live on local disk only.  Kept in memory they fill the executor's heap, which the shuffles' hash
        aggregations then cannot get (a 100k-article run on ``local[2]`` with a 4 GB driver failed that way); read
        back from disk they cost little next to the Python stages that consume them, and the OS page cache keeps
        recent ones in RAM anyway."""
        from pyspark import StorageLevel

        df = df.persist(StorageLevel.DISK_ONLY if disk else StorageLevel.MEMORY_AND_DISK)
        self._cached.append(df)
        return df

    def _release(self) -> None:
        for df in self._cached:
            df.unpersist()
        self._cached.clear()
