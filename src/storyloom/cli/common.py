"""What every command shares: the consoles, the context object (settings and the store), JSON output, the
progress display and the read-only store of the reading commands.

Human output goes to a terminal (tables, a progress bar); ``--json`` gives scripts one JSON document on
stdout.  Bad items are reported one line each on stderr, whatever the mode.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from storyloom.errors import StoryloomError
from storyloom.settings import Settings, load_settings
from storyloom.store import Store

# In a pipe rich falls back to 80 columns, which folds tables into ribbons: use a page-like width there.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class Ctx:
    """The context object of every command: the settings (defaults ← TOML ← --db) and a way to the store."""

    def __init__(self, db: str | None, config: str | None) -> None:
        self.settings: Settings = load_settings(config, db_path=db)

    def store(self, readonly: bool = False) -> Store:
        return Store(self.settings.db_path, readonly=readonly)


def plain(obj: Any) -> Any:
    """Read models (and lists of them) as JSON-ready values."""
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if isinstance(obj, list):
        return [plain(x) for x in obj]
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    return obj


def dump(obj: Any) -> None:
    click.echo(json.dumps(plain(obj), ensure_ascii=False, indent=2, default=str))


@contextmanager
def read_store(obj: Ctx) -> Iterator[Store]:
    try:
        store = obj.store(readonly=True)
    except StoryloomError as exc:
        raise click.ClickException(str(exc)) from exc
    with store:
        yield store


@contextmanager
def progress(enabled: bool, total: int | None) -> Iterator[Any]:
    """A progress bar on a terminal; a no-op callback in a pipe (so logs stay clean)."""
    if not enabled:
        def quiet(kind: str, payload: object) -> None:
            if kind == "error":
                err.print(f"[red]✗[/] {escape(str(payload))}")
        yield quiet
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("[green]{task.fields[stored]} stored[/] [red]{task.fields[failed]} failed[/]"),
                  TimeElapsedColumn(), console=err, transient=False) as bar:
        task = bar.add_task("ingesting", total=total, stored=0, failed=0)
        counts = {"stored": 0, "failed": 0}

        def update(kind: str, payload: object) -> None:
            if kind == "error":
                counts["failed"] += 1
                bar.console.print(f"[red]✗[/] {escape(str(payload))}")
            elif kind == "item" and payload in ("added", "version"):
                counts["stored"] += 1
            bar.update(task, advance=1, stored=counts["stored"], failed=counts["failed"])

        yield update


def emit(text: str, output: str | None) -> None:
    """An export to the file ``output`` (said on stderr) or to stdout."""
    if output:
        from pathlib import Path

        Path(output).write_text(text, encoding="utf-8")
        err.print(f"wrote {escape(output)}")
    else:
        click.echo(text, nl=False)
