"""One BLAS thread per process where storyloom runs processes side by side (storyloom.blas): OpenBLAS's idle
threads spin, and with one per core in every cleaning worker and in the ingesting process they took the cores
the workers and the models needed (2× the CPU of the real-text benchmark).  A user's own setting wins."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from storyloom import blas
from storyloom.clean import Prepared
from storyloom.clean.pool import CleanPool
from storyloom.models import RawDoc
from storyloom.pipeline import ingest
from storyloom.settings import Settings
from storyloom.store import Store


def blas_threads(*_: object) -> int:
    """The threads this process's BLAS would use (a worker's ``after``: its answer comes back in ``ahead``)."""
    import numpy  # noqa: F401 - loads OpenBLAS
    from threadpoolctl import threadpool_info

    counts = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    assert counts, "no BLAS library found"
    return max(counts)


@pytest.fixture(autouse=True)
def _no_user_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def many() -> int:
    """This process's BLAS threads, when there is more than one to limit."""
    n = blas_threads()
    if n < 2:
        pytest.skip(f"BLAS runs {n} thread here (one core?): there is nothing to limit")
    return n


def _raw(i: int) -> RawDoc:
    text = f"Item {i}. " + "The council met on Monday to discuss the budget for the coming year. " * 8
    return RawDoc(raw=json.dumps({"title": f"Item {i}", "text": text}).encode(), kind="json",
                  location=f"mem://{i}", title=f"Item {i}", text=text)


def test_a_cleaning_worker_runs_blas_on_one_thread(many: int) -> None:
    with CleanPool(Settings(ingest_workers=2), after=blas_threads) as pool:
        got = [pool.result(pool.submit(_raw(i))) for i in range(4)]
    assert all(isinstance(g, Prepared) for g in got), got
    assert [g.ahead for g in got if isinstance(g, Prepared)] == [1] * 4
    assert blas_threads() == many  # the ingesting process's own threads are not the workers' business


def _ingest_watching_threads(tmp_path: Path, workers: int) -> list[int]:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "news.jsonl").write_text("".join(json.dumps({"id": f"x{i}", "title": f"Budget talks {i}",
                                                           "text": f"Budget talks number {i} went on late. " * 10})
                                               + "\n" for i in range(6)), encoding="utf-8")
    seen: list[int] = []
    settings = Settings(db_path=str(tmp_path / "s.db"), ingest_workers=workers, batch_size=2, translations=False,
                        story_embeddings=False)
    with Store(settings.db_path) as store:
        store.migrate()
        ingest([str(folder)], store, settings, on_event=lambda kind, payload: seen.append(blas_threads()))
    assert seen, "no event came"
    return seen


def test_the_ingesting_process_runs_blas_on_one_thread_while_workers_run_and_gets_its_threads_back(
        tmp_path: Path, many: int) -> None:
    assert set(_ingest_watching_threads(tmp_path, 2)) == {1}
    assert blas_threads() == many


def test_without_workers_the_ingesting_process_keeps_its_threads(tmp_path: Path, many: int) -> None:
    assert set(_ingest_watching_threads(tmp_path, 1)) == {many}


def test_a_user_s_own_setting_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, many: int) -> None:
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", str(many))
    assert set(_ingest_watching_threads(tmp_path, 2)) == {many}
    with CleanPool(Settings(ingest_workers=2), after=blas_threads) as pool:
        got = pool.result(pool.submit(_raw(0)))
    assert isinstance(got, Prepared) and got.ahead == many
    assert os.environ["OPENBLAS_NUM_THREADS"] == str(many)
    assert blas.user_chose()


def test_overlapping_ingests_give_the_threads_back_when_the_last_one_ends(many: int) -> None:
    # two HTTP ingests in one server process: the first to end must not lift the other's limit, and the last
    # to end must not leave the process on one thread
    first, second = blas.one_thread_while(True), blas.one_thread_while(True)
    first.__enter__()
    second.__enter__()
    assert blas_threads() == 1
    first.__exit__(None, None, None)
    assert blas_threads() == 1
    second.__exit__(None, None, None)
    assert blas_threads() == many
