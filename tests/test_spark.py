"""The batch pipeline on Spark: same results as the local pipeline, bad records and failing tasks survived,
re-runs idempotent, and the output loadable into the store.

One SparkSession (``local[2,4]``: two cores, a task may fail up to 4 times) for the whole module.  PySpark is
a test dependency and must import; the module skips, with the reason, only when Java is missing.  The local
engine's own tests (``storyloom batch --engine local``, every input kind) are in test_batch_local.py and run
without Java; the inputs both use are in batchdata.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pyspark  # noqa: F401  - a test dependency ('.[test]'): a broken install fails, it does not skip
import pytest

if shutil.which("java") is None:  # pragma: no cover - Java is a system package, not a Python dependency
    pytest.skip("no Java runtime on PATH: Spark needs Java 17 (the local-engine batch tests run without it)",
                allow_module_level=True)

from batchdata import FIXED_TIME, WIRE_FOOTER, faulty_folder, make_corpus, settings_for, tables_of
from storyloom import blas
from storyloom.batch.local import read_table, run_local
from storyloom.batch.spark import SparkBatch, list_inputs, spark_session
from storyloom.batch.spark import job as spark_job
from storyloom.batch.spark.session import local_driver_memory
from storyloom.stories import agreement

pytestmark = pytest.mark.slow  # a SparkSession and two full runs of the sample: minutes on two cores

@pytest.fixture(scope="session")
def spark():  # type: ignore[no-untyped-def]
    session = spark_session("local[2,4]", {"spark.sql.shuffle.partitions": "4", "spark.default.parallelism": "4"})
    yield session
    session.stop()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


def by(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {r[key]: r for r in rows}


@pytest.fixture(scope="module")
def runs(spark: Any, corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("runs")
    s = settings_for(tmp)
    REPORTS["local"] = run_local([str(corpus)], str(tmp / "local"), s, on_stage=STAGES["local"].append)
    REPORTS["spark"] = SparkBatch(spark, s, partitions=4, ingested_at=FIXED_TIME, on_stage=STAGES["spark"].append).run(
        [str(corpus)], str(tmp / "spark"))
    return {"local": tmp / "local", "spark": tmp / "spark"}


STAGES: dict[str, list[str]] = {"local": [], "spark": []}  # what each engine said it was doing, in order
REPORTS: dict[str, Any] = {}


def test_each_engine_says_which_stage_runs_and_times_each(runs: dict[str, Path]) -> None:
    assert STAGES["local"] == ["ingest", "copies", "stories", "write"]
    assert STAGES["spark"] == ["list", "parse+clean", "resolve", "templates", "fingerprints", "candidates", "verify",
                               "groups", "stories", "write"]
    for engine, stages in STAGES.items():
        seconds = REPORTS[engine].as_dict()["seconds"]
        assert list(seconds) == stages + ["total"]
        assert sum(seconds[k] for k in stages) <= seconds["total"] + 0.01


def test_clean_text_is_the_local_recleaned_text(runs: dict[str, Path]) -> None:
    local, spark = by(read_table(runs["local"], "articles"), "id"), by(read_table(runs["spark"], "articles"), "id")
    assert len(local) > 200 and set(local) == set(spark)
    fields = ("title", "text", "body", "published", "date_flag", "outlet", "author", "language", "url",
              "template_group", "location", "previous_id", "meta", "warnings", "extra", "declared", "text_hash")
    diffs = [(aid, f) for aid in local for f in fields if local[aid][f] != spark[aid][f]]
    assert diffs == []
    # the wire footer is only furniture to corpus-wide template counts, and both runs removed it
    wire = [a for a in local.values() if a["outlet"] == "Sample Wire"]
    assert wire and all(WIRE_FOOTER not in a["text"] and WIRE_FOOTER in a["body"] for a in wire)
    spans = lambda run: sorted((r["article_id"], r["start"], r["end"], r["rule"]) for r in read_table(runs[run], "removed_spans"))
    assert spans("local") == spans("spark")
    assert any(r[3] == "template" for r in spans("spark"))


def test_duplicates_versions_and_errors_as_the_store_decides(runs: dict[str, Path]) -> None:
    for run in ("local", "spark"):
        arts = read_table(runs[run], "articles")
        assert sum(1 for a in arts if a["previous_id"]) == 1  # the corrected wire item
        errors = read_table(runs[run], "errors")
        assert [e["location"].rsplit(":", 1)[1] for e in errors if e["status"] == "failed"] == ["8"]
    sight = lambda run: sorted((r["article_id"], r["location"]) for r in read_table(runs[run], "sightings"))
    assert sight("local") == sight("spark")


def test_copy_groups_identical_with_the_same_ids(runs: dict[str, Path]) -> None:
    groups = {run: {r["article_id"]: r["group_id"] for r in read_table(runs[run], "copy_groups")} for run in runs}
    assert groups["local"] == groups["spark"]
    assert sum(1 for a, g in groups["spark"].items() if g != "g" + a) >= 10  # real groups, not only singletons
    links = {run: sorted((r["a"], r["b"], r["kind"], r["score"], r["direction"]) for r in read_table(runs[run], "copy_links"))
             for run in runs}
    assert links["local"] == links["spark"]
    assert {k for _, _, k, _, _ in links["spark"]} >= {"exact", "containment"}


def test_story_assignments_agree(runs: dict[str, Path]) -> None:
    member = {run: {r["article_id"]: r["story_id"] for r in read_table(runs[run], "story_members")} for run in runs}
    assert set(member["local"]) == set(member["spark"])
    agree = agreement(member["spark"], member["local"])
    assert agree["f1"] >= 0.99, agree
    assert member["local"] == member["spark"]  # exact: same stories, same ids
    sizes: dict[str, int] = {}
    for sid in member["spark"].values():
        sizes[sid] = sizes.get(sid, 0) + 1
    assert max(sizes.values()) >= 3
    df = {run: {r["term"]: r["df"] for r in read_table(runs[run], "term_df")} for run in runs}
    assert df["local"] == df["spark"]


# -- faults, re-runs, loading ---------------------------------------------------------------------


def test_bad_records_and_failing_tasks_lose_nothing_and_reruns_are_idempotent(
        spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = faulty_folder(tmp_path / "in")
    flags = tmp_path / "flags"
    flags.mkdir()

    def fail_once(stage: str, partition: int) -> None:  # each task of these stages fails on its first attempt
        import os

        flag = os.path.join(str(flags), f"{stage}-{partition}")
        if stage in ("clean", "verify", "stories") and not os.path.exists(flag):
            open(flag, "w").close()
            raise RuntimeError(f"injected failure in {stage} partition {partition}")

    s, out = settings_for(tmp_path), tmp_path / "out"
    faulty = SparkBatch(spark, s, partitions=3, ingested_at=FIXED_TIME, hook=fail_once).run([str(folder)], str(out))
    failed_tasks = [p.name.split("-")[0] for p in flags.iterdir()]
    assert set(failed_tasks) == {"clean", "verify", "stories"} and len(failed_tasks) >= 9  # each task failed once
    first = tables_of(out)
    errors = {(e["location"], e["status"]) for e in read_table(out, "errors")}
    assert (str(folder / "notes.bin"), "skipped") in errors
    reasons = {e["location"]: e["reason"] for e in read_table(out, "errors")}
    assert "malformed JSON" in reasons[str(folder / "a" / "corpus.jsonl") + ":8"]
    assert "truncated or corrupt" in reasons[str(folder / "b.jsonl.gz")]
    assert reasons[str(folder / "c.jsonl")] == "empty file"
    locations = {a["location"] for a in read_table(out, "articles")}
    assert sum(1 for loc in locations if loc.startswith(str(folder / "b.jsonl.gz"))) == 5  # all complete lines
    assert sum(1 for loc in locations if loc.startswith(str(folder / "d.parquet") + "#")) == 3
    assert sum(1 for loc in locations if loc.startswith(str(folder / "e.warc.gz") + "#")) == 1
    assert "no article body" in reasons[str(folder / "d.parquet") + "#3"]
    assert faulty.counts["articles"] == len(locations) > 40

    # the re-run sizes its partitions from the input (here about 12 of them: more than the first run's 3)
    size = sum(f.size for f in list_inputs(spark, [str(folder)])[0])
    monkeypatch.setattr(spark_job, "INPUT_BYTES_PER_PARTITION", size // 12 + 1)
    rerun = SparkBatch(spark, s, ingested_at=FIXED_TIME)
    again = rerun.run([str(folder)], str(out))
    assert rerun.n == 12 > 2 * spark.sparkContext.defaultParallelism
    assert tables_of(out) == first  # the same output, tasks failing or not, any partitions, first run or second
    assert again.counts == faulty.counts
    assert not [p for p in out.iterdir() if p.name.startswith(("_staging-", "_old-"))]

    local = tmp_path / "local"
    run_local([str(folder)], str(local), s)
    mine = {a["id"]: a["text"] for a in read_table(out, "articles")}
    assert mine == {a["id"]: a["text"] for a in read_table(local, "articles")}
    assert {(e["location"], e["status"]) for e in read_table(local, "errors")} == errors


def test_load_into_the_store_serves_the_batch(runs: dict[str, Path], tmp_path: Path) -> None:
    from click.testing import CliRunner

    from storyloom.cli.batch import load
    from storyloom.cli.common import Ctx
    from storyloom.store import Store
    from storyloom.store import copies as copies_sql
    from storyloom.store import stories as stories_sql
    from storyloom.store.queries import search

    db = tmp_path / "loaded.db"
    for _ in range(2):  # a second load changes nothing
        res = CliRunner().invoke(load, [str(runs["spark"]), "--json"], obj=Ctx(str(db), None))
        assert res.exit_code == 0, res.output
        with Store(db) as store:
            n = store.conn.execute("SELECT count(*) FROM articles").fetchone()[0]
            events = store.conn.execute("SELECT count(*) FROM story_events").fetchone()[0]
            queued = store.conn.execute("SELECT count(*) FROM stage_queue").fetchone()[0]
            assignment = stories_sql.assignments(store)
            feed = stories_sql.feed(store, min_articles=2, sort="size", limit=5)
            group = copies_sql.list_groups(store, limit=1)[0]
            hits = search(store, "Danube", limit=5)
        assert n == len(read_table(runs["spark"], "articles")) and queued == 0
        assert events == len(read_table(runs["spark"], "story_events"))
        assert assignment == {r["article_id"]: r["story_id"] for r in read_table(runs["spark"], "story_members")}
        assert feed and feed[0].n_articles >= 3 and group.size >= 2 and hits
    # the loaded store goes on incrementally: nothing is re-done
    from storyloom.copies import find_copies
    from storyloom.stories import build_stories

    with Store(db) as store:
        assert find_copies(store, settings_for(tmp_path)).processed == 0
        assert build_stories(store, settings_for(tmp_path)).processed == 0


def test_a_local_session_sizes_its_heap_from_the_ram(spark: Any) -> None:
    # Spark's own 1 GB heap fails a 100k-article run's shuffles; the session carries a quarter of the RAM
    memory = local_driver_memory()
    assert spark.sparkContext.getConf().get("spark.driver.memory") == memory
    assert 1 <= int(memory.removesuffix("g")) <= 16


def test_the_python_workers_run_blas_on_one_thread(spark: Any) -> None:
    # Spark's Python workers run side by side, one per core: OpenBLAS's spinning threads would fight them
    def threads(_: object) -> int:
        import numpy  # noqa: F401 - loads OpenBLAS
        from threadpoolctl import threadpool_info

        return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")

    if blas.user_chose():
        pytest.skip("this environment sets BLAS threads itself: the session leaves them as they are")
    assert spark.sparkContext.getConf().get("spark.executorEnv.OPENBLAS_NUM_THREADS") == "1"
    assert spark.sparkContext.parallelize(range(2), 2).map(threads).collect() == [1, 1]


# -- the distributed story stage ------------------------------------------------------------------


def _block_run(spark: Any, rows: list[dict[str, Any]], tmp: Path, partitions: int, size: int) -> dict[str, Any]:
    from storyloom.batch.spark import stories as exact
    from storyloom.batch.spark import storyblocks
    from storyloom.batch.spark.context import SparkRun

    arts = spark.createDataFrame([{**{k: r[k] for k in ("id", "title", "text", "published", "date_flag", "outlet",
                                                        "language")}, "ord_file": 0, "ord_pos": i}
                                  for i, r in enumerate(rows)],
                                 "id string, title string, text string, published string, date_flag string, "
                                 "outlet string, language string, ord_file long, ord_pos long")
    groups = spark.createDataFrame([(r["id"], r["group_id"]) for r in rows], "article_id string, group_id string")
    job = SparkRun(spark, settings_for(tmp), partitions=partitions, ingested_at=FIXED_TIME,
                   story_blocks=size > 0, story_block_articles=size or None)
    members, stories_, events, term_df = (storyblocks if size else exact).stories(job, arts, groups)
    out = {"members": {r["article_id"]: r["story_id"] for r in members.collect()},
           "stories": sorted(tuple(r) for r in stories_.collect()), "events": sorted(tuple(r) for r in events.collect()),
           "term_df": dict(term_df.collect()), "blocks": job.report.counts.get("story_blocks")}
    job._release()
    return out


def test_the_distributed_story_stage_gives_the_local_stories(spark: Any, tmp_path: Path) -> None:
    from blockdata import stream
    from storyloom.batch.storyblocks import run_blocks_locally
    from storyloom.batch.tables import TABLES

    rows = stream()
    one = _block_run(spark, rows, tmp_path, 3, 0)  # the exact stage: the local online result
    blocks = _block_run(spark, rows, tmp_path, 3, 8)
    assert blocks["blocks"] == 8
    assert agreement(blocks["members"], one["members"])["f1"] >= 0.98
    assert blocks["members"] == one["members"]  # on this fixture: the same stories with the same ids
    assert blocks["term_df"] == one["term_df"]
    local = run_blocks_locally(rows, settings_for(tmp_path), FIXED_TIME, 8)  # the same plan, in one process
    assert blocks["members"] == {m["article_id"]: m["story_id"] for m in local["story_members"]}
    # the story rows too, field for field (those the reconciliation combined and those it left as they stood)
    cols = [c for c, _ in TABLES["stories"]]
    assert blocks["stories"] == sorted(tuple(s[c] for c in cols) for s in local["stories"])
    # deterministic: another partition count gives the same tables, row for row
    again = _block_run(spark, rows, tmp_path, 7, 8)
    assert (again["members"], again["stories"], again["events"]) == (blocks["members"], blocks["stories"], blocks["events"])


# -- translated copies ----------------------------------------------------------------------------


def test_translations_on_spark_are_the_local_ones(spark: Any, tmp_path: Path) -> None:
    """Both engines run the same translation cascade (storyloom.copies.transsearch): the same links with the same
    scores, directions, details and evidence, and so the same copy groups and stories.  The stand-in embedders
    (tests/standin_embedders.py) are shipped to the workers as a plugged-in model would be."""
    from batchdata import multilingual_corpus

    spark.sparkContext.addPyFile(str(Path(__file__).with_name("standin_embedders.py")))
    corpus = multilingual_corpus(tmp_path / "ml")
    s = settings_for(tmp_path).with_overrides(translations=True, embedder_fast="standin_embedders:AnchorVectors",
                                              embedder_wide="standin_embedders:AnchorVectorsWide")
    run_local([str(corpus)], str(tmp_path / "local"), s)
    rep = SparkBatch(spark, s, partitions=3, ingested_at=FIXED_TIME).run([str(corpus)], str(tmp_path / "spark"))
    assert "translations" in rep.seconds and not any("translated" in n for n in rep.notes)
    out = {run: read_table(tmp_path / run, "copy_links") for run in ("local", "spark")}
    links = {run: sorted(tuple(str(r[c]) for c in ("a", "b", "kind", "score", "direction", "details", "evidence"))
                         for r in rows) for run, rows in out.items()}
    assert links["local"] == links["spark"]
    arts = {r["id"]: r for r in read_table(tmp_path / "spark", "articles")}
    trans = [(arts[r["a"]]["url"], arts[r["b"]]["url"]) for r in out["spark"] if r["kind"] == "translation"]
    assert len(trans) >= 6  # not vacuous: English, German and Icelandic versions found each other
    assert all(a.split("/")[3] == b.split("/")[3] for a, b in trans)  # only versions of one story
    groups = {run: {r["article_id"]: r["group_id"] for r in read_table(tmp_path / run, "copy_groups")}
              for run in ("local", "spark")}
    assert groups["local"] == groups["spark"]
    members = {run: {r["article_id"]: r["story_id"] for r in read_table(tmp_path / run, "story_members")}
               for run in ("local", "spark")}
    assert members["local"] == members["spark"]
