"""The batch pipeline on Spark: same results as the local pipeline, bad records and failing tasks survived,
re-runs idempotent, and the output loadable into the store.

One SparkSession (``local[2,4]``: two cores, a task may fail up to 4 times) for the whole module.  Skipped,
with the reason, when PySpark (or Java) is missing: ``pip install -e '.[spark]'``.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import SAMPLE

pyspark = pytest.importorskip("pyspark", reason="PySpark is not installed: pip install -e '.[spark]' to run the Spark tests")
if shutil.which("java") is None:  # pragma: no cover
    pytest.skip("no Java runtime on PATH: Spark needs Java 17", allow_module_level=True)

from storyloom.batch.local import read_table, run_local  # noqa: E402
from storyloom.batch.spark import SparkBatch, list_inputs, spark_session  # noqa: E402
from storyloom.batch.spark import job as spark_job  # noqa: E402
from storyloom.batch.spark.session import local_driver_memory  # noqa: E402
from storyloom.ingest.files import split_headline  # noqa: E402
from storyloom.settings import Settings  # noqa: E402
from storyloom.stories import agreement  # noqa: E402

FIXED_TIME = "2026-01-01T00:00:00+00:00"  # the ingest time of undated articles, fixed so runs compare equal
WIRE_FOOTER = "Distributed by the Storyloom sample wire under licence to member newspapers"


def wire_records() -> list[dict[str, Any]]:
    """A small wire service: one footer line on every item (a template only corpus counts can see), copies
    wrapped and trimmed by other outlets, a corrected version and a re-fetch of one page."""
    events = [
        ("Floods hit the Danube valley", ["Heavy rain flooded villages along the Danube on Tuesday morning.",
          "Rescue teams evacuated hundreds of residents from Vukovar and Novi Sad as the river rose above its banks.",
          "Officials in Serbia and Croatia declared emergencies in eleven districts along the river.",
          "Forecasters expect the water to peak on Thursday before falling slowly through the weekend."]),
        ("Parliament approves pension reform", ["Lawmakers approved the pension reform on Wednesday after a long debate.",
          "The finance minister said the retirement age will rise gradually over the next twelve years.",
          "Unions announced strikes against the reform in Madrid and Barcelona for next month.",
          "The opposition said it would challenge the law before the constitutional court."]),
        ("Mars probe lands near crater", ["The robotic probe landed near Jezero crater on Thursday, the space agency said.",
          "Engineers in Pasadena cheered as the first images of the Martian surface arrived.",
          "The rover will spend two years collecting rock samples for a later return mission.",
          "Scientists hope the samples will show whether the lake bed once held microbial life."]),
    ]
    places = ["Vukovar", "Passau", "Linz", "Budapest", "Ruse", "Galati"]
    names = ["Lopez", "Garcia", "Moreau", "Novak", "Jensen", "Ricci"]
    recs: list[dict[str, Any]] = []
    for week in range(6):  # six weeks apart: separate story segments, each week its own facts
        for i, (title, sents) in enumerate(events):
            day = f"2024-{3 + week // 3:02d}-{1 + (week % 3) * 9 + i:02d}"
            lines = [" ".join(f"{w} {places[week]} and {names[(week + j) % 6]} {week * 7 + j + 3}" if k % 4 == 3 else w
                              for k, w in enumerate(sent.split())) for j, sent in enumerate(sents)]
            text = "\n\n".join(lines + [WIRE_FOOTER])
            url = f"https://wire.example/{week}/{i}"
            recs.append({"title": f"{title} in {places[week]}", "text": text, "url": url, "outlet": "Sample Wire",
                         "published": f"{day}T08:00:00Z"})
            if week % 2 == 0:  # a paper reprints the whole item under its own headline
                recs.append({"title": f"{title}, reports say", "text": "\n\n".join(lines),
                             "url": f"https://daily.example/{week}/{i}", "outlet": "Daily Example",
                             "published": f"{day}T11:00:00Z"})
            if i == 1:  # a trimmed reprint: the first two sentences
                recs.append({"title": title.upper(), "text": "\n\n".join(lines[:2]),
                             "url": f"https://brief.example/{week}", "outlet": "Brief", "published": f"{day}T15:00:00Z"})
    recs.append({**recs[0], "text": recs[0]["text"].replace("Tuesday", "Wednesday")})  # a new version
    recs.append({**recs[3], "author": "re-fetched"})  # same URL, same text, other bytes: unchanged
    return recs


def make_corpus(folder: Path, extra_html: int = 181) -> Path:
    """The bundled sample (two seeds + the AEB pages) plus a wire service, as one JSONL file."""
    folder.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    for p in sorted((SAMPLE / "seeds").glob("*.txt")):
        title, body = split_headline(p.read_text(encoding="utf-8"))
        lines.append(json.dumps({"title": title or None, "text": body}, ensure_ascii=False))
    pages = sorted((SAMPLE / "aeb").glob("*.html.gz"))[:extra_html]
    for i, p in enumerate(pages):
        html = gzip.decompress(p.read_bytes()).decode("utf-8")
        lines.append(json.dumps({"html": html}, ensure_ascii=False))
        if i % 30 == 0:  # a mirror of the page: other bytes, same article
            lines.append(json.dumps({"html": html + "\n<!-- mirrored -->"}, ensure_ascii=False))
    lines += [json.dumps(r, ensure_ascii=False) for r in wire_records()]
    lines.append(lines[-5])  # the same bytes twice: a duplicate
    lines.insert(7, '{"title": "broken", "text": ')  # a corrupt record
    lines.insert(9, "")
    path = folder / "corpus.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def settings_for(tmp: Path) -> Settings:
    # the learned line classifier takes part when its model loads (it is being trained beside this work)
    try:
        from storyloom.clean.classifier import LineClassifier

        LineClassifier.load()
        has_model = True
    except Exception:  # noqa: BLE001 - missing or stale model: the rules and templates still run
        has_model = False
    return Settings(db_path=str(tmp / "unused.db"), translations=False, story_embeddings=False,
                    line_classifier=has_model)


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
    assert STAGES["local"] == ["ingest", "reclean", "copies", "stories", "write"]
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
    spans = lambda run: sorted((r["article_id"], r["start"], r["end"], r["rule"]) for r in read_table(runs[run], "removed_spans"))  # noqa: E731
    assert spans("local") == spans("spark")
    assert any(r[3] == "template" for r in spans("spark"))


def test_duplicates_versions_and_errors_as_the_store_decides(runs: dict[str, Path]) -> None:
    for run in ("local", "spark"):
        arts = read_table(runs[run], "articles")
        assert sum(1 for a in arts if a["previous_id"]) == 1  # the corrected wire item
        errors = read_table(runs[run], "errors")
        assert [e["location"].rsplit(":", 1)[1] for e in errors if e["status"] == "failed"] == ["8"]
    sight = lambda run: sorted((r["article_id"], r["location"]) for r in read_table(runs[run], "sightings"))  # noqa: E731
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


def faulty_folder(folder: Path) -> Path:
    """A small corpus with damage: a corrupt line, a truncated JSONL.gz (its complete lines are good), an
    empty file and a file of an unknown type."""
    folder.mkdir(parents=True, exist_ok=True)
    make_corpus(folder / "a", extra_html=6)
    good = [json.dumps(r) for r in wire_records()[:6]]
    data = gzip.compress(("\n".join(good) + "\n").encode())
    (folder / "b.jsonl.gz").write_bytes(data[: len(data) - 40])  # cut before the end-of-stream marker
    (folder / "c.jsonl").write_bytes(b"")
    (folder / "notes.bin").write_bytes(b"\x00\x01")
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{k: r.get(k) for k in ("title", "text", "url", "outlet", "published")} for r in wire_records()[6:9]]
    rows.append({"title": "no body", "text": None, "url": "https://x.example/empty", "outlet": None, "published": None})
    pq.write_table(pa.Table.from_pylist(rows), str(folder / "d.parquet"))
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(folder / "e.warc.gz", "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for i, page in enumerate(sorted((SAMPLE / "aeb").glob("*.html.gz"))[20:21]):
            body = gzip.decompress(page.read_bytes())
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            rec = writer.create_warc_record(f"https://warc.example/{i}", "response", payload=__import__("io").BytesIO(body),
                                            http_headers=headers)
            writer.write_record(rec)
    return folder


def tables_of(out: Path) -> dict[str, list[tuple[Any, ...]]]:
    from storyloom.batch.tables import TABLES

    return {t: sorted(tuple(str(r[c]) for c in sorted(r)) for r in read_table(out, t)) for t in TABLES}


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
        assert feed and feed[0].n_articles >= 3 and group["size"] >= 2 and hits
    # the loaded store goes on incrementally: nothing is re-done
    from storyloom.copies import find_copies
    from storyloom.stories import build_stories

    with Store(db) as store:
        assert find_copies(store, settings_for(tmp_path)).processed == 0
        assert build_stories(store, settings_for(tmp_path)).processed == 0


def test_batch_command_local_engine(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from storyloom.cli.batch import batch
    from storyloom.cli.common import Ctx

    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in wire_records()[:8]) + "\n{oops\n", encoding="utf-8")
    config = tmp_path / "storyloom.toml"
    config.write_text(f"line_classifier = {str(settings_for(tmp_path).line_classifier).lower()}\n", encoding="utf-8")
    res = CliRunner().invoke(batch, [str(src), "--out", str(tmp_path / "out"), "--engine", "local", "--json"],
                             obj=Ctx(str(tmp_path / "x.db"), str(config)))
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["counts"]["articles"] == 8 and report["counts"]["failed"] == 1
    assert "in.jsonl:9: malformed JSON" in res.stderr.replace("\n", "")
    assert len(read_table(tmp_path / "out", "story_members")) == 8


def test_a_local_session_sizes_its_heap_from_the_ram(spark: Any) -> None:
    # Spark's own 1 GB heap fails a 100k-article run's shuffles; the session carries a quarter of the RAM
    memory = local_driver_memory()
    assert spark.sparkContext.getConf().get("spark.driver.memory") == memory
    assert 1 <= int(memory.removesuffix("g")) <= 16
