"""Refuse to run storyloom's stages inside a spawned worker's start-up.

The stories stage reads ahead in a *spawned* process (:mod:`storyloom.stories.prefetch`).  Spawning imports the
caller's ``__main__`` file again in the child, so a script that calls ``ingest`` at module level, without
``if __name__ == "__main__":``, runs its whole ingest a second time inside the worker.  That second ingest reached
the stages lock the first one holds while it waits for that very worker: both waited for ever (measured: a
1,100-item script hung until killed).  Python's own guard (``multiprocessing.spawn._check_not_importing_main``)
fires only when the child starts a process itself, which that ingest never reached.

So the stage entry points call :func:`refuse_while_bootstrapping` first: in a child still importing its parent's
``__main__`` they raise at once, the worker dies with this message on stderr, and the parent's stage goes on
without it (it already does so for a dead worker).  The check reads the same flag as Python's guard
(``_inheriting``, set by ``multiprocessing.spawn`` and forkserver only while the child prepares; never in a forked
cleaning worker, never once a worker runs its tasks).
"""

from __future__ import annotations

import multiprocessing

from storyloom.errors import StoryloomError


class UnguardedMain(StoryloomError):
    """storyloom was called while a worker process was importing the parent's script."""


def bootstrapping() -> bool:
    """Whether this process is a spawned child still importing its parent's ``__main__``."""
    return bool(getattr(multiprocessing.current_process(), "_inheriting", False))


def refuse_while_bootstrapping(what: str) -> None:
    """Raise :class:`UnguardedMain` (one clear message) if called during a spawned child's start-up."""
    if bootstrapping():
        raise UnguardedMain(
            f"storyloom's {what} was called while a worker process was importing your script: a script that calls "
            "storyloom at module level needs `if __name__ == \"__main__\":` around that call (or set "
            "story_workers = 0). The worker stops here; the stage goes on without it.")
