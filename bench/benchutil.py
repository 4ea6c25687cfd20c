"""Helpers the benchmarks share: peak memory of the measured step."""

from __future__ import annotations

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
