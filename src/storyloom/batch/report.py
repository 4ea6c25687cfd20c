"""What a batch run reports, whichever engine ran it (the bench and ``storyloom batch`` print it)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

NO_TRANSLATIONS = "translated copies are not detected in this run (Settings.translations=False)"


def notes_for(settings: object) -> list[str]:
    """What a reader of the run must know about its settings."""
    return [] if getattr(settings, "translations", False) else [NO_TRANSLATIONS]


@dataclass
class BatchReport:
    """Counts, wall seconds per stage and notes of one run; the stage names are each engine's own."""

    engine: str
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    on_stage: Callable[[str], None] | None = field(default=None, repr=False, compare=False)  # progress display

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        """Add the wall time of the block to ``seconds[stage]`` (a stage timed twice adds up); say it started."""
        if self.on_stage is not None:
            self.on_stage(stage)
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start

    def as_dict(self) -> dict[str, Any]:
        return {"engine": self.engine, "counts": self.counts,
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()}, "notes": self.notes}
