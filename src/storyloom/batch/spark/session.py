"""The SparkSession a batch run uses, and how it names local and remote paths."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from storyloom import blas
from storyloom.errors import StoryloomError


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
    if master.startswith("local"):
        settings["spark.driver.memory"] = local_driver_memory()
    if not blas.user_chose():  # each Python worker is one core's worth already (storyloom.blas)
        settings.update({f"spark.executorEnv.{k}": v for k, v in blas.WORKER_ENV.items()})
    settings.update(conf or {})
    builder = SparkSession.builder.master(master).appName(app)
    for k, v in settings.items():
        builder = builder.config(k, v)
    return builder.getOrCreate()


def local_driver_memory() -> str:
    """The heap of a local-mode Spark (driver and executor are one JVM): a quarter of the machine's RAM, 1–16 GB.

    Spark's default, 1 GB, is too little for its shuffles beside the Python workers past a few thousand
    articles; a quarter leaves the rest to the Python workers (one per core) and the OS page cache that the
    disk-persisted frames are read back through.  ``--conf spark.driver.memory=…`` overrides it."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not every platform names these
        return "2g"
    return f"{min(16, max(1, ram // 4 >> 30))}g"


def is_local(path: str) -> bool:
    """A plain path (no scheme): resolved against the working directory, as the local pipeline does."""
    return "://" not in path and not path.startswith("file:")


def hadoop_uri(path: str) -> str:
    """``path`` as Hadoop's FileSystem names it (a local path becomes an absolute ``file://`` URI)."""
    return "file://" + str(Path(path).resolve()) if is_local(path) else path


def same_uri(uri: str) -> str:
    """One spelling of a URI whether Spark wrote ``file:/x`` or ``file:///x``, %-escaped or not."""
    return unquote(uri).replace("file:///", "file:/")
