"""Shared fixtures: a fresh store per test, the bundled sample, and the shared corpora (skipped if absent)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(db: Path, *args: str) -> tuple[subprocess.Popen[bytes], str]:
    """The real `storyloom serve` on a free loopback port (no user config), once /api/health answers."""
    import httpx

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "STORYLOOM_CONFIG"}
    proc = subprocess.Popen([sys.executable, "-m", "storyloom.cli", "--db", str(db), "serve", "--port", str(port), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=db.parent)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/api/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    pytest.fail(f"server did not start: {proc.stderr.read().decode() if proc.stderr else ''}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# -- a suite that cannot hang CI ---------------------------------------------------------------------------------
# pytest's interpreter waits at exit for every non-daemon thread and every child process (a process pool's
# workers are children): one left running by a test would hold the run until CI kills it, with no word of which.
EXIT_GRACE_S = 180


def _children() -> list[str]:
    """This process's live child processes, each as ``pid: command line``."""
    found = []
    for task in Path("/proc/self/task").glob("*/children"):
        for pid in task.read_text().split():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "resource_tracker" not in cmd:  # multiprocessing's own, which leaves when this process does
                found.append(f"{pid}: {cmd.strip()[:200]}")
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Name what would keep the interpreter from exiting, and dump every thread's stack (then exit 1) if it has
    not exited ``EXIT_GRACE_S`` after the tests: a hang becomes a failure that says where it waits."""
    import faulthandler
    import threading

    threads = [t.name for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    children = _children() if Path("/proc/self/task").is_dir() else []
    if threads or children:
        print(f"\nstill running after the tests: threads {threads}, child processes {children}", file=sys.stderr)
    faulthandler.dump_traceback_later(EXIT_GRACE_S, exit=True)
