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


def cpu_tree(root: int | None = None) -> float:
    """CPU seconds used so far by process ``root`` (default: this one) and every process below it (a JVM and
    its Python workers, a server's worker processes), including children already reaped: a measure that
    machine load does not inflate."""
    tick = os.sysconf("SC_CLK_TCK")
    parent: dict[int, int] = {}
    used: dict[int, float] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(d)] = int(fields[1])
        used[int(d)] = sum(int(x) for x in fields[11:15]) / tick  # utime stime cutime cstime
    me, total = root or os.getpid(), 0.0
    for pid in used:
        p = pid
        while p and p != me:
            p = parent.get(p, 0)
        if p == me:
            total += used[pid]
    return total
