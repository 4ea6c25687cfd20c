"""Helpers the benchmarks share: peak memory of the measured step, CPU time of a process tree."""

from __future__ import annotations

import os
import resource
from pathlib import Path


def rss_mb(key: str = "VmHWM") -> float:
    """Peak (VmHWM) or current (VmRSS) resident set size in MB; off Linux, the lifetime peak from getrusage."""
    try:
        return next(int(ln.split()[1]) for ln in open("/proc/self/status") if ln.startswith(key + ":")) / 1024
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> float:
    """Reset the peak-RSS mark (Linux >= 4.0) so the peak read later is the measured step's own, not the
    transient of imports or loading a model; returns the RSS now, in MB."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return rss_mb()
    return rss_mb("VmRSS")


def _proc_stats() -> dict[int, list[str]]:
    """The fields of ``/proc/PID/stat`` after the command name, for every live process."""
    out: dict[int, list[str]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as fh:
                    out[int(d)] = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
    return out


def _tree(root: int, stats: dict[int, list[str]]) -> list[int]:
    """``root`` and every live process below it (field 1 of a stat line is the parent's pid)."""
    parent = {pid: int(fields[1]) for pid, fields in stats.items()}
    out = []
    for pid in parent:
        p = pid
        while p and p != root:
            p = parent.get(p, 0)
        if p == root:
            out.append(pid)
    return out


def cpu_tree(root: int | None = None) -> float:
    """CPU seconds used so far by process ``root`` (default: this one) and every process below it (a JVM and
    its Python workers, a server's worker processes), including children already reaped: a measure that
    machine load does not inflate."""
    tick = os.sysconf("SC_CLK_TCK")
    stats = _proc_stats()
    # utime stime cutime cstime
    return sum(sum(int(x) for x in stats[pid][11:15]) / tick for pid in _tree(root or os.getpid(), stats))


class TreePeakRss:
    """The peak of the summed RSS of this process and its children (a worker process the measured code starts
    and stops inside the step), sampled every ``every`` seconds in a thread: ``with TreePeakRss() as peak: …;
    peak.mb``.  Children's own peaks between samples can be missed; this process's is exact (VmHWM)."""

    def __init__(self, every: float = 0.5) -> None:
        import threading

        self.every, self.mb = every, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        me, total = os.getpid(), 0.0
        for pid in _tree(me, _proc_stats()):
            key = "VmHWM" if pid == me else "VmRSS"
            try:
                total += next(int(ln.split()[1]) for ln in open(f"/proc/{pid}/status") if ln.startswith(key + ":")) / 1024
            except (OSError, StopIteration):
                continue
        self.mb = max(self.mb, total)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._sample()

    def __enter__(self) -> TreePeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


class TreeCpu:
    """CPU seconds this process tree spends over a step, sampled every ``every`` seconds: the sum, over every
    process seen in the tree, of its own user + system time since the step began (or since it started).

    :func:`cpu_tree` relies on parents reaping their children, and Spark's Python daemon does not: pyspark 4
    sets ``SIGCHLD`` to ``SIG_IGN``, so the kernel reaps its exited workers and their CPU reaches no one's
    children times (a Spark story stage measured with it showed less CPU than the same Python work run in one
    process).  Here a process that exits is counted up to its last sample (at most ``every`` seconds lost per
    exit); one that lives less than that can be missed."""

    def __init__(self, every: float = 0.2) -> None:
        import threading

        self.every, self.seconds = every, 0.0
        self._base: dict[tuple[int, str], int] = {}
        self._last: dict[tuple[int, str], int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> dict[tuple[int, str], int]:
        stats = _proc_stats()
        # (pid, start time): a pid reused by a new process is another process
        return {(pid, stats[pid][19]): int(stats[pid][11]) + int(stats[pid][12]) for pid in _tree(os.getpid(), stats)}

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._last.update(self._sample())

    def __enter__(self) -> TreeCpu:
        self._base = self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._last.update(self._sample())
        tick = os.sysconf("SC_CLK_TCK")
        self.seconds = sum(v - self._base.get(k, 0) for k, v in self._last.items()) / tick
