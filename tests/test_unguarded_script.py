"""A user's script that ingests at module level, without ``if __name__ == "__main__":``, must finish.

The stories stage's read-ahead worker is spawned, and spawning runs the caller's script again in the child.  That
child's ingest used to wait for the stages lock its parent held while the parent waited for the child: the script
hung for ever.  Now storyloom refuses to run inside a child's start-up (storyloom.bootstrap), the worker dies with
one clear message and the stage goes on without it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from storyloom.bootstrap import UnguardedMain, bootstrapping, refuse_while_bootstrapping

N = 520  # more than one stories chunk (500) in one pass: the read-ahead worker starts only then

SCRIPT = """
import json, sys
from storyloom.pipeline import ingest
from storyloom.settings import Settings
from storyloom.store import Store

settings = Settings(db_path=sys.argv[1], translations=False, story_embeddings=False, ingest_workers=1,
                    batch_size=5000)
report = ingest([sys.argv[2]], Store(settings.db_path), settings)
print(json.dumps({"name": __name__, "counts": report.counts}), flush=True)
"""


def test_a_script_without_a_main_guard_finishes_and_is_told_why(tmp_path: Path) -> None:
    items = tmp_path / "in.jsonl"
    with items.open("w") as fh:
        for i in range(N):
            fh.write(json.dumps({"id": f"a{i}", "url": f"https://news{i % 7}.example/{i}", "title": f"Council vote {i}",
                                 "text": f"The council of town {i} voted on budget line {i * 13}. "
                                         f"Residents of district {i} said the plan {i + 5} was late.",
                                 "published": f"2024-05-{1 + i % 28:02d}T10:00:00Z"}) + "\n")
    script = tmp_path / "unguarded.py"
    script.write_text(SCRIPT)
    try:
        got = subprocess.run([sys.executable, str(script), str(tmp_path / "s.db"), str(items)],
                             capture_output=True, text=True, timeout=300, cwd=tmp_path)
    except subprocess.TimeoutExpired:  # the old behaviour: parent and worker each waiting for the other
        pytest.fail("an unguarded script's ingest hung (its spawned stories worker ran the script again)")
    assert got.returncode == 0, got.stderr[-2000:]
    out = [json.loads(line) for line in got.stdout.splitlines()]
    assert out == [{"name": "__main__", "counts": {"added": N}}]  # the worker's copy of the script stored nothing
    assert 'needs `if __name__ == "__main__":`' in got.stderr
    assert "stories: worker failed" in got.stderr


def test_the_guard_is_quiet_outside_a_start_up() -> None:
    assert not bootstrapping()
    refuse_while_bootstrapping("ingest")  # no error in an ordinary process


def test_the_guard_raises_during_a_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    import multiprocessing

    monkeypatch.setattr(multiprocessing.current_process(), "_inheriting", True, raising=False)
    with pytest.raises(UnguardedMain, match="story_workers = 0"):
        refuse_while_bootstrapping("ingest")
