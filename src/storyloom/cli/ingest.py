"""`storyloom ingest`: files, folders, WARCs, feeds, OPML lists and URLs into the store."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from storyloom.cli.common import Ctx, dump, err, out, progress


def _count_items(inputs: tuple[str, ...]) -> int | None:
    """Files to visit, for the progress bar (a folder of JSONL files still counts files, not lines)."""
    from storyloom.ingest import is_url
    from storyloom.ingest.files import count_files, file_format

    total = 0
    for inp in inputs:
        p = Path(inp)
        if is_url(inp) or not p.exists():
            return None
        if p.is_file() and file_format(str(p)) in ("jsonl", "warc", "feed", "opml", "json"):
            return None
        if p.is_dir() and any(file_format(str(f)) in ("jsonl", "warc", "feed", "opml") for f in p.rglob("*.*l*")):
            return None
        total += count_files(p)
    return total


def _summary_table(report: Any, title: str) -> Table:
    t = Table(title=title, title_justify="left")
    t.add_column("outcome")
    t.add_column("items", justify="right")
    labels = {"added": "new articles", "version": "new versions of a page", "unchanged": "re-fetched, text unchanged",
              "duplicate": "already stored", "failed": "failed", "skipped": "skipped (unknown type)"}
    for key, label in labels.items():
        if report.counts.get(key):
            t.add_row(label, f"{report.counts[key]:,}")
    t.add_row("seconds", f"{report.seconds:.1f}")
    return t


@click.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--strict", is_flag=True, help="Exit non-zero if any item failed.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--allow-private", is_flag=True, default=None, help="Allow URLs on loopback/private networks.")
@click.option("--fetch-links/--no-fetch-links", default=None, help="Fetch the page of feed entries without full text.")
@click.pass_obj
def ingest(obj: Ctx, inputs: tuple[str, ...], strict: bool, as_json: bool, allow_private: bool | None,
           fetch_links: bool | None) -> None:
    """Ingest files, folders (recursive), WARCs, feeds, OPML lists and URLs into the store.

    Re-running is safe: what is stored already is recognised by its bytes and skipped.
    """
    from storyloom.pipeline import ingest as run_ingest

    settings = obj.settings.with_overrides(allow_private=allow_private, fetch_links=fetch_links)
    show_progress = err.is_terminal and not as_json
    with obj.store() as store, progress(show_progress, _count_items(inputs) if show_progress else None) as cb:
        report = run_ingest(inputs, store, settings, on_event=cb)
    if as_json:
        dump(report.as_dict())
    else:
        out.print(_summary_table(report, f"Ingested into {settings.db_path}"))
    ok = sum(report.counts[k] for k in ("added", "version", "unchanged", "duplicate"))
    if (strict and report.failed) or (ok == 0 and report.failed):
        sys.exit(1)
