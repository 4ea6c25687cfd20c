"""Faults for a worker process to meet, as module functions: a spawned worker unpickles what it runs by name, so
a test's stand-in must be importable there (a lambda cannot be sent at all, and CPython 3.11's process pool can
then wait forever for the item it failed to send: seen as a test suite that passed and never exited)."""

from __future__ import annotations

import os
from typing import NoReturn


def dies(*_: object) -> NoReturn:
    """The worker process ends at once, as on a segfault or the OOM killer."""
    os._exit(13)


def fails(*_: object) -> NoReturn:
    raise RuntimeError("worker failed")
