"""Settings: typed, ranged, validated on load with one clear line per bad key, and shown with their sources."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from storyloom.cli import cli
from storyloom.errors import StoryloomError
from storyloom.settings import Settings, check, load_settings, settings_from


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "storyloom.toml"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(("line", "says"), [
    ('story_threshold = "high"', "story_threshold = 'high': expected a number"),
    ('disabled_rules = "author_bio"', 'expected a list of strings (a list: disabled_rules = ["author_bio"])'),
    ("story_threshold = 1.5", "story_threshold = 1.5: must be between 0 and 1"),
    ("batch_size = 0", "batch_size = 0: must be between 1 and 100000"),
    ("batch_size = 2.5", "batch_size = 2.5: expected a whole number"),
    ("run_copies = 1", "run_copies = 1: expected true or false"),
    ("port = 70000", "port = 70000: must be between 1 and 65535"),
    ("api_token = 5", "api_token = 5: expected a string"),
    ("batch_sise = 3", "unknown setting 'batch_sise'"),
])
def test_a_bad_value_is_one_clear_line(tmp_path: Path, line: str, says: str) -> None:
    with pytest.raises(StoryloomError) as info:
        load_settings(write(tmp_path, line + "\n"))
    assert says in str(info.value) and str(info.value).count("\n") == 0


def test_every_bad_key_is_listed(tmp_path: Path) -> None:
    with pytest.raises(StoryloomError) as info:
        load_settings(write(tmp_path, 'story_threshold = "high"\nport = -1\nstory_workers = 2\n'))
    msg = str(info.value)
    assert "2 bad settings" in msg and "story_threshold" in msg and "port" in msg and "story_workers" not in msg


def test_good_values_are_coerced(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, 'disabled_rules = ["author_bio"]\nstory_window_days = 2\n'))
    assert s.disabled_rules == ("author_bio",) and s.story_window_days == 2.0 and isinstance(s.story_window_days, float)


def test_overrides_are_checked_too() -> None:
    with pytest.raises(StoryloomError, match="port"):
        Settings().with_overrides(port=0)
    assert Settings().with_overrides(port=9000, host=None).port == 9000


def test_every_field_has_help_and_a_checkable_default() -> None:
    for f in dataclasses.fields(Settings):
        assert f.metadata.get("help"), f.name
        assert check(f.name, f.default) == [], f.name


def test_settings_survive_the_serve_workers_environment() -> None:
    s = Settings(disabled_rules=("author_bio",), api_token="t")
    again = settings_from(json.loads(json.dumps(dataclasses.asdict(s))))
    assert again == s


def test_the_settings_command_shows_values_and_sources(tmp_path: Path) -> None:
    cfg = write(tmp_path, "story_threshold = 0.5\napi_token = \"secret\"\n")
    r = CliRunner().invoke(cli, ["--config", str(cfg), "--db", str(tmp_path / "x.db"), "settings", "--json"])
    assert r.exit_code == 0, r.output
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert rows["story_threshold"]["value"] == 0.5 and rows["story_threshold"]["source"] == str(cfg)
    assert rows["db_path"]["source"] == "command line" and rows["batch_size"]["source"] == "default"
    assert rows["api_token"]["value"] == "***" and "secret" not in r.stdout
    assert rows["story_threshold"]["help"]
    r = CliRunner().invoke(cli, ["--config", str(cfg), "settings"])
    assert r.exit_code == 0 and "story_threshold" in r.stdout and "secret" not in r.stdout
