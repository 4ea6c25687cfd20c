"""The batch tables written as Parquet and swapped into place, so a reader never sees a half-written run."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from storyloom.batch.spark.session import hadoop_uri
from storyloom.batch.tables import MANIFEST, TABLES
from storyloom.errors import StoryloomError


def write_tables(spark: Any, tables: dict[str, Any], out: str, manifest: Callable[[], dict[str, Any]],
                 before_swap: Callable[[Callable[[str], Any]], None] | None = None) -> None:
    """Write every table under a staging folder, then swap each into ``out/<table>`` by rename (through
    Hadoop's FileSystem, so any URI works).  A re-run replaces the previous output; a run killed before the
    swap leaves the previous output whole (its staging folder is removed by the next run)."""
    jvm = spark.sparkContext._jvm
    hconf = spark.sparkContext._jsc.hadoopConfiguration()
    base = hadoop_uri(out)
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


def bytes_hex(value: Any) -> Any:
    """``json.dumps`` default for the story rows' binary columns (hex; the table decoder turns them back)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
