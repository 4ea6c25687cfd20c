"""The CLI as a user runs it: ingest the bundled seeds, list, show, search, stats; exit codes; --json."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from conftest import SAMPLE
from storyloom.cli import cli


def run(db: Path, *args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, ["--db", str(db), *args], catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


def test_ingest_list_show_search_stats(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    code, out, _ = run(db, "ingest", str(SAMPLE / "seeds"))
    assert code == 0 and re.search(r"new articles\W+2\b", out), out  # the count on its row, not any "2"
    code, out, _ = run(db, "articles", "--json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 2
    express = next(r for r in rows if r["title"].startswith("China alliance"))
    code, out, _ = run(db, "show", express["id"][:8])
    assert code == 0 and "China alliance with Russia" in out and "Institute for the Study of War" in out
    code, out, _ = run(db, "show", express["id"], "--raw")
    assert out == (SAMPLE / "seeds" / "000_cceaec4a70c2c81f.txt").read_text(encoding="utf-8")
    code, out, _ = run(db, "search", "Lavrov Wang", "--json")
    hits = json.loads(out)
    assert code == 0 and len(hits) == 2
    code, out, _ = run(db, "search", "Lavrov")
    assert code == 0 and "Lavrov" in out
    code, out, _ = run(db, "stats", "--json")
    assert code == 0 and json.loads(out)["articles"] == 2
    code, out, _ = run(db, "stats")
    assert code == 0 and "articles" in out


def test_ingest_json_report_and_exit_codes(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "ok.txt").write_text("T\n\nbody text", encoding="utf-8")
    code, out, _ = run(db, "ingest", "--json", str(tmp_path / "empty.txt"), str(tmp_path / "ok.txt"))
    rep = json.loads(out)
    assert code == 0 and rep["counts"] == {"failed": 1, "added": 1}
    assert rep["errors"][0]["reason"] == "empty file"
    code, _, _ = run(db, "ingest", "--strict", str(tmp_path / "empty.txt"), str(tmp_path / "ok.txt"))
    assert code == 1  # --strict: any failure fails the run
    code, _, err = run(db, "ingest", str(tmp_path / "empty.txt"))
    assert code == 1 and "empty file" in err  # nothing could be ingested
    code, _, _ = run(db, "ingest", str(tmp_path / "ok.txt"))
    assert code == 0  # already stored is not a failure


def test_show_unknown_and_missing_store(tmp_path: Path) -> None:
    code, _, err = run(tmp_path / "absent.db", "articles")
    assert code != 0 and "no such store" in err
    run(tmp_path / "s.db", "ingest", str(SAMPLE / "seeds"))
    code, _, err = run(tmp_path / "s.db", "show", "ffffffff")
    assert code != 0 and "no article" in err


def test_bad_settings_file_is_one_clear_error(tmp_path: Path) -> None:
    cfg = tmp_path / "storyloom.toml"
    cfg.write_text("batch_sise = 3\n")
    r = CliRunner().invoke(cli, ["--config", str(cfg), "stats"])
    assert r.exit_code != 0 and "unknown setting 'batch_sise'" in r.stderr
