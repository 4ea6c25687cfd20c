"""How many threads NumPy's BLAS may run in processes that already run side by side.

The parallel parts of storyloom are processes: the cleaning pool (one worker per core, which also computes
the USE vectors ahead, :mod:`storyloom.lookahead`) beside the ingesting process, and Spark's Python workers.
OpenBLAS, which NumPy bundles, starts one thread per core in *each* process, and an idle OpenBLAS thread
spin-waits for its next call instead of sleeping.  On a 2-core machine the two cleaning workers and the
ingesting process then ran six BLAS threads that burned the cores the other processes needed: with a fresh
install (NumPy 2.4.6, OpenBLAS 0.3.31) the real texts of ``bench/pipeline.py`` took 409 s of CPU for 2,134
articles where one BLAS thread per process took 203 s, and the cleaning workers alone 4× the CPU.  The
matrices here are small (a batch of sentences against a few hundred weights), so one thread per process
loses nothing the other processes do not gain back.

The e5 model's OpenMP threads are left alone: it runs after the cleaning, when the second core is free, and
two threads halve its wall time (measured: one thread made the same run 31 % slower end to end).

A user's own limits win: nothing here is done when ``OPENBLAS_NUM_THREADS`` (or ``OMP_NUM_THREADS``, which
OpenBLAS also reads) is set.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# read by OpenBLAS when it loads: how a process that has not imported NumPy yet (Spark's Python workers) is told
WORKER_ENV = {"OPENBLAS_NUM_THREADS": "1"}
_USER_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")


def user_chose() -> bool:
    """Whether the environment already sets BLAS threads (then storyloom leaves them as they are)."""
    return any(os.environ.get(v) for v in _USER_VARS)


def one_thread_per_worker() -> None:
    """In a worker process: its BLAS runs on the calling thread only (for the rest of the process's life)."""
    if user_chose():
        return
    import numpy  # noqa: F401 - loads OpenBLAS, so that the limit finds it
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


_lock = threading.Lock()
_holders = 0  # ingests in this process inside one_thread_while (an HTTP ingest runs in a server's threads)
_limiter: Any = None  # threadpoolctl's limiter of the first of them, which knows the limits to give back


@contextmanager
def one_thread_while(parallel: bool) -> Iterator[None]:
    """In the ingesting process while ``parallel`` worker processes run beside it: BLAS on one thread; the
    previous limits come back after (a library caller's process is left as it was).  Counted, not nested:
    with two ingests at once in one process (the server's threads), the limits come back when the last one
    ends, not when the first does."""
    global _holders, _limiter
    if not parallel or user_chose():
        yield
        return
    import numpy  # noqa: F401 - loads OpenBLAS, so that the limit finds it
    from threadpoolctl import threadpool_limits

    with _lock:
        if _holders == 0:
            _limiter = threadpool_limits(1, user_api="blas")
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0:
                _limiter.restore_original_limits()
                _limiter = None
