"""Shared fixtures: a fresh store per test, the bundled sample, and the shared corpora (skipped if absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from storyloom.settings import Settings
from storyloom.store import Store

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample"
SHARED = ROOT.parent / "shared" / "corpora"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(db_path=str(tmp_path / "store.db"))


@pytest.fixture
def store(settings: Settings):  # type: ignore[no-untyped-def]
    s = Store(settings.db_path)
    yield s
    s.close()


@pytest.fixture
def corpora() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared corpora not found at {SHARED} (clone the project beside ../shared)")
    return SHARED
