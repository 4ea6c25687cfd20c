"""The batch pipeline on the local engine (``storyloom batch --engine local``): every input kind read, each bad
input reported on one line while the rest goes on, and a re-run giving the same tables.  No Spark, no Java:
these run everywhere (the Spark parity tests are in test_spark.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from batchdata import faulty_folder, settings_for, tables_of, wire_records
from storyloom.batch.local import read_table, run_local
from storyloom.cli import cli


def test_batch_command_local_engine(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in wire_records()[:8]) + "\n{oops\n", encoding="utf-8")
    config = tmp_path / "storyloom.toml"
    config.write_text(f"line_classifier = {str(settings_for(tmp_path).line_classifier).lower()}\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["--db", str(tmp_path / "x.db"), "--config", str(config), "batch", str(src),
                                   "--out", str(tmp_path / "out"), "--engine", "local", "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["counts"]["articles"] == 8 and report["counts"]["failed"] == 1
    assert "in.jsonl:9: malformed JSON" in res.stderr.replace("\n", "")
    assert len(read_table(tmp_path / "out", "story_members")) == 8
    assert _manifest(tmp_path / "out")["settings"]["story_embeddings"] is True  # as ingest: Settings' default


def _manifest(out: Path) -> dict[str, Any]:
    from storyloom.batch.tables import MANIFEST

    return dict(json.loads((out / MANIFEST).read_text(encoding="utf-8")))


def test_batch_story_embeddings_follow_the_settings_unless_asked(tmp_path: Path) -> None:
    """`storyloom batch` makes the stories `storyloom ingest` makes: story embeddings as Settings say (a config
    file can turn them off), and the flag overrides both ways."""
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in wire_records()[:3]) + "\n", encoding="utf-8")
    for config, flag, want in (("story_embeddings = false", [], False), ("story_embeddings = true", ["--no-story-embeddings"], False)):
        cfg = tmp_path / "storyloom.toml"
        cfg.write_text(f"line_classifier = false\n{config}\n", encoding="utf-8")
        out = tmp_path / f"out-{want}-{len(flag)}"
        res = CliRunner().invoke(cli, ["--db", str(tmp_path / "x.db"), "--config", str(cfg), "batch", str(src),
                                       "--out", str(out), "--engine", "local", *flag])
        assert res.exit_code == 0, res.output
        assert _manifest(out)["settings"]["story_embeddings"] is want


@pytest.mark.slow  # 3.7-15 s measured (machine load): three local runs over ~50 articles
def test_every_input_kind_and_each_bad_input_reported(tmp_path: Path) -> None:
    """JSONL (with a corrupt line), a truncated JSONL.gz, an empty file, Parquet (with a bodiless row), a WARC
    and a file of an unknown type, in one folder, through the local engine."""
    folder = faulty_folder(tmp_path / "in")
    s, out = settings_for(tmp_path), tmp_path / "out"
    first = run_local([str(folder)], str(out), s)
    errors = read_table(out, "errors")
    assert (str(folder / "notes.bin"), "skipped") in {(e["location"], e["status"]) for e in errors}
    reasons = {e["location"]: e["reason"] for e in errors}
    assert "malformed JSON" in reasons[str(folder / "a" / "corpus.jsonl") + ":8"]
    assert "truncated or corrupt" in reasons[str(folder / "b.jsonl.gz")]
    assert reasons[str(folder / "c.jsonl")] == "empty file"
    assert "no article body" in reasons[str(folder / "d.parquet") + "#3"]

    arts = read_table(out, "articles")
    at = lambda prefix: [a for a in arts if a["location"].startswith(prefix)]
    assert len(at(str(folder / "b.jsonl.gz"))) == 5  # every complete line before the cut
    assert len(at(str(folder / "d.parquet") + "#")) == 3
    warc = at(str(folder / "e.warc.gz") + "#")
    assert len(warc) == 1  # the WARC's one HTML response, extracted like any page
    assert warc[0]["url"] == "https://warc.example/0" and len(warc[0]["text"].split()) > 50
    assert first.counts["articles"] == len(arts) > 40

    tables = without_ingest_time(out)
    again = run_local([str(folder)], str(out), s)  # a re-run into the same folder replaces it with the same
    assert again.counts == first.counts
    assert without_ingest_time(out) == tables


def without_ingest_time(out: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The batch tables with the run's ingest time masked: the local engine stamps undated articles (and their
    story times) with the time it ingested them, so two runs differ there and only there."""
    stamps = {a["ingested_at"] for a in read_table(out, "articles")}
    return {t: sorted(tuple("<ingest time>" if v in stamps else v for v in row) for row in rows)
            for t, rows in tables_of(out).items()}
